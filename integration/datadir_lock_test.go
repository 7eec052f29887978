package integration

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDataDirLock starts a second bin/arb on the data directory of a
// running one (other ports): it must exit non-zero within seconds naming
// the directory and the first server's PID, and change nothing in the
// directory, while the first server answers on and keeps every event.
func TestDataDirLock(t *testing.T) {
	// No flush during the test: the listing below must not move on its own.
	arb := startArb(t, "--flush-interval", "1h")
	insertEvents(t, arb, 0, 200)
	before := listDataDir(t, arb.dir)

	start := time.Now()
	out, err := runArb(t, "serve", "--data-dir", arb.dir,
		"--mysql-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--http-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a second arb on the same data directory started:\n%s", out)
	}
	if took > 5*time.Second {
		t.Fatalf("the second arb took %v to fail; it must fail at once", took.Round(time.Millisecond))
	}
	want := fmt.Sprintf("data directory %s is in use by process %d", arb.dir, arb.cmd.Process.Pid)
	if !strings.Contains(out, want) {
		t.Fatalf("the second arb's output does not say %q:\n%s", want, out)
	}
	if after := listDataDir(t, arb.dir); after != before {
		t.Fatalf("the second arb changed the data directory:\nbefore\n%s\nafter\n%s", before, after)
	}

	// The first server goes on: it answers, takes more, and keeps all
	// of it across a restart.
	expect(t, "count after the second start", queryString(t, arb.DB(), "SELECT count(*) FROM events"), "200")
	insertEvents(t, arb, 200, 100)
	arb.Stop()
	arb.Restart()
	expect(t, "count after restart", queryString(t, arb.DB(), "SELECT count(*), count(DISTINCT insert_id) FROM events"), "300|300")
}

// TestBusyPortLeavesDataDirAlone: a start whose MySQL or HTTP port is
// taken fails naming the address, and creates nothing in a new data
// directory (the ports are bound before the directory is locked).
func TestBusyPortLeavesDataDirAlone(t *testing.T) {
	for _, busy := range []string{"mysql", "http"} {
		t.Run(busy, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			heldAddr := held.Addr().String()
			mysqlAddr, httpAddr := heldAddr, fmt.Sprintf("127.0.0.1:%d", freePort(t))
			if busy == "http" {
				mysqlAddr, httpAddr = httpAddr, heldAddr
			}
			dir := filepath.Join(t.TempDir(), "data")
			out, err := runArb(t, "serve", "--data-dir", dir, "--mysql-addr", mysqlAddr, "--http-addr", httpAddr)
			if err == nil {
				t.Fatalf("arb started with its %s port %s taken:\n%s", busy, heldAddr, out)
			}
			if !strings.Contains(out, heldAddr) {
				t.Fatalf("the error does not name the busy address %s:\n%s", heldAddr, out)
			}
			entries, err := os.ReadDir(dir)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if len(entries) > 0 {
				t.Fatalf("a start that failed on a busy port left %s in the data directory", listDataDir(t, dir))
			}
		})
	}
}

// insertEvents inserts n events numbered from first over SQL; each
// statement returning means they are acknowledged.
func insertEvents(t *testing.T, arb *arbProcess, first, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("INSERT INTO events (time, event, distinct_id, insert_id) VALUES ")
	for i := first; i < first+n; i++ {
		if i > first {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "('2025-01-%02d 10:00:00', 'E%d', 'u%d', 'lock-%d')", 1+i%5, i%3, i%17, i)
	}
	exec1(t, arb.DB(), b.String())
}

// runArb runs bin/arb expecting it to exit by itself within 30 s (it is
// killed then) and returns its combined output.
func runArb(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, arbBinary(t), args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("arb %s did not exit within 30 s:\n%s", strings.Join(args, " "), out)
	}
	return string(out), err
}

// listDataDir lists every entry below dir with mode, size and
// modification time, sorted: equal listings mean nothing was changed.
func listDataDir(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		lines = append(lines, rel+" "+info.Mode().String()+" "+strconv.FormatInt(info.Size(), 10)+" "+
			info.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
