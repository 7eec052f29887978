package server

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/storage"
)

// MySQL error numbers and SQLSTATEs that BI tools branch on; go-mysql-
// server reports several of them as the generic 1105/HY000.
const (
	erParseError      = 1064 // ER_PARSE_ERROR
	erBadField        = 1054 // ER_BAD_FIELD_ERROR
	erNoSuchTable     = 1146 // ER_NO_SUCH_TABLE
	erBadDB           = 1049 // ER_BAD_DB_ERROR
	erQueryCanceled   = 1317 // ER_QUERY_INTERRUPTED
	erBadNull         = 1048 // ER_BAD_NULL_ERROR
	erWrongValue      = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
	erUnknownError    = 1105 // ER_UNKNOWN_ERROR
	erDiskFull        = 1021 // ER_DISK_FULL
	erGetErrno        = 1030 // ER_GET_ERRNO: "Got error %d from storage engine"
	erTooManyFields   = 1117 // ER_TOO_MANY_FIELDS: "Too many columns"
	erUnknownTimeZone = 1298 // ER_UNKNOWN_TIME_ZONE
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
	// go-mysql-server words bytes that are not valid in the column's
	// character set as MySQL does, under the generic number.
	{erUnknownError, regexp.MustCompile(`^Incorrect string value: `), erWrongValue, "HY000"},
	// SET time_zone (or a function) naming no zone: ER_UNKNOWN_TIME_ZONE.
	{erUnknownError, regexp.MustCompile(`^Unknown or incorrect time zone: `), erUnknownTimeZone, "HY000"},
	// ONLY_FULL_GROUP_BY: ER_WRONG_FIELD_WITH_GROUP (a selected or
	// ordered column neither grouped nor aggregated) and
	// ER_MIX_OF_GROUP_FUNC_AND_FIELDS (no GROUP BY), both 42000 in MySQL.
	{erUnknownError, regexp.MustCompile(`not in GROUP BY clause and contains nonaggregated column|is not in GROUP BY clause and references columns`), erWrongFieldWithGroup, "42000"},
	{erMixOfGroupFuncAndFields, regexp.MustCompile(``), erMixOfGroupFuncAndFields, "42000"},
	// NOW(7), UTC_TIMESTAMP(7): ER_TOO_BIG_PRECISION.
	{erUnknownError, regexp.MustCompile(`(?i)^too-big precision \d+ (specified )?for '`), erTooBigPrecision, "42000"},
}

const erTooBigPrecision = 1426 // ER_TOO_BIG_PRECISION: "Too-big precision %d specified for '%s'. Maximum is %u."

const (
	erWrongFieldWithGroup     = 1055 // ER_WRONG_FIELD_WITH_GROUP
	erMixOfGroupFuncAndFields = 1140 // ER_MIX_OF_GROUP_FUNC_AND_FIELDS
)

// wrappedSQLError is how go-mysql-server words a *mysql.SQLError it
// wrapped into ER_UNKNOWN_ERROR: message, number and SQLSTATE.
var wrappedSQLError = regexp.MustCompile(`(?s)^(.*) \(errno (\d+)\) \(sqlstate ([0-9A-Z]{5})\)$`)

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
	if m := wrappedSQLError.FindStringSubmatch(se.Message); m != nil && se.Num == erUnknownError {
		// An error arb's parser hook raised with its own number, which
		// go-mysql-server flattened into 1105 with the number in the text.
		if num, err := strconv.Atoi(m[2]); err == nil {
			return mysql.NewSQLError(num, m[3], "%s", m[1])
		}
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
	if errors.Is(err, storage.ErrOverloaded) || errors.Is(err, storage.ErrLogUnavailable) {
		return mysql.NewSQLError(erLockWaitTimeout, "HY000", "%s", err.Error())
	}
	if errors.Is(err, storage.ErrRecordTooLarge) {
		return mysql.NewSQLError(erNetPacketTooLarge, "08S01", "%s", err.Error())
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

// MySQL numbers the handler gives errors it recognises by the statement
// (statementError) rather than by the message alone.
const (
	erNoSuchThread    = 1094 // ER_NO_SUCH_THREAD: "Unknown thread id: %lu"
	erSpDoesNotExist  = 1305 // ER_SP_DOES_NOT_EXIST: "FUNCTION %s does not exist"
	erTruncatedValue  = 1292 // ER_TRUNCATED_WRONG_VALUE: "Incorrect %s value: '%s' for column '%s' at row %ld"
	sqlStateNoSuchObj = "42000"
)

var (
	unknownFunction = regexp.MustCompile(`^function: '([^']*)' not found$`)
	// go-mysql-server's message for a column missing from a table named
	// by a qualifier (p.name in a JOIN).
	tableLacksColumn = regexp.MustCompile(`^table "([^"]*)" does not have column "([^"]*)"$`)
	incorrectValue   = regexp.MustCompile(`^Incorrect (datetime|date|time|timestamp) value: '(.*)'$`)
)

// statementError is mysqlError plus the rewrites that need the statement
// or the session: an unknown function is ER_SP_DOES_NOT_EXIST naming
// db.name (MySQL's text); a column missing from a qualified table is
// ER_BAD_FIELD_ERROR; a value go-mysql-server could not convert in an
// INSERT ... VALUES gets the row and column it came from, as MySQL's
// ER_TRUNCATED_WRONG_VALUE says them. db is the session's current database.
func statementError(err error, query, db string) error {
	err = mysqlError(err)
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != erUnknownError {
		return err
	}
	if m := unknownFunction.FindStringSubmatch(se.Message); m != nil {
		name := m[1]
		if db != "" {
			name = db + "." + name
		}
		return mysql.NewSQLError(erSpDoesNotExist, sqlStateNoSuchObj, "FUNCTION %s does not exist", name)
	}
	if m := tableLacksColumn.FindStringSubmatch(se.Message); m != nil {
		return mysql.NewSQLError(erBadField, "42S22", "Unknown column '%s.%s' in 'field list'", m[1], m[2])
	}
	if m := incorrectValue.FindStringSubmatch(se.Message); m != nil {
		if row, col, ok := insertedAt(query, m[2]); ok {
			return mysql.NewSQLError(erTruncatedValue, "22007", "Incorrect %s value: '%s' for column '%s' at row %d", m[1], m[2], col, row)
		}
	}
	return err
}

// insertedAt finds the first literal of an INSERT ... VALUES statement
// equal to value: its row (from 1) and column name.
func insertedAt(query, value string) (row int, column string, ok bool) {
	q := strings.TrimSpace(query)
	if len(q) < 7 || !strings.EqualFold(q[:6], "insert") {
		return 0, "", false
	}
	stmt, _, err := sqlparser.ParseOne(context.Background(), q)
	if err != nil {
		return 0, "", false
	}
	ins, isInsert := stmt.(*sqlparser.Insert)
	if !isInsert || len(ins.Columns) == 0 {
		return 0, "", false
	}
	values, isValues := ins.Rows.(*sqlparser.AliasedValues)
	if !isValues {
		return 0, "", false
	}
	for i, tuple := range values.Values {
		for j, e := range tuple {
			v, isVal := e.(*sqlparser.SQLVal)
			if isVal && j < len(ins.Columns) && string(v.Val) == value {
				return i + 1, ins.Columns[j].String(), true
			}
		}
	}
	return 0, "", false
}

// killUnknown answers KILL [CONNECTION | QUERY] n of an id that is none of
// this server's connections with ER_NO_SUCH_THREAD, as MySQL does; go-
// mysql-server answers OK. nil for any other statement.
func killUnknown(query string, connected func(id uint32) bool) error {
	q := strings.TrimSpace(query)
	if len(q) < 5 || !strings.EqualFold(q[:4], "kill") {
		return nil
	}
	stmt, _, err := sqlparser.ParseOne(context.Background(), q)
	if err != nil {
		return nil
	}
	k, isKill := stmt.(*sqlparser.Kill)
	if !isKill {
		return nil
	}
	v, isVal := k.ConnID.(*sqlparser.SQLVal)
	if !isVal || v.Type != sqlparser.IntVal {
		return nil
	}
	id, err := strconv.ParseUint(string(v.Val), 10, 64)
	if err == nil && id <= 1<<32-1 && connected(uint32(id)) {
		return nil
	}
	return mysql.NewSQLError(erNoSuchThread, "HY000", "Unknown thread id: %s", v.Val)
}
