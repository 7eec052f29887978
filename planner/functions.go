package planner

// This file owns the registration of arb's own SQL functions with
// go-mysql-server. Today they are the ClickHouse-style aggregates
// window_funnel (alias windowFunnel) and retention, evaluated row at a time
// by go-mysql-server's GroupBy; the native engine path computes the same
// results through the same engine.WindowFunnel / engine.RetentionFlags.
//
// go-mysql-server needs two things before it treats a function as an
// aggregate:
//
//   - the function must be in the catalog and its instance must implement
//     sql.Aggregation (Functions, registered by server.newEngine);
//   - its lower-case name must be accepted by planbuilder.IsAggregateFunc.
//     The planbuilder decides "aggregate or scalar" by name, from a
//     hard-coded list, before it looks the function up: a name it does not
//     know is built as a scalar expression, no GroupBy is planned and the
//     query fails at Eval. IsAggregateFunc is a package variable meant as
//     an extension point, so init below chains arb's names in front of it.

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"
)

// SQL names of arb's aggregate functions, lower case: go-mysql-server
// lower-cases a call's name before looking it up, so registering the
// lower-case spelling makes the name case-insensitive (windowFunnel,
// WINDOW_FUNNEL).
const (
	nameWindowFunnel      = "window_funnel"
	nameWindowFunnelAlias = "windowfunnel" // ClickHouse spells it windowFunnel
	nameRetention         = "retention"
)

// aggregateNames is every name under which Functions registers an
// aggregate. INVARIANT: it lists exactly the names in Functions other
// than the scalar timeFunctions.
var aggregateNames = map[string]bool{
	nameWindowFunnel:      true,
	nameWindowFunnelAlias: true,
	nameRetention:         true,
}

// Functions returns arb's SQL functions, for
// analyzer.Catalog.RegisterFunction. Each call returns fresh values; the
// functions themselves are stateless.
func Functions() []sql.Function {
	return append([]sql.Function{
		sql.FunctionN{Name: nameWindowFunnel, Fn: NewWindowFunnel},
		sql.FunctionN{Name: nameWindowFunnelAlias, Fn: NewWindowFunnel},
		sql.FunctionN{Name: nameRetention, Fn: NewRetention},
	}, timeFunctions()...)
}

func init() {
	// Runs once per process, before any query is planned, so the write
	// does not race with the planbuilder's reads.
	mysqlAggregate := planbuilder.IsAggregateFunc
	planbuilder.IsAggregateFunc = func(name string) bool {
		return aggregateNames[name] || mysqlAggregate(name)
	}
}

// evalContext returns ctx, or a fresh context when go-mysql-server passes
// none: the planbuilder calls sql.Function.NewInstance with a nil context.
func evalContext(ctx *sql.Context) *sql.Context {
	if ctx == nil {
		return sql.NewEmptyContext()
	}
	return ctx
}

// conditionMet reports whether a condition evaluates to TRUE on row. NULL
// and FALSE (and anything MySQL would not take as true, such as a
// non-numeric string) are "not met", as in a WHERE clause.
func conditionMet(ctx *sql.Context, cond sql.Expression, row sql.Row) (bool, error) {
	v, err := cond.Eval(ctx, row)
	if err != nil || v == nil {
		return false, err
	}
	return sql.ConvertToBool(ctx, v)
}
