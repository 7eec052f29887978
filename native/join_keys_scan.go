package native

// This file owns the left keys scan: an inner or semi join whose left
// input is a scan of the events table keyed by its event column, and
// whose right input holds a few event names (a BI tool's series limit:
// … JOIN (SELECT event … ORDER BY COUNT(*) DESC LIMIT 5) ON event =
// event__), reads the right input first and scans the left only for rows
// whose event is one of the table's keys: the engine answers
// `event IN (…)` from the segments' bitmaps per value, in the scan's
// workers, so the rows of other events are never decoded, filtered or
// paired, and the coded probe (join_coded.go) then hands on whole
// batches instead of gathering each one's matching rows.
//
// What qualifies (keysScanOf at translation; keysFilter at run time):
//   - the join is inner or semi, its one key compares the event column
//     of a scan of the events table (filters only) with text under a
//     byte-wise collation (keyStr: equal exactly when the bytes are);
//     event is a fixed column, always a string, so the engine's
//     byte-wise IN compares what the key compares;
//   - the built table is keyed by string with no wild row and at most
//     keysScanMax keys, none holding U+FFFD: a key is its string with
//     each invalid UTF-8 byte replaced by U+FFFD (join_keys.go), so a
//     key without one matches exactly the left strings equal to it byte
//     for byte, and no left string with an invalid byte.
//
// INVARIANT: the scan drops exactly the left rows that have no
// candidate in the table (a NULL event equals nothing, and IN is not
// TRUE for NULL); the others come in the same order, so the join's
// output is unchanged. Any other table opens the left input whole.

import (
	"strings"
	"unicode/utf8"

	"arb/engine"
	"arb/storage"
)

// keysScanMax bounds the keys the left keys scan passes to the engine
// as an IN list (a series limit's top N; a bitmap each).
const keysScanMax = 256

// leftKeysScanOn turns the left keys scan on (a variable for tests,
// which compare the join with and without it).
var leftKeysScanOn = true

// keysScanOf is op's left input when it is a scan the right input's
// event keys can restrict (see the file comment), nil otherwise.
func keysScanOf(op *joinOp) *scanOp {
	if (op.kind != joinInner && op.kind != joinSemi) || len(op.keys) != 1 || op.keys[0].class != keyStr {
		return nil
	}
	sc, ok := op.left.(*scanOp)
	if !ok || len(sc.out) != len(sc.sch) || len(sc.out) == 0 || &sc.out[0] != &sc.sch[0] {
		return nil
	}
	f, ok := op.keys[0].left.(*fieldExpr)
	if !ok || f.idx >= len(sc.sch) || !sc.read[f.idx] || !strings.EqualFold(sc.sch[f.idx].Name, storage.ColEvent) {
		return nil
	}
	return sc
}

// keysFilter is the engine predicate that keeps the left rows whose
// event is a key of table t, nil when t does not qualify (see the file
// comment).
func keysFilter(t *joinTable) engine.Predicate {
	if !leftKeysScanOn || t == nil || t.strs == nil || len(t.wild) > 0 || len(t.strs) == 0 || len(t.strs) > keysScanMax {
		return nil
	}
	in := engine.In{Column: storage.ColEvent}
	for k := range t.strs {
		if strings.ContainsRune(k, utf8.RuneError) {
			return nil
		}
		in.Values = append(in.Values, storage.StringValue(k))
	}
	return in
}
