package native

// A filter's conjuncts on one string column are decided per dictionary
// code on batches that carry codes (filterOp): the rows kept must be
// those the whole condition keeps on the same rows without codes.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
)

func TestFilterDecidesByDictionaryCode(t *testing.T) {
	ctx := sql.NewEmptyContext()
	sch := sql.Schema{
		{Name: "event", Source: "ev", Type: types.LongText, Nullable: true},
		{Name: "n", Source: "ev", Type: types.Int64, Nullable: true},
	}
	event := expression.NewGetFieldWithTable(0, 0, types.LongText, "", "ev", "event", true)
	n := expression.NewGetFieldWithTable(1, 0, types.Int64, "", "ev", "n", true)
	lit := func(v any) sql.Expression {
		if s, ok := v.(string); ok {
			return expression.NewLiteral(s, types.LongText)
		}
		return expression.NewLiteral(v, types.Int64)
	}
	conds := []struct {
		cond  sql.Expression
		coded int // conjuncts decided by code
	}{
		{expression.NewEquals(event, lit("Purchase")), 1},
		{expression.NewAnd(expression.NewInTuple(event, expression.NewTuple(lit("Signup"), lit("Purchase"))), expression.NewGreaterThan(n, lit(int64(2)))), 1},
		{expression.NewAnd(expression.NewGreaterThan(n, lit(int64(0))), expression.NewIsNull(event)), 1},
		{expression.NewAnd(expression.NewNot(expression.NewEquals(event, lit("Login"))), expression.NewNot(expression.NewIsNull(event))), 2},
		{expression.NewOr(expression.NewEquals(event, lit("Login")), expression.NewEquals(n, lit(int64(3)))), 0}, // two columns
	}
	d1 := []string{"Login", "Purchase", "Signup"}
	d2 := []string{"Signup", "Share", "Purchase"} // same length, other strings
	type rows struct {
		dict  []string
		codes []int // -1: NULL
		ns    []int64
	}
	batches := []rows{
		{d1, []int{1, 0, -1, 2, 1, 2}, []int64{1, 5, 3, 4, 3, 0}},
		{d2, []int{0, 1, 2, 2, -1, 0}, []int64{3, 3, 3, 9, 1, 2}},
		{d1, []int{0, 0, 1}, []int64{3, 3, 7}}, // verdicts known from the first batch
	}
	for ci, tc := range conds {
		x, err := (&Compiler{In: sch}).Compile(ctx, tc.cond)
		if err != nil {
			t.Fatal(err)
		}
		f := &filterOp{cond: x, name: "Filter"}
		f.planCoded(ctx, tc.cond, sch)
		if len(f.coded) != tc.coded {
			t.Fatalf("condition %d (%s): %d conjuncts by code, want %d", ci, tc.cond, len(f.coded), tc.coded)
		}
		plain := &filterOp{cond: x, name: "Filter"}
		for bi, rb := range batches {
			coded := codedColumn(rb.dict, rb.codes...)
			nums := typedColumn(types.Int64)
			for _, v := range rb.ns {
				nums.Append(v)
			}
			got, err := f.filterBatch(ctx, &Batch{N: len(rb.codes), Cols: []*Column{coded, nums}})
			if err != nil {
				t.Fatal(err)
			}
			uncoded := *coded
			uncoded.Codes, uncoded.Dict = nil, nil
			want, err := plain.filterBatch(ctx, &Batch{N: len(rb.codes), Cols: []*Column{&uncoded, nums}})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := batchText(got), batchText(want); g != w {
				t.Fatalf("condition %d (%s) batch %d: by code %s, whole %s", ci, tc.cond, bi, g, w)
			}
			// The column as a HashAggregate above may get it: codes
			// alone (Column.S nil).
			alone := *coded
			alone.S = nil
			got, err = f.filterBatch(ctx, &Batch{N: len(rb.codes), Cols: []*Column{&alone, nums}})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := batchText(got), batchText(want); g != w {
				t.Fatalf("condition %d (%s) batch %d, codes alone: %s, whole %s", ci, tc.cond, bi, g, w)
			}
		}
	}
}

// batchText is b's rows as text ("" for no batch).
func batchText(b *Batch) string {
	if b == nil {
		return ""
	}
	var rows []string
	for r := range b.N {
		rows = append(rows, fmt.Sprint(b.Row(r)))
	}
	return fmt.Sprint(slices.Clip(rows))
}

// TestDictExprMatchesRowByRow: an expression of one string column,
// evaluated once per dictionary string on batches with codes, gives
// each row what evaluating it on the row gives.
func TestDictExprMatchesRowByRow(t *testing.T) {
	ctx := sql.NewEmptyContext()
	sch := sql.Schema{
		{Name: "event", Source: "ev", Type: types.LongText, Nullable: true},
		{Name: "n", Source: "ev", Type: types.Int64, Nullable: true},
	}
	event := expression.NewGetFieldWithTable(0, 0, types.LongText, "", "ev", "event", true)
	n := expression.NewGetFieldWithTable(1, 0, types.Int64, "", "ev", "n", true)
	signup := expression.NewEquals(event, expression.NewLiteral("Signup", types.LongText))
	concat, err := function.NewConcat(ctx, event, expression.NewLiteral("!", types.LongText))
	if err != nil {
		t.Fatal(err)
	}
	exprs := []struct {
		e    sql.Expression
		dict bool
	}{
		{expression.NewCase(nil, []expression.CaseBranch{{Cond: signup, Value: expression.NewLiteral(int64(1), types.Int64)}}, expression.NewLiteral(int64(0), types.Int64)), true},
		{expression.NewIsNull(event), true},
		{concat, true},
		{expression.NewCase(nil, []expression.CaseBranch{{Cond: signup, Value: n}}, nil), false}, // two columns
	}
	d1 := []string{"Login", "Purchase", "Signup"}
	d2 := []string{"Signup", "Share", "Purchase"}
	batches := []*Column{codedColumn(d1, 1, 0, -1, 2, 2), codedColumn(d2, 0, 1, -1, 2, 0), codedColumn(d1, 2, 2, 0)}
	for ei, tc := range exprs {
		x, err := (&Compiler{In: sch}).Compile(ctx, tc.e)
		if err != nil {
			t.Fatal(err)
		}
		dx := dictExprOf(ctx, tc.e, x, sch)
		if _, ok := dx.(*dictExpr); ok != tc.dict {
			t.Fatalf("expression %d (%s): per dictionary %v, want %v", ei, tc.e, ok, tc.dict)
		}
		for bi, c := range batches {
			nums := typedColumn(types.Int64)
			for r := range c.Len() {
				nums.Append(int64(r))
			}
			got, err := dx.Eval(ctx, &Batch{N: c.Len(), Cols: []*Column{c, nums}})
			if err != nil {
				t.Fatal(err)
			}
			uncoded := *c
			uncoded.Codes, uncoded.Dict = nil, nil
			want, err := x.Eval(ctx, &Batch{N: c.Len(), Cols: []*Column{&uncoded, nums}})
			if err != nil {
				t.Fatal(err)
			}
			for r := range c.Len() {
				if g, w := fmt.Sprint(got.Value(r)), fmt.Sprint(want.Value(r)); g != w {
					t.Fatalf("expression %d (%s) batch %d row %d: per dictionary %s, by row %s", ei, tc.e, bi, r, g, w)
				}
			}
		}
	}
}
