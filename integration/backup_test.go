package integration

import (
	"database/sql"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// runArbCmd runs a bin/arb command and returns its combined output and exit
// code.
func runArbCmd(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(arbBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("arb %v: %v", args, err)
	}
	return string(out), 0
}

// startArbIn starts bin/arb on an existing data directory.
func startArbIn(t *testing.T, dir string, extra ...string) *arbProcess {
	t.Helper()
	p := &arbProcess{t: t, bin: arbBinary(t), dir: dir, mysqlPort: freePort(t), httpPort: freePort(t), extra: extra}
	p.start()
	t.Cleanup(func() {
		if p.cmd != nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("arb (restored) log:\n%s", p.log.String())
		}
	})
	return p
}

// backupWriter ingests batches of 10 events, alternately over HTTP
// /import and SQL INSERT, each batch tagged with its id in property
// "batch", and records the batches acknowledged.
type backupWriter struct {
	arb *arbProcess
	// firstDay: events fall on 2025-01-firstDay and the day after.
	firstDay atomic.Int32
	mu       sync.Mutex
	next     int
	// acked lists acknowledged batch ids in the order acknowledged.
	acked []string
}

func (w *backupWriter) ackedCopy() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]bool, len(w.acked))
	for _, b := range w.acked {
		out[b] = true
	}
	return out
}

func (w *backupWriter) batch(t *testing.T, r *rand.Rand) error {
	w.mu.Lock()
	id := fmt.Sprintf("b%d", w.next)
	w.next++
	w.mu.Unlock()
	events := []string{"Signup", "View", "Purchase"}
	tiers := []string{"free", "pro", "team"}
	if r.Intn(2) == 0 {
		var recs []string
		for i := 0; i < 10; i++ {
			ts := time.Date(2025, 1, int(w.firstDay.Load())+r.Intn(2), r.Intn(24), 0, 0, 0, time.UTC).UnixMilli()
			recs = append(recs, fmt.Sprintf(`{"event":%q,"properties":{"time":%d,"distinct_id":"u%d","$insert_id":"%s-%d","batch":%q,"tier":%q,"amount":%d}}`,
				events[r.Intn(3)], ts, r.Intn(40), id, i, id, tiers[r.Intn(3)], r.Intn(100)))
		}
		req, _ := http.NewRequest("POST", w.arb.url("/import?strict=1"), strings.NewReader("["+strings.Join(recs, ",")+"]"))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("secb", "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/import: %s", resp.Status)
		}
	} else {
		var b strings.Builder
		b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, batch, tier, amount) VALUES ")
		for i := 0; i < 10; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "('2025-01-%02d %02d:00:00', '%s', 'u%d', '%s-%d', '%s', '%s', %d)",
				int(w.firstDay.Load())+r.Intn(2), r.Intn(24), events[r.Intn(3)], r.Intn(40), id, i, id, tiers[r.Intn(3)], r.Intn(100))
		}
		if _, err := w.arb.DB().Exec(b.String()); err != nil {
			return err
		}
	}
	w.mu.Lock()
	w.acked = append(w.acked, id)
	w.mu.Unlock()
	return nil
}

// batchCounts maps each batch id of the server's events to its row count.
func batchCounts(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.Query("SELECT insert_id FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id]++
	}
	out := map[string]int{}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("insert id %s is there %d times", id, n)
		}
		b, _, _ := strings.Cut(id, "-")
		out[b]++
	}
	return out
}

var segmentsLine = regexp.MustCompile(`sent (\d+) segment files`)
var keptLine = regexp.MustCompile(`kept (\d+) unchanged segment files`)

func reportNumber(t *testing.T, re *regexp.Regexp, out string) int {
	t.Helper()
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in the output of arb backup:\n%s", re, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestBackupRestore: (a) a backup taken over HTTP while a client keeps
// ingesting restores to a server that holds every batch acknowledged
// before the backup started exactly once, no batch in part, and answers
// aggregates as the source does over the same batches; (b) a second
// backup after more flushes sends only the new segment files and leaves
// the others untouched. Flushes and compactions run throughout.
func TestBackupRestore(t *testing.T) {
	// Compaction runs with its defaults: a day is merged at 4 segments or
	// once quiet for 30 s, so later days get merged during the test and
	// the first two, quiet from before the first backup, stay as they are.
	arb := startArb(t, "--project", "shop:tokb:secb", "--flush-rows", "300", "--flush-interval", "1s")
	w := &backupWriter{arb: arb}
	w.firstDay.Store(1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewSource(time.Now().UnixNano()))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := w.batch(t, r); err != nil {
				t.Errorf("ingest: %v", err)
				return
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	waitAcked := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for len(w.ackedCopy()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d batches acknowledged in 60 s", len(w.ackedCopy()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAcked(80) // several flushes (300 rows each) happened
	// Later events go to other days, and the first days' last rows are
	// flushed before the backup, so that compaction leaves those days
	// alone and the second backup can keep their segments.
	w.firstDay.Store(3)
	time.Sleep(1500 * time.Millisecond)
	dir := filepath.Join(t.TempDir(), "backup")
	before := w.ackedCopy()
	out, code := runArbCmd(t, nil, "backup", "--server", fmt.Sprintf("127.0.0.1:%d", arb.httpPort), "--to", dir)
	if code != 0 {
		t.Fatalf("arb backup exited %d:\n%s", code, out)
	}
	t.Logf("first backup, %d batches acknowledged before it:\n%s", len(before), out)
	if reportNumber(t, segmentsLine, out) == 0 {
		t.Fatalf("first backup sent no segment file")
	}
	type stamp struct {
		ino   uint64
		mtime time.Time
	}
	stamps := map[string]stamp{}
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	for _, p := range segs {
		st, _ := os.Stat(p)
		stamps[filepath.Base(p)] = stamp{st.Sys().(*syscall.Stat_t).Ino, st.ModTime()}
	}

	// (a) restore, serve, compare.
	restored := filepath.Join(t.TempDir(), "restored")
	out, code = runArbCmd(t, nil, "restore", "--from", dir, "--data-dir", restored)
	if code != 0 {
		t.Fatalf("arb restore exited %d:\n%s", code, out)
	}
	if out2, code := runArbCmd(t, nil, "restore", "--from", dir, "--data-dir", restored); code == 0 || !strings.Contains(out2, "not empty") {
		t.Fatalf("restore into a non-empty directory: exit %d\n%s", code, out2)
	}
	r := startArbIn(t, restored)
	rdb, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/shop?parseTime=true&loc=UTC", r.mysqlPort))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	got := batchCounts(t, rdb)
	for b := range before {
		if got[b] != 10 {
			t.Errorf("batch %s acknowledged before the backup: %d of 10 events restored", b, got[b])
		}
	}
	var list []string
	for b, n := range got {
		if n != 10 {
			t.Errorf("batch %s restored in part: %d of 10 events", b, n)
		}
		list = append(list, "'"+b+"'")
	}
	sort.Strings(list)
	in := strings.Join(list, ",")
	for _, q := range []string{
		"SELECT event, count(*), sum(amount), count(DISTINCT distinct_id) FROM events WHERE batch IN (%s) GROUP BY event ORDER BY event",
		"SELECT tier, count(*), min(amount), max(amount) FROM events WHERE batch IN (%s) GROUP BY tier ORDER BY tier",
		"SELECT date(time), count(*) FROM events WHERE batch IN (%s) GROUP BY 1 ORDER BY 1",
		"SELECT count(*), count(DISTINCT distinct_id), sum(amount) FROM events WHERE batch IN (%s)",
	} {
		q := fmt.Sprintf(q, in)
		if src, dst := queryString(t, arb.DB(), q), queryString(t, rdb, q); src != dst {
			t.Errorf("%.90s…: source answers\n%s\nrestored answers\n%s", q, src, dst)
		}
	}
	if all := queryString(t, rdb, "SELECT count(*) FROM events"); all != fmt.Sprint(10*len(got)) {
		t.Errorf("restored server holds %s events, want %d", all, 10*len(got))
	}
	t.Logf("restored %d batches (%d acknowledged before the backup)", len(got), len(before))

	// (b) incremental: more flushes, then a second backup into dir.
	waitAcked(len(before) + 80)
	time.Sleep(1500 * time.Millisecond) // a flush interval passes
	out, code = runArbCmd(t, nil, "backup", "--server", fmt.Sprintf("127.0.0.1:%d", arb.httpPort), "--to", dir)
	if code != 0 {
		t.Fatalf("second arb backup exited %d:\n%s", code, out)
	}
	t.Logf("second backup:\n%s", out)
	sent, kept := reportNumber(t, segmentsLine, out), reportNumber(t, keptLine, out)
	segs, _ = filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	newFiles, oldFiles := 0, 0
	for _, p := range segs {
		st, _ := os.Stat(p)
		s, existed := stamps[filepath.Base(p)]
		if !existed {
			newFiles++
			continue
		}
		oldFiles++
		if s.ino != st.Sys().(*syscall.Stat_t).Ino || !s.mtime.Equal(st.ModTime()) {
			t.Errorf("%s was rewritten by the second backup", p)
		}
	}
	if sent != newFiles || kept != oldFiles || sent == 0 || kept == 0 {
		t.Errorf("second backup sent %d and kept %d segment files; the directory holds %d new and %d old ones", sent, kept, newFiles, oldFiles)
	}
	close(stop)
	wg.Wait()

	// Auth: the source has no root password, so loopback clients may back
	// up; a server with one needs it.
	locked := startArb(t, "--root-password", "s3cret")
	lockedDir := filepath.Join(t.TempDir(), "b2")
	addr := fmt.Sprintf("127.0.0.1:%d", locked.httpPort)
	if out, code := runArbCmd(t, nil, "backup", "--server", addr, "--to", lockedDir); code == 0 || !strings.Contains(out, "401") {
		t.Errorf("backup without the root password: exit %d\n%s", code, out)
	}
	if out, code := runArbCmd(t, []string{"ARB_ROOT_PASSWORD=s3cret"}, "backup", "--server", addr, "--to", lockedDir); code != 0 {
		t.Errorf("backup with ARB_ROOT_PASSWORD: exit %d\n%s", code, out)
	}
}

// TestBackupDataDirAndVerify: (d) arb backup --data-dir on a directory a
// running server holds fails naming its PID; once it is stopped the same
// command works; (c) arb verify passes the result and names the file and
// offset of one flipped byte in a segment block, in the MANIFEST and in a
// WAL record.
func TestBackupDataDirAndVerify(t *testing.T) {
	arb := startArb(t, "--flush-rows", "100", "--flush-interval", "1h")
	var b strings.Builder
	b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id, tier) VALUES ")
	for i := 0; i < 150; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "('2025-01-0%d 10:00:00', 'E%d', 'u%d', 'i%d', 'p%d')", 1+i%3, i%4, i%20, i, i%2)
	}
	exec1(t, arb.DB(), b.String())
	deadline := time.Now().Add(30 * time.Second)
	for {
		if segs, _ := filepath.Glob(filepath.Join(arb.dir, "segments", "*.seg")); len(segs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no flush to segments after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	exec1(t, arb.DB(), "INSERT INTO events (time, event, distinct_id, insert_id) VALUES ('2025-01-04 10:00:00', 'Late', 'u1', 'late1')")

	dir := filepath.Join(t.TempDir(), "backup")
	out, code := runArbCmd(t, nil, "backup", "--data-dir", arb.dir, "--to", dir)
	pid := fmt.Sprint(arb.cmd.Process.Pid)
	if code == 0 || !strings.Contains(out, "process "+pid) {
		t.Fatalf("backup --data-dir of a running server's directory: exit %d, want a failure naming PID %s:\n%s", code, pid, out)
	}
	arb.Kill() // the last insert is only in the WAL
	out, code = runArbCmd(t, nil, "backup", "--data-dir", arb.dir, "--to", dir)
	if code != 0 {
		t.Fatalf("backup --data-dir of a stopped server: exit %d\n%s", code, out)
	}
	out, code = runArbCmd(t, nil, "verify", "--data-dir", dir)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "1 WAL records") {
		t.Fatalf("verify of a clean backup: exit %d\n%s", code, out)
	}
	t.Logf("clean: %s", out)

	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	wals, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(segs) == 0 || len(wals) == 0 {
		t.Fatalf("backup holds %d segments and %d WAL files", len(segs), len(wals))
	}
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
	for _, c := range []struct {
		name       string
		file       string
		flip       int64
		wantOffset int64
	}{
		{"segment block", rel(segs[0]), 8 + 2, 8},      // first block of the first column starts after the magic
		{"manifest", "MANIFEST", 16 + 20, 16},          // body after the 16-byte frame header
		{"wal record", rel(wals[len(wals)-1]), 30, 16}, // first record after the 16-byte file header
	} {
		t.Run(c.name, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "copy")
			if out, err := exec.Command("cp", "-a", dir, cp).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v\n%s", err, out)
			}
			path := filepath.Join(cp, c.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[c.flip] ^= 0x20
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := runArbCmd(t, nil, "verify", "--data-dir", cp)
			want := fmt.Sprintf("%s: at offset %d:", path, c.wantOffset)
			if code != 1 || !strings.Contains(out, want) {
				t.Fatalf("verify after flipping byte %d of %s: exit %d, want 1 and a line %q:\n%s", c.flip, c.file, code, want, out)
			}
		})
	}
}
