package native

import (
	"math"
	"math/big"
	"math/rand"
	"testing"

	"github.com/shopspring/decimal"
)

// TestExactPrefixSumsFrames: every frame's sum of ExactPrefixSums equals
// the sum in big integers, on values near the int64 extremes (prefix sums
// that overflow, frames whose difference of int64 prefixes overflows)
// mixed with NULLs and decimals; frames without a non-NULL value count 0.
func TestExactPrefixSumsFrames(t *testing.T) {
	rng := rand.New(rand.NewSource(16))
	picks := []int64{math.MaxInt64, math.MinInt64, 1 << 62, -(1 << 62), 1, -1, 0}
	var p ExactPrefixSums
	for trial := range 200 {
		p.Reset()
		n := 1 + rng.Intn(12)
		vals := make([]*big.Int, n) // nil: NULL
		for i := range n {
			switch c := rng.Intn(10); {
			case c < 2:
				p.AddNull()
			case c < 3:
				v := picks[rng.Intn(len(picks))]
				vals[i] = big.NewInt(v)
				p.AddDecimal(decimal.NewFromInt(v))
			default:
				v := picks[rng.Intn(len(picks))]
				vals[i] = big.NewInt(v)
				p.AddInt(v)
			}
		}
		if p.Len() != n {
			t.Fatalf("trial %d: Len %d, want %d", trial, p.Len(), n)
		}
		for s := 0; s <= n; s++ {
			for e := s; e <= n; e++ {
				want, cnt := new(big.Int), int64(0)
				for _, v := range vals[s:e] {
					if v != nil {
						want.Add(want, v)
						cnt++
					}
				}
				got, gotCnt := p.Frame(s, e)
				if gotCnt != cnt || (cnt > 0 && got.BigInt().Cmp(want) != 0) {
					t.Fatalf("trial %d %v: frame [%d,%d) = %s over %d, want %s over %d", trial, vals, s, e, got, gotCnt, want, cnt)
				}
			}
		}
	}
}
