package planner

// This file owns the row-at-a-time window_funnel aggregate:
//
//	window_funnel(window_seconds, time, cond1, …, condN)   N in 1..32
//
// It returns, per group, the deepest funnel step reached within
// window_seconds of a cond1 event (inclusive), as ClickHouse's windowFunnel
// in its default mode; engine.WindowFunnel defines the semantics and is
// shared with the native path, so results agree with pushdown on or off.
//
// INVARIANTS: windowMillis = window_seconds * 1000 >= 0, fixed when the
// expression is built (the window is a constant, not a child);
// 1 <= len(conds) <= engine.MaxFunnelSteps.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"

	"arb/engine"
)

// WindowFunnel is the window_funnel aggregate expression. Its children are
// the time expression and the conditions, in that order; the window is a
// constant held outside the children, so analyzer rules that rewrite
// children (field indexes, pushdown) cannot turn it into something that
// is no longer constant.
type WindowFunnel struct {
	windowSeconds int64
	windowMillis  int64
	timeExpr      sql.Expression
	conds         []sql.Expression
	window        *sql.WindowDefinition // OVER (…): accepted, then refused at execution
	id            sql.ColumnId
}

var (
	_ sql.Aggregation        = (*WindowFunnel)(nil)
	_ sql.FunctionExpression = (*WindowFunnel)(nil)
	_ sql.DebugStringer      = (*WindowFunnel)(nil)
)

// NewWindowFunnel builds window_funnel from its SQL arguments; it is the
// sql.FunctionN constructor. It checks arity, that the window is a
// non-negative integer constant, and that time has a date/time type.
func NewWindowFunnel(ctx *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	if n := len(args) - 2; n < 1 || n > engine.MaxFunnelSteps {
		return nil, sql.ErrInvalidArgumentNumber.New(nameWindowFunnel,
			fmt.Sprintf("3 to %d (window_seconds, time, cond1 … cond%d)", 2+engine.MaxFunnelSteps, engine.MaxFunnelSteps), len(args))
	}
	ctx = evalContext(ctx)
	seconds, err := constantInteger(ctx, args[0])
	if err != nil {
		return nil, fmt.Errorf("%s: argument 1 (window_seconds) %s must be a constant non-negative integer: %w",
			nameWindowFunnel, args[0], err)
	}
	if seconds < 0 {
		return nil, fmt.Errorf("%s: argument 1 (window_seconds) must be a constant non-negative integer, got %d",
			nameWindowFunnel, seconds)
	}
	if seconds > math.MaxInt64/1000 {
		return nil, fmt.Errorf("%s: argument 1 (window_seconds) %d is too large (at most %d)",
			nameWindowFunnel, seconds, int64(math.MaxInt64/1000))
	}
	if t := args[1].Type(ctx); !types.IsTime(t) {
		return nil, fmt.Errorf("%s: argument 2 (time) %s must be DATE, DATETIME or TIMESTAMP, not %s",
			nameWindowFunnel, args[1], t)
	}
	return &WindowFunnel{
		windowSeconds: seconds,
		windowMillis:  seconds * 1000,
		timeExpr:      args[1],
		conds:         append([]sql.Expression(nil), args[2:]...),
	}, nil
}

// errNotConstant is why a window expression is refused when it refers to
// something other than literals (a column, a placeholder, now()).
var errNotConstant = fmt.Errorf("it is not a constant")

// constantInteger evaluates e, which must be built from literals only,
// to an integer. Decimals and floats are accepted when integral (7 * 1.0).
func constantInteger(ctx *sql.Context, e sql.Expression) (int64, error) {
	if !literalsOnly(e) {
		return 0, errNotConstant
	}
	v, err := e.Eval(ctx, nil)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range", x)
		}
		return int64(x), nil
	case decimal.Decimal:
		if !x.IsInteger() || !x.BigInt().IsInt64() {
			return 0, fmt.Errorf("%s is not an integer", x)
		}
		return x.IntPart(), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<62 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case nil:
		return 0, fmt.Errorf("it is NULL")
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}

// literalsOnly reports whether every leaf of e is a literal, so that e
// evaluates to the same value on every row and can be evaluated once at
// plan time.
func literalsOnly(e sql.Expression) bool {
	if _, ok := e.(*expression.Literal); ok {
		return true
	}
	children := e.Children()
	if len(children) == 0 {
		return false // a column, a placeholder, now(), rand(): not a literal
	}
	for _, c := range children {
		if !literalsOnly(c) {
			return false
		}
	}
	return true
}

// WindowMillis is the window in milliseconds (for the native path).
func (f *WindowFunnel) WindowMillis() int64 { return f.windowMillis }

// Time is the time argument (for the native path).
func (f *WindowFunnel) Time() sql.Expression { return f.timeExpr }

// Conditions are cond1..condN (for the native path). The caller must not
// modify the slice.
func (f *WindowFunnel) Conditions() []sql.Expression { return f.conds }

// FunctionName implements sql.FunctionExpression.
func (f *WindowFunnel) FunctionName() string { return nameWindowFunnel }

// Description implements sql.FunctionExpression.
func (f *WindowFunnel) Description() string {
	return "returns the deepest step of the funnel cond1 → … → condN reached within window_seconds of cond1 (ClickHouse windowFunnel)"
}

// String renders the call with the window, so that two calls differing
// only in the window are two aggregates (go-mysql-server deduplicates
// aggregates of one GROUP BY by their lower-cased String).
func (f *WindowFunnel) String() string {
	return f.render(func(e sql.Expression) string { return e.String() })
}

// DebugString implements sql.DebugStringer.
func (f *WindowFunnel) DebugString(ctx *sql.Context) string {
	return f.render(func(e sql.Expression) string { return sql.DebugString(ctx, e) })
}

func (f *WindowFunnel) render(str func(sql.Expression) string) string {
	var b strings.Builder
	b.WriteString(nameWindowFunnel)
	b.WriteByte('(')
	b.WriteString(strconv.FormatInt(f.windowSeconds, 10))
	for _, e := range f.Children() {
		b.WriteString(", ")
		b.WriteString(str(e))
	}
	b.WriteByte(')')
	return b.String()
}

// Type implements sql.Expression: the level, a BIGINT.
func (f *WindowFunnel) Type(*sql.Context) sql.Type { return types.Int64 }

// IsNullable implements sql.Expression: a group without cond1 is level 0.
func (f *WindowFunnel) IsNullable(*sql.Context) bool { return false }

// Resolved implements sql.Expression.
func (f *WindowFunnel) Resolved() bool {
	return expression.ExpressionsResolved(f.Children()...)
}

// Children implements sql.Expression: time, then the conditions.
func (f *WindowFunnel) Children() []sql.Expression {
	return append([]sql.Expression{f.timeExpr}, f.conds...)
}

// WithChildren implements sql.Expression.
func (f *WindowFunnel) WithChildren(_ *sql.Context, children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1+len(f.conds) {
		return nil, sql.ErrInvalidChildrenNumber.New(f, len(children), 1+len(f.conds))
	}
	nf := *f
	nf.timeExpr = children[0]
	nf.conds = append([]sql.Expression(nil), children[1:]...)
	return &nf, nil
}

// Eval implements sql.Expression. An aggregate is evaluated through its
// buffer; reaching this means the function was planned as a scalar (for
// example with OVER, which arb does not support for it).
func (f *WindowFunnel) Eval(*sql.Context, sql.Row) (any, error) {
	return nil, fmt.Errorf("%s is an aggregate function: use it with or without GROUP BY, not per row or with OVER", nameWindowFunnel)
}

// Id implements sql.IdExpression.
func (f *WindowFunnel) Id() sql.ColumnId { return f.id }

// WithId implements sql.IdExpression.
func (f *WindowFunnel) WithId(id sql.ColumnId) sql.IdExpression {
	nf := *f
	nf.id = id
	return &nf
}

// Window implements sql.WindowAdaptableExpression.
func (f *WindowFunnel) Window() *sql.WindowDefinition { return f.window }

// WithWindow implements sql.WindowAdaptableExpression.
func (f *WindowFunnel) WithWindow(_ *sql.Context, w *sql.WindowDefinition) sql.WindowAdaptableExpression {
	nf := *f
	nf.window = w
	return &nf
}

// NewWindowFunction implements sql.WindowAdaptableExpression: window_funnel
// is not a window function.
func (f *WindowFunnel) NewWindowFunction(*sql.Context) (sql.WindowFunction, error) {
	return nil, fmt.Errorf("%s cannot be used with OVER", nameWindowFunnel)
}

// NewBuffer implements sql.Aggregation.
func (f *WindowFunnel) NewBuffer(*sql.Context) (sql.AggregationBuffer, error) {
	return &windowFunnelBuffer{f: f}, nil
}

// windowFunnelBuffer collects one group's events. Only rows meeting at
// least one condition are kept: a row meeting none never changes the
// level. Used by one goroutine (go-mysql-server's GroupBy iterator).
type windowFunnelBuffer struct {
	f      *WindowFunnel
	events []engine.FunnelEvent
}

// Update implements sql.AggregationBuffer. A row whose time is NULL is
// ignored; a condition that is NULL or FALSE is not met.
func (b *windowFunnelBuffer) Update(ctx *sql.Context, row sql.Row) error {
	var steps uint32
	for i, cond := range b.f.conds {
		met, err := conditionMet(ctx, cond, row)
		if err != nil {
			return fmt.Errorf("%s: argument %d (cond%d) %s: %w", nameWindowFunnel, i+3, i+1, cond, err)
		}
		if met {
			steps |= 1 << i
		}
	}
	if steps == 0 {
		return nil
	}
	v, err := b.f.timeExpr.Eval(ctx, row)
	if err != nil {
		return fmt.Errorf("%s: argument 2 (time) %s: %w", nameWindowFunnel, b.f.timeExpr, err)
	}
	if v == nil {
		return nil
	}
	millis, err := timeMillis(ctx, v)
	if err != nil {
		return fmt.Errorf("%s: argument 2 (time) %s: %w", nameWindowFunnel, b.f.timeExpr, err)
	}
	b.events = append(b.events, engine.FunnelEvent{TimeMillis: millis, Steps: steps})
	return nil
}

// timeMillis converts a date/time value to UTC milliseconds since the
// epoch. go-mysql-server hands DATE, DATETIME and TIMESTAMP values over as
// time.Time; anything else goes through DATETIME conversion.
func timeMillis(ctx *sql.Context, v any) (int64, error) {
	t, ok := v.(time.Time)
	if !ok {
		c, _, err := types.DatetimeMaxPrecision.Convert(ctx, v)
		if err != nil {
			return 0, err
		}
		if t, ok = c.(time.Time); !ok {
			return 0, fmt.Errorf("%v (%T) is not a time", v, v)
		}
	}
	return t.UnixMilli(), nil
}

// Eval implements sql.AggregationBuffer: the level, 0..N.
func (b *windowFunnelBuffer) Eval(*sql.Context) (any, error) {
	return int64(engine.WindowFunnel(b.f.windowMillis, len(b.f.conds), b.events)), nil
}

// Dispose implements sql.Disposable.
func (b *windowFunnelBuffer) Dispose(*sql.Context) { b.events = nil }
