package native

// CASE whose every branch is a constant: CASE WHEN n = 1 THEN '1' WHEN
// n <= 5 THEN '2-5' … ELSE '100+' END, the buckets and bands analysts
// group by. The general path splits the batch into row lists per branch
// and assembles the branch values back; here each row just takes the
// first branch whose condition holds, and a string result is a
// dictionary column over the labels, built once per expression, so that
// a GROUP BY above groups by code and never hashes the strings.

import (
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
)

// caseLabels is what evalLabels needs of a caseExpr whose values are all
// constants: branch i's value (the else at len(vals)) as the result
// column holds it.
// INVARIANT: built once at compile time and read-only after (batches are
// evaluated concurrently); dict holds each string once, and code[i]
// indexes it for every branch i that is not null[i].
type caseLabels struct {
	null []bool
	i    []int64
	f    []float64
	code []uint32
	dict []string
}

// prepareLabels builds x.labels when every value and the else are constants
// that pass into the result type unchanged and no condition can fail or
// warn; else it leaves it nil (the general path).
func (x *caseExpr) prepareLabels() {
	if x.nullChain || len(x.vals) >= 255 {
		return
	}
	for _, c := range x.conds {
		if mayFail(c) || truthMayWarn(c) {
			return
		}
	}
	kind := KindOf(x.typ)
	if kind != KindInt && kind != KindFloat && kind != KindString {
		return
	}
	l := &caseLabels{}
	add := func(o *operand, t sql.Type) bool {
		if o == nil || o.null {
			l.null = append(l.null, true)
			l.i, l.f, l.code = append(l.i, 0), append(l.f, 0), append(l.code, 0)
			return true
		}
		if !o.konst || !fastFits(x.typ, t, o.vk) {
			return false
		}
		l.null = append(l.null, false)
		switch {
		case kind == KindString:
			if o.vk != KindString || !utf8.ValidString(o.s) {
				return false
			}
			code := -1
			for c, s := range l.dict {
				if s == o.s {
					code = c
					break
				}
			}
			if code < 0 {
				code = len(l.dict)
				l.dict = append(l.dict, o.s)
			}
			l.i, l.f, l.code = append(l.i, 0), append(l.f, 0), append(l.code, uint32(code))
		case o.vk == KindInt:
			l.i, l.f, l.code = append(l.i, o.i), append(l.f, float64(o.i)), append(l.code, 0)
		case o.vk == KindFloat && kind == KindFloat:
			l.i, l.f, l.code = append(l.i, 0), append(l.f, o.f), append(l.code, 0)
		default:
			return false
		}
		return true
	}
	for i := range x.vals {
		if !add(&x.vals[i], x.valTs[i]) {
			return
		}
	}
	if !add(x.els, x.elsT) {
		return
	}
	x.labels = l
}

// evalLabels is Eval through x.labels (not nil). ok false: a condition
// gave a column the truth of which is not read off its slots (the
// general path takes the batch).
func (x *caseExpr) evalLabels(ctx *sql.Context, b *Batch) (out *Column, ok bool, err error) {
	l, n := x.labels, b.N
	// branch[r] is the branch row r takes, plus one (0: none yet; rows
	// no condition takes get the else at the end).
	branch := make([]uint8, n)
	left := n
	for i, c := range x.conds {
		if left == 0 {
			break
		}
		cc, err := c.Eval(ctx, b)
		if err != nil {
			return nil, false, err
		}
		switch cc.Kind {
		case KindNull:
			continue
		case KindInt, KindFloat:
		default:
			return nil, false, nil
		}
		for r := range branch {
			if branch[r] != 0 || cc.IsNull(r) {
				continue
			}
			if cc.Kind == KindInt && cc.I[r] != 0 || cc.Kind == KindFloat && cc.F[r] != 0 {
				branch[r] = uint8(i + 1)
				left--
			}
		}
	}
	els := uint8(len(x.vals) + 1)
	var nulls []bool
	out = &Column{Kind: KindOf(x.typ), Type: x.typ}
	switch out.Kind {
	case KindString:
		out.S = make([]string, n)
		if len(l.dict) > 0 {
			out.Codes, out.Dict = make([]uint32, n), l.dict
		}
	case KindInt:
		out.I = make([]int64, n)
	default:
		out.F = make([]float64, n)
	}
	for r, br := range branch {
		if br == 0 {
			br = els
		}
		k := br - 1
		if l.null[k] {
			if nulls == nil {
				nulls = make([]bool, n)
			}
			nulls[r] = true
			continue
		}
		switch out.Kind {
		case KindString:
			c := l.code[k]
			out.Codes[r], out.S[r] = c, l.dict[c]
		case KindInt:
			out.I[r] = l.i[k]
		default:
			out.F[r] = l.f[k]
		}
	}
	out.Nulls = nulls
	return out, true, nil
}
