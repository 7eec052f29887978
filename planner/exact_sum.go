package planner

// SUM and AVG of exact numbers as MySQL 8 computes them (8.0 manual
// 14.19.1 "Aggregate Function Descriptions" and 14.24.3 "Expression
// Handling": "SUM() and AVG() return a DECIMAL value for exact-value
// arguments (integer or DECIMAL)"; the AVG scale is the argument's plus
// div_precision_increment, 4). go-mysql-server sums every argument as a
// float64 and its planbuilder types every SUM and AVG column DOUBLE, so
// the sum of two BIGINTs of 2^62 lost digits and a BI tool saw a DOUBLE
// where MySQL sends NEWDECIMAL.
//
// The rule replaceExactSums swaps each SUM and AVG of an integer or
// DECIMAL argument for ExactSum and retypes the columns that read its
// result. ExactSum sums integers in an int64 and moves to a decimal only
// when the int64 would overflow, so the common case costs what the float
// sum did. The native plan and the engine compute the same values
// (native.ExactSummer, engine.Agg.Exact).
//
// A windowed one (SUM(n) OVER …), which go-mysql-server typed as its
// argument and summed in float64 prefix sums (beyond 2^53 a running sum
// printed 6917529027641082000; SUM over NULLs only gave 0), is an
// ExactSum too, typed as a column's DECIMAL (printed at its scale). Its
// window function (exactWindowSum, what go-mysql-server's window runs
// with pushdown off) and the native window operator sum the same exact
// prefix sums (native.ExactPrefixSums) over go-mysql-server's frames.
//
// INVARIANT: SUM's value is the exact sum, as a decimal.Decimal of the
// argument's scale; AVG's is that sum divided by the count of non-NULL
// values, rounded half away from zero to the argument's scale + 4; both
// NULL over no values.

import (
	"fmt"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function/aggregation"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"

	"arb/native"
)

// avgScaleIncrement is MySQL's div_precision_increment default: AVG's
// scale over its argument's.
const avgScaleIncrement = 4

// ExactSum is SUM or AVG of an integer or DECIMAL argument, summed
// exactly and typed DECIMAL. It keeps go-mysql-server's aggregate for
// its name, id and text.
type ExactSum struct {
	agg sql.Aggregation // *aggregation.Sum or *aggregation.Avg
	avg bool
	typ sql.DecimalType
}

var (
	_ sql.Aggregation               = (*ExactSum)(nil)
	_ sql.FunctionExpression        = (*ExactSum)(nil)
	_ native.ExactSummer            = (*ExactSum)(nil)
	_ sql.CollationCoercible        = (*ExactSum)(nil)
	_ sql.WindowAdaptableExpression = (*ExactSum)(nil)
)

// exactSumType is MySQL's type of SUM (or AVG) of arg, or nil when the
// argument is not exact (a float, a string, a date: DOUBLE, as before).
func exactSumType(ctx *sql.Context, arg sql.Expression, avg bool) sql.DecimalType {
	t := arg.Type(ctx)
	var prec, scale int
	switch {
	case types.IsInteger(t) && t.Type() != sqltypes.Year:
		prec = integerDigits(t)
	case types.IsDecimal(t):
		d := t.(sql.DecimalType)
		prec, scale = int(d.Precision()), int(d.Scale())
	default:
		return nil
	}
	if avg {
		prec, scale = prec+avgScaleIncrement, min(scale+avgScaleIncrement, types.DecimalTypeMaxScale)
	} else {
		prec += 22 // DECIMAL_LONGLONG_DIGITS
	}
	prec = min(max(prec, scale+1), types.DecimalTypeMaxPrecision)
	typ, err := types.CreateDecimalType(uint8(prec), uint8(scale))
	if err != nil {
		return nil
	}
	return typ
}

// integerDigits is MySQL's decimal precision of integer type t.
func integerDigits(t sql.Type) int {
	switch t.Type() {
	case sqltypes.Int8, sqltypes.Uint8:
		return 3
	case sqltypes.Int16, sqltypes.Uint16:
		return 5
	case sqltypes.Int24, sqltypes.Uint24:
		return 8
	case sqltypes.Int32, sqltypes.Uint32:
		return 10
	case sqltypes.Uint64:
		return 20
	}
	return 19
}

func (s *ExactSum) ExactSumArg() (sql.Expression, bool, sql.DecimalType) {
	return s.agg.Children()[0], s.avg, s.typ
}

func (s *ExactSum) FunctionName() string {
	return s.agg.(sql.FunctionExpression).FunctionName()
}
func (s *ExactSum) Description() string          { return "arb: MySQL 8 exact " + s.FunctionName() }
func (s *ExactSum) Type(*sql.Context) sql.Type   { return s.typ }
func (s *ExactSum) IsNullable(*sql.Context) bool { return true }
func (s *ExactSum) Resolved() bool               { return s.agg.Resolved() }
func (s *ExactSum) String() string               { return s.agg.String() }
func (s *ExactSum) Children() []sql.Expression   { return s.agg.Children() }
func (s *ExactSum) Id() sql.ColumnId             { return s.agg.Id() }
func (s *ExactSum) Window() *sql.WindowDefinition {
	return s.agg.Window()
}
func (s *ExactSum) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}
func (s *ExactSum) DebugString(ctx *sql.Context) string { return sql.DebugString(ctx, s.agg) }

func (s *ExactSum) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	return s.agg.Eval(ctx, row) // an aggregate is not evaluated on a row
}

func (s *ExactSum) WithId(id sql.ColumnId) sql.IdExpression {
	return &ExactSum{agg: s.agg.WithId(id).(sql.Aggregation), avg: s.avg, typ: s.typ}
}

func (s *ExactSum) WithChildren(ctx *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	agg, err := s.agg.WithChildren(ctx, ch...)
	if err != nil {
		return nil, err
	}
	typ := exactSumType(evalContext(ctx), ch[0], s.avg)
	if typ == nil {
		return agg, nil // no longer exact: go-mysql-server's
	}
	return &ExactSum{agg: agg.(sql.Aggregation), avg: s.avg, typ: typ}, nil
}

func (s *ExactSum) WithWindow(ctx *sql.Context, w *sql.WindowDefinition) sql.WindowAdaptableExpression {
	agg, ok := s.agg.WithWindow(ctx, w).(sql.Aggregation)
	if !ok {
		return s.agg.WithWindow(ctx, w)
	}
	return &ExactSum{agg: agg, avg: s.avg, typ: s.typ}
}

// NewWindowFunction is the exact SUM or AVG over the frames
// go-mysql-server's own function would see (its DefaultFramer: the
// written frame, else ROWS UNBOUNDED PRECEDING to the current row).
func (s *ExactSum) NewWindowFunction(ctx *sql.Context) (sql.WindowFunction, error) {
	gms, err := s.agg.NewWindowFunction(ctx)
	if err != nil {
		return nil, err
	}
	framer := gms.DefaultFramer()
	gms.Dispose(ctx)
	child, err := transform.Clone(ctx, s.agg.Children()[0])
	if err != nil {
		return nil, err
	}
	return &exactWindowSum{arg: child, avg: s.avg, typ: s.typ, framer: framer}, nil
}

// exactWindowSum is a windowed ExactSum, row at a time: the partition's
// exact prefix sums, as the native window operator computes them.
type exactWindowSum struct {
	arg    sql.Expression
	avg    bool
	typ    sql.DecimalType
	framer sql.WindowFramer
	start  int // the partition's first row in the buffer
	sums   native.ExactPrefixSums
}

var _ sql.WindowFunction = (*exactWindowSum)(nil)

func (w *exactWindowSum) DefaultFramer() sql.WindowFramer { return w.framer }
func (w *exactWindowSum) Dispose(ctx *sql.Context)        { expression.Dispose(ctx, w.arg) }

func (w *exactWindowSum) StartPartition(ctx *sql.Context, iv sql.WindowInterval, buf sql.WindowBuffer) error {
	w.start = iv.Start
	w.sums.Reset()
	for i := iv.Start; i < iv.End; i++ {
		v, err := w.arg.Eval(ctx, buf[i])
		if err != nil {
			return err
		}
		if v == nil {
			w.sums.AddNull()
			continue
		}
		if x, ok := exactInt(v); ok {
			w.sums.AddInt(x)
			continue
		}
		d, err := exactDecimal(ctx, v)
		if err != nil {
			return fmt.Errorf("%s of %v: %w", w.arg, v, err)
		}
		w.sums.AddDecimal(d)
	}
	return nil
}

func (w *exactWindowSum) Compute(_ *sql.Context, iv sql.WindowInterval, _ sql.WindowBuffer) (any, error) {
	sum, n := w.sums.Frame(iv.Start-w.start, iv.End-w.start)
	v, ok := native.ExactWindowResult(sum, n, w.avg, w.typ)
	if !ok {
		return nil, nil
	}
	return v, nil
}

func (s *ExactSum) NewBuffer(ctx *sql.Context) (sql.AggregationBuffer, error) {
	child, err := transform.Clone(ctx, s.agg.Children()[0])
	if err != nil {
		return nil, err
	}
	return &exactSumBuffer{arg: child, avg: s.avg, typ: s.typ}, nil
}

// exactSumBuffer is one group's ExactSum.
//
// INVARIANT: the sum is small when !spilled, else big; n counts the
// non-NULL values added.
type exactSumBuffer struct {
	arg     sql.Expression
	avg     bool
	typ     sql.DecimalType
	small   int64
	big     decimal.Decimal
	spilled bool
	n       int64
}

func (b *exactSumBuffer) Update(ctx *sql.Context, row sql.Row) error {
	v, err := b.arg.Eval(ctx, row)
	if err != nil || v == nil {
		return err
	}
	b.n++
	if i, ok := exactInt(v); ok && !b.spilled {
		if s, overflow := addInt64(b.small, i); !overflow {
			b.small = s
			return nil
		}
	}
	d, err := exactDecimal(ctx, v)
	if err != nil {
		return fmt.Errorf("%s of %v: %w", b.arg, v, err)
	}
	if !b.spilled {
		b.big, b.spilled = decimal.NewFromInt(b.small), true
	}
	b.big = b.big.Add(d)
	return nil
}

func (b *exactSumBuffer) Eval(*sql.Context) (any, error) {
	if b.n == 0 {
		return nil, nil
	}
	sum := b.big
	if !b.spilled {
		sum = decimal.NewFromInt(b.small)
	}
	return ExactSumResult(sum, b.n, b.avg, b.typ), nil
}

func (b *exactSumBuffer) Dispose(ctx *sql.Context) { expression.Dispose(ctx, b.arg) }

// ExactSumResult is SUM (the sum) or AVG (sum over n, rounded) as typ.
func ExactSumResult(sum decimal.Decimal, n int64, avg bool, typ sql.DecimalType) decimal.Decimal {
	if avg {
		return sum.DivRound(decimal.NewFromInt(n), int32(typ.Scale()))
	}
	return sum
}

// addInt64 is a + b and whether it overflowed.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// exactInt is v when it is a signed integer or an unsigned one that fits.
func exactInt(v any) (int64, bool) {
	if x, ok := v.(uint64); ok {
		return int64(x), x < 1<<63
	}
	return native.IntOf(v)
}

// exactDecimal is v as an exact decimal.
func exactDecimal(ctx *sql.Context, v any) (decimal.Decimal, error) {
	switch x := v.(type) {
	case decimal.Decimal:
		return x, nil
	case uint64:
		return decimal.NewFromUint64(x), nil
	}
	if i, ok := exactInt(v); ok {
		return decimal.NewFromInt(i), nil
	}
	d, _, err := types.InternalDecimalType.Convert(ctx, v)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return d.(decimal.Decimal), nil
}

// replaceExactSums swaps SUM and AVG of exact arguments for ExactSum and
// gives the columns that read them its type (idempotent).
func replaceExactSums(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	retyped := map[sql.ColumnId]sql.Type{}
	swap := func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		var agg sql.Aggregation
		avg := false
		switch x := e.(type) {
		case *aggregation.Sum:
			agg = x
		case *aggregation.Avg:
			agg, avg = x, true
		default:
			return e, transform.SameTree, nil
		}
		arg := agg.Children()[0]
		if !arg.Resolved() {
			return e, transform.SameTree, nil
		}
		typ := exactSumType(ctx, arg, avg)
		if typ == nil {
			return e, transform.SameTree, nil
		}
		if agg.Window() != nil {
			// Printed at its scale whatever the value's exponent, as a
			// column's DECIMAL (SUM OVER of DECIMAL(10,2) values that sum
			// to 3 prints 3.00).
			typ = types.MustCreateColumnDecimalType(uint8(typ.Precision()), uint8(typ.Scale()))
		}
		if agg.Id() != 0 {
			retyped[agg.Id()] = typ
		}
		return &ExactSum{agg: agg, avg: avg, typ: typ}, transform.NewTree, nil
	}
	out, same, err := transform.NodeWithOpaque(ctx, n, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		return transform.NodeExprsWithOpaque(ctx, n, swap)
	})
	if err != nil {
		return n, transform.SameTree, nil
	}
	swapped := same == transform.NewTree
	// The planbuilder typed the columns that read a SUM or AVG DOUBLE,
	// and every column above them (an alias, a derived table's column,
	// MAX of it) took that type: retype them bottom-up. The columns that
	// read MIN, MAX, FIRST or ANY_VALUE take the aggregate's type as it is
	// now: arb's rules may have changed their argument's (MAX(NOW(3)) was
	// typed DATETIME(6) by the planbuilder, before replaceClock).
	// A set operation's sides, retyped here or by replaceClock, decide
	// its column types (union_types.go).
	out, same, err = transform.NodeWithOpaque(ctx, out, func(ctx *sql.Context, n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		reconciled := transform.SameTree
		if u, ok := n.(*plan.SetOp); ok {
			r, changed, err := reconcileSetOp(ctx, u, retyped)
			if err != nil {
				return n, transform.SameTree, err
			}
			if changed {
				n, reconciled = r, transform.NewTree
			}
		}
		if sq, ok := n.(*plan.SubqueryAlias); ok {
			schema := sq.Child.Schema(ctx)
			i := 0
			sq.Columns().ForEach(func(id sql.ColumnId) {
				if i < len(schema) {
					switch t := schema[i].Type.(type) {
					case sql.DecimalType, sql.DatetimeType, timeFsp:
						retyped[id] = t
					}
				}
				i++
			})
		}
		n, same, err := transform.NodeExprsWithOpaque(ctx, n, func(ctx *sql.Context, e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
			switch x := e.(type) {
			case *expression.GetField:
				if typ, ok := retyped[x.Id()]; ok && !x.Type(ctx).Equals(typ) {
					return retypeField(x, typ), transform.NewTree, nil
				}
				return x, transform.SameTree, nil
			}
			ie, ok := e.(sql.IdExpression)
			if !ok || ie.Id() == 0 {
				return e, transform.SameTree, nil
			}
			switch e.(type) {
			case *aggregation.Min, *aggregation.Max, *aggregation.First, *aggregation.AnyValue:
				retyped[ie.Id()] = e.Type(ctx)
			default:
				if d, isDec := e.Type(ctx).(sql.DecimalType); isDec && swapped {
					retyped[ie.Id()] = d
				}
			}
			return e, transform.SameTree, nil
		})
		if reconciled == transform.NewTree {
			same = transform.NewTree
		}
		return n, same, err
	})
	if err != nil {
		return n, transform.SameTree, nil
	}
	if swapped {
		same = transform.NewTree
	}
	return out, same, nil
}

// retypeField is gf reading the same column as typ.
func retypeField(gf *expression.GetField, typ sql.Type) *expression.GetField {
	out := expression.NewGetFieldWithTable(gf.Index(), int(gf.TableId()), typ, gf.Database(), gf.Table(), gf.Name(), true)
	return out.WithId(gf.Id()).(*expression.GetField)
}
