package planner

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"

	"arb/engine"
	"arb/storage"
)

// AggregatableTable is an events table whose GROUP BYs the engine runs.
type AggregatableTable interface {
	FilterableTable
	// Snapshot is a consistent read view of the table's events, taken
	// when a statement starts reading.
	Snapshot() *storage.Snapshot
	// ToSQL converts a stored value to the SQL value the table's scan
	// would give for it.
	ToSQL(v storage.Value) any
	// Project is the project whose events the table shows.
	Project() *storage.Project
}

// pushAggregate replaces a GroupBy over (a filter over) the events table
// with one engine node that filters, groups and aggregates natively.
//
// It fires only where the engine's answer is exactly go-mysql-server's:
// the WHERE clause translates exactly (no superset pre-filter), every
// group key is a column or a time function whose value is constant within
// a time bucket, and every select dependency is an aggregate the engine
// implements over a plain column, or a plain column (which, as in
// go-mysql-server, takes the value of the group's first row in scan
// order). Anything else is left to go-mysql-server. Idempotent: a second
// run finds no GroupBy left to replace.
func pushAggregate(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if !pushdownEnabled(ctx) {
		return n, transform.SameTree, nil
	}
	return transform.Node(ctx, n, func(ctx *sql.Context, node sql.Node) (sql.Node, transform.TreeIdentity, error) {
		gb, ok := node.(*plan.GroupBy)
		if !ok {
			return node, transform.SameTree, nil
		}
		if agg, ok := planAggregate(ctx, gb); ok {
			return agg, transform.NewTree, nil
		}
		if rg, ok := planRegroup(ctx, gb); ok {
			return rg, transform.NewTree, nil
		}
		return node, transform.SameTree, nil
	})
}

// planAggregate builds the engine node for gb, if it can.
func planAggregate(ctx *sql.Context, gb *plan.GroupBy) (*AggregateNode, bool) {
	var cond sql.Expression
	child := gb.Child
	if f, ok := child.(*plan.Filter); ok {
		cond, child = f.Expression, f.Child
	}
	if a, ok := child.(*plan.TableAlias); ok {
		child = a.Child
	}
	rt, ok := child.(*plan.ResolvedTable)
	if !ok {
		return nil, false
	}
	t, ok := rt.Table.(AggregatableTable)
	if !ok {
		return nil, false
	}
	spec := engine.Aggregation{}
	if cond != nil {
		p, exact := translate(ctx, t, cond)
		if p == nil || !exact {
			return nil, false
		}
		spec.Filter = p
	}
	for _, e := range gb.GroupByExprs {
		k, ok := groupKeyOf(ctx, t, e)
		if !ok {
			return nil, false
		}
		spec.Keys = append(spec.Keys, k)
	}
	outs := make([]aggOutput, len(gb.SelectDeps))
	for i, e := range gb.SelectDeps {
		a, out, ok := aggOf(ctx, t, e)
		if !ok {
			return nil, false
		}
		spec.Aggs = append(spec.Aggs, a)
		outs[i] = out
	}
	if spec.Check() != nil {
		return nil, false
	}
	n := &AggregateNode{groupBy: gb, table: t, spec: spec, outs: outs}
	for i, out := range outs {
		if out == outConstSum {
			if n.consts == nil {
				n.consts = make([]int64, len(outs))
			}
			n.consts[i], _ = constSum(ctx, gb.SelectDeps[i])
		}
	}
	return n, true
}

// aggOutput says how an engine result becomes the SQL value.
type aggOutput uint8

const (
	outPlain     aggOutput = iota // the table's ToSQL
	outRetention                  // RetentionJSON
	outDecimal                    // an exact sum's text parsed into a decimal.Decimal
	outConstSum                   // a count times the constant SUM adds a row (constSum), a decimal.Decimal
)

// constSum is k when e is SUM (not AVG) of a non-NULL integer literal k,
// as Tableau's SUM(1) "Number of Records": each row adds k, so a group's
// sum is k times its rows (NULL for none), which the engine counts from
// bitmaps without reading a row.
func constSum(ctx *sql.Context, e sql.Expression) (int64, bool) {
	if a, ok := e.(*expression.Alias); ok {
		e = a.Child
	}
	f, ok := e.(*ExactSum)
	if !ok {
		return 0, false
	}
	arg, avg, typ := f.ExactSumArg()
	lit, ok := arg.(*expression.Literal)
	if !ok || avg || typ.Scale() != 0 {
		return 0, false
	}
	v, err := lit.Eval(ctx, nil)
	if err != nil {
		return 0, false
	}
	switch k := v.(type) {
	case int8:
		return int64(k), true
	case int16:
		return int64(k), true
	case int32:
		return int64(k), true
	case int64:
		return k, true
	case uint8:
		return int64(k), true
	case uint16:
		return int64(k), true
	case uint32:
		return int64(k), true
	}
	return 0, false
}

// aggOf maps one select dependency of a GroupBy to an engine aggregate.
func aggOf(ctx *sql.Context, t AggregatableTable, e sql.Expression) (engine.Agg, aggOutput, bool) {
	if a, ok := e.(*expression.Alias); ok {
		e = a.Child
	}
	column := func(x sql.Expression) (string, storage.ColumnType, bool) {
		col, ok := columnOf(t, x)
		if !ok || isPropertiesColumn(col) {
			return "", 0, false
		}
		ct, _ := t.ColumnType(col)
		return col, ct, true
	}
	// numeric is sum or avg: of numbers only (go-mysql-server would
	// convert strings). ordered is min or max: of anything but JSON.
	numeric := func(kind engine.AggKind, child sql.Expression) (engine.Agg, aggOutput, bool) {
		col, ct, ok := column(child)
		isNumber := ct == storage.TypeInt || ct == storage.TypeFloat || ct == storage.TypeBool
		return engine.Agg{Kind: kind, Column: col}, outPlain, ok && isNumber
	}
	ordered := func(kind engine.AggKind, child sql.Expression) (engine.Agg, aggOutput, bool) {
		col, ct, ok := column(child)
		return engine.Agg{Kind: kind, Column: col}, outPlain, ok && ct != storage.TypeJSON
	}
	switch f := e.(type) {
	case *expression.GetField:
		col, _, ok := column(f)
		return engine.Agg{Kind: engine.AggAny, Column: col}, outPlain, ok
	case *aggregation.Count:
		if lit, isLit := f.Child.(*expression.Literal); isLit {
			if v, _ := lit.Eval(ctx, nil); v != nil {
				return engine.Agg{Kind: engine.AggCount}, outPlain, true
			}
			return engine.Agg{}, 0, false
		}
		if _, isStar := f.Child.(*expression.Star); isStar {
			return engine.Agg{Kind: engine.AggCount}, outPlain, true
		}
		col, _, ok := column(f.Child)
		return engine.Agg{Kind: engine.AggCount, Column: col}, outPlain, ok
	case *aggregation.CountDistinct:
		kids := f.Children()
		if len(kids) != 1 {
			return engine.Agg{}, 0, false
		}
		col, ct, ok := column(kids[0])
		return engine.Agg{Kind: engine.AggCountDistinct, Column: col}, outPlain, ok && ct != storage.TypeJSON
	case *ExactSum: // exact_sum.go: integers summed exactly, a DECIMAL
		if _, ok := constSum(ctx, f); ok {
			return engine.Agg{Kind: engine.AggCount}, outConstSum, true
		}
		arg, avg, typ := f.ExactSumArg()
		col, ct, ok := column(arg)
		kind := engine.AggSum
		if avg {
			kind = engine.AggAvg
		}
		isInt := ct == storage.TypeInt || ct == storage.TypeBool
		return engine.Agg{Kind: kind, Column: col, Exact: true, Scale: int32(typ.Scale())}, outDecimal, ok && isInt
	case *aggregation.Sum:
		return numeric(engine.AggSum, f.Child)
	case *aggregation.Avg:
		return numeric(engine.AggAvg, f.Child)
	case *aggregation.Min:
		return ordered(engine.AggMin, f.Child)
	case *aggregation.Max:
		return ordered(engine.AggMax, f.Child)
	case *WindowFunnel:
		col, ct, ok := column(f.Time())
		if !ok || ct != storage.TypeTime || f.Window() != nil {
			return engine.Agg{}, 0, false
		}
		conds, ok := exactConditions(ctx, t, f.Conditions())
		return engine.Agg{Kind: engine.AggWindowFunnel, Column: col, WindowMillis: f.WindowMillis(), Conds: conds}, outPlain, ok
	case *Retention:
		if f.Window() != nil {
			return engine.Agg{}, 0, false
		}
		conds, ok := exactConditions(ctx, t, f.Conditions())
		return engine.Agg{Kind: engine.AggRetention, Conds: conds}, outRetention, ok
	}
	return engine.Agg{}, 0, false
}

func exactConditions(ctx *sql.Context, t AggregatableTable, conds []sql.Expression) ([]engine.Predicate, bool) {
	out := make([]engine.Predicate, len(conds))
	for i, c := range conds {
		p, exact := translate(ctx, t, c)
		if p == nil || !exact {
			return nil, false
		}
		out[i] = p
	}
	return out, true
}

func isPropertiesColumn(col string) bool { return strings.EqualFold(col, engine.ColProperties) }

// groupKeyOf maps a GROUP BY expression to an engine key: a plain column,
// or a function of time that is constant within a bucket.
func groupKeyOf(ctx *sql.Context, t AggregatableTable, e sql.Expression) (engine.GroupKey, bool) {
	if a, ok := e.(*expression.Alias); ok { // GROUP BY a select alias
		e = a.Child
	}
	if gf, ok := e.(*expression.GetField); ok {
		col, ok := columnOf(t, gf)
		if !ok || isPropertiesColumn(col) {
			return engine.GroupKey{}, false
		}
		if ct, _ := t.ColumnType(col); ct == storage.TypeJSON {
			return engine.GroupKey{}, false
		}
		return engine.GroupKey{Column: col}, true
	}
	unit, timeField, ok := timeBucketOf(ctx, t, e)
	if !ok {
		return engine.GroupKey{}, false
	}
	keys := &bucketKeys{ids: map[string]uint64{}}
	return engine.GroupKey{
		Column:       timeField.Name(),
		BucketMillis: unit,
		Label:        e.String(),
		Bucket: func(startMillis int64) (uint64, error) {
			return keys.eval(e, timeField, startMillis)
		},
	}, true
}

// bucketKeys numbers the distinct values of a bucketed key. Workers
// call it concurrently, once per bucket each: it evaluates under its lock
// with one context of its own (a fresh context per call costs more than
// the evaluation: go-mysql-server builds every session variable map).
type bucketKeys struct {
	mu  sync.Mutex
	ctx *sql.Context
	ids map[string]uint64
}

// eval evaluates go-mysql-server's own expression e on the bucket's first
// instant — exact by construction, whatever the function — and numbers
// its value.
func (b *bucketKeys) eval(e sql.Expression, timeField *expression.GetField, startMillis int64) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		b.ctx = sql.NewEmptyContext()
	}
	lit := expression.NewLiteral(time.UnixMilli(startMillis).UTC(), timeField.Type(b.ctx))
	x, _, err := transform.Expr(b.ctx, e, func(_ *sql.Context, x sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if gf, ok := x.(*expression.GetField); ok && strings.EqualFold(gf.Name(), timeField.Name()) {
			return lit, transform.NewTree, nil
		}
		return x, transform.SameTree, nil
	})
	if err != nil {
		return 0, err
	}
	v, err := x.Eval(b.ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("group key %s: %w", e, err)
	}
	k := fmt.Sprintf("%T:%v", v, v)
	id, ok := b.ids[k]
	if !ok {
		id = uint64(len(b.ids))
		b.ids[k] = id
	}
	return id, nil
}

// Bucket units: the widest span within which a function's value cannot
// change.
const (
	unitMilli  = int64(1)
	unitSecond = 1000 * unitMilli
	unitMinute = 60 * unitSecond
	unitHour   = 60 * unitMinute
	unitDay    = 24 * unitHour
)

// dayFunctions are functions of a DATETIME's calendar day alone.
var dayFunctions = map[string]bool{
	"date": true, "year": true, "month": true, "day": true, "dayofmonth": true, "dayofweek": true,
	"dayofyear": true, "week": true, "yearweek": true, "weekday": true, "quarter": true, "to_days": true,
	"last_day": true, "dayname": true, "monthname": true, "weekofyear": true,
}

// timeBucketOf recognises f(time, constants…) with f constant within a
// bucket, returning the bucket width.
func timeBucketOf(ctx *sql.Context, t AggregatableTable, e sql.Expression) (int64, *expression.GetField, bool) {
	var unit int64
	switch f := e.(type) {
	case sql.FunctionExpression:
		name := strings.ToLower(f.FunctionName())
		switch {
		case dayFunctions[name]:
			unit = unitDay
		case name == "hour":
			unit = unitHour
		case name == "minute":
			unit = unitMinute
		case name == "second":
			unit = unitSecond
		case name == "date_format":
			kids := e.Children()
			if len(kids) != 2 {
				return 0, nil, false
			}
			lit, ok := kids[1].(*expression.Literal)
			if !ok {
				return 0, nil, false
			}
			format, ok := lit.Value().(string)
			if !ok {
				return 0, nil, false
			}
			if unit, ok = formatUnit(format); !ok {
				return 0, nil, false
			}
		default:
			return 0, nil, false
		}
	default:
		return 0, nil, false
	}
	var field *expression.GetField
	for _, k := range e.Children() {
		switch k := k.(type) {
		case *expression.GetField:
			if field != nil {
				return 0, nil, false
			}
			col, ok := columnOf(t, k)
			if ct, _ := t.ColumnType(col); !ok || ct != storage.TypeTime || !strings.EqualFold(col, storage.ColTime) {
				return 0, nil, false
			}
			field = k
		case *expression.Literal:
		default:
			return 0, nil, false
		}
	}
	return unit, field, field != nil
}

// formatUnit is the bucket within which DATE_FORMAT(time, format) is
// constant; false for specifiers it does not know.
func formatUnit(format string) (int64, bool) {
	unit := unitDay
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		if i == len(format) {
			return 0, false
		}
		switch format[i] {
		case 'a', 'b', 'c', 'D', 'd', 'e', 'j', 'M', 'm', 'U', 'u', 'V', 'v', 'W', 'w', 'X', 'x', 'Y', 'y', '%':
		case 'H', 'h', 'I', 'k', 'l', 'p':
			unit = min(unit, unitHour)
		case 'i':
			unit = min(unit, unitMinute)
		case 'S', 's', 'T', 'r':
			unit = min(unit, unitSecond)
		case 'f':
			unit = min(unit, unitMilli)
		default:
			return 0, false
		}
	}
	return unit, true
}
