package storage

// VerifyDataDir checks a data directory (or a backup directory) offline,
// reading every byte that carries a checksum and every reference the
// manifest makes, and changing nothing. It goes through the same readers
// the store opens with (readManifest, OpenSegment and ReadBlock, Dict,
// ValueBitmap, loadUserDict, readPeopleFile, the WAL's scanWALFile), so a
// directory it passes is one Open accepts, and a problem it reports is one
// a query or an open would meet.
//
// What it checks:
//   - MANIFEST: frame checksum and body.
//   - each segment the manifest names: the file exists, its size is the
//     manifest's bytes, its footer checksum, every block of every column,
//     every dictionary and bitmap index section; its rows are the
//     manifest's rows; its meta names the same project and day; its times
//     fall in that day and its user numbers below the project's user count.
//   - each users file: every chunk up to the manifest's user count, ending
//     exactly at users_bytes.
//   - each people file: frame checksum, its batches and identity state.
//   - the WAL from wal_start_seq: files contiguous, every record's checksum,
//     every payload decodes, every batch names a known project.
//   - the grants file, if any: frame checksum (grants_file.go).
//
// Files no manifest names but Open deletes (.tmp leftovers, files the
// manifest lists as obsolete, files numbered at or above next_file_number
// that a flush or compaction wrote and never published) are counted, not
// reported. A segment or people file below next_file_number that the
// manifest neither names nor lists as obsolete is a problem: Open refuses
// such a directory.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// VerifyProblem is one damaged or missing thing: the file, the byte
// offset of the damaged record, block or section (-1 when the problem has
// no position, e.g. a missing file), and what is wrong.
type VerifyProblem struct {
	File   string
	Offset int64
	Err    error
}

func (p VerifyProblem) String() string {
	var ce *CorruptionError
	msg := p.Err.Error()
	if errors.As(p.Err, &ce) {
		msg = ce.Err.Error()
	}
	if p.Offset < 0 {
		return fmt.Sprintf("%s: %s", p.File, msg)
	}
	return fmt.Sprintf("%s: at offset %d: %s", p.File, p.Offset, msg)
}

// VerifySummary counts what VerifyDataDir checked and lists the problems.
type VerifySummary struct {
	Files      int   // files read
	Segments   int   // segment files named by the manifest
	Blocks     int   // column blocks read
	Rows       int64 // rows in those segments
	Users      int   // users in the users files
	WALFiles   int
	WALRecords int
	Unnamed    int // files no manifest names (removed by the next open)
	// TornTail names the last WAL file when it ends in a torn record: what
	// a crash during a write leaves, not damage (Open truncates it).
	TornTail string
	Problems []VerifyProblem
}

// VerifyDataDir checks dir as described at the top of verify.go. It
// returns an error only when it cannot check at all (dir missing); damage
// is listed in Problems. The caller holds the directory's lock, so that
// no process changes the files under it.
func VerifyDataDir(fs FS, dir string) (*VerifySummary, error) {
	if _, err := fs.List(dir); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v := &verifier{fs: fs, dir: dir, sum: &VerifySummary{}, projects: map[string]bool{}}
	m, ok, err := readManifestOrEmpty(fs, dir)
	if ok {
		v.sum.Files++
	}
	if err != nil {
		v.problem(filepath.Join(dir, manifestName), err)
		m = nil
	}
	v.checkManifest(m)
	v.checkWAL(m)
	v.checkGrants()
	return v.sum, nil
}

type verifier struct {
	fs       FS
	dir      string
	sum      *VerifySummary
	projects map[string]bool // known projects: the manifest's and those the WAL creates
}

func (v *verifier) path(parts ...string) string {
	return filepath.Join(append([]string{v.dir}, parts...)...)
}

// problem records err, located by its CorruptionError if it has one.
func (v *verifier) problem(file string, err error) {
	p := VerifyProblem{File: file, Offset: -1, Err: err}
	var ce *CorruptionError
	if errors.As(err, &ce) {
		p.File, p.Offset = ce.File, ce.Offset
	}
	v.sum.Problems = append(v.sum.Problems, p)
}

// checkManifest checks every file m names; with m nil (the manifest is
// damaged) it checks every segment and people file on its own.
func (v *verifier) checkManifest(m *manifestBody) {
	named := map[string]bool{}
	obsolete := map[string]bool{} // relative paths the manifest lists for deletion
	if m != nil {
		for _, rel := range m.Obsolete {
			obsolete[filepath.Clean(rel)] = true
		}
		for _, mp := range m.Projects {
			v.projects[mp.Name] = true
			users := v.checkUsers(mp)
			named[usersFileName(mp.Name)] = true
			for _, r := range mp.UserIndex {
				named[r.File] = true
			}
			for _, r := range mp.UserState {
				named[r.File] = true
			}
			v.checkUserState(mp, users)
			for i := range mp.Segments {
				ms := &mp.Segments[i]
				n, ok := parseSegmentFileName(ms.File)
				p := v.path(segDirName, ms.File)
				switch {
				case !ok || filepath.Base(ms.File) != ms.File:
					v.problem(v.path(manifestName), fmt.Errorf("project %s names segment %q, not a segment file name", mp.Name, ms.File))
					continue
				case named[ms.File]:
					v.problem(v.path(manifestName), fmt.Errorf("segment %s named twice", ms.File))
					continue
				case n >= m.NextFileNumber:
					v.problem(v.path(manifestName), fmt.Errorf("segment %s numbered at or above next_file_number %d", ms.File, m.NextFileNumber))
				}
				named[ms.File] = true
				v.checkSegment(p, &segmentExpect{project: mp.Name, seg: ms, users: users})
			}
			if mp.PeopleFile != "" {
				named[mp.PeopleFile] = true
				v.checkPeople(v.path(peopleDir, mp.PeopleFile), users)
			}
		}
	}
	for _, sub := range []string{segDirName, peopleDir, usersDirName} {
		names, err := v.fs.List(v.path(sub))
		if err != nil {
			if !isNotExist(err) {
				v.problem(v.path(sub), err)
			}
			continue
		}
		for _, n := range names {
			if named[n] {
				continue
			}
			if m == nil && isImmutableName(sub, n) {
				if sub == segDirName {
					v.checkSegment(v.path(sub, n), nil)
				} else if sub == usersDirName && filepath.Ext(n) == ".ust" {
					if r, err := openUserStateRun(v.fs, v.path(sub, n)); err != nil {
						v.problem(v.path(sub, n), err)
					} else {
						v.checkUserStateRun(r, -1)
						r.close()
					}
				} else if sub == usersDirName {
					if r, err := openUserIndexRun(v.fs, v.path(sub, n)); err != nil {
						v.problem(v.path(sub, n), err)
					} else {
						r.close()
					}
				} else {
					v.checkPeople(v.path(sub, n), -1)
				}
				continue
			}
			num, numbered := parseSeqName(n, filepath.Ext(n))
			if m != nil && isImmutableName(sub, n) && numbered && num < m.NextFileNumber && !obsolete[filepath.Join(sub, n)] {
				v.problem(v.path(sub, n), fmt.Errorf("no manifest accounts for this file (numbered below next_file_number %d, not obsolete): open refuses the directory", m.NextFileNumber))
				continue
			}
			v.sum.Unnamed++
		}
	}
}

// checkUsers checks a project's users file and user index runs against
// the manifest and returns its user count (-1 when unreadable).
func (v *verifier) checkUsers(mp manifestProject) int {
	p := v.path(usersDirName, usersFileName(mp.Name))
	var runs []*userIndexRun
	defer func() {
		for _, r := range runs {
			r.close()
		}
	}()
	for _, r := range mp.UserIndex {
		rp := v.path(usersDirName, r.File)
		run, err := openUserIndexRun(v.fs, rp)
		if err != nil {
			v.problem(rp, err)
			return -1
		}
		runs = append(runs, run)
		v.sum.Files++
		if int(run.first) != r.First || int(run.end) != r.End {
			v.problem(rp, corruptf(rp, 0, "covers users [%d, %d); the manifest says [%d, %d)", run.first, run.end, r.First, r.End))
			return -1
		}
	}
	d, err := loadUserDict(v.fs, p, mp.Users, runs, 0)
	if err != nil {
		v.problem(p, err)
		return -1
	}
	defer d.file.close()
	if mp.Users > 0 {
		v.sum.Files++
		if d.fileBytes != mp.UsersBytes {
			v.problem(p, corruptf(p, d.fileBytes, "%d users end at byte %d; the manifest says users_bytes %d", mp.Users, d.fileBytes, mp.UsersBytes))
		}
	}
	for _, r := range runs {
		v.checkUserIndexRun(d, r)
	}
	v.sum.Users += d.Len()
	return d.Len()
}

// checkUserIndexRun reads every page of r: each user of its range once,
// under the hash of its distinct_id, and no distinct_id under two users.
func (v *verifier) checkUserIndexRun(d *userDict, r *userIndexRun) {
	ids := d.view()
	seen := roaring.New()
	next := r.iterator()
	var group []uint32 // users of the current hash
	var groupHash uint64
	checkGroup := func() bool {
		for i := 0; i < len(group); i++ {
			for j := i + 1; j < len(group); j++ {
				a, errA := ids.id(group[i])
				b, errB := ids.id(group[j])
				if errA != nil || errB != nil {
					v.problem(d.file.path, cmp.Or(errA, errB))
					return false
				}
				if a == b {
					v.problem(d.file.path, corruptf(d.file.path, 0, "distinct_id %q listed twice (users %d and %d)", a, group[i], group[j]))
				}
			}
		}
		return true
	}
	for {
		e, ok, err := next()
		if err != nil {
			v.problem(r.path, err)
			return
		}
		if !ok {
			break
		}
		if e.number < r.first || e.number >= r.end || !seen.CheckedAdd(e.number) {
			v.problem(r.path, corruptf(r.path, 0, "user %d listed twice or outside [%d, %d)", e.number, r.first, r.end))
			return
		}
		id, err := ids.id(e.number)
		if err != nil {
			v.problem(d.file.path, err)
			return
		}
		if hashUserID(id) != e.hash {
			v.problem(r.path, corruptf(r.path, 0, "user %d listed under hash %016x; its distinct_id %q hashes to %016x", e.number, e.hash, id, hashUserID(id)))
			return
		}
		if e.hash != groupHash && len(group) > 0 {
			if !checkGroup() {
				return
			}
			group = group[:0]
		}
		group, groupHash = append(group, e.number), e.hash
	}
	checkGroup()
	if int(seen.GetCardinality()) != r.entries {
		v.problem(r.path, corruptf(r.path, 0, "%d users listed; the run covers %d", seen.GetCardinality(), r.entries))
	}
}

// segmentExpect is what the manifest says about a segment.
type segmentExpect struct {
	project string
	seg     *manifestSegment
	users   int // the project's user count; -1 unknown
}

// checkSegment reads every section of the segment at p; want is nil for a
// segment no readable manifest describes.
func (v *verifier) checkSegment(p string, want *segmentExpect) {
	f, err := v.fs.Open(p)
	if err != nil {
		v.problem(p, fmt.Errorf("named by MANIFEST but cannot be opened: %w", err))
		return
	}
	defer f.Close()
	v.sum.Files++
	v.sum.Segments++
	st, err := f.Stat()
	if err != nil {
		v.problem(p, err)
		return
	}
	if want != nil && st.Size() != want.seg.Bytes {
		v.problem(p, fmt.Errorf("file of %d bytes; the manifest says %d", st.Size(), want.seg.Bytes))
	}
	seg, err := OpenSegment(f, st.Size(), p)
	if err != nil {
		v.problem(p, err)
		return
	}
	v.sum.Rows += int64(seg.Rows())
	var dayStart int64
	checkDay := false
	if want != nil {
		if seg.Rows() != want.seg.Rows {
			v.problem(p, fmt.Errorf("segment holds %d rows; the manifest says %d", seg.Rows(), want.seg.Rows))
		}
		var meta struct{ Project, Day string }
		if err := json.Unmarshal(seg.Meta(), &meta); err != nil || meta.Project != want.project || meta.Day != want.seg.Day {
			v.problem(p, fmt.Errorf("segment meta %s does not name project %s, day %s as the manifest does", seg.Meta(), want.project, want.seg.Day))
		}
		if t, err := time.Parse(time.DateOnly, want.seg.Day); err != nil {
			v.problem(v.path(manifestName), fmt.Errorf("segment %s: bad day %q", filepath.Base(p), want.seg.Day))
		} else {
			dayStart, checkDay = t.UnixMilli(), true
		}
	}
	for _, col := range seg.footer.Columns {
		c := seg.cols[col.Name]
		if c.Dict != nil {
			if _, err := seg.Dict(col.Name); err != nil {
				v.problem(p, err)
			}
		}
		if c.Bitmaps != nil {
			if _, _, err := seg.ValueBitmap(col.Name, 0); err != nil {
				v.problem(p, err)
			}
		}
		for b := range c.Blocks {
			v.sum.Blocks++
			blk, err := seg.ReadBlock(col.Name, b)
			if err != nil {
				v.problem(p, err)
				continue
			}
			off := c.Blocks[b].Offset
			switch {
			case col.Name == ColTime && checkDay:
				for i, ms := range blk.Ints {
					if ms < dayStart || ms >= dayStart+24*3600*1000 {
						v.problem(p, corruptf(p, off, "column %q block %d row %d: time %d outside day %s", col.Name, b, i, ms, want.seg.Day))
						break
					}
				}
			case col.Name == ColUserNumber && want != nil && want.users >= 0:
				for i, n := range blk.Ints {
					if n < 0 || n >= int64(want.users) {
						v.problem(p, corruptf(p, off, "column %q block %d row %d: user %d beyond the %d users of project %s", col.Name, b, i, n, want.users, want.project))
						break
					}
				}
			}
		}
	}
}

// checkPeople reads a people file and its identity state; users is the
// project's user count (-1 unknown: the identity state is not checked).
func (v *verifier) checkPeople(p string, users int) {
	st, err := readPeopleFile(v.fs, p)
	if err != nil {
		v.problem(p, err)
		return
	}
	v.sum.Files++
	if len(st.identity) > 0 && users >= 0 {
		if err := migrateIdentity(newUserState(func() int { return users }), st.identity, users); err != nil {
			v.problem(p, corruptf(p, 0, "identity state: %v", err))
		}
	}
}

// checkUserState checks a project's user state runs: each run on its own
// (checkUserStateRun), then the identity they hold together: every
// user's canonical is its own canonical and no better user than it.
func (v *verifier) checkUserState(mp manifestProject, users int) {
	st := newUserState(func() int { return users })
	defer st.close()
	for _, r := range mp.UserState {
		rp := v.path(usersDirName, r.File)
		run, err := openUserStateRun(v.fs, rp)
		if err != nil {
			v.problem(rp, err)
			return
		}
		st.runs = append(st.runs, run)
		v.sum.Files++
		if run.entries != r.Entries {
			v.problem(rp, corruptf(rp, 0, "holds %d entries; the manifest says %d", run.entries, r.Entries))
			return
		}
		if !v.checkUserStateRun(run, users) {
			return
		}
	}
	if users < 0 {
		return
	}
	for c := 0; c*identChunkUsers < users; c++ {
		ch, err := st.chunk(uint32(c))
		if err != nil {
			v.problem(v.path(usersDirName), err)
			return
		}
		if ch == nil {
			continue
		}
		for o := 0; o < identChunkUsers && c*identChunkUsers+o < users; o++ {
			u := uint32(c*identChunkUsers + o)
			k := ch.canonOf(u)
			if k == u {
				continue
			}
			kk, err := st.canonical(k)
			if err == nil && kk != k {
				err = fmt.Errorf("identity: user %d's canonical %d has the canonical %d", u, k, kk)
			}
			if err == nil {
				if b, e := st.better(u, k); e != nil {
					err = e
				} else if b {
					err = fmt.Errorf("identity: user %d is the canonical of a cluster holding the better user %d", k, u)
				}
			}
			if err != nil {
				v.problem(v.path(usersDirName), err)
				return
			}
		}
	}
}

// checkUserStateRun reads every block of r and decodes every value;
// users bounds user numbers (-1: unknown, identity not decoded).
func (v *verifier) checkUserStateRun(r *userStateRun, users int) bool {
	n := 0
	var bad error
	for i := range r.first {
		body, err := r.readBlock(i)
		if err == nil {
			err = r.blockEntries(i, body, func(e userStateEntry) bool {
				n++
				if e.del {
					return true
				}
				switch kind, num := uint32(e.key>>32), uint32(e.key); {
				case kind == userStatePerson:
					if users >= 0 && int(num) >= users {
						bad = corruptf(r.path, r.off[i], "profile of user %d beyond the %d users", num, users)
					} else if _, err := decodePersonValue(e.val); err != nil {
						bad = corruptf(r.path, r.off[i], "profile of user %d: %v", num, err)
					}
				case kind == userStateGroups:
					if _, err := decodeGroupBucket(e.val, num); err != nil {
						bad = corruptf(r.path, r.off[i], "%v", err)
					}
				case kind == userStateIdentity:
					if users >= 0 {
						if _, err := decodeIdentChunk(e.val, num, users); err != nil {
							bad = corruptf(r.path, r.off[i], "%v", err)
						}
					}
				default:
					bad = corruptf(r.path, r.off[i], "unknown key kind %d", kind)
				}
				return bad == nil
			})
		}
		if err == nil {
			err = bad
		}
		if err != nil {
			v.problem(r.path, err)
			return false
		}
	}
	if n != r.entries {
		v.problem(r.path, corruptf(r.path, 0, "holds %d entries; its index says %d", n, r.entries))
		return false
	}
	return true
}

// checkWAL reads every record of the live WAL files. With m nil (no
// readable manifest) every WAL file is live.
func (v *verifier) checkWAL(m *manifestBody) {
	walDir := v.path(walDirName)
	seqs, err := listWALSeqs(v.fs, walDir)
	if err != nil {
		if !isNotExist(err) {
			v.problem(walDir, err)
		}
		return
	}
	start := uint64(0)
	if m != nil {
		start = m.WALStartSeq
	}
	prev := uint64(0)
	for _, seq := range seqs {
		if seq < start {
			v.sum.Unnamed++
			continue
		}
		p := filepath.Join(walDir, walFileName(seq))
		if prev != 0 && seq != prev+1 {
			v.problem(p, fmt.Errorf("write-ahead log files %s to %s are missing", walFileName(prev+1), walFileName(seq-1)))
		} else if prev == 0 && m != nil && seq != start {
			v.problem(p, fmt.Errorf("write-ahead log starts here; the manifest needs it from %s", walFileName(start)))
		}
		prev = seq
		v.sum.Files++
		v.sum.WALFiles++
		last := seq == seqs[len(seqs)-1]
		n, _, torn, err := readWALFile(v.fs, walDir, seq, last, func(pos WALPosition, payload []byte) error {
			if err := v.checkWALPayload(payload, m == nil); err != nil {
				return corruptf(p, pos.Offset, "record: %v", err)
			}
			return nil
		})
		v.sum.WALRecords += n
		if torn {
			v.sum.TornTail = p
		}
		if err != nil {
			v.problem(p, err)
		}
	}
}

// checkWALPayload decodes one record as replay would. lenient skips the
// project check (no manifest to know the projects from).
func (v *verifier) checkWALPayload(payload []byte, lenient bool) error {
	if len(payload) == 0 {
		return fmt.Errorf("empty")
	}
	var project string
	switch recordKind(payload[0]) {
	case kindCatalog:
		var c catalogRecord
		if err := json.Unmarshal(payload[1:], &c); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		v.projects[c.Name] = true
		return nil
	case kindEvents, kindPeople:
		b, err := DecodeEventBatch(payload[1:])
		if err != nil {
			return err
		}
		project = b.Project
	case kindProfiles:
		d := &batchDecoder{src: payload, off: 1}
		table := d.string()
		if d.err != nil {
			return fmt.Errorf("profiles: %w", d.err)
		}
		if table != TablePeople && table != TableGroups {
			return fmt.Errorf("profiles: unknown table %q", table)
		}
		b, err := DecodeEventBatch(payload[d.off:])
		if err != nil {
			return err
		}
		project = b.Project
	default:
		return fmt.Errorf("unknown record kind %d", payload[0])
	}
	if !lenient && !v.projects[project] {
		return fmt.Errorf("batch for project %q, which neither the manifest nor an earlier record creates", project)
	}
	return nil
}

// listWALSeqs lists the WAL files of walDir, ascending.
func listWALSeqs(fs FS, walDir string) ([]uint64, error) {
	w := &WAL{opts: WALOptions{FS: fs, Dir: walDir}}
	return w.listFiles()
}

// readWALFile reads every record of WAL file seq with the WAL's own
// record reading (scanWALFile), changing nothing, and returns the record
// count and the end of the last whole record that verifies. The first
// record that does not verify is an error naming file and offset; when a
// crash explains it (a torn tail, wal_replay.go) and last is set, it is
// no error: the file's whole records end there, as Open would truncate it.
// fn, if not nil, sees each record that verifies.
func readWALFile(fs FS, walDir string, seq uint64, last bool, fn func(WALPosition, []byte) error) (n int, end int64, torn bool, err error) {
	p := filepath.Join(walDir, walFileName(seq))
	f, err := fs.Open(p)
	if err != nil {
		return 0, 0, false, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, false, fmt.Errorf("stat %s: %w", p, err)
	}
	size := st.Size()
	var fnErr error
	n, fault, err := scanWALFile(f, size, seq, func(off int64, payload []byte) error {
		if fn != nil {
			fnErr = fn(WALPosition{Seq: seq, Offset: off}, payload)
		}
		return fnErr
	})
	if fnErr != nil {
		return n, 0, false, fnErr
	}
	if err != nil {
		return n, 0, false, fmt.Errorf("%s: %w", p, err)
	}
	if fault == nil {
		return n, size, false, nil
	}
	if last && fault.Torn {
		return n, max(fault.Offset, 0), true, nil
	}
	msg, err := describeDamage(f, size, fault)
	if err != nil {
		return n, 0, false, fmt.Errorf("%s: %w", p, err)
	}
	if fault.Torn {
		msg += " (a torn tail, but not in the last file, so no crash explains it)"
	}
	return n, 0, false, corruptf(p, fault.Offset, "%s", msg)
}

// String is the one-line summary arb verify prints.
func (s *VerifySummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files, %d segments, %d blocks, %d rows, %d users, %d WAL files, %d WAL records",
		s.Files, s.Segments, s.Blocks, s.Rows, s.Users, s.WALFiles, s.WALRecords)
	if s.TornTail != "" {
		fmt.Fprintf(&b, " (%s ends in a torn record a crash left; the next open truncates it)", s.TornTail)
	}
	if s.Unnamed > 0 {
		fmt.Fprintf(&b, " (%d files no manifest names, removed at the next open)", s.Unnamed)
	}
	return b.String()
}
