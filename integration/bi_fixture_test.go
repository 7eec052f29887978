package integration

// The data set the BI driver tests (bi_drivers_test.go) and the guide
// test (bi_guide_test.go) load: a deterministic month of shop events and
// a read-only analyst, with the answers the tests expect computed here
// from the same rows, so a driver that drops, caps or mis-groups rows
// gets a count that differs.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// biEvent is one row of the fixture.
type biEvent struct {
	time     time.Time
	event    string
	distinct string
	plan     string
	amount   float64 // only on Purchase; NULL elsewhere
}

const (
	biEvents          = 2000
	biAnalystPassword = "an4lyst-pw"
	biRootPassword    = "r00t-pw"
)

var biStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// biFixtureEvents is the fixture: every 1013 seconds from 2025-01-01
// (about 23 days), three page views to one signup and one purchase, 97
// users, a third of the rows on the pro plan.
func biFixtureEvents() []biEvent {
	kinds := []string{"Page View", "Page View", "Page View", "Signup", "Purchase"}
	out := make([]biEvent, biEvents)
	for i := range out {
		e := biEvent{
			time:     biStart.Add(time.Duration(i) * 1013 * time.Second),
			event:    kinds[i%len(kinds)],
			distinct: fmt.Sprintf("u%03d", i%97),
			plan:     "free",
		}
		if i%3 == 0 {
			e.plan = "pro"
		}
		if e.event == "Purchase" {
			e.amount = float64(i%20) + 0.25
		}
		out[i] = e
	}
	return out
}

// startBIServer starts arb with a root password and a project shop
// (extra flags appended), loads the fixture into shop.events and creates
// the guide's read-only analyst (mysql_native_password, SELECT on shop.*)
// and sha, the same with caching_sha2_password.
func startBIServer(t *testing.T, extra ...string) *arbProcess {
	t.Helper()
	args := append([]string{"--root-password", biRootPassword, "--project", "shop:shoptoken:shopsecret"}, extra...)
	arb := startArb(t, args...)
	root := openAs(t, arb, "root", biRootPassword, "shop", biRootTLS(t, arb, extra))
	var b strings.Builder
	b.WriteString("INSERT INTO events (time, event, distinct_id, `plan`, amount) VALUES ")
	for i, e := range biFixtureEvents() {
		if i > 0 {
			b.WriteString(", ")
		}
		amount := "NULL"
		if e.event == "Purchase" {
			amount = fmt.Sprintf("%g", e.amount)
		}
		fmt.Fprintf(&b, "('%s', '%s', '%s', '%s', %s)", e.time.Format("2006-01-02 15:04:05"), e.event, e.distinct, e.plan, amount)
	}
	exec1(t, root, b.String())
	exec1(t, root, "CREATE USER analyst IDENTIFIED BY '"+biAnalystPassword+"'")
	exec1(t, root, "GRANT SELECT ON shop.* TO analyst")
	// The same reader with MySQL 8's default plugin, for drivers that
	// support it (over TLS only).
	exec1(t, root, "CREATE USER sha IDENTIFIED WITH caching_sha2_password BY '"+biAnalystPassword+"'")
	exec1(t, root, "GRANT SELECT ON shop.* TO sha")
	if got := queryString(t, root, "SELECT COUNT(*) FROM events"); got != fmt.Sprint(biEvents) {
		t.Fatalf("fixture loaded %s events, want %d", got, biEvents)
	}
	return arb
}

// biRootTLS is the DSN parameter root's pool needs: TLS trusting the
// generated certificate when the server requires secure transport.
func biRootTLS(t *testing.T, arb *arbProcess, extra []string) string {
	for _, a := range extra {
		if a == "--require-secure-transport" {
			return "tls=" + registerArbTLS(t, arb)
		}
	}
	return ""
}

// biCountWhere counts fixture rows for which keep holds.
func biCountWhere(keep func(biEvent) bool) int {
	n := 0
	for _, e := range biFixtureEvents() {
		if keep(e) {
			n++
		}
	}
	return n
}

// biEventCounts is, per event name, the number of rows and of distinct
// users, in name order.
func biEventCounts() (names []string, rows, users map[string]int) {
	rows, users = map[string]int{}, map[string]int{}
	seen := map[string]map[string]bool{}
	for _, e := range biFixtureEvents() {
		if seen[e.event] == nil {
			seen[e.event] = map[string]bool{}
			names = append(names, e.event)
		}
		rows[e.event]++
		if !seen[e.event][e.distinct] {
			seen[e.event][e.distinct] = true
			users[e.event]++
		}
	}
	sort.Strings(names)
	return names, rows, users
}

// debianPython is Debian's interpreter, where python3-sqlalchemy,
// python3-pymysql and python3-pandas install (a python3 earlier on PATH,
// such as a pyenv shim, does not see them).
func debianPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if !fileExists(py) {
		t.Fatal("/usr/bin/python3 is missing: .ci/run installs it (apt-get install python3-sqlalchemy python3-pymysql python3-pandas)")
	}
	for _, m := range []struct{ module, pkg string }{{"sqlalchemy", "python3-sqlalchemy"}, {"pymysql", "python3-pymysql"}, {"pandas", "python3-pandas"}} {
		if out, err := exec.Command(py, "-c", "import "+m.module).CombinedOutput(); err != nil {
			t.Fatalf("python module %s is missing: .ci/run installs it (apt-get install %s): %v\n%s", m.module, m.pkg, err, out)
		}
	}
	return py
}

// testdataPath is a file under integration/ (the test's directory).
func testdataPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	if !fileExists(p) {
		t.Fatalf("%s is missing", p)
	}
	return p
}
