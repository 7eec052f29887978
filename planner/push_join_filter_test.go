package planner

import (
	"testing"

	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// TestPushJoinFilter checks which join conditions hand their right-only
// conjuncts to the right events table (push_join_filter.go): the joins
// where a right row whose conjunct is not TRUE changes nothing, through
// an alias, go-mysql-server's process wrapper and a hash lookup; never
// a conjunct that reads the left row, and never the NULL-sensitive or
// full outer joins.
func TestPushJoinFilter(t *testing.T) {
	ctx := sql.NewEmptyContext()
	db := memory.NewDatabase("db")
	sch := sql.NewPrimaryKeySchema(sql.Schema{
		{Name: "time", Type: types.DatetimeMaxPrecision, Nullable: true, Source: "events"},
		{Name: "event", Type: types.LongText, Nullable: true, Source: "events"},
		{Name: "distinct_id", Type: types.LongText, Nullable: true, Source: "events"},
	})
	table := func() sql.Table { return memory.NewTable(ctx, db, "events", sch, nil) }
	left := plan.NewTableAlias("a", plan.NewResolvedTable(table(), db, nil))
	right := func(process bool) sql.Node {
		var tb sql.Table = fakeTable{Table: table()}
		if process {
			tb = plan.NewProcessTable(tb, nil, nil, nil)
		}
		return plan.NewTableAlias("b", plan.NewResolvedTable(tb, db, nil))
	}
	// Positions: a's columns 0-2, b's 3-5.
	aID := expression.NewGetFieldWithTable(2, 0, types.LongText, "", "a", "distinct_id", true)
	bTime := expression.NewGetFieldWithTable(3, 0, types.DatetimeMaxPrecision, "", "b", "time", true)
	bEvent := expression.NewGetFieldWithTable(4, 0, types.LongText, "", "b", "event", true)
	bID := expression.NewGetFieldWithTable(5, 0, types.LongText, "", "b", "distinct_id", true)
	aTime := expression.NewGetFieldWithTable(0, 0, types.DatetimeMaxPrecision, "", "a", "time", true)
	view := expression.NewEquals(bEvent, expression.NewLiteral("View Item", types.LongText))
	cond := expression.JoinAnd(expression.NewEquals(bID, aID), view, expression.NewGreaterThan(bTime, aTime))
	pushed := func(n sql.Node) string {
		var got string
		transform.Inspect(n.(*plan.JoinNode).Right(), func(n sql.Node) bool {
			if rt, ok := n.(*plan.ResolvedTable); ok {
				tb := rt.Table
				if pt, ok := tb.(*plan.ProcessTable); ok {
					tb = pt.Table
				}
				if ft, ok := tb.(fakeTable); ok && ft.filter != nil {
					got = ft.filter.String()
				}
			}
			return true
		})
		return got
	}
	for _, tc := range []struct {
		op      plan.JoinType
		process bool
		lookup  bool
		cond    sql.Expression
		want    string
	}{
		{plan.JoinTypeLeftOuter, true, false, cond, `event = "View Item"`},
		{plan.JoinTypeLeftOuterHash, false, true, cond, `event = "View Item"`},
		{plan.JoinTypeInner, false, false, cond, `event = "View Item"`},
		{plan.JoinTypeSemi, true, false, cond, `event = "View Item"`},
		{plan.JoinTypeAntiIncludeNulls, true, false, cond, `event = "View Item"`},
		{plan.JoinTypeAnti, true, false, cond, ``},
		{plan.JoinTypeLeftOuterExcludeNulls, true, false, cond, ``},
		{plan.JoinTypeFullOuter, true, false, cond, ``},
		// A conjunct over both sides stays the join's alone.
		{plan.JoinTypeLeftOuter, true, false, expression.JoinAnd(expression.NewEquals(bID, aID), expression.NewGreaterThan(bTime, aTime)), ``},
	} {
		var r sql.Node = right(tc.process)
		if tc.lookup {
			r = plan.NewHashLookup(ctx, r, bID, aID, tc.op)
		}
		j := plan.NewJoin(left, r, tc.op, tc.cond)
		out, _, err := pushJoinFilter(ctx, nil, j, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := pushed(out); got != tc.want {
			t.Errorf("%s (process %v, lookup %v) ON %s: pushed %q, want %q", tc.op, tc.process, tc.lookup, tc.cond, got, tc.want)
		}
		// Idempotent: a second run pushes the same predicate.
		again, _, err := pushJoinFilter(ctx, nil, out, nil, nil, nil)
		if err != nil || pushed(again) != tc.want {
			t.Errorf("%s: second run pushed %q (%v)", tc.op, pushed(again), err)
		}
	}
	// A join inside a derived table (each step of a nested funnel) is
	// reached too.
	inner := plan.NewJoin(left, right(true), plan.JoinTypeLeftOuter, cond)
	out, _, err := pushJoinFilter(ctx, nil, plan.NewSubqueryAlias("f", "", inner), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := pushed(out.(*plan.SubqueryAlias).Child); got != `event = "View Item"` {
		t.Errorf("join in a derived table: pushed %q", got)
	}
}
