package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWALRepair: a damaged last record stops the open; the repair plan
// names it and what follows it, changes nothing until asked, and after
// DropDamagedTail the log opens with the records before the damage.
func TestWALRepair(t *testing.T) {
	dataDir := t.TempDir()
	walDir := filepath.Join(dataDir, walDirName)
	last, offs := writeTestWAL(t, walDir)
	// File 3 after the damaged file 2: dropped with the damaged tail.
	os.WriteFile(filepath.Join(walDir, walFileName(3)), walFileBytes(3, "later one", "later two"), 0o644)
	b, _ := os.ReadFile(last)
	b[offs[1]+walRecordHeader+3] ^= 0x20 // record 4 of 6: one intact record after it in file 2
	os.WriteFile(last, b, 0o644)
	before := walFiles(t, walDir)

	if _, _, err := walReplayAll(t, OSFS{}, walDir, 0); !errors.Is(err, ErrCorruption) {
		t.Fatalf("open of the damaged log: %v, want ErrCorruption", err)
	}
	r, err := OpenWALRepair(OSFS{}, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Plan()
	d := p.Damage
	if d == nil {
		t.Fatal("plan found no damage")
	}
	if d.File != last || d.Offset != offs[1] || d.Torn || d.RecordsBefore != 1 || d.IntactAfter != 1 ||
		d.DropBytes() != int64(len(b))-offs[1] {
		t.Fatalf("damage %+v, want %s at %d, not torn, 1 record before, 1 intact after, %d bytes dropped",
			d, last, offs[1], int64(len(b))-offs[1])
	}
	if p.Files != 3 || p.Records != 4 || len(p.LaterFiles) != 1 || p.LaterFiles[0].Records != 2 {
		t.Fatalf("plan %+v, want 3 files, 4 records kept, file 3 with 2 records dropped", p)
	}
	if after := walFiles(t, walDir); len(after) != len(before) || after[walFileName(2)] != before[walFileName(2)] {
		t.Fatal("planning a repair changed the files")
	}
	// The data directory is locked while the repair is open.
	if _, err := LockDataDir(OSFS{}, dataDir); !errors.Is(err, ErrDirLocked) {
		t.Fatalf("lock while a repair holds the directory: %v, want ErrDirLocked", err)
	}
	if _, err := OpenWALRepair(OSFS{}, dataDir); !errors.Is(err, ErrDirLocked) {
		t.Fatalf("second repair: %v, want ErrDirLocked", err)
	}
	if err := r.DropDamagedTail(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	w, got, err := walReplayAll(t, OSFS{}, walDir, 0)
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	w.Close()
	if len(got) != 4 || got[3] != testPayload(3) {
		t.Fatalf("after repair replayed %d records, want the 4 before the damage", len(got))
	}

	if _, err := OpenWALRepair(OSFS{}, filepath.Join(dataDir, "no-such-dir")); err == nil {
		t.Fatal("repair of a missing data directory succeeded")
	}

	// A clean log: nothing to drop, and dropping is a no-op.
	r, err = OpenWALRepair(OSFS{}, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if p := r.Plan(); p.Damage != nil || len(p.LaterFiles) != 0 || p.Records != 4 {
		t.Fatalf("plan of a clean log: %+v", p)
	}
	if err := r.DropDamagedTail(); err != nil {
		t.Fatal(err)
	}
}

// TestWALRepairHeaderDamage: damage in a file's header empties the file
// but keeps it, with a fresh header, so the files still run without a gap.
func TestWALRepairHeaderDamage(t *testing.T) {
	dataDir := t.TempDir()
	walDir := filepath.Join(dataDir, walDirName)
	last, _ := writeTestWAL(t, walDir)
	b, _ := os.ReadFile(last)
	b[9] ^= 1 // the sequence number
	os.WriteFile(last, b, 0o644)
	r, err := OpenWALRepair(OSFS{}, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := r.Plan().Damage; d == nil || d.File != last || d.Offset != 8 || d.IntactAfter != -1 || d.DropBytes() != int64(len(b)) {
		t.Fatalf("damage %+v, want file 2's header at offset 8, all %d bytes dropped", d, len(b))
	}
	if err := r.DropDamagedTail(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(last); string(got) != string(walFileBytes(2)) {
		t.Fatalf("file with a damaged header holds %q after the repair, want a fresh header", got)
	}
	w, got, err := walReplayAll(t, OSFS{}, walDir, 0)
	if err != nil || len(got) != 3 {
		t.Fatalf("open after repair: %v, %d records, want file 1's 3", err, len(got))
	}
	w.Close()
}

// walFileBytes builds a WAL file holding payloads.
func walFileBytes(seq uint64, payloads ...string) []byte {
	b := []byte(walMagic)
	b = append(b, make([]byte, 8)...)
	b[8] = byte(seq)
	for _, p := range payloads {
		b = appendRecord(b, []byte(p))
	}
	return b
}

// TestStoreOpenDamagedLastWALRecord: a store whose last WAL record is
// damaged does not open and changes no WAL byte; after the explicit repair
// it opens with every record before the damage.
func TestStoreOpenDamagedLastWALRecord(t *testing.T) {
	dir := dumpTestStore(t) // WAL: catalog, events, people, profiles (ann's $add)
	path := dumpTestFile(t, filepath.Join(dir, walDirName, "*.wal"))
	b, _ := os.ReadFile(path)
	b[len(b)-3] ^= 0x02
	os.WriteFile(path, b, 0o644)
	testStoreWALRepair(t, dir, path, b, 3)
	s, err := Open(Options{FS: OSFS{}, Dir: dir, Logger: quietLog})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	defer s.Close()
	if _, ok := s.Project("app"); !ok {
		t.Fatal("project app (a record before the damage) is gone")
	}
	p, _ := s.Project("shop")
	people, _, _ := p.People()
	var got []string
	for _, r := range people {
		got = append(got, r.DistinctID+"="+formatProps(r.Props))
	}
	if want := `ann="name":string="Ann" bob="name":string="Bob"`; strings.Join(got, " ") != want {
		t.Fatalf("people after repair %q, want %q (the damaged $add dropped)", strings.Join(got, " "), want)
	}
}

// TestStoreOpenDamagedWALHeader: the repair of a damaged header in the
// manifest's first live WAL file (wal_start_seq > 1) keeps the file, so
// the store, which needs that file, opens afterwards.
func TestStoreOpenDamagedWALHeader(t *testing.T) {
	dir := dumpTestStore(t)
	path := dumpTestFile(t, filepath.Join(dir, walDirName, "*.wal"))
	b, _ := os.ReadFile(path)
	b[3] ^= 0x20 // the magic
	os.WriteFile(path, b, 0o644)
	testStoreWALRepair(t, dir, path, b, 0)
	s, err := Open(Options{FS: OSFS{}, Dir: dir, Logger: quietLog})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	defer s.Close()
	if _, ok := s.Project("shop"); !ok {
		t.Fatal("project shop (in the manifest) is gone")
	}
}

// testStoreWALRepair checks that the store refuses to open over damage in
// the WAL file path (whose damaged bytes are b) and changes nothing, then
// that the repair plans that very damage after recordsBefore records and
// drops it.
func testStoreWALRepair(t *testing.T, dir, path string, b []byte, recordsBefore int) {
	t.Helper()
	_, err := Open(Options{FS: OSFS{}, Dir: dir, Logger: quietLog})
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("open of a store with a damaged last WAL record: %v, want a CorruptionError naming %s", err, path)
	}
	if after, _ := os.ReadFile(path); string(after) != string(b) {
		t.Fatal("the failed open changed the WAL file")
	}

	r, err := OpenWALRepair(OSFS{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Plan().Damage; d == nil || d.File != path || d.Offset != ce.Offset || d.RecordsBefore != recordsBefore {
		t.Fatalf("repair plan %+v, want the damage the open reported (%s at %d) after %d records", d, path, ce.Offset, recordsBefore)
	}
	if err := r.DropDamagedTail(); err != nil {
		t.Fatal(err)
	}
	r.Close()
}
