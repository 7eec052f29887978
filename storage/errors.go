package storage

import (
	"errors"
	"fmt"
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
