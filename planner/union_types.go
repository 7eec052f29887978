package planner

// The column types of a UNION, INTERSECT or EXCEPT when arb's rules have
// retyped its sides: SUM and AVG of exact numbers DECIMAL (exact_sum.go),
// NOW(n) DATETIME(n) and CURTIME(n) TIME(n) (clock_functions.go).
//
// go-mysql-server's planbuilder fixes a set operation's column types from
// its sides before any rule runs (SUM as DOUBLE, NOW(3) as DATETIME(6)),
// converting a side where the two differ, and validateUnionSchemasMatch
// then requires both sides to have equal types. So arb's rules used to
// leave statements with a UNION alone, and with them GROUP BY … WITH
// ROLLUP (server/rollup.go rewrites it into a UNION ALL): SUM(n) there was
// a DOUBLE, NOW(3) printed six digits.
//
// reconcileSetOp recomputes each column's type from the sides' current
// types as MySQL 8 does (8.0 manual 15.2.18 "UNION Clause": the column's
// type is the aggregate of the sides' types): exact numbers with a
// DECIMAL among them give a DECIMAL with the most integer digits and the
// most scale of either side; a DOUBLE among numbers a DOUBLE; two
// DATETIMEs (or TIMESTAMPs) the most fractional digits; two TIMEs the
// same; NULL beside any of these that type. Every other column keeps the
// planbuilder's conversion. Where a side's type differs from the union's,
// its projection converts the column (unionCast): the side's own
// SELECT list, or the conversion projection the planbuilder put over it,
// rebuilt from the columns it converts; a side without a projection (a
// nested set operation) gets one. The columns above that read the
// union's are retyped by replaceExactSums.
//
// INVARIANT: after reconcileSetOp, both sides of the set operation have
// equal column types, and each is the type the operation reports.

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// unionSide is one side of a set operation as reconcileSetOp sees it: the
// projection that makes its columns (found through a LIMIT, ORDER BY or
// DISTINCT above it, which pass its columns on), or a new one.
type unionSide struct {
	proj *plan.Project
	// above rebuilds the side over a new projection.
	above func(p *plan.Project) (sql.Node, error)
	src   []sql.Type // each column's type before any conversion
	// cast is column i converted to typ, in place of proj's expression.
	cast func(ctx *sql.Context, i int, typ sql.Type) sql.Expression
}

// newUnionSide reads side n of a set operation with width columns, or ok
// false when its columns cannot be identified.
func newUnionSide(ctx *sql.Context, n sql.Node, width int) (unionSide, bool) {
	var s unionSide
	path := []sql.Node{}
	top := n
	for {
		switch x := top.(type) {
		case *plan.Limit, *plan.Sort, *plan.TopN, *plan.Distinct, *plan.OrderedDistinct:
			path = append(path, x)
			top = x.Children()[0]
			continue
		}
		break
	}
	if p, ok := top.(*plan.Project); ok {
		s.proj = p
		s.above = func(np *plan.Project) (sql.Node, error) {
			var out sql.Node = np
			for i := len(path) - 1; i >= 0; i-- {
				var err error
				if out, err = path[i].WithChildren(ctx, out); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
	} else {
		// A side without a projection of its own (a nested set
		// operation): a new projection of its columns, by id as the
		// planbuilder makes them.
		ids := setOpColumnIds(ctx, n)
		schema := n.Schema(ctx)
		if len(ids) != width || len(schema) != width {
			return s, false
		}
		exprs := make([]sql.Expression, width)
		for i, c := range schema {
			exprs[i] = expression.NewGetFieldWithTable(int(ids[i]), 0, c.Type, c.DatabaseSource, c.Source, c.Name, c.Nullable).WithId(ids[i])
		}
		s.proj = plan.NewProject(exprs, n)
		s.above = func(np *plan.Project) (sql.Node, error) { return np, nil }
	}
	if len(s.proj.Projections) != width {
		return s, false
	}
	// The planbuilder's conversion projection (or ours) reads its child's
	// columns by position, by id or by name, each typed as it was before
	// arb's rules: its sources are those columns as typed now.
	var sources []*expression.GetField
	if isConversionProject(s.proj) {
		childSchema := s.proj.Child.Schema(ctx)
		for i, e := range s.proj.Projections {
			gf := conversionSource(e)
			if i < len(childSchema) && strings.EqualFold(gf.Name(), childSchema[i].Name) {
				gf = retypeField(gf, childSchema[i].Type)
			}
			sources = append(sources, gf)
		}
	}
	for i, e := range s.proj.Projections {
		if sources != nil {
			s.src = append(s.src, sources[i].Type(ctx))
		} else {
			s.src = append(s.src, e.Type(ctx))
		}
	}
	s.cast = func(ctx *sql.Context, i int, typ sql.Type) sql.Expression {
		e := s.proj.Projections[i]
		if sources != nil {
			var conv sql.Expression = sources[i]
			if !sources[i].Type(ctx).Equals(typ) {
				conv = &unionCast{Child: sources[i], typ: typ}
			}
			if a, ok := e.(*expression.Alias); ok {
				return expression.NewAlias(a.Name(), conv)
			}
			if conv == sources[i] {
				return conv
			}
			return expression.NewAlias(sources[i].Name(), conv)
		}
		name, id, inner := e.String(), sql.ColumnId(0), e
		if n, ok := e.(sql.Nameable); ok {
			name = n.Name()
		}
		if ie, ok := e.(sql.IdExpression); ok {
			id = ie.Id()
		}
		if a, ok := e.(*expression.Alias); ok {
			inner = a.Child
		}
		out := expression.NewAlias(name, &unionCast{Child: inner, typ: typ})
		if id != 0 {
			return out.WithId(id).(*expression.Alias)
		}
		return out
	}
	return s, true
}

// isConversionProject reports whether p is the projection the planbuilder
// (or reconcileSetOp) puts on a side of a set operation to convert its
// columns: each projection a column, or a column converted under an alias
// without an id of its own, at least one converted.
func isConversionProject(p *plan.Project) bool {
	converted := false
	for _, e := range p.Projections {
		if _, ok := e.(*expression.GetField); ok {
			continue
		}
		if conversionSource(e) == nil {
			return false
		}
		converted = true
	}
	return converted
}

// conversionSource is the column e converts: e itself when it is a
// column, the column under an id-less alias, of a Convert or unionCast
// or bare (the planbuilder names a nested set operation's columns so);
// else nil.
func conversionSource(e sql.Expression) *expression.GetField {
	if gf, ok := e.(*expression.GetField); ok {
		return gf
	}
	a, ok := e.(*expression.Alias)
	if !ok || a.Id() != 0 {
		return nil
	}
	var inner sql.Expression
	switch c := a.Child.(type) {
	case *expression.Convert:
		inner = c.Child
	case *unionCast:
		inner = c.Child
	case *expression.GetField:
		inner = c
	}
	gf, _ := inner.(*expression.GetField)
	return gf
}

// setOpColumnIds is the column ids n returns, in order (the left side's
// for a set operation, which is how the planbuilder names its columns).
func setOpColumnIds(ctx *sql.Context, n sql.Node) []sql.ColumnId {
	switch n := n.(type) {
	case *plan.Project:
		var ids []sql.ColumnId
		for _, e := range n.Projections {
			var id sql.ColumnId // 0: a column read by name
			if ie, ok := e.(sql.IdExpression); ok {
				id = ie.Id()
			}
			ids = append(ids, id)
		}
		return ids
	case *plan.SetOp:
		return setOpColumnIds(ctx, n.Left())
	case plan.TableIdNode:
		var ids []sql.ColumnId
		n.Columns().ForEach(func(id sql.ColumnId) { ids = append(ids, id) })
		return ids
	}
	if ch := n.Children(); len(ch) > 0 {
		return setOpColumnIds(ctx, ch[0])
	}
	return nil
}

// unionColumnType is MySQL's type of a set operation's column whose sides
// are a and b, or nil where the planbuilder's type stands (see above).
func unionColumnType(a, b sql.Type) sql.Type {
	if a.Equals(b) {
		return a
	}
	if types.IsNullType(a) {
		a, b = b, a
	}
	if types.IsNullType(b) {
		// NULL beside a type arb's rules give: that type.
		switch a.(type) {
		case sql.DecimalType, sql.DatetimeType, timeFsp:
			return a
		}
		return nil
	}
	if types.IsNumber(a) && types.IsNumber(b) {
		return unionNumberType(a, b)
	}
	if da, ok := a.(sql.DatetimeType); ok && a.Type() != sqltypes.Date {
		if db, ok := b.(sql.DatetimeType); ok {
			base := sqltypes.Datetime
			if a.Type() == sqltypes.Timestamp && b.Type() == sqltypes.Timestamp {
				base = sqltypes.Timestamp
			}
			return types.MustCreateDatetimeType(base, max(da.Precision(), db.Precision()))
		}
		return nil
	}
	if db, ok := b.(sql.DatetimeType); ok && b.Type() != sqltypes.Date && a.Type() == sqltypes.Date {
		return types.MustCreateDatetimeType(sqltypes.Datetime, db.Precision())
	}
	ta, aFsp := a.(timeFsp)
	tb, bFsp := b.(timeFsp)
	if (aFsp || bFsp) && a.Type() == sqltypes.Time && b.Type() == sqltypes.Time {
		// go-mysql-server's own TIME carries up to six digits.
		fa, fb := 6, 6
		if aFsp {
			fa = ta.fsp
		}
		if bFsp {
			fb = tb.fsp
		}
		return timeFsp{TimeType: types.Time, fsp: max(fa, fb)}
	}
	return nil
}

// unionNumberType is the union's type of numbers a and b: DOUBLE when either is a float, a DECIMAL when either is a DECIMAL, else
// nil (integers: the planbuilder's type).
func unionNumberType(a, b sql.Type) sql.Type {
	intDigits, scale, decimals := 0, 0, 0
	for _, t := range []sql.Type{a, b} {
		switch {
		case types.IsFloat(t):
			return types.Float64
		case types.IsDecimal(t):
			d := t.(sql.DecimalType)
			intDigits = max(intDigits, int(d.Precision())-int(d.Scale()))
			scale = max(scale, int(d.Scale()))
			decimals++
		case types.IsInteger(t) && t.Type() != sqltypes.Year:
			intDigits = max(intDigits, integerDigits(t))
		default:
			return nil
		}
	}
	if decimals == 0 {
		return nil
	}
	prec := min(max(intDigits+scale, scale+1, 1), types.DecimalTypeMaxPrecision)
	typ, err := types.CreateDecimalType(uint8(prec), uint8(min(scale, types.DecimalTypeMaxScale)))
	if err != nil {
		return nil
	}
	return typ
}

// reconcileSetOp gives u's columns MySQL's types (see above). It returns
// u unchanged when the sides already agree with them, and records in
// retyped the type of each union column that changed, by column id.
func reconcileSetOp(ctx *sql.Context, u *plan.SetOp, retyped map[sql.ColumnId]sql.Type) (sql.Node, bool, error) {
	ls, rs := u.Left().Schema(ctx), u.Right().Schema(ctx)
	if len(ls) != len(rs) {
		return u, false, nil // go-mysql-server reports it
	}
	left, lok := newUnionSide(ctx, u.Left(), len(ls))
	right, rok := newUnionSide(ctx, u.Right(), len(rs))
	if !lok || !rok {
		return u, false, nil
	}
	merged := make([]sql.Type, len(ls))
	changed := false
	for i := range ls {
		merged[i] = unionColumnType(left.src[i], right.src[i])
		if merged[i] == nil {
			// The planbuilder's conversion stands, unless arb's rules
			// have since made the sides differ.
			if ls[i].Type.Equals(rs[i].Type) {
				continue
			}
			merged[i] = types.GeneralizeTypes(ls[i].Type, rs[i].Type)
		}
		if !ls[i].Type.Equals(merged[i]) || !rs[i].Type.Equals(merged[i]) {
			changed = true
		}
	}
	if !changed {
		return u, false, nil
	}
	outIds := setOpColumnIds(ctx, u)
	sides := []sql.Node{nil, nil}
	for k, side := range []unionSide{left, right} {
		exprs := append([]sql.Expression(nil), side.proj.Projections...)
		for i, t := range merged {
			if t != nil && !exprs[i].Type(ctx).Equals(t) {
				exprs[i] = side.cast(ctx, i, t)
			}
		}
		p, err := side.proj.WithExpressions(ctx, exprs...)
		if err != nil {
			return u, false, err
		}
		if sides[k], err = side.above(p.(*plan.Project)); err != nil {
			return u, false, err
		}
	}
	out, err := u.WithChildren(ctx, sides[0], sides[1])
	if err != nil {
		return u, false, err
	}
	if len(outIds) == len(merged) {
		for i, t := range merged {
			if t != nil && outIds[i] != 0 {
				retyped[outIds[i]] = t
			}
		}
	}
	return out, true, nil
}

// unionCast converts a side's column to the set operation's type: a wider
// DECIMAL, DATETIME or TIME keeps its value, a DOUBLE takes the number's.
type unionCast struct {
	Child sql.Expression
	typ   sql.Type
}

var _ sql.Expression = (*unionCast)(nil)

func (c *unionCast) Resolved() bool                   { return c.Child.Resolved() }
func (c *unionCast) IsNullable(ctx *sql.Context) bool { return c.Child.IsNullable(ctx) }
func (c *unionCast) Type(*sql.Context) sql.Type       { return c.typ }
func (c *unionCast) Children() []sql.Expression       { return []sql.Expression{c.Child} }
func (c *unionCast) String() string                   { return c.Child.String() }

func (c *unionCast) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := c.Child.Eval(ctx, row)
	if err != nil || v == nil {
		return v, err
	}
	if d, ok := c.typ.(sql.DecimalType); ok {
		// At the union's scale, as MySQL prints it (7 beside 2.5 is 7.0).
		x, err := exactDecimal(ctx, v)
		return x.Round(int32(d.Scale())), err
	}
	out, _, err := c.typ.Convert(ctx, v)
	return out, err
}

func (c *unionCast) WithChildren(_ *sql.Context, ch ...sql.Expression) (sql.Expression, error) {
	if len(ch) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(c, len(ch), 1)
	}
	return &unionCast{Child: ch[0], typ: c.typ}, nil
}
