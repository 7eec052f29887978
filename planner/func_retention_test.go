package planner

import (
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
)

func TestRetentionBuffer(t *testing.T) {
	ctx := sql.NewEmptyContext()
	for _, tc := range []struct {
		name string
		rows []sql.Row
		want string
	}{
		{"no rows", nil, "[0, 0, 0]"},
		{"cond1 only", []sql.Row{{true, false, nil}}, "[1, 0, 0]"},
		{"conditions on different rows, any order", []sql.Row{{false, false, true}, {nil, true, false}, {true, nil, nil}}, "[1, 1, 1]"},
		{"without cond1 nothing counts", []sql.Row{{false, true, true}}, "[0, 0, 0]"},
		{"NULL is not met", []sql.Row{{true, nil, nil}}, "[1, 0, 0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []sql.Expression{
				expression.NewGetField(0, types.Boolean, "a", true),
				expression.NewGetField(1, types.Boolean, "b", true),
				expression.NewGetField(2, types.Boolean, "c", true),
			}
			r, err := NewRetention(nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			buf, err := r.(sql.Aggregation).NewBuffer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range tc.rows {
				if err := buf.Update(ctx, row); err != nil {
					t.Fatal(err)
				}
			}
			v, err := buf.Eval(ctx)
			if err != nil {
				t.Fatal(err)
			}
			doc, ok := v.(types.JSONDocument)
			if !ok {
				t.Fatalf("Eval gave %T, want types.JSONDocument", v)
			}
			if got := doc.String(); got != tc.want {
				t.Errorf("retention = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRetentionJSON(t *testing.T) {
	if got := RetentionJSON([]bool{true, false, true}).String(); got != "[1, 0, 1]" {
		t.Errorf("RetentionJSON = %s", got)
	}
	if got := RetentionJSON(nil).String(); got != "[]" {
		t.Errorf("RetentionJSON(nil) = %s", got)
	}
}
