package storage

// Checks a caller can run before it stores anything, for a statement that
// stores its rows in several Ingest calls (LOAD DATA: one statement, a
// file of any size, batches of bounded memory). Ingest applies one batch
// atomically; it has no transaction spanning batches. A caller that wants
// the whole statement refused when any row is bad runs these checks over
// every row first and calls Ingest only once all have passed: then the
// only errors left for the Ingest calls are the store's own (a full
// ingest buffer, a full disk, a failed WAL), not the rows'.
//
// INVARIANT: CheckEvents refuses exactly the rows Ingest's validation
// refuses (both run validateEvent), with the same *RowError.

// CheckEvents runs on rows the per-row validation Ingest runs, without
// storing anything. Row numbers in a *RowError count from 1 within rows.
// It drops NULL properties in place (as Ingest does), so rows can be
// handed to Ingest afterwards unchanged.
func CheckEvents(rows []Event) error {
	var known validKeys
	if len(rows) >= 1<<manyUTF8Bits { // LOAD DATA's batches
		known.many = make([]utf8Seen, 1<<manyUTF8Bits)
	}
	for i := range rows {
		rows[i].Props = dropNullProps(rows[i].Props)
		if err := validateEvent(TableEvents, i, &rows[i], &known); err != nil {
			return err
		}
	}
	return nil
}

// CheckNewColumns refuses, with a *ColumnLimitError, a statement whose
// property columns (names, any case) would take table past the store's
// column limit: the check reserve makes per batch, made once for the
// columns a multi-batch statement may add in all.
func (p *Project) CheckNewColumns(table string, names []string) error {
	if p.shards != nil {
		for _, c := range p.shards.parts {
			if err := c.CheckNewColumns(table, names); err != nil {
				return err
			}
		}
		return nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	schema := p.events
	if table == TablePeople {
		schema = p.people
	}
	var added []string
	for _, n := range names {
		if _, ok := schema.Lookup(n); !ok {
			added = append(added, n)
		}
	}
	if len(schema.cols)+len(added) > p.store.opts.MaxColumns {
		return &ColumnLimitError{Table: table, Limit: p.store.opts.MaxColumns, Have: len(schema.cols), New: added}
	}
	return nil
}
