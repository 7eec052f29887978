package main

// compare.go decides whether two engines gave the same answer: cells are
// normalised to a number or a string (dates as YYYY-MM-DD, times as
// YYYY-MM-DD HH:MM:SS, NULL as itself), numbers agree within a relative
// 1e-6, and rows are sorted first unless the query orders them.

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

const relTolerance = 1e-6

// cell is one normalised result value.
type cell struct {
	null  bool
	isNum bool
	num   float64
	str   string
}

func (c cell) String() string {
	switch {
	case c.null:
		return "NULL"
	case c.isNum:
		return strconv.FormatFloat(c.num, 'f', -1, 64)
	default:
		return strconv.Quote(c.str)
	}
}

// cellString is the text of a raw cell, for cells that hold text.
func cellString(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func parseNumber(s string) (float64, bool) {
	if s == "" || strings.ContainsAny(s, "nNiI") { // no NaN, Inf, or names
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

func toNumber(v any) (float64, bool) {
	c := normalise(v)
	return c.num, c.isNum
}

func normalise(v any) cell {
	switch x := v.(type) {
	case nil:
		return cell{null: true}
	case int:
		return cell{isNum: true, num: float64(x)}
	case int8:
		return cell{isNum: true, num: float64(x)}
	case int16:
		return cell{isNum: true, num: float64(x)}
	case int32:
		return cell{isNum: true, num: float64(x)}
	case int64:
		return cell{isNum: true, num: float64(x)}
	case uint8:
		return cell{isNum: true, num: float64(x)}
	case uint16:
		return cell{isNum: true, num: float64(x)}
	case uint32:
		return cell{isNum: true, num: float64(x)}
	case uint64:
		return cell{isNum: true, num: float64(x)}
	case float32:
		return cell{isNum: true, num: float64(x)}
	case float64:
		return cell{isNum: true, num: x}
	case bool:
		if x {
			return cell{isNum: true, num: 1}
		}
		return cell{isNum: true, num: 0}
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return cell{isNum: true, num: f}
	case time.Time:
		x = x.UTC()
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return cell{str: x.Format(time.DateOnly)}
		}
		return cell{str: x.Format(time.DateTime)}
	case []byte:
		return normaliseText(string(x))
	case string:
		return normaliseText(x)
	default:
		return normaliseText(fmt.Sprint(x))
	}
}

func normaliseText(s string) cell {
	if v, ok := parseNumber(s); ok {
		return cell{isNum: true, num: v}
	}
	// Times as text: drop a zero fraction and a midnight clock.
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return normalise(t)
		}
	}
	return cell{str: s}
}

func normaliseRows(rows [][]any) [][]cell {
	out := make([][]cell, len(rows))
	for i, r := range rows {
		out[i] = make([]cell, len(r))
		for j, v := range r {
			out[i][j] = normalise(v)
		}
	}
	return out
}

func cellsEqual(a, b cell) bool {
	switch {
	case a.null || b.null:
		return a.null == b.null
	case a.isNum && b.isNum:
		if a.num == b.num {
			return true
		}
		return math.Abs(a.num-b.num) <= relTolerance*math.Max(math.Abs(a.num), math.Abs(b.num))
	case a.isNum != b.isNum:
		return false
	default:
		return a.str == b.str
	}
}

func rowKey(r []cell) string {
	parts := make([]string, len(r))
	for i, c := range r {
		parts[i] = c.String()
	}
	return strings.Join(parts, "\x00")
}

// diffResults returns "" when a and b agree, else a short description of
// the first differences.
func diffResults(a, b [][]cell, ordered bool) string {
	if !ordered {
		a, b = slices.Clone(a), slices.Clone(b)
		byKey := func(x, y []cell) int { return strings.Compare(rowKey(x), rowKey(y)) }
		slices.SortFunc(a, byKey)
		slices.SortFunc(b, byKey)
	}
	var diffs []string
	if len(a) != len(b) {
		diffs = append(diffs, fmt.Sprintf("%d rows vs %d rows", len(a), len(b)))
	}
	for i := range min(len(a), len(b)) {
		if len(a[i]) != len(b[i]) {
			diffs = append(diffs, fmt.Sprintf("row %d: %d columns vs %d", i+1, len(a[i]), len(b[i])))
			continue
		}
		for j := range a[i] {
			if !cellsEqual(a[i][j], b[i][j]) {
				diffs = append(diffs, fmt.Sprintf("row %d %s vs %s", i+1, formatRow(a[i]), formatRow(b[i])))
				break
			}
		}
		if len(diffs) >= 5 {
			diffs = append(diffs, "…")
			break
		}
	}
	return strings.Join(diffs, "; ")
}

func formatRow(r []cell) string {
	parts := make([]string, len(r))
	for i, c := range r {
		parts[i] = c.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
