package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// walReplayAll opens the WAL in dir and returns the payloads replayed.
func walReplayAll(t *testing.T, fs FS, dir string, minSeq uint64) (*WAL, []string, error) {
	t.Helper()
	var got []string
	w, err := OpenWAL(WALOptions{FS: fs, Dir: dir, Logger: quietLog, MinSeq: minSeq}, func(_ WALPosition, p []byte) error {
		got = append(got, string(p))
		return nil
	})
	return w, got, err
}

func TestWALRoundTripAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	w, got, err := walReplayAll(t, OSFS{}, dir, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh open: %v, %d records", err, len(got))
	}
	var want []string
	var positions []WALPosition
	for i := 0; i < 30; i++ {
		p := fmt.Sprintf("record-%d-%s", i, strings.Repeat("x", i*37))
		pos, err := w.Append([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		want, positions = append(want, p), append(positions, pos)
		if i%10 == 9 {
			if _, err := w.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var gotPos []WALPosition
	w, err = OpenWAL(WALOptions{FS: OSFS{}, Dir: dir, Logger: quietLog}, func(pos WALPosition, p []byte) error {
		got = append(got, string(p))
		gotPos = append(gotPos, pos)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("replayed %d records, want %d in order", len(got), len(want))
	}
	for i := range positions {
		if positions[i] != gotPos[i] {
			t.Fatalf("record %d: appended at %+v, replayed at %+v", i, positions[i], gotPos[i])
		}
	}
	if w.seq != 5 {
		t.Fatalf("appends go to file %d after replaying files 1-4, want 5", w.seq)
	}
}

func TestWALConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	w, _, err := walReplayAll(t, OSFS{}, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := w.Append([]byte(fmt.Sprintf("%d/%d", g, i))); err != nil {
					t.Error(err)
					return
				}
				if g == 0 && i%50 == 0 {
					if _, err := w.Rotate(); err != nil {
						t.Error(err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	w.Close()
	w, got, err := walReplayAll(t, OSFS{}, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seen := map[string]bool{}
	for _, p := range got {
		seen[p] = true
	}
	if len(got) != 1600 || len(seen) != 1600 {
		t.Fatalf("replayed %d records (%d distinct), want 1600", len(got), len(seen))
	}
}

// writeTestWAL writes files 1 and 2 with three records each and returns
// the path of the last file and its record offsets. The last record is
// long enough to span 512-byte sector boundaries, and no byte of any
// payload is zero.
func writeTestWAL(t *testing.T, dir string) (string, []int64) {
	t.Helper()
	w, _, err := walReplayAll(t, OSFS{}, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for i := 0; i < 6; i++ {
		pos, err := w.Append([]byte(testPayload(i)))
		if err != nil {
			t.Fatal(err)
		}
		if pos.Seq == 2 {
			offs = append(offs, pos.Offset)
		}
		if i == 2 {
			w.Rotate()
		}
	}
	w.Close()
	os.Remove(filepath.Join(dir, walFileName(3))) // the empty file opened after the last rotation
	return filepath.Join(dir, walFileName(2)), offs
}

func testPayload(i int) string {
	p := fmt.Sprintf("payload number %d", i)
	if i == 5 {
		p += strings.Repeat("y", 1500) + "end"
	}
	return p
}

// walFiles reads every file of dir, by name.
func walFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

// TestWALDamage is a table of byte mutations of a two-file log (in the
// manner of prometheus' TestWALRepair_ReadingError): for each, whether
// OpenWAL succeeds and which records survive, or where it reports damage.
// A failing open must name file and offset and leave every byte as it was.
func TestWALDamage(t *testing.T) {
	type mutation func(dir, last string, offs []int64, size int64)
	flip := func(path string, off int64, mask byte) {
		b, _ := os.ReadFile(path)
		b[off] ^= mask
		os.WriteFile(path, b, 0o644)
	}
	zero := func(path string, from int64) {
		b, _ := os.ReadFile(path)
		clear(b[from:])
		os.WriteFile(path, b, 0o644)
	}
	appendBytes := func(path string, b []byte) {
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.Write(b)
		f.Close()
	}
	sector := func(off int64) int64 { return (off/walSectorBytes + 1) * walSectorBytes } // next boundary after off
	// damage locates the reported damage: the file's sequence number and
	// the offset, given the record offsets of file 2 and its size.
	type damage func(offs []int64, size int64) (seq uint64, off int64)
	lastRecord := func(offs []int64, _ int64) (uint64, int64) { return 2, offs[2] }
	middleRecord := func(offs []int64, _ int64) (uint64, int64) { return 2, offs[1] }
	cases := []struct {
		name   string
		mutate mutation
		// Exactly one of: recovered, records replayed when the open
		// succeeds; damage, where the open must report it.
		recovered   int
		damage      damage
		intactAfter int // records after the damage that still verify, as the error says
	}{
		{name: "intact", mutate: func(string, string, []int64, int64) {}, recovered: 6},
		// Torn tails: a crash explains them; the open truncates and succeeds.
		{name: "last record cut inside its payload", recovered: 5,
			mutate: func(_, last string, _ []int64, size int64) { os.Truncate(last, size-3) }},
		{name: "last record cut inside its header", recovered: 5,
			mutate: func(_, last string, offs []int64, _ int64) { os.Truncate(last, offs[2]+4) }},
		{name: "two records cut off", recovered: 4,
			mutate: func(_, last string, offs []int64, _ int64) { os.Truncate(last, offs[1]+10) }},
		{name: "last record zeroed from a sector boundary to the end", recovered: 5,
			mutate: func(_, last string, offs []int64, _ int64) { zero(last, sector(offs[2]+walRecordHeader)) }},
		{name: "last record zeroed whole", recovered: 5,
			mutate: func(_, last string, offs []int64, _ int64) { zero(last, offs[2]) }},
		{name: "zeros appended (file extended, never written)", recovered: 6,
			mutate: func(_, last string, _ []int64, _ int64) { appendBytes(last, make([]byte, 4096)) }},
		{name: "last record's tail unwritten (zeros over a sector boundary)", recovered: 5,
			mutate: func(_, last string, _ []int64, size int64) {
				os.Truncate(last, size-700)
				appendBytes(last, make([]byte, 700))
			}},
		{name: "last file holds a torn header only", recovered: 6,
			mutate: func(dir, _ string, _ []int64, _ int64) {
				os.WriteFile(filepath.Join(dir, walFileName(3)), []byte("ARBW"), 0o644)
			}},
		{name: "last file holds bytes that are no header",
			damage: func([]int64, int64) (uint64, int64) { return 3, 0 },
			mutate: func(dir, _ string, _ []int64, _ int64) {
				os.WriteFile(filepath.Join(dir, walFileName(3)), []byte("hello"), 0o644)
			}},
		{name: "last file holds only zeros", recovered: 6,
			mutate: func(dir, _ string, _ []int64, _ int64) {
				os.WriteFile(filepath.Join(dir, walFileName(3)), make([]byte, 4096), 0o644)
			}},
		// Damage: no crash explains it; the open fails and changes nothing.
		{name: "last record's payload bit flipped", damage: lastRecord,
			mutate: func(_, last string, offs []int64, _ int64) { flip(last, offs[2]+walRecordHeader+700, 0x04) }},
		{name: "last record's final byte bit flipped", damage: lastRecord,
			mutate: func(_, last string, _ []int64, size int64) { flip(last, size-1, 0x01) }},
		{name: "last record's CRC bit flipped", damage: lastRecord,
			mutate: func(_, last string, offs []int64, _ int64) { flip(last, offs[2]+5, 0x80) }},
		{name: "last record's length bit set (runs past the end)", damage: lastRecord,
			mutate: func(_, last string, offs []int64, _ int64) { flip(last, offs[2]+2, 0x01) }},
		{name: "last record's length over the limit", damage: lastRecord,
			mutate: func(_, last string, offs []int64, _ int64) { flip(last, offs[2]+3, 0x80) }},
		{name: "last record's length bit cleared", damage: lastRecord,
			mutate: func(_, last string, offs []int64, _ int64) { flip(last, offs[2]+1, 0x04) }},
		{name: "last record's last 3 bytes zeroed off a sector boundary", damage: lastRecord,
			mutate: func(_, last string, _ []int64, size int64) { zero(last, size-3) }},
		{name: "non-zero garbage appended",
			damage: func(_ []int64, size int64) (uint64, int64) { return 2, size },
			mutate: func(_, last string, _ []int64, _ int64) { appendBytes(last, bytes.Repeat([]byte{0xab}, 40)) }},
		{name: "middle record's payload flipped", damage: middleRecord, intactAfter: 1,
			mutate: func(_, last string, offs []int64, _ int64) { flip(last, offs[1]+walRecordHeader+2, 0x55) }},
		{name: "middle record's length garbled", damage: middleRecord,
			mutate: func(_, last string, offs []int64, _ int64) { flip(last, offs[1]+3, 0x55) }},
		{name: "header magic flipped",
			damage: func([]int64, int64) (uint64, int64) { return 2, 0 },
			mutate: func(_, last string, _ []int64, _ int64) { flip(last, 1, 0x55) }},
		{name: "earlier file's last record cut",
			damage: func([]int64, int64) (uint64, int64) {
				return 1, walHeaderBytes + 2*walRecordHeader + int64(len(testPayload(0))+len(testPayload(1)))
			},
			mutate: func(dir, _ string, _ []int64, _ int64) {
				first := filepath.Join(dir, walFileName(1))
				st, _ := os.Stat(first)
				os.Truncate(first, st.Size()-2)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			last, offs := writeTestWAL(t, dir)
			st, _ := os.Stat(last)
			size := st.Size()
			if r := size % walSectorBytes; r > 0 && r <= 3 {
				t.Fatalf("test log of %d bytes: its last 3 bytes start on or cross a sector boundary; change testPayload", size)
			}
			c.mutate(dir, last, offs, size)
			before := walFiles(t, dir)
			w, got, err := walReplayAll(t, OSFS{}, dir, 0)
			if c.damage != nil {
				seq, off := c.damage(offs, size)
				var ce *CorruptionError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorruption) {
					t.Fatalf("open: %v, want a *CorruptionError", err)
				}
				if wantFile := filepath.Join(dir, walFileName(seq)); ce.File != wantFile || ce.Offset != off {
					t.Fatalf("damage reported in %s at %d, want %s at %d: %v", ce.File, ce.Offset, wantFile, off, err)
				}
				if !strings.Contains(err.Error(), "bytes from here to the end of the file") {
					t.Fatalf("error %q does not say what is at stake", err)
				}
				if c.intactAfter > 0 && !strings.Contains(err.Error(), fmt.Sprintf("%d intact records after it", c.intactAfter)) {
					t.Fatalf("error %q does not count the %d intact records after the damage", err, c.intactAfter)
				}
				if after := walFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Fatalf("a failed open changed the files on disk")
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if len(got) != c.recovered {
				t.Fatalf("recovered %d records, want %d", len(got), c.recovered)
			}
			for i, p := range got {
				if p != testPayload(i) {
					t.Fatalf("record %d replayed as %.30q, want %.30q", i, p, testPayload(i))
				}
			}
			// The log is usable: an append after the repair is replayed after the rest.
			if _, err := w.Append([]byte("after repair")); err != nil {
				t.Fatal(err)
			}
			w.Close()
			w, again, err := walReplayAll(t, OSFS{}, dir, 0)
			if err != nil {
				t.Fatalf("reopen after repair: %v", err)
			}
			w.Close()
			if len(again) != c.recovered+1 || again[len(again)-1] != "after repair" {
				t.Fatalf("reopen replayed %d records (last %q), want %d ending with the new one", len(again), again[len(again)-1], c.recovered+1)
			}
		})
	}
}

// syncFailFS makes File.Sync fail once failSync is set.
type syncFailFS struct {
	OSFS
	mu       sync.Mutex
	failSync bool
}

type syncFailFile struct {
	*os.File
	fs *syncFailFS
}

func (f syncFailFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.failSync {
		return errors.New("injected fsync failure")
	}
	return f.File.Sync()
}

func (fs *syncFailFS) Create(path string) (File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return syncFailFile{f, fs}, nil
}

func TestWALFailedFsyncIsSticky(t *testing.T) {
	fs := &syncFailFS{}
	w, _, err := walReplayAll(t, fs, t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.failSync = true
	fs.mu.Unlock()
	if _, err := w.Append([]byte("lost")); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("append with failing fsync: %v", err)
	}
	fs.mu.Lock()
	fs.failSync = false
	fs.mu.Unlock()
	if _, err := w.Append([]byte("after")); err == nil {
		t.Fatal("append after a failed fsync succeeded; the failure must be sticky")
	}
}

func TestWALMinSeqDropsOldFiles(t *testing.T) {
	dir := t.TempDir()
	writeTestWAL(t, dir)
	w, got, err := walReplayAll(t, OSFS{}, dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(got) != 3 || got[0] != "payload number 3" {
		t.Fatalf("replayed %v, want only file 2's records", got)
	}
	if _, err := os.Stat(filepath.Join(dir, walFileName(1))); !os.IsNotExist(err) {
		t.Fatalf("file 1 below MinSeq still there: %v", err)
	}
}

func TestEventBatchRoundTrip(t *testing.T) {
	b := &EventBatch{Project: "shop", Events: []Event{
		{TimeMillis: 1735689600123, Name: "Purchase", DistinctID: "u1", InsertID: "i1", Props: []Prop{
			{"amount", FloatValue(-12.5)}, {"n", IntValue(-1 << 62)}, {"ok", BoolValue(true)},
			{"plan", StringValue("")}, {"città", StringValue("Zürich ✓")}, {"o", JSONValue(`{"a":[1]}`)},
			{"t", TimeValue(5)}, {"nil", Value{}},
		}},
		{Name: "x"},
		{},
	}}
	enc := AppendEventBatch(nil, b)
	got, err := DecodeEventBatch(enc)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", b) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, b)
	}
	for n := 0; n < len(enc); n++ {
		if _, err := DecodeEventBatch(enc[:n]); err == nil {
			t.Fatalf("truncation to %d bytes decoded", n)
		}
	}
	if _, err := DecodeEventBatch(append(bytes.Clone(enc), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func FuzzDecodeEventBatch(f *testing.F) {
	f.Add(AppendEventBatch(nil, &EventBatch{Project: "p", Events: []Event{{TimeMillis: 1, Name: "e", Props: []Prop{{"k", IntValue(3)}, {"s", StringValue("v")}}}}}))
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeEventBatch(data)
		if err != nil {
			return
		}
		// What decodes re-encodes (canonically) to the same batch.
		again, err := DecodeEventBatch(AppendEventBatch(nil, b))
		if err != nil || fmt.Sprintf("%+v", again) != fmt.Sprintf("%+v", b) {
			t.Fatalf("re-encoding of %x changed the batch: %v", data, err)
		}
	})
}

// FuzzWALReplay opens a log whose only file holds arbitrary bytes: the
// open never panics; it either succeeds, replaying records that verify, or
// fails with ErrCorruption and leaves the file as it was. Seeds cover each
// shape of wal_replay.go's rule; testdata/fuzz/FuzzWALReplay holds more.
func FuzzWALReplay(f *testing.F) {
	good := walFileBytes(1, "one", "two", strings.Repeat("three", 200))
	f.Add(good)
	f.Add(good[:len(good)-5])                              // cut short
	f.Add(append(bytes.Clone(good), make([]byte, 600)...)) // zeros appended
	zeroed := bytes.Clone(good)
	clear(zeroed[walSectorBytes:])
	f.Add(zeroed) // zero-filled from a sector boundary
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	f.Add(flipped) // damaged last record
	length := bytes.Clone(good)
	length[walHeaderBytes+2*walRecordHeader+6+2] ^= 0x10
	f.Add(length) // last record's length damaged
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, walFileName(1))
		os.WriteFile(path, data, 0o644)
		n := 0
		w, err := OpenWAL(WALOptions{FS: OSFS{}, Dir: dir, Logger: quietLog}, func(WALPosition, []byte) error { n++; return nil })
		if err != nil {
			if !errors.Is(err, ErrCorruption) {
				t.Fatalf("damage reported without ErrCorruption: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Fatalf("a failed open changed the file")
			}
			return
		}
		w.Close()
		// The open only truncates: what it kept is a prefix of the input,
		// or, when it removed a file with a torn header, a fresh header
		// (the number may be reused for the next file).
		after, _ := os.ReadFile(path)
		fresh := len(after) == walHeaderBytes && string(after[:8]) == walMagic
		if len(after) > 0 && !bytes.HasPrefix(data, after) && !fresh {
			t.Fatalf("the open rewrote the file instead of truncating it")
		}
	})
}
