package native

// A filter's time-range conjuncts are decided once per batch when the
// batch's smallest and largest times satisfy them (timeRanges): the rows
// kept must be those the whole condition keeps row by row.

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

func TestFilterDecidesTimeRangesPerBatch(t *testing.T) {
	ctx := sql.NewEmptyContext()
	dt := types.MustCreateDatetimeType(sqltypes.Datetime, 3)
	sch := sql.Schema{
		{Name: "time", Source: "ev", Type: dt, Nullable: true},
		{Name: "d", Source: "ev", Type: types.Date, Nullable: true},
		{Name: "n", Source: "ev", Type: types.Int64, Nullable: true},
	}
	tm := expression.NewGetFieldWithTable(0, 0, dt, "", "ev", "time", true)
	d := expression.NewGetFieldWithTable(1, 0, types.Date, "", "ev", "d", true)
	n := expression.NewGetFieldWithTable(2, 0, types.Int64, "", "ev", "n", true)
	at := func(s string) sql.Expression {
		v, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			t.Fatal(err)
		}
		return expression.NewLiteral(v, types.DatetimeMaxPrecision)
	}
	conds := []struct {
		cond   sql.Expression
		ranges int // conjuncts decided per batch
	}{
		{expression.NewAnd(expression.NewGreaterThanOrEqual(tm, at("2025-03-01 00:00:00")), expression.NewLessThan(tm, at("2025-04-01 00:00:00"))), 2},
		{expression.NewAnd(expression.NewGreaterThan(at("2025-03-10 12:00:00.0005"), tm), expression.NewGreaterThan(n, expression.NewLiteral(int64(2), types.Int64))), 1},
		{expression.NewAnd(expression.NewLessThanOrEqual(d, at("2025-03-10 00:00:00")), expression.NewGreaterThanOrEqual(tm, at("2025-03-09 23:59:59.999"))), 2},
		{expression.NewEquals(d, at("2025-03-10 00:00:00")), 1},
		// go-mysql-server's TIMESTAMP('…') folds to a time typed as text.
		{expression.NewAnd(expression.NewGreaterThanOrEqual(tm, textTime(at("2025-03-10 00:30:00"))), expression.NewLessThan(tm, textTime(at("2025-03-10 12:00:00")))), 2},
		{expression.NewOr(expression.NewLessThan(tm, at("2025-03-02 00:00:00")), expression.NewGreaterThan(n, expression.NewLiteral(int64(5), types.Int64))), 0},
	}
	base := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC).UnixMicro()
	rng := rand.New(rand.NewPCG(13, 1))
	// Batches around the bounds: inside a day, straddling midnight,
	// with NULLs, all NULL, outside DATETIME's safe range.
	type spec struct {
		from, span int64 // micros
		nulls      bool
	}
	specs := []spec{
		{base + 3600e6, 3600e6, false},
		{base + 3600e6, 3600e6, true},
		{base - 1800e6, 3600e6, false},
		{base + 12*3600e6 - 1000, 2000, false},
		{base - 20*86400e6, 86400e6, true},
		{safeMinMicros - 86400e6, 86400e6, false},
	}
	batches := make([]*Batch, 0, len(specs)+1)
	for _, s := range specs {
		nb := 50
		tc := &Column{Kind: KindTime, Type: dt, I: make([]int64, nb)}
		dc := &Column{Kind: KindTime, Type: types.Date, I: make([]int64, nb)}
		nc := typedColumn(types.Int64)
		for r := range nb {
			v := s.from + rng.Int64N(s.span)/1000*1000 // DATETIME(3)
			tc.I[r], dc.I[r] = v, floorDiv(v, microsPerDay)*microsPerDay
			nc.Append(int64(rng.IntN(8)))
			if s.nulls && rng.IntN(5) == 0 {
				if tc.Nulls == nil {
					tc.Nulls, dc.Nulls = make([]bool, nb), make([]bool, nb)
				}
				tc.Nulls[r], dc.Nulls[r] = true, true
				tc.I[r], dc.I[r] = 0, 0
			}
		}
		batches = append(batches, &Batch{N: nb, Cols: []*Column{tc, dc, nc}})
	}
	allNullBatch := &Batch{N: 3, Cols: []*Column{
		{Kind: KindTime, Type: dt, I: make([]int64, 3), Nulls: []bool{true, true, true}},
		{Kind: KindTime, Type: types.Date, I: make([]int64, 3), Nulls: []bool{true, true, true}},
		typedColumn(types.Int64),
	}}
	for range 3 {
		allNullBatch.Cols[2].Append(int64(1))
	}
	batches = append(batches, allNullBatch)
	decided := 0
	for ci, tc := range conds {
		x, err := (&Compiler{In: sch}).Compile(ctx, tc.cond)
		if err != nil {
			t.Fatal(err)
		}
		f := &filterOp{cond: x, name: "Filter"}
		f.planCoded(ctx, tc.cond, sch)
		f.planRanges(ctx, tc.cond, sch)
		got := 0
		if f.ranges != nil {
			got = len(f.ranges.conj)
		}
		if got != tc.ranges {
			t.Fatalf("condition %d (%s): %d range conjuncts, want %d", ci, tc.cond, got, tc.ranges)
		}
		plain := &filterOp{cond: x, name: "Filter"}
		for bi, b := range batches {
			if f.ranges != nil {
				if _, ok, _ := f.ranges.filter(ctx, b); ok {
					decided++
				}
			}
			g, err := f.filterBatch(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			w, err := plain.filterBatch(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			if gs, ws := batchText(g), batchText(w); gs != ws {
				t.Fatalf("condition %d (%s) batch %d: by range %s, row by row %s", ci, tc.cond, bi, gs, ws)
			}
		}
	}
	// The per-batch path must have been taken, or the test compares the
	// old path with itself.
	if decided < 6 {
		t.Fatalf("%d batches decided per batch, want at least 6", decided)
	}
}

// textTime is lit's time as a literal typed LONGTEXT.
func textTime(lit sql.Expression) sql.Expression {
	return expression.NewLiteral(lit.(*expression.Literal).Value(), types.LongText)
}

// TestMinMaxTimes: the four-chain minimum and maximum agree with a plain
// scan for every length and position, with and without NULLs.
func TestMinMaxTimes(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	for n := 1; n <= 23; n++ {
		for range 20 {
			c := &Column{Kind: KindTime, I: make([]int64, n)}
			for r := range c.I {
				c.I[r] = rng.Int64N(1000) - 500
			}
			if rng.IntN(2) == 0 {
				c.Nulls = make([]bool, n)
				for r := range c.Nulls {
					c.Nulls[r] = rng.IntN(3) == 0
				}
			}
			var lo, hi int64
			seen := false
			for r, v := range c.I {
				if c.Nulls != nil && c.Nulls[r] {
					continue
				}
				if !seen || v < lo {
					lo = v
				}
				if !seen || v > hi {
					hi = v
				}
				seen = true
			}
			glo, ghi, gseen := minMaxTimes(c, n)
			if gseen != seen || seen && (glo != lo || ghi != hi) {
				t.Fatalf("%v nulls %v: got %d %d %v, want %d %d %v", c.I, c.Nulls, glo, ghi, gseen, lo, hi, seen)
			}
		}
	}
}
