package storage

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCorruption marks every error caused by bytes on disk that fail a
// check (CRC, checksum, magic, length). Test with errors.Is.
var ErrCorruption = errors.New("corruption")

// CorruptionError locates damaged bytes: the file, the byte offset of the
// record or block that failed, and what failed. It matches ErrCorruption.
type CorruptionError struct {
	File   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("%s: at offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

func (e *CorruptionError) Is(target error) bool { return target == ErrCorruption }

// corruptf builds a CorruptionError with a formatted reason.
func corruptf(file string, offset int64, format string, args ...any) error {
	return &CorruptionError{File: file, Offset: offset, Err: fmt.Errorf(format, args...)}
}

// ColumnLimitError refuses a batch whose properties would give a table
// more columns than Options.MaxColumns allows. Nothing of the batch is
// stored.
type ColumnLimitError struct {
	Table string
	Limit int      // columns a table may have
	Have  int      // columns it has
	New   []string // the names the batch would add
}

func (e *ColumnLimitError) Error() string {
	names := e.New
	more := ""
	if len(names) > 10 {
		names, more = names[:10], fmt.Sprintf(" and %d more", len(e.New)-10)
	}
	return fmt.Sprintf("table %s has %d of its %d columns; the batch would add %d: %s%s (limit: --max-columns)",
		e.Table, e.Have, e.Limit, len(e.New), strings.Join(names, ", "), more)
}
