package server

// LOAD DATA LOCAL INFILE into events, on arb's native write path: the
// client sends the file over the connection (vitess Conn.LoadInfile; the
// server advertises CLIENT_LOCAL_FILES), the record reader
// (load_data_reader.go) splits it, and each record becomes a
// storage.Event stored through Project.Ingest in batches — never row by
// row through go-mysql-server's LOAD DATA operator.
//
// Columns. The statement's column list names the fixed columns (time,
// event, distinct_id, insert_id), the properties column (a JSON object
// spread into properties, as in INSERT) and property columns, new ones
// included: a new column is discovered from the list and typed from its
// values as INSERT types literals — an unenclosed field that is a number
// is one (ingest.NumberValue's conversion: int within int64, every digit kept
// as text beyond, else float), an enclosed field or any other text is a
// string, and storage widens a column whose values disagree (int → float
// → string). \N is NULL; so is an empty unenclosed field of a property
// column (an absent property, as NULL is). The time column takes what
// INSERT takes ('YYYY-MM-DD[ HH:MM:SS[.ffffff]]' and the other forms
// MySQL's DATETIME accepts, by go-mysql-server's conversion, rounded to
// milliseconds).
//
// Errors. A bad record refuses the statement with MySQL's number for it,
// naming the row (data rows from 1, after IGNORE n LINES) and the line
// of the file (records from 1, ignored ones included) and the column:
// 1261/1262 for too few/too many fields, 1292 for a time that is not
// one, 1263 for a NULL time or event, 1366 for any other value storage
// refuses (invalid UTF-8, an empty event name, a time before 1970). MySQL
// with LOCAL turns such errors into warnings and skips the row (it cannot
// stop the client's transfer); arb refuses the whole statement instead,
// reading and dropping the rest of the file.
//
// Atomicity and memory. A file of any size loads in bounded memory and
// all or nothing. On a single node (storage.Bulk, storage/bulk.go) the
// records are converted in one goroutine while another checks each batch
// (the validation Ingest runs) and stages it as columns, written to
// segment files no manifest names every FlushRows rows; once the whole
// file is read, one flush's manifest publishes every staged segment.
// Any bad record, KILL QUERY, a closed connection or a store failure
// before that manifest abandons the load: nothing stored, no column
// added, the staged files removed (or, after a crash, removed at open).
// Rows with an insert_id already stored, or repeated in the file, are
// stored once; a concurrent write of one of them waits for the load.
//
// In cluster mode every row must travel through the replicated log, so
// the load runs in two passes instead:
//  1. read the whole file, convert every record and run storage's own
//     row checks on it (storage.CheckEvents and CheckNewColumns, its
//     column limit), encoding each checked batch with the WAL's batch
//     codec into a spool: memory up to loadSpoolMemBytes, then an
//     unlinked temporary file. Any bad record refuses the statement
//     here, with nothing stored.
//  2. store the spooled batches with Ingest, in order, each durable
//     before the next; the OK is sent after the last.
//
// INVARIANT: a two-pass statement that fails in pass 1 stored nothing.
// Pass 2 can fail only for the store's own reasons — a full disk or a
// process out of files (storage.FaultError), a failed log, a column
// limit reached by concurrent writers since pass 1 — and then the
// batches before the failing one stay stored: the error says how many
// rows that is. A batch refused because the ingest buffer is full
// (ErrOverloaded: nothing of it stored) is retried, so backpressure slows
// a load down instead of cutting it. Pass 2 does not stop on KILL or a
// closed connection: once the file is checked, it is loaded whole. Rows
// with an insert_id are deduplicated (storage dedup.go), so running a
// partly stored file again stores each event once.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"arb/ingest"
	"arb/storage"
)

// MySQL numbers of LOAD DATA's errors.
const (
	erTooFewRecords     = 1261 // ER_WARN_TOO_FEW_RECORDS: "Row %ld doesn't contain data for all columns"
	erTooManyRecords    = 1262 // ER_WARN_TOO_MANY_RECORDS: "Row %ld was truncated; it contained more data than there were input columns"
	erNullToNotNull     = 1263 // ER_WARN_NULL_TO_NOTNULL
	erWrongFieldTerms   = 1083 // ER_WRONG_FIELD_TERMINATORS
	erNotSupportedYet   = 1235 // ER_NOT_SUPPORTED_YET
	erWrongColumnName   = 1166 // ER_WRONG_COLUMN_NAME
	erFieldSpecified    = 1110 // ER_FIELD_SPECIFIED_TWICE
	erGeneratedColumn   = 3105 // ER_NON_DEFAULT_VALUE_FOR_GENERATED_COLUMN
	erUnknownCharacters = 1115 // ER_UNKNOWN_CHARACTER_SET
	erNetPacketTooLarge = 1153 // ER_NET_PACKET_TOO_LARGE
)

// Batch sizes of a load: rows per Ingest call (each one WAL record and
// one fsync), and how many encoded bytes the spool keeps in memory before
// it moves to a temporary file.
const (
	loadBatchRows     = 16384    // ~2 MB encoded: within storage's pooled WAL payloads (4 MiB)
	loadBatchBytes    = 16 << 20 // of field text
	loadSpoolMemBytes = 64 << 20
)

// loadColumnKind says where a listed column's field goes.
type loadColumnKind uint8

const (
	loadProperty loadColumnKind = iota
	loadTime
	loadEvent
	loadDistinctID
	loadInsertID
	loadProperties // the JSON properties column
)

type loadColumn struct {
	name string
	kind loadColumnKind
	// values shares the strings of repeated values (event names,
	// browsers, plans): one allocation per distinct value instead of one
	// per row. A column with more than loadInternValues distinct values
	// (user ids, insert ids) stops sharing: its look-ups would cost more
	// than its allocations.
	values      map[string]string
	noInterning bool
	// recent holds values of values by recentSlot of their bytes, so that
	// most look-ups are one cheap hash and one comparison instead of a
	// map's probe (nil until the first value).
	recent *[loadRecentValues]string
}

// loadInternValues bounds each column's shared strings.
const loadInternValues = 4096

// loadRecentValues is the size of a column's recent table: a power of two
// (recentSlot), large enough that a column's few hundred values seldom
// share a slot.
const loadRecentValues = 1 << loadRecentBits

const loadRecentBits = 12

// text is b as a string, shared with an equal earlier value of c.
func (c *loadColumn) text(b []byte) string {
	if c.noInterning {
		return string(b)
	}
	if c.recent == nil {
		c.recent = new([loadRecentValues]string)
	}
	slot := &c.recent[recentSlot(b)]
	if *slot == string(b) { // no allocation: a comparison
		return *slot
	}
	if s, ok := c.values[string(b)]; ok {
		*slot = s
		return s
	}
	s := string(b)
	switch {
	case c.values == nil:
		c.values = map[string]string{s: s}
	case len(c.values) < loadInternValues:
		c.values[s] = s
	default:
		c.values, c.recent, c.noInterning = nil, nil, true
		return s
	}
	*slot = s
	return s
}

// recentSlot is b's slot in a recent table: a hash of b's length and of
// its first and last eight bytes (all of them when shorter), which tells
// apart the values of a column (names, "City 0277") without reading
// every byte. Which slot a value takes changes speed only.
func recentSlot(b []byte) int {
	var h uint64
	if n := len(b); n >= 8 {
		h = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 29)
	} else {
		for _, c := range b {
			h = h<<8 | uint64(c)
		}
	}
	h ^= uint64(len(b)) << 56
	return int((h * 0x9E3779B97F4A7C15) >> (64 - loadRecentBits))
}

// loadPlan is a checked LOAD DATA LOCAL INFILE into events.
type loadPlan struct {
	project *storage.Project
	format  loadFormat
	ignore  int64 // IGNORE n LINES
	cols    []loadColumn
	listed  map[string]bool // lower-cased property column names
	ctx     *sql.Context    // for go-mysql-server's DATETIME conversion
}

// loadData runs ld when it is a LOAD DATA LOCAL INFILE into events and
// refuses it into people or from a file on the server (go-mysql-server
// would refuse both with a misleading unknown-column or syntax error);
// handled=false leaves every other table to go-mysql-server.
//
// The load runs under the query limits (h.limited), so KILL QUERY stops
// it while the file is read and checked (nothing stored: 1317); once the
// batches are being stored it runs to the end.
func (h *handler) loadData(ctx context.Context, c *mysql.Conn, sess *session, ld *ast.Load, query string) (*sqltypes.Result, bool, error) {
	db := ld.Table.DbQualifier.String()
	if db == "" {
		db = sess.GetCurrentDatabase()
	}
	project, ok := h.parser.store.Project(strings.ToLower(db))
	table := strings.ToLower(ld.Table.Name.String())
	if !ok || (table != storage.TableEvents && table != storage.TablePeople) || !ld.Table.SchemaQualifier.IsEmpty() {
		return nil, false, nil
	}
	switch {
	case table == storage.TablePeople:
		return nil, true, mysql.NewSQLError(erNotSupportedYet, "42000",
			"This version of MySQL doesn't yet support 'LOAD DATA into people (set profiles with INSERT INTO people or /engage)'")
	case !bool(ld.Local):
		return nil, true, mysql.NewSQLError(erNotSupportedYet, "42000",
			"This version of MySQL doesn't yet support 'LOAD DATA INFILE from the server's disk (use LOAD DATA LOCAL INFILE: the client sends the file)'")
	}
	if err := writeRefusal(h.users, sess, db, storage.TableEvents); err != nil {
		return nil, true, err
	}
	plan, err := planLoad(project, ld)
	if err != nil {
		return nil, true, err
	}
	var res *sqltypes.Result
	err = h.limited(ctx, c, query, func(ctx context.Context, _ *statement) error {
		plan.ctx = sql.NewContext(ctx, sql.WithSession(sess))
		var err error
		res, err = h.runLoad(ctx, c, plan, ld.Infile)
		return mysqlError(err)
	})
	return res, true, err
}

// planLoad checks the statement's options and columns before the file is
// asked for.
func planLoad(project *storage.Project, ld *ast.Load) (*loadPlan, error) {
	notSupported := func(what string) error {
		return mysql.NewSQLError(erNotSupportedYet, "42000", "This version of MySQL doesn't yet support '%s'", what)
	}
	switch {
	case ld.IgnoreOrReplace != "":
		return nil, notSupported("LOAD DATA " + strings.ToUpper(ld.IgnoreOrReplace) + " into events (a bad row refuses the whole statement; rows with the same insert_id are stored once)")
	case len(ld.SetExprs) > 0:
		return nil, notSupported("LOAD DATA ... SET into events")
	case len(ld.Partition) > 0:
		return nil, notSupported("LOAD DATA ... PARTITION into events")
	case len(ld.Columns) == 0:
		return nil, notSupported("LOAD DATA into events without a column list (name the file's columns: time, event, distinct_id, insert_id, properties or property names)")
	}
	switch strings.ToLower(ld.Charset) {
	case "", "utf8", "utf8mb3", "utf8mb4", "ascii", "binary":
	default:
		if _, err := sql.ParseCharacterSet(ld.Charset); err != nil {
			return nil, mysql.NewSQLError(erUnknownCharacters, "42000", "Unknown character set: '%s'", ld.Charset)
		}
		return nil, notSupported("LOAD DATA into events in CHARACTER SET " + ld.Charset + " (events take utf8mb4)")
	}
	format, err := loadFormatOf(ld)
	if err != nil {
		return nil, err
	}
	plan := &loadPlan{project: project, format: format, listed: map[string]bool{}}
	if ld.IgnoreNum != nil {
		n, err := strconv.ParseInt(string(ld.IgnoreNum.Val), 10, 64)
		if err != nil || n < 0 {
			return nil, mysql.NewSQLError(erParseError, "42000", "IGNORE %s LINES: not a line count", ld.IgnoreNum.Val)
		}
		plan.ignore = n
	}
	seen := map[string]bool{}
	var props []string
	for _, col := range ld.Columns {
		name, key := col.String(), col.Lowered()
		if seen[key] {
			return nil, mysql.NewSQLError(erFieldSpecified, "42000", "Column '%s' specified twice", name)
		}
		seen[key] = true
		kind := loadProperty
		switch key {
		case storage.ColTime:
			kind = loadTime
		case storage.ColEvent:
			kind = loadEvent
		case storage.ColDistinctID:
			kind = loadDistinctID
		case storage.ColInsertID:
			kind = loadInsertID
		case colProperties:
			kind = loadProperties
		case storage.ColRawDistinctID:
			return nil, mysql.NewSQLError(erGeneratedColumn, "HY000", "The value specified for generated column '%s' in table 'events' is not allowed (it is derived from distinct_id)", name)
		default:
			if err := storage.ValidatePropertyKey(storage.TableEvents, name); err != nil {
				return nil, mysql.NewSQLError(erWrongColumnName, "42000", "Incorrect column name '%s': %v", name, err)
			}
			props = append(props, name)
			plan.listed[key] = true
		}
		plan.cols = append(plan.cols, loadColumn{name: name, kind: kind})
	}
	if err := project.CheckNewColumns(storage.TableEvents, props); err != nil {
		return nil, rowError(err)
	}
	return plan, nil
}

// loadFormatOf reads FIELDS and LINES, with MySQL's defaults (tab, no
// enclosing, backslash escape, newline).
func loadFormatOf(ld *ast.Load) (loadFormat, error) {
	f := loadFormat{fieldTerm: []byte{'\t'}, escape: '\\', lineTerm: []byte{'\n'}}
	wrong := mysql.NewSQLError(erWrongFieldTerms, "42000", "Field separator argument is not what is expected; check the manual")
	if fl := ld.Fields; fl != nil {
		if fl.TerminatedBy != nil {
			f.fieldTerm = []byte(string(fl.TerminatedBy.Val))
		}
		if fl.EnclosedBy != nil && fl.EnclosedBy.Delim != nil {
			switch len(fl.EnclosedBy.Delim.Val) {
			case 0:
			case 1:
				f.enclose = fl.EnclosedBy.Delim.Val[0]
			default:
				return f, wrong
			}
		}
		if fl.EscapedBy != nil {
			switch len(fl.EscapedBy.Val) {
			case 0:
				f.escape = 0
			case 1:
				f.escape = fl.EscapedBy.Val[0]
			default:
				return f, wrong
			}
		}
	}
	if ln := ld.Lines; ln != nil {
		if ln.TerminatedBy != nil {
			f.lineTerm = []byte(string(ln.TerminatedBy.Val))
		}
		if ln.StartingBy != nil {
			f.lineStart = []byte(string(ln.StartingBy.Val))
		}
	}
	if len(f.fieldTerm) == 0 {
		// MySQL reads fixed-width rows then; arb does not.
		return f, mysql.NewSQLError(erNotSupportedYet, "42000", "This version of MySQL doesn't yet support 'LOAD DATA with an empty FIELDS TERMINATED BY (fixed-width rows)'")
	}
	if len(f.lineTerm) == 0 {
		f.lineTerm = f.fieldTerm // as MySQL: lines end where fields do
	}
	return f, nil
}

// runLoad asks the client for the file and loads it.
func (h *handler) runLoad(ctx context.Context, c *mysql.Conn, plan *loadPlan, infile string) (*sqltypes.Result, error) {
	src, err := c.LoadInfile(infile)
	if err != nil {
		return nil, err
	}
	rows, err := plan.load(ctx, src)
	if err != nil {
		return nil, err
	}
	return &sqltypes.Result{RowsAffected: uint64(rows),
		Info: fmt.Sprintf("Records: %d  Deleted: 0  Skipped: 0  Warnings: 0", rows)}, nil
}

// load reads src to its end and stores its rows: staged as one
// storage.Bulk where the store can (committed once the whole file is
// read and checked), else checked whole into a spool (pass 1) and then
// stored batch by batch (pass 2). It returns the number of rows.
func (p *loadPlan) load(ctx context.Context, src io.ReadCloser) (int64, error) {
	bulk, err := p.project.BeginBulk()
	if err != nil && !errors.Is(err, storage.ErrBulkUnsupported) {
		src.Close()
		return 0, err
	}
	var sink loadSink
	spool := &loadSpool{}
	defer spool.close()
	if bulk != nil {
		// Abort does nothing after Commit; it matters when a panic ends
		// the load, whose keys would otherwise keep batches waiting.
		defer bulk.Abort(nil)
		sink = bulkSink{bulk}
	} else {
		sink = spoolSink{spool}
	}
	rows, err := p.read(ctx, src, sink)
	// Close reads and drops what the client still sends: the connection
	// is ours again only after the whole file has arrived.
	if cerr := src.Close(); err == nil && cerr != nil {
		err = cerr
	}
	switch {
	case bulk != nil && err != nil:
		bulk.Abort(err)
	case bulk != nil:
		if err = bulk.Commit(); err != nil {
			err = loadNoteError(rowError(err), fmt.Sprintf(" (LOAD DATA stored none of the file's %d rows)", rows))
		}
	case err == nil:
		err = p.store(spool, rows)
	}
	return rows, err
}

// loadSink takes pass 1's batches of converted rows.
type loadSink interface {
	// take checks b's rows (a bad one refuses the statement) and keeps
	// them; owns reports whether it keeps b's slices (b is not reused).
	take(p *loadPlan, b *loadBatch) (owns bool, err error)
}

// spoolSink encodes checked batches into a spool for pass 2.
type spoolSink struct{ spool *loadSpool }

func (s spoolSink) take(p *loadPlan, b *loadBatch) (bool, error) {
	if err := storage.CheckEvents(b.events); err != nil {
		return false, p.checkError(err, b.before, b.lines)
	}
	b.enc = storage.AppendEventBatch(b.enc[:0], &storage.EventBatch{Project: p.project.Name(), Events: b.events})
	return false, s.spool.add(b.enc)
}

// bulkSink stages batches in a storage.Bulk, which checks them as
// CheckEvents does and copies what it keeps.
type bulkSink struct{ bulk *storage.Bulk }

func (s bulkSink) take(p *loadPlan, b *loadBatch) (bool, error) {
	if err := s.bulk.Add(b.events); err != nil {
		return false, p.checkError(err, b.before, b.lines)
	}
	return false, nil
}

// loadBatch is up to loadBatchRows converted rows on their way through
// pass 1; batches are recycled, so their slices are reused.
type loadBatch struct {
	events []storage.Event
	lines  []int          // the line of each row
	props  []storage.Prop // the rows' properties, one slab
	before int64          // rows of the file ahead of this batch
	bytes  int64          // field text read into it
	enc    []byte         // the batch encoded (spoolSink)
}

// read is pass 1: every record converted, checked and given to sink. It
// returns the number of rows. A goroutine reads and converts the records
// while this one hands the batches they make to sink.
func (p *loadPlan) read(ctx context.Context, src io.Reader, sink loadSink) (int64, error) {
	const inFlight = 3
	free := make(chan *loadBatch, inFlight)
	for range inFlight {
		free <- &loadBatch{}
	}
	full := make(chan *loadBatch, inFlight)
	stop := make(chan struct{})
	var rows int64
	var readErr error
	go func() {
		defer close(full)
		rows, readErr = p.convertAll(ctx, src, free, full, stop)
	}()
	var err error
	for b := range full {
		if err != nil {
			continue // stopping: let the reader see stop
		}
		owns, terr := sink.take(p, b)
		if terr != nil {
			err = terr
			close(stop)
		}
		if owns {
			b = &loadBatch{}
		}
		free <- b
	}
	if err == nil {
		err = readErr
	}
	return rows, err
}

// convertAll reads the records of src into batches taken from free and
// passes them to full, until the file ends, a record is bad, stop is
// closed or ctx is done (KILL QUERY). It returns the number of rows read.
func (p *loadPlan) convertAll(ctx context.Context, src io.Reader, free <-chan *loadBatch, full chan<- *loadBatch, stop <-chan struct{}) (int64, error) {
	rr := newRecordReader(bufio.NewReaderSize(src, loadChunkBytes), p.format)
	for i := int64(0); i < p.ignore; i++ {
		if _, err := rr.next(); err == io.EOF {
			return 0, nil
		} else if err != nil {
			return 0, err
		}
	}
	var rows int64
	var b *loadBatch
	take := func() bool {
		select {
		case b = <-free:
		case <-stop:
			return false
		}
		b.events, b.lines, b.props = b.events[:0], b.lines[:0], b.props[:0]
		b.before, b.bytes = rows, 0
		if cap(b.props) == 0 {
			b.props = make([]storage.Prop, 0, loadBatchRows*len(p.cols))
		}
		return true
	}
	if !take() {
		return rows, nil
	}
	for {
		fields, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// (long is declared here only: errors.As takes its address, so
			// it would be allocated for every record.)
			var long *recordTooLongError
			if errors.As(err, &long) {
				return rows, mysql.NewSQLError(erNetPacketTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes: %v", err)
			}
			return rows, err
		}
		rows++
		if rows%1024 == 0 && ctx.Err() != nil {
			return rows, context.Cause(ctx)
		}
		b.events = append(b.events, storage.Event{})
		b.lines = append(b.lines, rr.lines)
		e := &b.events[len(b.events)-1]
		// The row's properties go to the slab while it has room (a
		// properties column may append more: then they move out of it).
		reserved := 0
		if n := len(b.props); cap(b.props)-n >= len(fields) {
			e.Props, reserved = b.props[n:n:n+len(fields)], len(fields)
		}
		if err := p.convert(fields, rows, rr.lines, e); err != nil {
			return rows, err
		}
		b.props = b.props[:len(b.props)+reserved]
		b.bytes += int64(rr.size)
		if len(b.events) >= loadBatchRows || b.bytes >= loadBatchBytes {
			full <- b
			if !take() {
				return rows, nil
			}
		}
	}
	if len(b.events) > 0 {
		full <- b
	}
	return rows, nil
}

// checkError names the row and line of a row storage refused; before is
// the number of rows ahead of the batch.
func (p *loadPlan) checkError(err error, before int64, lines []int) error {
	var re *storage.RowError
	if !errors.As(err, &re) || re.Row < 1 || re.Row > len(lines) {
		return rowError(err)
	}
	return mysql.NewSQLError(erWrongValue, "HY000", "Incorrect value for column '%s' at row %d (line %d of the file): %v",
		re.Column, before+int64(re.Row), lines[re.Row-1], re.Err)
}

// convert fills e from one record; row and line name it in errors.
func (p *loadPlan) convert(fields []loadField, row int64, line int, e *storage.Event) error {
	switch {
	case len(fields) < len(p.cols):
		return mysql.NewSQLError(erTooFewRecords, "01000", "Row %d doesn't contain data for all columns (line %d of the file has %d fields for %d columns)", row, line, len(fields), len(p.cols))
	case len(fields) > len(p.cols):
		return mysql.NewSQLError(erTooManyRecords, "01000", "Row %d was truncated; it contained more data than there were input columns (line %d of the file has %d fields for %d columns)", row, line, len(fields), len(p.cols))
	}
	if e.Props == nil {
		e.Props = make([]storage.Prop, 0, len(fields))
	}
	var fromJSON []storage.Prop
	for i, f := range fields {
		col := &p.cols[i]
		switch col.kind {
		case loadTime:
			if f.null {
				return p.nullError(col.name, row, line)
			}
			ms, err := p.timeMillis(f.text)
			if err != nil {
				return mysql.NewSQLError(erTruncatedValue, "22007", "Incorrect datetime value: '%s' for column '%s' at row %d (line %d of the file)", shownText(f.text), col.name, row, line)
			}
			e.TimeMillis = ms
		case loadEvent:
			if f.null {
				return p.nullError(col.name, row, line)
			}
			e.Name = col.text(f.text)
		case loadDistinctID:
			if !f.null {
				e.DistinctID = col.text(f.text)
			}
		case loadInsertID:
			if !f.null {
				e.InsertID = string(f.text)
			}
		case loadProperties:
			if f.null || (len(f.text) == 0 && !f.enclosed) {
				continue
			}
			props, err := propsFromJSON(string(f.text))
			if err != nil {
				return mysql.NewSQLError(erWrongValue, "HY000", "Incorrect JSON value: '%s' for column '%s' at row %d (line %d of the file): %v", shownText(f.text), col.name, row, line, err)
			}
			fromJSON = props
		default:
			if v := fieldValue(f, col); !v.IsNull() {
				e.Props = append(e.Props, storage.Prop{Key: col.name, Value: v})
			}
		}
	}
	for _, pr := range fromJSON {
		if p.listed[strings.ToLower(pr.Key)] {
			return mysql.NewSQLError(erWrongValue, "HY000", "Incorrect JSON value for column 'properties' at row %d (line %d of the file): key %q is also given as a column", row, line, pr.Key)
		}
		e.Props = append(e.Props, pr)
	}
	return nil
}

func (p *loadPlan) nullError(col string, row int64, line int) error {
	return mysql.NewSQLError(erNullToNotNull, "22004", "Column set to default value; NULL supplied to NOT NULL column '%s' at row %d (line %d of the file)", col, row, line)
}

// timeMillis converts a time field as INSERT does: the literal forms the
// native INSERT path reads (fastTime), else go-mysql-server's DATETIME(3)
// conversion, the ordinary path's (fromSQL).
func (p *loadPlan) timeMillis(text []byte) (int64, error) {
	if ms, ok := fastTime(string(text)); ok {
		return ms, nil
	}
	v, _, err := sqlTime.Convert(p.ctx, string(text))
	if err != nil {
		return 0, err
	}
	tv, err := fromSQL(p.ctx, storage.TypeTime, v)
	return tv.Int, err
}

// fieldValue types a property field as INSERT types a literal: NULL for
// \N and for an empty unenclosed field, a string when enclosed, else a
// number when the text is one (JSON's number grammar, by ingest.NumberValue's
// conversion) and a string when it is not.
// col shares the strings.
func fieldValue(f loadField, col *loadColumn) storage.Value {
	switch {
	case f.null, len(f.text) == 0 && !f.enclosed:
		return storage.Value{}
	case f.enclosed:
		return storage.StringValue(col.text(f.text))
	}
	if c := f.text[0]; c == '-' || (c >= '0' && c <= '9') {
		if v, ok := ingest.NumberText(string(f.text)); ok {
			return v
		}
	}
	return storage.StringValue(col.text(f.text))
}

// shownText shows a field's text in an error message.
func shownText(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// store is pass 2: the spooled batches through Ingest, in order. A
// goroutine decodes the next batch while the current one is stored (its
// WAL fsync is mostly waiting).
func (p *loadPlan) store(spool *loadSpool, rows int64) error {
	batches := make(chan *storage.EventBatch, 1)
	stop := make(chan struct{})
	var decodeErr error
	go func() {
		defer close(batches)
		decodeErr = spool.replay(func(enc []byte) error {
			b, err := storage.DecodeEventBatch(enc)
			if err != nil {
				return fmt.Errorf("LOAD DATA spool: %w", err)
			}
			select {
			case batches <- b:
				return nil
			case <-stop:
				return errLoadStopped
			}
		})
	}()
	var stored int64
	for b := range batches {
		n := int64(len(b.Events))
		err := p.project.Ingest(b.Events)
		for errors.Is(err, storage.ErrOverloaded) {
			// Nothing of the batch was stored: Ingest waited for flushes
			// already; offer it again.
			err = p.project.Ingest(b.Events)
		}
		if err != nil {
			close(stop)
			for range batches {
			}
			return partialLoadError(rowError(err), stored, rows)
		}
		stored += n
	}
	if decodeErr != nil {
		return partialLoadError(decodeErr, stored, rows)
	}
	return nil
}

// errLoadStopped ends the spool's replay when storing has failed.
var errLoadStopped = errors.New("LOAD DATA stopped")

// partialLoadError says, in err's message, how many rows of the file were
// stored before it.
func partialLoadError(err error, stored, rows int64) error {
	return loadNoteError(err, fmt.Sprintf(" (LOAD DATA stored %d of the file's %d rows before this error; rows with an insert_id are stored once if the file is loaded again)", stored, rows))
}

// loadNoteError is err with note added to its message, a MySQL error
// keeping its number.
func loadNoteError(err error, note string) error {
	var se *mysql.SQLError
	if errors.As(err, &se) {
		out := *se
		out.Message += note
		return &out
	}
	return fmt.Errorf("%w%s", err, note)
}

// loadSpool holds a load's checked, encoded batches between the passes:
// in memory up to loadSpoolMemBytes, then in a temporary file unlinked at
// creation (so a crash leaves nothing behind), each batch as its length
// (uvarint) and its bytes.
type loadSpool struct {
	memLimit int      // bytes kept in memory (0: loadSpoolMemBytes)
	mem      [][]byte // the first batches, each its own copy
	memBytes int
	file     *os.File
	w        *bufio.Writer
}

func (s *loadSpool) add(enc []byte) error {
	if s.file == nil && s.memBytes+len(enc) > cmp.Or(s.memLimit, loadSpoolMemBytes) {
		f, err := os.CreateTemp("", "arb-load-*")
		if err != nil {
			return fmt.Errorf("LOAD DATA spool: %w", err)
		}
		_ = os.Remove(f.Name()) // open files outlive their name
		s.file, s.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	if s.file == nil {
		s.mem = append(s.mem, append([]byte(nil), enc...))
		s.memBytes += len(enc)
		return nil
	}
	var hdr [binary.MaxVarintLen64]byte
	if _, err := s.w.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(enc)))]); err != nil {
		return fmt.Errorf("LOAD DATA spool %s: %w", s.file.Name(), err)
	}
	if _, err := s.w.Write(enc); err != nil {
		return fmt.Errorf("LOAD DATA spool %s: %w", s.file.Name(), err)
	}
	return nil
}

// replay calls fn with each batch in the order added, until fn fails;
// fn must not keep the slice. A batch from memory is dropped once fn has
// it, so memory shrinks as pass 2 goes.
func (s *loadSpool) replay(fn func([]byte) error) error {
	for i := range s.mem {
		b := s.mem[i]
		s.mem[i] = nil
		if err := fn(b); err != nil {
			return err
		}
	}
	if s.file == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("LOAD DATA spool %s: %w", s.file.Name(), err)
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("LOAD DATA spool %s: %w", s.file.Name(), err)
	}
	r := bufio.NewReaderSize(s.file, 1<<20)
	var buf []byte
	for {
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("LOAD DATA spool %s: %w", s.file.Name(), err)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("LOAD DATA spool %s: %w", s.file.Name(), err)
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
}

func (s *loadSpool) close() {
	s.mem = nil
	if s.file != nil {
		s.file.Close()
	}
}
