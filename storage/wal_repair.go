package storage

// Explicit WAL repair: what `arb repair wal` does. OpenWAL never drops a
// record that a crash does not explain (wal_replay.go); when it refuses to
// open, an operator looks at the damage here and decides.
//
// The repair drops the log's damaged tail: the damaged file from the first
// record that fails to verify, and every later WAL file. Later files go
// too because the log is one sequence: replaying records after a hole
// would rebuild a history that never happened (a batch whose project was
// created by a dropped catalog record, a profile replaced before the
// dropped update that preceded it). The plan says how many records after
// the damage still verify, so the operator knows what the choice costs.
//
// INVARIANT: nothing is changed unless DropDamagedTail is called, and it
// changes only what the plan printed: the data-directory lock is held from
// planning to dropping, so no server writes in between.

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
)

// WALDamage is the first record of the log that fails to verify.
type WALDamage struct {
	File      string // path of the WAL file
	Offset    int64  // where the failing record starts; 0: the file header
	FileBytes int64  // size of the file
	// Torn: a crash explains it (OpenWAL would truncate it by itself).
	Torn   bool
	Reason string
	// RecordsBefore are the file's records before the damage: kept.
	RecordsBefore int
	// IntactAfter counts the records after the damaged one that still
	// verify, read from where it ends; -1 when its end is unknown (its
	// length field is beyond repair).
	IntactAfter int

	seq uint64 // File's sequence number
}

// InHeader reports damage in the file header: a repair empties the file
// (it keeps a fresh header: the store needs the WAL files from the
// manifest's wal_start_seq on to run without a gap, see file_accounting.go).
func (d *WALDamage) InHeader() bool { return d.Offset < walHeaderBytes }

// DropBytes is how many bytes of File a repair drops.
func (d *WALDamage) DropBytes() int64 {
	if d.InHeader() {
		return d.FileBytes
	}
	return d.FileBytes - d.Offset
}

// WALFileInfo summarizes a WAL file after the damaged one.
type WALFileInfo struct {
	File    string
	Bytes   int64
	Records int // records that verify from the start of the file
}

// WALRepairPlan is what a repair would drop. Damage is nil when every
// record of every live file verifies.
type WALRepairPlan struct {
	Dir        string // the WAL directory
	StartSeq   uint64 // the manifest's wal_start_seq: earlier files are not live
	Files      int    // live WAL files checked
	Records    int    // records that verify before the damage (kept)
	Damage     *WALDamage
	LaterFiles []WALFileInfo // dropped along with the damaged tail
}

// WALRepair holds a data directory locked while an operator inspects and
// perhaps drops a damaged WAL tail. Not safe for concurrent use.
type WALRepair struct {
	fs   FS
	lock *DirLock // held from OpenWALRepair to Close
	plan WALRepairPlan
}

// OpenWALRepair locks dataDir against servers and other repairs, then
// reads every live WAL file (those from the manifest's wal_start_seq on)
// and plans the repair. It changes nothing. Close releases the lock.
func OpenWALRepair(fs FS, dataDir string) (*WALRepair, error) {
	if fs == nil {
		fs = OSFS{}
	}
	// LockDataDir would create a missing directory: a mistyped path must
	// fail instead of looking like an empty, healthy log.
	if _, err := fs.List(dataDir); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := LockDataDir(fs, dataDir)
	if err != nil {
		return nil, err
	}
	r := &WALRepair{fs: fs, lock: lock}
	m, ok, err := readManifest(fs, filepath.Join(dataDir, manifestName))
	if err != nil {
		r.Close()
		return nil, err
	}
	r.plan = WALRepairPlan{Dir: filepath.Join(dataDir, walDirName), StartSeq: 1}
	if ok {
		r.plan.StartSeq = m.WALStartSeq
	}
	if err := r.scan(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Plan returns what DropDamagedTail would drop.
func (r *WALRepair) Plan() *WALRepairPlan { return &r.plan }

// scan fills the plan from the files on disk.
func (r *WALRepair) scan() error {
	names, err := r.fs.List(r.plan.Dir)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", r.plan.Dir, err)
	}
	var seqs []uint64
	for _, n := range names {
		if seq, ok := parseWALFileName(n); ok && seq >= r.plan.StartSeq {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	r.plan.Files = len(seqs)
	for _, seq := range seqs {
		path := filepath.Join(r.plan.Dir, walFileName(seq))
		if r.plan.Damage != nil {
			info, err := r.summarize(path, seq)
			if err != nil {
				return err
			}
			r.plan.LaterFiles = append(r.plan.LaterFiles, info)
			continue
		}
		if err := r.check(path, seq); err != nil {
			return err
		}
	}
	return nil
}

// check reads one file; the first fault becomes the plan's damage.
func (r *WALRepair) check(path string, seq uint64) error {
	f, err := r.fs.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	n, fault, err := scanWALFile(f, size, seq, func(int64, []byte) error { return nil })
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r.plan.Records += n
	if fault == nil {
		return nil
	}
	d := &WALDamage{File: path, Offset: fault.Offset, FileBytes: size, Torn: fault.Torn, Reason: fault.Reason,
		RecordsBefore: n, IntactAfter: -1, seq: seq}
	if fault.End >= 0 && fault.End <= size {
		if d.IntactAfter, err = countIntact(f, size, fault.End); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	r.plan.Damage = d
	return nil
}

// summarize counts the records of a file after the damaged one.
func (r *WALRepair) summarize(path string, seq uint64) (WALFileInfo, error) {
	f, err := r.fs.Open(path)
	if err != nil {
		return WALFileInfo{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return WALFileInfo{}, fmt.Errorf("stat %s: %w", path, err)
	}
	n, _, err := scanWALFile(f, st.Size(), seq, func(int64, []byte) error { return nil })
	if err != nil {
		return WALFileInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	return WALFileInfo{File: path, Bytes: st.Size(), Records: n}, nil
}

// DropDamagedTail drops what the plan names: it truncates the damaged file
// at the damaged record and fsyncs it (when the damage is in its header,
// it atomically replaces the file with a fresh header and no record),
// removes the later files, and fsyncs the directory. Without damage it
// does nothing.
func (r *WALRepair) DropDamagedTail() error {
	d := r.plan.Damage
	if d == nil {
		return nil
	}
	// Later files first: if this stops half way, what is left still
	// fails to open at the same damage and the repair can be rerun.
	for i := len(r.plan.LaterFiles) - 1; i >= 0; i-- {
		if err := r.fs.Remove(r.plan.LaterFiles[i].File); err != nil {
			return fmt.Errorf("remove %s: %w", r.plan.LaterFiles[i].File, err)
		}
	}
	if d.InHeader() {
		hdr := binary.LittleEndian.AppendUint64([]byte(walMagic), d.seq)
		if err := WriteFileAtomic(r.fs, d.File, hdr); err != nil {
			return err
		}
	} else {
		f, err := r.fs.OpenAppend(d.File)
		if err != nil {
			return fmt.Errorf("open %s: %w", d.File, err)
		}
		if err := f.Truncate(d.Offset); err != nil {
			f.Close()
			return fmt.Errorf("truncate %s to %d: %w", d.File, d.Offset, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("fsync %s: %w", d.File, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", d.File, err)
		}
	}
	if err := r.fs.SyncDir(r.plan.Dir); err != nil {
		return fmt.Errorf("fsync directory %s: %w", r.plan.Dir, err)
	}
	// Dropped: a second call has nothing left to do.
	r.plan.Damage, r.plan.LaterFiles = nil, nil
	return nil
}

// Close releases the data-directory lock.
func (r *WALRepair) Close() error {
	return r.lock.Release()
}
