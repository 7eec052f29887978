package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestDiskFullRefusesWritesAndRecovers runs bin/arb on a real tmpfs of
// 8 MiB, fills it, and checks that writes are refused with a clear error
// (HTTP 507 with the reason, MySQL ER_DISK_FULL) while /readyz says 503
// and why; that once the space is freed /readyz turns 200 and writes
// resume without a restart; and that every acknowledged event is there
// exactly once — live, and after a restart — and no refused one.
func TestDiskFullRefusesWritesAndRecovers(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "tmpfs")
	mountTmpfs(t, mnt, "8m")
	arb := startArbAt(t, filepath.Join(mnt, "data"), "--project", "df:dftok:dfsec")

	acked := map[string]bool{} // insert ids acknowledged
	refusedOnly := map[string]bool{}
	// batch is n events of about 1 KB each, so that a batch needs fresh
	// pages of the tmpfs and cannot fit in the WAL's last page.
	batch := func(name string, n int) ([]byte, []string) {
		var b strings.Builder
		var ids []string
		b.WriteString("[")
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("%s-%d", name, i)
			ids = append(ids, id)
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"event":"E","properties":{"time":%d,"distinct_id":"u%d","$insert_id":"%s","pad":"%s"}}`,
				time.Now().UnixMilli(), i%7, id, strings.Repeat("p", 1000))
		}
		b.WriteString("]")
		return []byte(b.String()), ids
	}
	post := func(body []byte) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", arb.url("/import?strict=1"), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("dfsec", "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	importOK := func(name string) {
		t.Helper()
		body, ids := batch(name, 20)
		if status, _, b := post(body); status != 200 {
			t.Fatalf("import %s: %d %s", name, status, b)
		}
		for _, id := range ids {
			acked[id] = true
		}
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(arb.url(path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if status, body := get("/readyz"); status != 200 || body != "ready\n" {
		t.Fatalf("/readyz before the fault: %d %q", status, body)
	}
	importOK("before-1")
	importOK("before-2")

	// Fill the disk.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the tmpfs: %v", err)
			}
			break
		}
	}
	f.Close()

	// Writes are refused, with the reason, and nothing of them stored.
	body, ids := batch("refused", 20)
	status, hdr, text := post(body)
	if status != http.StatusInsufficientStorage || !strings.Contains(text, "disk full") || !strings.Contains(text, "no space left on device") || hdr.Get("Retry-After") == "" {
		t.Fatalf("import on a full disk: %d (Retry-After %q) %s; want 507 naming the full disk, with Retry-After", status, hdr.Get("Retry-After"), text)
	}
	for _, id := range ids {
		refusedOnly[id] = true
	}
	status, text = get("/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(text, "disk full") || !strings.Contains(text, "writes refused since") {
		t.Fatalf("/readyz on a full disk: %d %q; want 503 naming the fault and since when", status, text)
	}
	if status, text := get("/healthz"); status != 200 {
		t.Fatalf("/healthz (liveness) on a full disk: %d %q", status, text)
	}
	_, err = arb.DB().Exec("INSERT INTO events (time, event, distinct_id, insert_id, pad) VALUES (NOW(), 'E', 'sql', 'refused-sql', ?)", strings.Repeat("q", 20000))
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1021 || !strings.Contains(me.Message, "disk full") {
		t.Fatalf("INSERT on a full disk: %v; want MySQL error 1021 (ER_DISK_FULL) naming the fault", err)
	}
	refusedOnly["refused-sql"] = true
	// Queries still work.
	if got := queryString(t, arb.DB(), "SELECT count(*) FROM events"); got != fmt.Sprint(len(acked)) {
		t.Fatalf("count on a full disk: %s, want %d", got, len(acked))
	}
	_, metrics := get("/metrics")
	if !strings.Contains(metrics, `arb_writes_refused_now{reason="disk_full"} 1`) || strings.Contains(metrics, `arb_writes_refused_total{reason="disk_full"} 0`) ||
		!strings.Contains(metrics, "arb_store_failed 0") {
		t.Fatalf("metrics on a full disk do not show the refusal:\n%s", grepLines(metrics, "arb_writes_refused", "arb_store_failed"))
	}

	// Free the space: readiness turns green and writes resume, no restart.
	freed := time.Now()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	status, text = get("/readyz")
	recovery := time.Since(freed)
	if status != 200 || text != "ready\n" {
		t.Fatalf("/readyz after freeing the space: %d %q", status, text)
	}
	t.Logf("recovery: /readyz 200 %v after the space was freed (first probe)", recovery.Round(time.Microsecond))
	importOK("after-1")
	importOK("after-2")
	exec1(t, arb.DB(), "INSERT INTO events (time, event, distinct_id, insert_id) VALUES (NOW(), 'E', 'sql', 'after-sql')")
	acked["after-sql"] = true
	_, metrics = get("/metrics")
	if !strings.Contains(metrics, `arb_writes_refused_now{reason="disk_full"} 0`) {
		t.Fatalf("metrics after recovery:\n%s", grepLines(metrics, "arb_writes_refused"))
	}

	checkExactlyOnce(t, arb, acked, refusedOnly, "live")
	arb.Stop()
	arb.Restart()
	checkExactlyOnce(t, arb, acked, refusedOnly, "after a restart")
	arb.Kill()
	arb.Restart()
	checkExactlyOnce(t, arb, acked, refusedOnly, "after a kill -9")
}

// checkExactlyOnce checks every acknowledged insert id is stored once and
// no refused one at all.
func checkExactlyOnce(t *testing.T, arb *arbProcess, acked, refused map[string]bool, when string) {
	t.Helper()
	rows, err := arb.DB().Query("SELECT insert_id, count(*) FROM events GROUP BY insert_id")
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	defer rows.Close()
	seen := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		seen[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var bad []string
	for id := range acked {
		if seen[id] != 1 {
			bad = append(bad, fmt.Sprintf("%s acknowledged, stored %d times", id, seen[id]))
		}
	}
	for id, n := range seen {
		if refused[id] {
			bad = append(bad, fmt.Sprintf("%s refused, stored %d times", id, n))
		} else if !acked[id] {
			bad = append(bad, fmt.Sprintf("%s never sent, stored %d times", id, n))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%s: %d acknowledged events, wrong: %q", when, len(acked), bad)
	}
}

// grepLines keeps the lines of text containing any of subs.
func grepLines(text string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
