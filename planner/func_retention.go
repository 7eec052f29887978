package planner

// This file owns the row-at-a-time retention aggregate:
//
//	retention(cond1, …, condN)   N in 1..32
//
// It returns, per group, a JSON array of N integers 0/1 as ClickHouse's
// retention(): element 1 is 1 when cond1 held on some row; element i > 1
// is 1 when cond1 held on some row and cond i held on some row (not
// necessarily the same one). engine.RetentionFlags defines the semantics
// and is shared with the native path.
//
// INVARIANT: 1 <= len(conds) <= engine.MaxFunnelSteps.

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"

	"arb/engine"
)

// Retention is the retention aggregate expression; its children are the
// conditions.
type Retention struct {
	conds  []sql.Expression
	window *sql.WindowDefinition // OVER (…): accepted, then refused at execution
	id     sql.ColumnId
}

var (
	_ sql.Aggregation        = (*Retention)(nil)
	_ sql.FunctionExpression = (*Retention)(nil)
	_ sql.DebugStringer      = (*Retention)(nil)
)

// NewRetention builds retention from its SQL arguments; it is the
// sql.FunctionN constructor.
func NewRetention(_ *sql.Context, args ...sql.Expression) (sql.Expression, error) {
	if len(args) < 1 || len(args) > engine.MaxFunnelSteps {
		return nil, sql.ErrInvalidArgumentNumber.New(nameRetention,
			fmt.Sprintf("1 to %d (cond1 … cond%d)", engine.MaxFunnelSteps, engine.MaxFunnelSteps), len(args))
	}
	return &Retention{conds: append([]sql.Expression(nil), args...)}, nil
}

// RetentionJSON renders retention flags as the function's SQL value, a
// JSON array of 0/1 integers; the native path uses it too, so both give
// identical values.
func RetentionJSON(flags []bool) types.JSONDocument {
	arr := make([]any, len(flags))
	for i, f := range flags {
		if f {
			arr[i] = int64(1)
		} else {
			arr[i] = int64(0)
		}
	}
	return types.JSONDocument{Val: arr}
}

// Conditions are cond1..condN (for the native path). The caller must not
// modify the slice.
func (r *Retention) Conditions() []sql.Expression { return r.conds }

// FunctionName implements sql.FunctionExpression.
func (r *Retention) FunctionName() string { return nameRetention }

// Description implements sql.FunctionExpression.
func (r *Retention) Description() string {
	return "returns a JSON array of 0/1: cond1 held, and cond1 and cond i held, on some rows of the group (ClickHouse retention)"
}

func (r *Retention) String() string {
	return r.render(func(e sql.Expression) string { return e.String() })
}

// DebugString implements sql.DebugStringer.
func (r *Retention) DebugString(ctx *sql.Context) string {
	return r.render(func(e sql.Expression) string { return sql.DebugString(ctx, e) })
}

func (r *Retention) render(str func(sql.Expression) string) string {
	parts := make([]string, len(r.conds))
	for i, c := range r.conds {
		parts[i] = str(c)
	}
	return nameRetention + "(" + strings.Join(parts, ", ") + ")"
}

// Type implements sql.Expression.
func (r *Retention) Type(*sql.Context) sql.Type { return types.JSON }

// CollationCoercibility implements sql.CollationCoercible, as
// go-mysql-server's JSON aggregates do.
func (r *Retention) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return ctx.GetCharacterSet().BinaryCollation(), 2
}

// IsNullable implements sql.Expression: an empty group gives all zeros.
func (r *Retention) IsNullable(*sql.Context) bool { return false }

// Resolved implements sql.Expression.
func (r *Retention) Resolved() bool { return expression.ExpressionsResolved(r.conds...) }

// Children implements sql.Expression.
func (r *Retention) Children() []sql.Expression { return r.conds }

// WithChildren implements sql.Expression.
func (r *Retention) WithChildren(_ *sql.Context, children ...sql.Expression) (sql.Expression, error) {
	if len(children) != len(r.conds) {
		return nil, sql.ErrInvalidChildrenNumber.New(r, len(children), len(r.conds))
	}
	nr := *r
	nr.conds = append([]sql.Expression(nil), children...)
	return &nr, nil
}

// Eval implements sql.Expression; see WindowFunnel.Eval.
func (r *Retention) Eval(*sql.Context, sql.Row) (any, error) {
	return nil, fmt.Errorf("%s is an aggregate function: use it with or without GROUP BY, not per row or with OVER", nameRetention)
}

// Id implements sql.IdExpression.
func (r *Retention) Id() sql.ColumnId { return r.id }

// WithId implements sql.IdExpression.
func (r *Retention) WithId(id sql.ColumnId) sql.IdExpression {
	nr := *r
	nr.id = id
	return &nr
}

// Window implements sql.WindowAdaptableExpression.
func (r *Retention) Window() *sql.WindowDefinition { return r.window }

// WithWindow implements sql.WindowAdaptableExpression.
func (r *Retention) WithWindow(_ *sql.Context, w *sql.WindowDefinition) sql.WindowAdaptableExpression {
	nr := *r
	nr.window = w
	return &nr
}

// NewWindowFunction implements sql.WindowAdaptableExpression: retention is
// not a window function.
func (r *Retention) NewWindowFunction(*sql.Context) (sql.WindowFunction, error) {
	return nil, fmt.Errorf("%s cannot be used with OVER", nameRetention)
}

// NewBuffer implements sql.Aggregation.
func (r *Retention) NewBuffer(*sql.Context) (sql.AggregationBuffer, error) {
	return &retentionBuffer{r: r}, nil
}

// retentionBuffer ORs the condition masks of one group's rows: retention
// only asks whether each condition held on some row.
type retentionBuffer struct {
	r    *Retention
	seen uint32
}

// Update implements sql.AggregationBuffer. NULL or FALSE is not met.
// Every condition is evaluated on every row, even one already seen, so
// that an evaluation error does not depend on row order.
func (b *retentionBuffer) Update(ctx *sql.Context, row sql.Row) error {
	for i, cond := range b.r.conds {
		met, err := conditionMet(ctx, cond, row)
		if err != nil {
			return fmt.Errorf("%s: argument %d (cond%d) %s: %w", nameRetention, i+1, i+1, cond, err)
		}
		if met {
			b.seen |= 1 << i
		}
	}
	return nil
}

// Eval implements sql.AggregationBuffer.
func (b *retentionBuffer) Eval(*sql.Context) (any, error) {
	return RetentionJSON(engine.RetentionFlags(len(b.r.conds), b.seen)), nil
}

// Dispose implements sql.Disposable.
func (b *retentionBuffer) Dispose(*sql.Context) {}
