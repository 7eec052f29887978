package native

// This file owns dictExpr: an expression that reads one string column
// alone (CASE WHEN event = 'Signup' THEN 1 ELSE 0 END, LOWER(city)),
// evaluated once per dictionary instead of once per row on batches whose
// column carries dictionary codes (Column.Codes).
//
// INVARIANT: a dictExpr's x depends on its row's value of column col
// alone and can neither fail nor warn (oneStringColumn, mayFail), so its
// value on a row is its value on that row's string: row r's result is
// the result computed for Dict[Codes[r]] (or for NULL). Batches without
// codes, or with a dictionary over dictExprMax strings, evaluate x.

import (
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
)

// dictExprMax bounds the dictionaries a dictExpr evaluates whole (a
// batch's worth: larger ones cost more than the rows they serve).
const dictExprMax = BatchSize

type dictExpr struct {
	x   Expr
	col int
	sch sql.Schema // x's input

	mu      sync.Mutex
	results map[*string]*dictResult // by the dictionary's first string (see sameDict)
}

// dictResult is x over one dictionary's strings, then NULL: row i of col
// is x on dict[i], row len(dict) on NULL.
type dictResult struct {
	dict []string
	col  *Column
}

// dictExprOf is x (compiled from e over sch) as a dictExpr when e reads
// one string column alone and x cannot fail or warn, else x.
func dictExprOf(ctx *sql.Context, e sql.Expression, x Expr, sch sql.Schema) Expr {
	switch x.(type) {
	case nil, *fieldExpr, *constExpr, *dictExpr:
		return x
	}
	col, ok := oneStringColumn(ctx, e, sch)
	if !ok || mayFail(x) {
		return x
	}
	return &dictExpr{x: x, col: col, sch: sch, results: map[*string]*dictResult{}}
}

func (d *dictExpr) Type() sql.Type { return d.x.Type() }
func (d *dictExpr) String() string { return d.x.String() }
func (d *dictExpr) mayFail() bool  { return false }

func (d *dictExpr) Eval(ctx *sql.Context, b *Batch) (*Column, error) {
	c := b.Cols[d.col]
	codes, dict := c.dictCodes()
	if codes == nil || len(dict) > dictExprMax {
		return d.x.Eval(ctx, withStrings(b))
	}
	res, err := d.result(ctx, dict)
	if err != nil {
		return nil, err
	}
	idx := make([]int32, b.N)
	for r, code := range codes[:b.N] {
		if c.Nulls != nil && c.Nulls[r] {
			idx[r] = int32(len(dict))
		} else {
			idx[r] = int32(code)
		}
	}
	return res.Gather(idx), nil
}

// result is x over dict's strings and NULL, computed on first use.
func (d *dictExpr) result(ctx *sql.Context, dict []string) (*Column, error) {
	var key *string
	if len(dict) > 0 {
		key = &dict[0]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.results[key]; r != nil && sameDict(r.dict, dict) {
		return r.col, nil
	}
	n := len(dict) + 1
	vals := &Column{Kind: KindString, Type: d.sch[d.col].Type, S: make([]string, n), Nulls: make([]bool, n)}
	copy(vals.S, dict)
	vals.Nulls[n-1] = true
	out, err := evalOverColumn(ctx, d.x, d.sch, d.col, vals)
	if err != nil {
		return nil, err
	}
	d.results[key] = &dictResult{dict: dict, col: out}
	return out, nil
}

// evalOverColumn evaluates x over vals as column col of a batch of schema
// sch whose other columns no one reads (x reads col alone).
func evalOverColumn(ctx *sql.Context, x Expr, sch sql.Schema, col int, vals *Column) (*Column, error) {
	n := vals.Len()
	b := &Batch{N: n, Cols: make([]*Column, len(sch))}
	for i, c := range sch {
		b.Cols[i] = unreadColumn(c.Type, n)
	}
	b.Cols[col] = vals
	return x.Eval(ctx, b)
}
