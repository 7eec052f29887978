package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dolthub/vitess/go/mysql"

	"arb/storage"
)

func TestMySQLErrorCodes(t *testing.T) {
	cases := []struct {
		in    error
		num   int
		state string
	}{
		{mysql.NewSQLError(erUnknownError, "HY000", "syntax error at position 6 near 'SELEC'"), erParseError, "42000"},
		{mysql.NewSQLError(erUnknownError, "HY000", `column "nope" could not be found in any table in scope`), erBadField, "42S22"},
		{mysql.NewSQLError(erNoSuchTable, "", "table not found: x"), erNoSuchTable, "42S02"},
		{mysql.NewSQLError(erUnknownError, "HY000", "context canceled"), erQueryCanceled, "70100"},
		{fmt.Errorf("scan: %w", context.Canceled), erQueryCanceled, "70100"},
		{mysql.NewSQLError(1062, "23000", "duplicate"), 1062, "23000"},
		{rowError(&storage.RowError{Row: 2, Column: "event", Err: errors.New("missing: every event needs a name")}), erBadNull, "23000"},
		{rowError(&storage.RowError{Row: 1, Column: "x", Err: errors.New("not valid UTF-8")}), erWrongValue, "HY000"},
	}
	for _, c := range cases {
		var se *mysql.SQLError
		if !errors.As(mysqlError(c.in), &se) || se.Num != c.num || se.State != c.state {
			t.Errorf("%v: got %v, want %d (%s)", c.in, mysqlError(c.in), c.num, c.state)
		}
	}
}
