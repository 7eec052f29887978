package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"arb/storage"
)

// Regroup is a GROUP BY over the rows of another aggregation: the
// second level of "users per funnel depth" (group users by the level
// window_funnel gave each). The rows are few compared with the events
// (one per user at most), so a hash table over value keys does.
type Regroup struct {
	Keys []int        // input columns to group by
	Aggs []RegroupAgg // outputs, in order
}

// RegroupAgg is one output of a Regroup: an aggregate over input column
// Column (AggCount with Column -1 is count(*)), or AggAny of a key column.
type RegroupAgg struct {
	Kind   AggKind
	Column int
	// Exact and Scale are Agg's: AggSum and AggAvg of integers summed
	// exactly, each result the decimal's text.
	Exact bool
	Scale int32
}

// Check reports whether the engine runs r.
func (r *Regroup) Check() error {
	for _, a := range r.Aggs {
		switch a.Kind {
		case AggCount, AggSum, AggAvg, AggMin, AggMax, AggAny, AggCountDistinct:
		default:
			return fmt.Errorf("regroup: %s is not supported", a.Kind)
		}
	}
	return nil
}

type regroupState struct {
	first  []storage.Value // AggAny, AggMin, AggMax
	n      []int64         // counts, and values summed
	sum    []float64
	exact  *exactSumState // Exact sums, one slot per aggregate (nil without)
	seen   []map[string]struct{}
	exists []bool
}

// Run groups rows. With no keys there is one output row even for no input.
func (r *Regroup) Run(rows [][]storage.Value) ([][]storage.Value, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	index := map[string]int{}
	var groups []*regroupState
	var key []byte
	for _, row := range rows {
		key = key[:0]
		for _, k := range r.Keys {
			key = appendValueKey(key, row[k])
		}
		g, ok := index[string(key)]
		if !ok {
			g = len(groups)
			index[string(key)] = g
			groups = append(groups, newRegroupState(len(r.Aggs)))
		}
		if err := r.add(groups[g], row); err != nil {
			return nil, err
		}
	}
	if len(r.Keys) == 0 && len(groups) == 0 {
		groups = append(groups, newRegroupState(len(r.Aggs)))
	}
	out := make([][]storage.Value, len(groups))
	for i, st := range groups {
		out[i] = r.result(st)
	}
	return out, nil
}

func newRegroupState(n int) *regroupState {
	return &regroupState{first: make([]storage.Value, n), n: make([]int64, n), sum: make([]float64, n),
		seen: make([]map[string]struct{}, n), exists: make([]bool, n)}
}

func (r *Regroup) add(st *regroupState, row []storage.Value) error {
	for j, a := range r.Aggs {
		if a.Kind == AggCount && a.Column < 0 {
			st.n[j]++
			continue
		}
		v := row[a.Column]
		if v.IsNull() {
			continue
		}
		switch a.Kind {
		case AggCount:
			st.n[j]++
		case AggAny:
			if !st.exists[j] {
				st.first[j], st.exists[j] = v, true
			}
		case AggSum, AggAvg:
			if a.Exact {
				if v.Type != storage.TypeInt && v.Type != storage.TypeBool {
					return fmt.Errorf("regroup: exact %s of a %v value", a.Kind, v.Type)
				}
				if st.exact == nil {
					st.exact = &exactSumState{}
					st.exact.grow(len(r.Aggs))
				}
				st.exact.addInt(int32(j), v.Int)
				st.exact.n[j]++
				continue
			}
			switch v.Type {
			case storage.TypeFloat:
				st.sum[j] += v.Float
			case storage.TypeInt, storage.TypeBool:
				st.sum[j] += float64(v.Int)
			default:
				return fmt.Errorf("regroup: %s of a %v value", a.Kind, v.Type)
			}
			st.n[j]++
		case AggMin, AggMax:
			e := extremeState{max: a.Kind == AggMax}
			if !st.exists[j] || e.better(v, st.first[j]) {
				st.first[j], st.exists[j] = v, true
			}
		case AggCountDistinct:
			if st.seen[j] == nil {
				st.seen[j] = map[string]struct{}{}
			}
			st.seen[j][string(appendValueKey(nil, v))] = struct{}{}
		}
	}
	return nil
}

func (r *Regroup) result(st *regroupState) []storage.Value {
	out := make([]storage.Value, len(r.Aggs))
	for j, a := range r.Aggs {
		switch a.Kind {
		case AggCount:
			out[j] = storage.IntValue(st.n[j])
		case AggCountDistinct:
			out[j] = storage.IntValue(int64(len(st.seen[j])))
		case AggSum, AggAvg:
			if a.Exact {
				if st.exact != nil {
					x := exactSumState{avg: a.Kind == AggAvg, scale: a.Scale, small: st.exact.small, n: st.exact.n,
						spilled: st.exact.spilled, big: st.exact.big}
					out[j] = x.result(int32(j))
				}
				break
			}
			if a.Kind == AggSum && st.n[j] > 0 {
				out[j] = storage.FloatValue(st.sum[j])
			} else if st.n[j] > 0 {
				out[j] = storage.FloatValue(st.sum[j] / float64(st.n[j]))
			}
		default:
			out[j] = st.first[j]
		}
	}
	return out
}

// appendValueKey appends an encoding of v under which equal SQL values
// of one column are equal bytes.
func appendValueKey(b []byte, v storage.Value) []byte {
	b = append(b, byte(v.Type))
	switch {
	case v.IsNull():
	case isText(v.Type):
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		b = append(b, v.Str...)
	case v.Type == storage.TypeFloat:
		f := v.Float
		if f == 0 {
			f = 0
		}
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	default:
		b = binary.LittleEndian.AppendUint64(b, uint64(v.Int))
	}
	return b
}

func (r *Regroup) String() string {
	parts := make([]string, len(r.Aggs))
	for i, a := range r.Aggs {
		if a.Column < 0 {
			parts[i] = a.Kind.String() + "(*)"
		} else {
			parts[i] = fmt.Sprintf("%s(#%d)", a.Kind, a.Column)
		}
	}
	keys := make([]string, len(r.Keys))
	for i, k := range r.Keys {
		keys[i] = fmt.Sprintf("#%d", k)
	}
	return "regroup: " + strings.Join(parts, ", ") + "; group by: " + strings.Join(keys, ", ")
}
