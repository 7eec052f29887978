package storage

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// A Bulk stores one statement's events (LOAD DATA: a file of any size)
// atomically without the WAL: its rows are staged as columns of its own
// (a staging flushTable) that no query sees, every FlushRows rows are
// written to segment files no manifest names yet, and Commit publishes
// them all with a flush — one
// manifest names the staged segments beside everything else, and they
// join the project's segments under its lock (a sharded project's under
// the shard set's), so a query sees the whole load or none of it. A crash
// before that manifest leaves only files no manifest names, which open
// removes; nothing was acknowledged.
//
// What staging shares with the live project, and why that is safe when
// the load is abandoned:
//   - Rows are fitted to a schema of the bulk's own, a copy of the
//     project's taken at BeginBulk, which joins the project's (Widen,
//     column by column) at commit: a load refused or abandoned adds no
//     column, and its segments' types are never wider than the schema
//     that reads them. The --max-columns limit is checked as rows come and
//     again at commit (other writers may have added columns since).
//   - Ids are numbered in the project's user dictionary at once, as
//     Ingest does (segments hold user numbers): a load abandoned leaves
//     ids without rows, which nothing counts (persons are counted from
//     events).
//   - insert_id keys are reserved under the bulk's ticket, like a batch
//     in flight: a concurrent batch carrying one waits for the commit or
//     the abort (storedLocked finds them in the bulk's key index).
//     Repeats within the load are stored once.
//   - Identity observations ($identify, $create_alias, $merge, $user_id)
//     change the union-find only at commit, in row order, under the
//     flush's freeze, as the schema joins the project's. If that flush
//     then fails (a full disk, a manifest that cannot be written), the
//     load is refused but those links and columns stay in memory and are
//     written by the next flush — the partial outcome a failed
//     multi-batch Ingest has, without its rows.
//
// A spill writes its rows' segments in a goroutine of its own while the
// next rows stage in a second table, so that parsing, staging and
// writing segments overlap; at most one spill is in flight, and every
// Bulk method waits for it before it reads or changes what a spill
// produces (the parts' segs and files). So a bulk holds at most
// 2 × FlushRows rows in memory, as columns (no pointer per row), beside
// the ingest buffer, which it does not use. Not in cluster mode: the
// replicated log must carry every row (ErrBulkUnsupported).

// stagingFirstRows is a staging table's first capacity: a small load
// allocates little, a large one doubles from there up to FlushRows.
const stagingFirstRows = 1 << 16

// ErrBulkUnsupported: the store cannot stage a bulk load (cluster mode);
// store the rows with Ingest instead.
var ErrBulkUnsupported = errors.New("bulk load not supported in cluster mode")

// errBulkFinished: Add or Commit after the bulk was committed or aborted.
var errBulkFinished = errors.New("bulk load already committed or abandoned")

// Bulk is one atomic load into a project; see above. Its methods are
// called from one goroutine.
type Bulk struct {
	p      *Project
	parts  []*bulkPart // the project's own, or one per shard
	ticket *ingestTicket
	waits  []*ingestTicket // batches in flight whose keys the load repeats
	staged int             // rows in the parts' tables
	rows   int             // rows kept (repeats dropped)
	done   bool
	// spilling is the spill in flight (nil if none): it reports once, its
	// parts' segments and files and the first error.
	spilling chan []spillResult
}

// spillResult is what a spill wrote for one part: segs and the files
// numbered for them (also those of a segment it failed to finish), and
// the table it wrote them from, emptied.
type spillResult struct {
	table *flushTable
	segs  []*SegmentRef
	files []string
	err   error
}

// bulkPart is a bulk's rows of one storage project (a shard of a sharded
// project). keys is guarded by p.mu (storedLocked reads it); the rest
// belongs to the bulk's goroutine.
type bulkPart struct {
	p      *Project
	schema *Schema                 // the rows' columns: the project's at BeginBulk, widened by the rows
	ticket *ingestTicket           // the bulk's
	keys   keyIndex[*ingestTicket] // insert_id keys of every row staged
	table  *flushTable             // rows staged since the last spill, as columns
	spare  *flushTable             // the table of the last spill, emptied (nil before the first)
	users  []uint32                // scratch: a batch's user numbers
	segs   []*SegmentRef           // written, named by no manifest yet
	files  []string                // every file numbered for segs, relative to the data directory
	ident  []Event                 // rows that change the union-find, in order
}

// BeginBulk starts a bulk load into p's events.
func (p *Project) BeginBulk() (*Bulk, error) {
	s := p.store
	if s.opts.Log != nil {
		return nil, ErrBulkUnsupported
	}
	if err := s.failure(); err != nil {
		return nil, err
	}
	b := &Bulk{p: p, ticket: &ingestTicket{done: make(chan struct{})}}
	targets := []*Project{p}
	if p.shards != nil {
		targets = p.shards.parts
	}
	for _, c := range targets {
		bp := &bulkPart{p: c, ticket: b.ticket, table: newStagingTable(min(p.store.opts.FlushRows/len(targets), stagingFirstRows))}
		c.mu.Lock()
		bp.schema = newSchema(c.events.Columns(), c.events.bigIntColumns())
		c.bulks = append(c.bulks, bp)
		c.mu.Unlock()
		b.parts = append(b.parts, bp)
	}
	return b, nil
}

// Add validates rows as Ingest does (a *RowError names the row, counted
// from 1 within rows, and the column; nothing of rows is staged then)
// and stages them. It changes rows (NULL properties dropped, values
// fitted, repeats removed) but keeps no reference to them or their
// Props: the caller may reuse both. After an error the caller Aborts.
func (b *Bulk) Add(rows []Event) error {
	if b.done {
		return errBulkFinished
	}
	if err := CheckEvents(rows); err != nil {
		return err
	}
	s := b.p.store
	if err := s.failure(); err != nil {
		return err
	}
	rows, hashes := dropBatchDuplicates(rows)
	if len(b.parts) == 1 {
		if err := b.parts[0].add(b, rows, hashes); err != nil {
			return err
		}
	} else {
		split := b.p.shards.split(rows, hashes)
		for k, part := range split.rows {
			if len(part) == 0 {
				continue
			}
			if err := b.parts[k].add(b, part, split.hashes[k]); err != nil {
				return err
			}
		}
	}
	if b.staged >= s.opts.FlushRows {
		return b.spill(true)
	}
	return nil
}

// add stages rows (their repeats within the batch dropped; hashes their
// key hashes) in bp: fitted, deduplicated, numbered, laid out as columns.
func (bp *bulkPart) add(b *Bulk, rows []Event, hashes []uint64) error {
	c := bp.p
	if err := bp.schema.checkLimit(TableEvents, rows, c.store.opts.MaxColumns); err != nil {
		return err
	}
	fitRowsLocked(bp.schema, rows) // the bulk's own schema: no lock guards it
	c.mu.Lock()
	rows, waits, _, err := c.dropDuplicatesIntoLocked(rows, hashes, &bp.keys, b.ticket)
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("project %s: check for duplicates: %w", c.name, err)
	}
	bp.users = bp.users[:0]
	for i := range rows {
		u, err := c.numberUserLocked(rows[i].DistinctID, false)
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("project %s: %w", c.name, err)
		}
		bp.users = append(bp.users, u)
	}
	c.mu.Unlock()

	b.waits = append(b.waits, waits...)
	// Fitted, the rows' keys are the schema's column names: with no
	// column named $user_id, no row has one to look at.
	c0, ok := bp.schema.Lookup(userIDProp)
	userIDs := ok && c0.Name == userIDProp
	for i := range rows {
		if changesIdentity(&rows[i], userIDs) {
			e := rows[i]
			e.Props = slices.Clone(e.Props)
			bp.ident = append(bp.ident, e)
		}
	}
	if err := bp.table.appendRows(rows, bp.users, bp.schema.Columns()); err != nil {
		return fmt.Errorf("project %s: bulk load: %w", c.name, err)
	}
	b.staged += len(rows)
	b.rows += len(rows)
	return nil
}

// userIDProp is the property that links a device to a user id.
const userIDProp = "$user_id"

// changesIdentity reports whether observeEventLocked may change the
// union-find for e; userIDs=false says e has no $user_id property.
func changesIdentity(e *Event, userIDs bool) bool {
	switch e.Name {
	case "$identify", "$create_alias", "$merge":
		return true
	}
	if !userIDs {
		return false
	}
	for _, pr := range e.Props {
		if pr.Key == userIDProp && pr.Value.Type == TypeString && pr.Value.Str != "" {
			return true
		}
	}
	return false
}

// spill writes every part's staged rows to segments: in a goroutine
// when async (the parts stage into their spare tables meanwhile), else
// before it returns. It first waits for the spill in flight; an error
// of either refuses the load.
func (b *Bulk) spill(async bool) error {
	if err := b.waitSpill(); err != nil {
		return err
	}
	tables := make([]*flushTable, len(b.parts))
	for k, bp := range b.parts {
		tables[k] = bp.table
		if bp.spare == nil {
			// The next spill fills about as many rows as this one: room
			// for them and the batch that passes FlushRows.
			bp.spare = newStagingTable(max(bp.table.rows()+bp.table.rows()/8, stagingFirstRows))
		}
		bp.table, bp.spare = bp.spare, nil
	}
	b.staged = 0
	done := make(chan []spillResult, 1)
	b.spilling = done
	run := func() { done <- b.writeTables(tables) }
	if !async {
		run()
		return b.waitSpill()
	}
	go run()
	return nil
}

// writeTables writes each part's table (tables[k] is b.parts[k]'s) to
// staged segment files and empties it. It reads nothing else of the
// bulk but its parts' projects and store, so it may run beside Add.
func (b *Bulk) writeTables(tables []*flushTable) []spillResult {
	s := b.p.store
	res := make([]spillResult, len(tables))
	for k, table := range tables {
		res[k].table = table
		if table.rows() == 0 {
			continue
		}
		table.mergeDicts()
		s.flushMu.Lock()
		res[k].segs, res[k].err = s.writeTable(b.parts[k].p.name, table, &res[k].files, stagedFileName)
		s.flushMu.Unlock()
		table.reset()
		if res[k].err != nil {
			for _, t := range tables[k+1:] {
				t.reset()
			}
			// Nothing of the load is named by a manifest: a full disk
			// refuses it as it refuses any write.
			res[k].err = faultOr(fmt.Errorf("project %s: bulk load: %w", b.parts[k].p.name, res[k].err))
			break
		}
	}
	return res
}

// waitSpill waits for the spill in flight, if any, gives its segments
// and files to the parts (Abort removes them, Commit attaches them) and
// its emptied tables back as spares, and returns its error.
func (b *Bulk) waitSpill() error {
	if b.spilling == nil {
		return nil
	}
	res := <-b.spilling
	b.spilling = nil
	var err error
	for k, bp := range b.parts {
		bp.spare = res[k].table
		bp.segs = append(bp.segs, res[k].segs...)
		bp.files = append(bp.files, res[k].files...)
		if err == nil {
			err = res[k].err
		}
	}
	return err
}

// Rows is the number of rows staged so far, repeats of an insert_id
// (within the load or of stored events) not counted.
func (b *Bulk) Rows() int { return b.rows }

// Commit makes the load durable and visible: nil only once a manifest
// naming every staged row is durable. On an error nothing of the load is
// stored (but see identity above) and the bulk is finished.
func (b *Bulk) Commit() error {
	if b.done {
		return errBulkFinished
	}
	if err := b.spill(false); err != nil {
		b.Abort(err)
		return err
	}
	for _, t := range b.waits {
		<-t.done
		if t.err != nil {
			err := fmt.Errorf("project %s: a batch with the same events failed: %w", b.p.name, t.err)
			b.Abort(err)
			return err
		}
	}
	err := b.p.store.flush(b)
	if err != nil {
		if b.p.store.failure() == nil {
			// The flush gave up before its manifest (or left the old one
			// standing): nothing of the load is stored.
			err = faultOr(err)
		}
		b.Abort(err)
		return err
	}
	b.finish(nil)
	return nil
}

// Abort abandons the load: staged files removed, keys released, batches
// waiting on them told err. It does nothing once the bulk is finished.
func (b *Bulk) Abort(err error) {
	if b.done {
		return
	}
	if err == nil {
		err = errors.New("bulk load abandoned")
	}
	b.waitSpill() // its files are removed below; its error changes nothing
	s := b.p.store
	s.flushMu.Lock()
	for _, bp := range b.parts {
		for _, ref := range bp.segs {
			ref.file.Close()
		}
		// A staged file that comes back after a crash is removed at
		// open by its name (stagedSuffix): no manifest needs to list it.
		for _, rel := range bp.files {
			s.fs.Remove(s.path(rel))
		}
		bp.segs, bp.files = nil, nil
	}
	s.flushMu.Unlock()
	b.finish(err)
}

// finish unregisters the parts and closes the ticket with err.
func (b *Bulk) finish(err error) {
	for _, bp := range b.parts {
		c := bp.p
		c.mu.Lock()
		c.bulks = slices.DeleteFunc(c.bulks, func(x *bulkPart) bool { return x == bp })
		c.mu.Unlock()
	}
	b.done = true
	b.ticket.err = err
	close(b.ticket.done)
}

// applyLocked joins the bulk's schemas to the projects' and applies the
// identity observations of the staged rows, in order, as addEventsLocked
// and addShards would have. A column limit reached refuses the load
// before anything changes.
// REQUIRES: s.ingestMu held exclusively (the flush's freeze).
func (b *Bulk) applyLocked() error {
	var set *shardSet
	if b.p.shards != nil {
		set = b.p.shards
		set.mu.Lock()
		defer set.mu.Unlock()
	}
	for _, bp := range b.parts {
		c := bp.p
		c.mu.RLock()
		err := c.events.checkJoin(bp.schema, c.store.opts.MaxColumns)
		c.mu.RUnlock()
		if err != nil {
			return err
		}
	}
	for _, bp := range b.parts {
		c := bp.p
		c.mu.Lock()
		c.events.join(bp.schema)
		if len(bp.ident) == 0 {
			c.mu.Unlock()
			continue
		}
		for i := range bp.ident {
			u, err := c.userNumberLocked(bp.ident[i].DistinctID)
			if err == nil {
				_, err = c.observeEventLocked(&bp.ident[i], u)
			}
			if err != nil {
				c.countUserStateLocked()
				c.mu.Unlock()
				return fmt.Errorf("project %s: %w", c.name, err)
			}
		}
		c.countUserStateLocked()
		c.mu.Unlock()
		if set != nil {
			if err := set.linkAcross(c, bp.ident); err != nil {
				return err
			}
		}
	}
	return nil
}

// attach hands the staged segments to the flush plans of their projects
// under segment file names of fresh numbers — at or above any
// next_file_number published while the load staged, so that a crash
// before this flush's manifest leaves files open deletes — renamed and
// reopened: the manifest names them, abandonFlush removes them, install
// adds them. Staged files not yet renamed when it fails stay the bulk's
// (Abort removes them).
// REQUIRES: s.flushMu held.
func (b *Bulk) attach(plans []*flushPlan) error {
	s := b.p.store
	for _, bp := range b.parts {
		var pl *flushPlan
		for _, x := range plans {
			if x.project == bp.p {
				pl = x
			}
		}
		if pl == nil {
			return fmt.Errorf("BUG: no flush plan for project %s", bp.p.name)
		}
		for len(bp.segs) > 0 {
			ref, rel := bp.segs[0], bp.files[0]
			file := segmentFileName(s.nextFile)
			s.nextFile++
			ref.file.Close()
			if err := s.fs.Rename(s.path(rel), s.path(segDirName, file)); err != nil {
				return fmt.Errorf("rename staged segment: %w", err)
			}
			bp.segs, bp.files = bp.segs[1:], bp.files[1:]
			pl.numbered = append(pl.numbered, segDirName+"/"+file)
			seg, err := s.openSegment(file, ref.Day)
			if err != nil {
				return fmt.Errorf("reopen staged segment: %w", err)
			}
			seg.madeAt = time.Now()
			pl.segments = append(pl.segments, seg)
		}
	}
	if err := s.fs.SyncDir(s.path(segDirName)); err != nil {
		return fmt.Errorf("fsync %s after renaming staged segments: %w", s.path(segDirName), err)
	}
	return nil
}

// holdsLocked reports whether rows staged in bp hold key k (hash h).
// REQUIRES: bp.p.mu held.
func (bp *bulkPart) holdsLocked(k dedupKey, h uint64) bool {
	_, ok := bp.keys.get(h, k)
	return ok
}
