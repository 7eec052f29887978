package ingest

// Decoding all records of a request, in parallel: a 2,000-event batch is
// split into contiguous ranges, one goroutine per core, each with its own
// eventDecoder. The results are in record order, so what a request
// stores and which errors it reports do not depend on the split.

import (
	"runtime"
	"sync"
	"sync/atomic"

	"arb/storage"
)

// minRecordsPerWorker keeps small requests on one goroutine: below it,
// starting a goroutine costs more than it saves.
const minRecordsPerWorker = 128

// parsedRecords are the results of parseRecords, indexed by record:
// record i is events[i] (with tokens[i] and ignore[i]) when errs[i] is
// nil. Events of bad records are zero.
type parsedRecords struct {
	events []storage.Event
	tokens []string
	ignore []bool
	errs   []*recordError
	// notJSON: a record of an unchecked payload the scanner could not
	// decode is not a JSON object either (isNDJSONObject): the payload's
	// answer is its reference decoding's (payload.reference).
	notJSON atomic.Bool
}

// parseRecords validates and converts every record of p.
func (r *eventRules) parseRecords(p *payload) *parsedRecords {
	n := len(p.records)
	out := &parsedRecords{
		events: make([]storage.Event, n),
		tokens: make([]string, n),
		ignore: make([]bool, n),
		errs:   make([]*recordError, n),
	}
	workers := min(runtime.GOMAXPROCS(0), n/minRecordsPerWorker)
	if workers <= 1 {
		r.parseRange(p, out, 0, n)
		return out
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.parseRange(p, out, w*chunk, min(n, (w+1)*chunk))
		}()
	}
	r.parseRange(p, out, 0, chunk)
	wg.Wait()
	return out
}

// parseRange parses records [from, to) into out. Goroutines write
// disjoint index ranges of out's slices.
func (r *eventRules) parseRange(p *payload, out *parsedRecords, from, to int) {
	d := eventDecoder{rules: r, textUTF8: p.textUTF8}
	for i := from; i < to; i++ {
		rec := p.record(i)
		d.left = to - i
		if pe, ok := d.decode(rec); ok {
			out.events[i], out.tokens[i], out.ignore[i] = pe.event, pe.token, pe.ignore
			continue
		}
		if p.unchecked && !isNDJSONObject(rec) {
			out.notJSON.Store(true)
			continue
		}
		pe, rerr := r.parseEventJSON(i, p.records[i])
		if rerr != nil {
			out.errs[i] = rerr
			continue
		}
		out.events[i], out.tokens[i], out.ignore[i] = pe.event, pe.token, pe.ignore
	}
}
