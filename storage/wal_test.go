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
// the path of the last file and its record offsets.
func writeTestWAL(t *testing.T, dir string) (string, []int64) {
	t.Helper()
	w, _, err := walReplayAll(t, OSFS{}, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for i := 0; i < 6; i++ {
		pos, err := w.Append([]byte(fmt.Sprintf("payload number %d", i)))
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

func TestWALDamage(t *testing.T) {
	type mutation func(t *testing.T, dir, last string, offs []int64)
	flip := func(path string, off int64) {
		b, _ := os.ReadFile(path)
		b[off] ^= 0x55
		os.WriteFile(path, b, 0o644)
	}
	truncate := func(path string, size int64) { os.Truncate(path, size) }
	size := func(path string) int64 { st, _ := os.Stat(path); return st.Size() }
	cases := []struct {
		name      string
		mutate    mutation
		recovered int  // records replayed when the open succeeds
		corrupt   bool // the open fails with ErrCorruption
	}{
		{"intact", func(*testing.T, string, string, []int64) {}, 6, false},
		{"last record cut inside its payload", func(t *testing.T, _, last string, offs []int64) { truncate(last, size(last)-3) }, 5, false},
		{"last record cut inside its header", func(t *testing.T, _, last string, offs []int64) { truncate(last, offs[2]+4) }, 5, false},
		{"last record's payload flipped", func(t *testing.T, _, last string, offs []int64) { flip(last, size(last)-2) }, 5, false},
		{"two records cut off", func(t *testing.T, _, last string, offs []int64) { truncate(last, offs[1]+10) }, 4, false},
		{"middle record's payload flipped", func(t *testing.T, _, last string, offs []int64) { flip(last, offs[1]+walRecordHeader+2) }, 0, true},
		{"middle record's length garbled", func(t *testing.T, _, last string, offs []int64) { flip(last, offs[0]+3) }, 0, true},
		{"header magic flipped", func(t *testing.T, _, last string, offs []int64) { flip(last, 1) }, 0, true},
		{"earlier file's last record cut", func(t *testing.T, dir, _ string, _ []int64) {
			first := filepath.Join(dir, walFileName(1))
			truncate(first, size(first)-2)
		}, 0, true},
		{"last file holds a torn header only", func(t *testing.T, dir, last string, _ []int64) {
			os.WriteFile(filepath.Join(dir, walFileName(3)), []byte("ARBW"), 0o644)
		}, 6, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			last, offs := writeTestWAL(t, dir)
			c.mutate(t, dir, last, offs)
			w, got, err := walReplayAll(t, OSFS{}, dir, 0)
			if c.corrupt {
				if !errors.Is(err, ErrCorruption) {
					t.Fatalf("open: %v, want ErrCorruption", err)
				}
				if !strings.Contains(err.Error(), ".wal") || !strings.Contains(err.Error(), "offset") {
					t.Fatalf("error %q does not name the file and offset", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if len(got) != c.recovered {
				t.Fatalf("recovered %d records, want %d", len(got), c.recovered)
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

func FuzzWALReplay(f *testing.F) {
	dir := f.TempDir()
	w, err := OpenWAL(WALOptions{FS: OSFS{}, Dir: dir, Logger: quietLog}, func(WALPosition, []byte) error { return nil })
	if err != nil {
		f.Fatal(err)
	}
	w.Append([]byte("one"))
	w.Append([]byte("two"))
	w.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, walFileName(1)))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, walFileName(1)), data, 0o644)
		w, err := OpenWAL(WALOptions{FS: OSFS{}, Dir: dir, Logger: quietLog}, func(WALPosition, []byte) error { return nil })
		if err != nil {
			if !errors.Is(err, ErrCorruption) {
				t.Fatalf("damage reported without ErrCorruption: %v", err)
			}
			return
		}
		w.Close()
	})
}
