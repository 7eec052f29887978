package planner

import (
	"math"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"

	"arb/engine"
	"arb/storage"
)

// FilterableTable is a table the engine scans with a pushed-down filter.
type FilterableTable interface {
	sql.Table
	// WithFilter returns a copy that reads only rows for which f may be
	// TRUE. f may admit more rows than the SQL filter: the Filter node
	// stays above the table and decides.
	WithFilter(f engine.Predicate) sql.Table
	// Filter is the filter set by WithFilter, or nil.
	Filter() engine.Predicate
	// ColumnType is the storage type of a column, false if unknown.
	ColumnType(name string) (storage.ColumnType, bool)
}

// pushFilter hands the parts of a WHERE clause that the engine can test
// on bitmaps, dictionaries and zone maps to the table below the Filter.
//
// The Filter node is kept: the engine's predicate is a pre-filter that
// may admit extra rows (a bound widened by one millisecond, a conjunct it
// cannot test dropped) but never drops a row the SQL filter keeps.
// Idempotent: running it again sets the same predicate.
func pushFilter(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if !pushdownEnabled(ctx) {
		return n, transform.SameTree, nil
	}
	return transform.Node(ctx, n, func(ctx *sql.Context, node sql.Node) (sql.Node, transform.TreeIdentity, error) {
		f, ok := node.(*plan.Filter)
		if !ok {
			return node, transform.SameTree, nil
		}
		newChild, same, err := withFilter(ctx, f.Child, f.Expression)
		if err != nil || same {
			return node, transform.SameTree, err
		}
		nf, err := f.WithChildren(ctx, newChild)
		return nf, transform.NewTree, err
	})
}

// withFilter pushes cond into the events table at the bottom of child
// (directly, or under a table alias); same is true when nothing changed.
func withFilter(ctx *sql.Context, child sql.Node, cond sql.Expression) (sql.Node, bool, error) {
	switch c := child.(type) {
	case *plan.TableAlias:
		inner, same, err := withFilter(ctx, c.Child, cond)
		if err != nil || same {
			return child, true, err
		}
		n, err := c.WithChildren(ctx, inner)
		return n, false, err
	case *plan.ResolvedTable:
		ft, ok := c.Table.(FilterableTable)
		if !ok {
			return child, true, nil
		}
		pred, _ := translate(ctx, ft, cond)
		if pred == nil || (ft.Filter() != nil && ft.Filter().String() == pred.String()) {
			return child, true, nil
		}
		n, err := c.WithTable(ctx, ft.WithFilter(pred))
		return n, false, err
	}
	return child, true, nil
}

// translate turns a SQL condition into an engine predicate that is TRUE
// for every row where cond is TRUE. exact reports whether it is also
// FALSE-or-NULL wherever cond is, which NOT needs of its operand. It
// returns nil where no useful predicate exists.
func translate(ctx *sql.Context, t FilterableTable, cond sql.Expression) (p engine.Predicate, exact bool) {
	switch e := cond.(type) {
	case *expression.And:
		l, lx := translate(ctx, t, e.LeftChild)
		r, rx := translate(ctx, t, e.RightChild)
		switch {
		case l != nil && r != nil:
			return engine.And{Terms: []engine.Predicate{l, r}}, lx && rx
		case l != nil:
			return l, false
		case r != nil:
			return r, false
		}
		return nil, false
	case *expression.Or:
		l, lx := translate(ctx, t, e.LeftChild)
		r, rx := translate(ctx, t, e.RightChild)
		if l == nil || r == nil {
			return nil, false
		}
		return engine.Or{Terms: []engine.Predicate{l, r}}, lx && rx
	case *expression.Not:
		inner, x := translate(ctx, t, e.Child)
		if inner == nil || !x {
			return nil, false
		}
		return engine.Not{Term: inner}, true
	case *CohortExpr:
		if col, ok := columnOf(t, e.left); ok && strings.EqualFold(col, storage.ColDistinctID) {
			return e.Predicate(), true
		}
	case *expression.IsNull:
		if col, ok := columnOf(t, e.Child); ok {
			return engine.IsNull{Column: col}, true
		}
	case *expression.InTuple:
		return translateIn(ctx, t, e.Left(), e.Right())
	case *expression.HashInTuple:
		// go-mysql-server's rewrite of an IN list of constants
		// (analyzer/apply_hash_in.go), with InTuple's answers.
		return translateIn(ctx, t, e.Left(), e.Right())
	case *expression.Like:
		return translateLike(t, e)
	case *expression.Equals:
		return translateCompare(ctx, t, e.Left(), e.Right(), engine.OpEQ)
	case *expression.GreaterThan:
		return translateCompare(ctx, t, e.Left(), e.Right(), engine.OpGT)
	case *expression.GreaterThanOrEqual:
		return translateCompare(ctx, t, e.Left(), e.Right(), engine.OpGE)
	case *expression.LessThan:
		return translateCompare(ctx, t, e.Left(), e.Right(), engine.OpLT)
	case *expression.LessThanOrEqual:
		return translateCompare(ctx, t, e.Left(), e.Right(), engine.OpLE)
	}
	return nil, false
}

// columnOf names the table column e reads, if e is a plain column.
func columnOf(t FilterableTable, e sql.Expression) (string, bool) {
	gf, ok := e.(*expression.GetField)
	if !ok {
		return "", false
	}
	if _, known := t.ColumnType(gf.Name()); !known {
		return "", false
	}
	return gf.Name(), true
}

// flip mirrors an operator for `literal op column`.
var flip = map[engine.CompareOp]engine.CompareOp{
	engine.OpEQ: engine.OpEQ, engine.OpLT: engine.OpGT, engine.OpLE: engine.OpGE,
	engine.OpGT: engine.OpLT, engine.OpGE: engine.OpLE,
}

func translateCompare(ctx *sql.Context, t FilterableTable, left, right sql.Expression, op engine.CompareOp) (engine.Predicate, bool) {
	col, ok := columnOf(t, left)
	lit := right
	if !ok {
		if col, ok = columnOf(t, right); !ok {
			return nil, false
		}
		lit, op = left, flip[op]
	}
	ct, _ := t.ColumnType(col)
	v, ok := constantValue(ctx, ct, lit)
	if !ok {
		return nil, false
	}
	if ct == storage.TypeTime && wholeMillisTime(ctx, lit) {
		// A typed DATETIME constant on a millisecond: both sides compare
		// as times, with nothing to round.
		return engine.Compare{Column: col, Op: op, Value: v}, true
	}
	switch {
	case ct == storage.TypeTime || v.Type == storage.TypeFloat || ct == storage.TypeFloat:
		// go-mysql-server may round the constant differently (datetime
		// precision, decimal vs float): widen the bound a little so the
		// pre-filter stays a superset, and leave exactness to the Filter.
		return widenedRange(col, op, v), false
	}
	return engine.Compare{Column: col, Op: op, Value: v}, true
}

// wholeMillisTime reports whether the constant e is a moment on a whole
// millisecond: a time value, or a string that reads as one. MySQL (and
// go-mysql-server) compare a DATETIME column with a string as times,
// converting the string; a string that reads as a moment on a whole
// millisecond ('2025-03-01', '2025-03-01 10:00:00.250') then compares
// exactly as that moment does with arb's millisecond times, so the bound
// is exact for pruning and for the engine's aggregates. A string with a
// finer fraction, or one that does not read as a time, stays inexact.
func wholeMillisTime(ctx *sql.Context, e sql.Expression) bool {
	v, err := e.Eval(ctx, nil)
	if err != nil {
		return false
	}
	if s, ok := v.(string); ok {
		tv, _, err := types.DatetimeMaxPrecision.Convert(ctx, s)
		if err != nil || tv == nil {
			return false
		}
		v = tv
	}
	tv, ok := v.(time.Time)
	return ok && tv.Nanosecond()%int(time.Millisecond) == 0
}

// widenedRange is col op v with v moved outward by a small margin.
func widenedRange(col string, op engine.CompareOp, v storage.Value) engine.Predicate {
	lo, hi := v, v
	if v.Type == storage.TypeTime {
		lo.Int, hi.Int = v.Int-1, v.Int+1
	} else {
		f := v.Float
		if v.Type == storage.TypeInt {
			f = float64(v.Int)
		}
		margin := math.Max(math.Abs(f)*1e-9, 1e-300)
		lo, hi = storage.FloatValue(f-margin), storage.FloatValue(f+margin)
	}
	switch op {
	case engine.OpLT, engine.OpLE:
		return engine.Compare{Column: col, Op: engine.OpLE, Value: hi}
	case engine.OpGT, engine.OpGE:
		return engine.Compare{Column: col, Op: engine.OpGE, Value: lo}
	}
	return engine.And{Terms: []engine.Predicate{
		engine.Compare{Column: col, Op: engine.OpGE, Value: lo},
		engine.Compare{Column: col, Op: engine.OpLE, Value: hi},
	}}
}

// translateIn is left IN right (an InTuple or a HashInTuple).
func translateIn(ctx *sql.Context, t FilterableTable, left, right sql.Expression) (engine.Predicate, bool) {
	col, ok := columnOf(t, left)
	tuple, isTuple := right.(expression.Tuple)
	if !ok || !isTuple {
		return nil, false
	}
	ct, _ := t.ColumnType(col)
	if ct != storage.TypeString && ct != storage.TypeInt && ct != storage.TypeBool {
		return nil, false
	}
	values := make([]storage.Value, 0, len(tuple))
	for _, el := range tuple {
		v, ok := constantValue(ctx, ct, el)
		if !ok || v.Type == storage.TypeFloat {
			return nil, false
		}
		values = append(values, v)
	}
	return engine.In{Column: col, Values: values}, true
}

func translateLike(t FilterableTable, e *expression.Like) (engine.Predicate, bool) {
	col, ok := columnOf(t, e.Left())
	if ct, _ := t.ColumnType(col); !ok || ct != storage.TypeString || e.Escape != nil {
		return nil, false
	}
	lit, ok := e.Right().(*expression.Literal)
	if !ok {
		return nil, false
	}
	pattern, ok := lit.Value().(string)
	if !ok || !strings.HasSuffix(pattern, "%") {
		return nil, false
	}
	prefix := strings.TrimSuffix(pattern, "%")
	if strings.ContainsAny(prefix, `%_\`) {
		return nil, false
	}
	return engine.Prefix{Column: col, Prefix: prefix}, true
}

// constantValue evaluates a constant expression as a value comparable
// with a column of type ct; ok is false when it is not a constant or its
// kind does not match the column's (a string against a number column is
// left to go-mysql-server's conversion rules).
func constantValue(ctx *sql.Context, ct storage.ColumnType, e sql.Expression) (storage.Value, bool) {
	if !isConstant(ctx, e) {
		return storage.Value{}, false
	}
	v, err := e.Eval(ctx, nil)
	if err != nil || v == nil {
		return storage.Value{}, false
	}
	switch ct {
	case storage.TypeTime:
		if _, isNum := v.(string); !isNum {
			if _, isTime := v.(time.Time); !isTime {
				return storage.Value{}, false
			}
		}
		tv, _, err := types.DatetimeMaxPrecision.Convert(ctx, v)
		if err != nil || tv == nil {
			return storage.Value{}, false
		}
		return storage.TimeValue(tv.(time.Time).UTC().UnixMilli()), true
	case storage.TypeString:
		s, ok := v.(string)
		return storage.StringValue(s), ok
	case storage.TypeInt, storage.TypeBool, storage.TypeFloat:
		switch n := v.(type) {
		case int8:
			return storage.IntValue(int64(n)), true
		case int16:
			return storage.IntValue(int64(n)), true
		case int32:
			return storage.IntValue(int64(n)), true
		case int64:
			return storage.IntValue(n), true
		case uint8:
			return storage.IntValue(int64(n)), true
		case uint16:
			return storage.IntValue(int64(n)), true
		case uint32:
			return storage.IntValue(int64(n)), true
		case float32:
			return storage.FloatValue(float64(n)), true
		case float64:
			return storage.FloatValue(n), true
		case decimal.Decimal:
			if n.IsInteger() && n.Abs().LessThan(decimal.New(1, 18)) {
				return storage.IntValue(n.IntPart()), true
			}
			f, _ := n.Float64()
			return storage.FloatValue(f), true
		}
	}
	return storage.Value{}, false
}

// isConstant reports whether e is built only from literals and the
// deterministic operators and functions date filters use.
func isConstant(ctx *sql.Context, e sql.Expression) bool {
	constant := true
	transform.InspectExpr(ctx, e, func(_ *sql.Context, x sql.Expression) bool {
		switch f := x.(type) {
		case *expression.Literal, *expression.Convert, *expression.Arithmetic,
			*expression.UnaryMinus, *expression.Interval:
		case sql.FunctionExpression:
			switch strings.ToLower(f.FunctionName()) {
			case "now", "current_timestamp", "utc_timestamp", "date_sub", "date_add", "curdate",
				"current_date", "utc_date", "timestamp", "date", "from_unixtime", "str_to_date":
			default:
				constant = false
			}
		default:
			constant = false
		}
		return !constant
	})
	return constant
}
