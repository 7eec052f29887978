package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// nodeJSDir is integration/js, where `.ci/run` installs the official SDKs
// (npm ci), found from the test's working directory (the package
// directory). It fails the test when node or the SDK is missing.
func nodeJSDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	if !fileExists(filepath.Join(dir, "node_modules", "mixpanel", "package.json")) {
		t.Fatalf("%s/node_modules/mixpanel is missing: .ci/run installs it (npm ci in integration/js)", dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: .ci/run installs it (and runs npm ci in integration/js)")
	}
	return dir
}

// runNodeSDK runs js/node/sdk.js with args and returns its stdout; a
// non-zero exit fails the test. The proxy variables are removed: the SDK
// honours them (and ignores NO_PROXY), so 127.0.0.1 would go through them.
func runNodeSDK(t *testing.T, jsDir string, args ...string) string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if u := strings.ToUpper(k); u == "HTTP_PROXY" || u == "HTTPS_PROXY" {
			continue
		}
		env = append(env, kv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(jsDir, "node", "sdk.js")}, args...)...)
	cmd.Dir = jsDir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node sdk.js %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// expectJSONList compares a JSON list column with want, whatever the
// spacing of the stored JSON.
func expectJSONList(t *testing.T, what, got string, want ...string) {
	t.Helper()
	var list []string
	if err := json.Unmarshal([]byte(got), &list); err != nil {
		t.Fatalf("%s: %q is not a JSON list of strings: %v", what, got, err)
	}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("%s: got %q, want %q", what, list, want)
	}
}

// TestNodeSDK points the unmodified mixpanel-node 0.24.0 at arb: track,
// track_batch (whose unencoded form body has '+' in its base64),
// import_batch and import with ?api_key=, alias, every people operation,
// groups.set, and an unknown token. Everything is checked through SQL.
func TestNodeSDK(t *testing.T) {
	jsDir := nodeJSDir(t)
	arb := startArb(t, "--project", "sdk:tok123:sec456")
	db := arb.DB()
	port := strings.TrimPrefix(arb.url(""), "http://127.0.0.1:")

	start := time.Now().UTC()
	out := runNodeSDK(t, jsDir, port, "main")
	if !strings.Contains(out, "node-sdk: done") {
		t.Fatalf("node sdk.js main did not finish:\n%s", out)
	}
	end := time.Now().UTC()

	t.Run("track", func(t *testing.T) {
		expect(t, "Signup count", queryString(t, db, "SELECT count(*) FROM sdk.events WHERE event='Signup'"), "1")
		expect(t, "Signup row", queryString(t, db,
			"SELECT distinct_id, raw_distinct_id, `plan`, amount, mp_lib, `$lib_version` FROM sdk.events WHERE event='Signup'"),
			"n1|n1|pro|3|node|0.24.0")
		// No time sent: the server's.
		got := queryString(t, db, "SELECT time FROM sdk.events WHERE event='Signup'")
		ts, err := time.Parse(time.RFC3339Nano, got)
		if err != nil {
			t.Fatalf("Signup time %q: %v", got, err)
		}
		if ts.Before(start.Add(-time.Minute)) || ts.After(end.Add(time.Minute)) {
			t.Fatalf("Signup time %s, want between %s and %s", ts, start, end)
		}
		expect(t, "token is not a column", queryString(t, db,
			"SELECT count(*) FROM information_schema.columns WHERE table_schema='sdk' AND table_name='events' AND column_name='token'"), "0")
	})

	t.Run("track_batch", func(t *testing.T) {
		expect(t, "Batch rows", queryString(t, db,
			"SELECT pos, time, insert_id, distinct_id FROM sdk.events WHERE event='Batch' ORDER BY pos"),
			"1|2025-03-01T12:00:00.123Z|nb-1|nb\n"+
				"2|2025-03-01T12:00:01.124Z|nb-2|nb\n"+
				"3|2025-03-01T12:00:02.125Z|nb-3|nb")
		expect(t, "'+' in the base64 not mangled", queryString(t, db, "SELECT weird FROM sdk.events WHERE event='Batch' AND pos=1"), ">>>???~~~")
		expect(t, "value in properties", queryString(t, db, "SELECT JSON_EXTRACT(properties, '$.weird') FROM sdk.events WHERE event='Batch' AND pos=1"), `">>>???~~~"`)
		expect(t, "UTF-8 and form characters", queryString(t, db, "SELECT text FROM sdk.events WHERE event='Batch' AND pos=2"), "naïve ✓ a+b c&d=e")
	})

	t.Run("import", func(t *testing.T) {
		// import_batch twice (a resend, stored once), then import.
		expect(t, "Imported rows", queryString(t, db,
			"SELECT time, insert_id, source, distinct_id FROM sdk.events WHERE event='Imported' ORDER BY time"),
			"2024-01-15T08:30:00.456Z|ni-1|batch|ni\n"+
				"2024-01-15T08:30:00.956Z|ni-2|batch|ni\n"+
				"2024-01-15T08:30:01.456Z|ni-3|single|ni")
	})

	t.Run("alias", func(t *testing.T) {
		expect(t, "events of n1 include the alias's", queryString(t, db,
			"SELECT event, raw_distinct_id FROM sdk.events WHERE distinct_id='n1' AND event IN ('Signup', 'Aliased') ORDER BY event"),
			"Aliased|n1-alias\nSignup|n1")
		expect(t, "count for n1", queryString(t, db,
			"SELECT count(*) FROM sdk.events WHERE distinct_id='n1' AND event IN ('Signup', 'Aliased')"), "2")
		expect(t, "one user", queryString(t, db,
			"SELECT count(DISTINCT distinct_id) FROM sdk.events WHERE raw_distinct_id IN ('n1', 'n1-alias') AND event IN ('Signup', 'Aliased')"), "1")
	})

	t.Run("people", func(t *testing.T) {
		expect(t, "n1 profile", queryString(t, db,
			"SELECT `$name`, `first`, logins, `plan` FROM sdk.people WHERE distinct_id='n1'"),
			"Nina|a|4|NULL")
		expectJSONList(t, "append tags", queryString(t, db, "SELECT tags FROM sdk.people WHERE distinct_id='n1'"), "x")
		expectJSONList(t, "union, union, remove tags2", queryString(t, db, "SELECT tags2 FROM sdk.people WHERE distinct_id='n1'"), "b", "c")
		expect(t, "n2 deleted", queryString(t, db, "SELECT count(*) FROM sdk.people WHERE distinct_id='n2'"), "0")
		expect(t, "profiles", queryString(t, db, "SELECT distinct_id FROM sdk.people"), "n1")
	})

	t.Run("groups", func(t *testing.T) {
		expect(t, "acme", queryString(t, db,
			"SELECT name, seats FROM sdk.groups WHERE group_key='company' AND group_id='acme'"), "Acme|10")
	})

	t.Run("unknown token", func(t *testing.T) {
		out := runNodeSDK(t, jsDir, port, "badtoken")
		// Plain: the body `0`. Verbose: status 0 with a message naming
		// the cause (arb adds the record and field before it).
		lines := strings.Split(out, "\n")
		if len(lines) < 2 {
			t.Fatalf("node sdk.js badtoken output:\n%s", out)
		}
		plain, verbose := lines[0], lines[1]
		expect(t, "plain callback error", plain, "verbose=false: Mixpanel Server Error: 0")
		if !strings.HasPrefix(verbose, "verbose=true: Mixpanel Server Error: ") || !strings.Contains(verbose, "unknown project token") {
			t.Fatalf("verbose callback error %q does not say `unknown project token`", verbose)
		}
		expect(t, "nothing stored", queryString(t, db, "SELECT count(*) FROM sdk.events WHERE event='Nope'"), "0")
	})
}
