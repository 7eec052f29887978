package server

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"syscall"

	"github.com/dolthub/vitess/go/mysql"

	"arb/storage"
)

// MySQL error numbers and SQLSTATEs that BI tools branch on; go-mysql-
// server reports several of them as the generic 1105/HY000.
const (
	erParseError    = 1064 // ER_PARSE_ERROR
	erBadField      = 1054 // ER_BAD_FIELD_ERROR
	erNoSuchTable   = 1146 // ER_NO_SUCH_TABLE
	erBadDB         = 1049 // ER_BAD_DB_ERROR
	erQueryCanceled = 1317 // ER_QUERY_INTERRUPTED
	erBadNull       = 1048 // ER_BAD_NULL_ERROR
	erWrongValue    = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
	erUnknownError  = 1105 // ER_UNKNOWN_ERROR
	erDiskFull      = 1021 // ER_DISK_FULL
	erGetErrno      = 1030 // ER_GET_ERRNO: "Got error %d from storage engine"
	erTooManyFields = 1117 // ER_TOO_MANY_FIELDS: "Too many columns"
	// erLockWaitTimeout (ER_LOCK_WAIT_TIMEOUT) answers a write refused
	// because the ingest buffer stayed full: of the errors MySQL sends,
	// it is the one drivers, pools and ORMs treat as "retry the
	// statement", which is what the client should do.
	erLockWaitTimeout = 1205
)

// errorRule rewrites errors whose number and message match.
type errorRule struct {
	fromNum int // 0: any
	pattern *regexp.Regexp
	num     int
	state   string
}

var errorRules = []errorRule{
	{erUnknownError, regexp.MustCompile(`^syntax error at position`), erParseError, "42000"},
	{erUnknownError, regexp.MustCompile(`(?i)column .* could not be found|unknown column`), erBadField, "42S22"},
	{erUnknownError, regexp.MustCompile(`table not found`), erNoSuchTable, "42S02"},
	{erNoSuchTable, regexp.MustCompile(``), erNoSuchTable, "42S02"},
	{erBadDB, regexp.MustCompile(``), erBadDB, "42000"},
	{0, regexp.MustCompile(`context canceled|query was interrupted`), erQueryCanceled, "70100"},
}

// mysqlError gives err MySQL's own number and SQLSTATE where go-mysql-
// server uses generic ones. It returns err unchanged when no rule applies.
func mysqlError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return mysql.NewSQLError(erQueryCanceled, "70100", "Query execution was interrupted")
	}
	var se *mysql.SQLError
	if !errors.As(err, &se) {
		return err
	}
	for _, r := range errorRules {
		if (r.fromNum == 0 || r.fromNum == se.Num) && r.pattern.MatchString(se.Message) {
			out := *se
			out.Num, out.State = r.num, r.state
			if r.num == erQueryCanceled {
				out.Message = "Query execution was interrupted"
			}
			return &out
		}
	}
	return err
}

// rowError turns a storage error about bad input into a MySQL error that
// keeps its message (which names the row and column), and a write refused
// by a fault that clears itself (storage.FaultError: nothing stored,
// retry later) into ER_DISK_FULL for a full disk and ER_GET_ERRNO for a
// process out of descriptors, with the reason in the message. A batch
// that would pass --max-columns is ER_TOO_MANY_FIELDS; one refused because
// the ingest buffer stayed full is ER_LOCK_WAIT_TIMEOUT (retry it).
func rowError(err error) error {
	var fe *storage.FaultError
	if errors.As(err, &fe) {
		if fe.Kind == storage.FaultNoSpace {
			return mysql.NewSQLError(erDiskFull, "HY000", "%s", err.Error())
		}
		return mysql.NewSQLError(erGetErrno, "HY000", "Got error %d from storage engine: %s", faultErrno(fe), err.Error())
	}
	if errors.Is(err, storage.ErrOverloaded) {
		return mysql.NewSQLError(erLockWaitTimeout, "HY000", "%s", err.Error())
	}
	var ce *storage.ColumnLimitError
	if errors.As(err, &ce) {
		return mysql.NewSQLError(erTooManyFields, "HY000", "Too many columns: %s", err.Error())
	}
	var re *storage.RowError
	if !errors.As(err, &re) {
		return err
	}
	if strings.HasPrefix(re.Err.Error(), "missing") {
		return mysql.NewSQLError(erBadNull, "23000", "%s", re.Error())
	}
	return mysql.NewSQLError(erWrongValue, "HY000", "%s", re.Error())
}

// faultErrno is the errno behind a fault, 0 if none is found.
func faultErrno(fe *storage.FaultError) int {
	var errno syscall.Errno
	if errors.As(fe, &errno) {
		return int(errno)
	}
	return 0
}
