package integration

// The drivers BI tools use, driven against the real bin/arb over TLS
// verified against arb's certificate, as the read-only analyst of
// docs/bi-tools.md: SQLAlchemy + PyMySQL + pandas (Superset, notebooks;
// py/bi_sqlalchemy.py), MariaDB Connector/J (Metabase, DBeaver;
// java/BiDrivers.java, compiled with javac at test time) and knex over
// mysql2 (Node tools; js/node/knex_bi.js). Each program prints what the
// driver returned; the answers expected are computed from the fixture
// (bi_fixture_test.go). The drivers come from Debian and npm, which
// .ci/run installs; a missing one fails the test naming its package.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runTool runs a driver program and returns its stdout; a non-zero exit
// or a timeout fails the test with both outputs.
func runTool(t *testing.T, dir string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// biExpectedGrouped is the fixture's [event, rows, users] per event in
// event order, as the grouped queries return it.
func biExpectedGrouped() [][]any {
	names, rows, users := biEventCounts()
	var out [][]any
	for _, n := range names {
		out = append(out, []any{n, float64(rows[n]), float64(users[n])})
	}
	return out
}

// TestBIPythonSQLAlchemy: reflection, pandas.read_sql of a grouped query
// and of a day grain with a bound parameter, a server-side cursor
// (stream_results), chunked read_sql, read_sql_table, a
// caching_sha2_password account over TLS, Superset's cancel (KILL
// CONNECTION from another connection), and the analyst's write refused
// with 1142.
func TestBIPythonSQLAlchemy(t *testing.T) {
	py := debianPython(t)
	script := testdataPath(t, filepath.Join("py", "bi_sqlalchemy.py"))
	arb := startBIServer(t, "--require-secure-transport")
	ca := filepath.Join(arb.dir, "tls", "cert.pem")
	out := runTool(t, ".", 3*time.Minute, py, script, fmt.Sprint(arb.mysqlPort), "analyst", biAnalystPassword, "shop", ca)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bi_sqlalchemy.py printed %q: %v", out, err)
	}
	t.Logf("versions: %v", got["versions"])
	wantTable := map[string]any{"rows": float64(biEvents), "purchases": float64(biCountWhere(func(e biEvent) bool { return e.event == "Purchase" })), "time": "datetime64[ns]"}
	if !reflect.DeepEqual(got["read_table"], wantTable) {
		t.Errorf("read_sql_table('events'): %v, want %v", got["read_table"], wantTable)
	}
	// Superset's cancel: KILL CONNECTION from another connection drops the
	// query's (2013 Lost connection), which leaves the processlist.
	if c, _ := got["cancel"].(map[string]any); c == nil || c["query"] != float64(2013) || c["joined"] != true ||
		c["left_in_processlist"] != float64(0) || c["ms"].(float64) > 10000 {
		t.Errorf("Superset-style KILL CONNECTION of a running query: %v, want error 2013 within 10 s and the connection gone", got["cancel"])
	}
	if w, _ := got["write"].(map[string]any); w == nil || w["code"] != float64(1142) {
		t.Errorf("analyst INSERT through SQLAlchemy: %v, want error 1142", got["write"])
	}
	delete(got, "write") // its failure is the expected one
	for k, v := range got {
		if m, ok := v.(map[string]any); ok && m["error"] != nil {
			t.Errorf("step %s failed: %v", k, v)
		}
	}

	signups := biCountWhere(func(e biEvent) bool { return e.event == "Signup" })
	if fmt.Sprint(got["sha2"]) != fmt.Sprintf("[sha@%% %d]", signups) {
		t.Errorf("caching_sha2_password account over TLS: %v, want [sha@%% %d]", got["sha2"], signups)
	}
	if v, _ := got["tls"].(string); !strings.HasPrefix(v, "TLSv1.") {
		t.Errorf("PyMySQL's connection is %q, want TLS", got["tls"])
	}

	reflected, _ := got["reflect"].(map[string]any)
	tables := fmt.Sprint(reflected["tables"])
	if !strings.Contains(tables, "events") || !strings.Contains(tables, "people") {
		t.Errorf("get_table_names: %s, want events and people", tables)
	}
	cols, _ := reflected["columns"].(map[string]any)
	for col, typ := range map[string]string{"time": "DATETIME", "event": "TEXT", "distinct_id": "TEXT", "plan": "TEXT", "amount": "DOUBLE"} {
		if s, _ := cols[col].(string); !strings.Contains(s, typ) {
			t.Errorf("get_columns('events')[%s] = %v, want a %s type (all: %v)", col, cols[col], typ, cols)
		}
	}

	for _, k := range []string{"pk", "foreign_keys", "indexes", "views"} {
		if l, ok := reflected[k].([]any); !ok || len(l) != 0 {
			t.Errorf("inspector %s of events: %v, want an empty list", k, reflected[k])
		}
	}

	readSQL, _ := got["read_sql"].(map[string]any)
	if want := biExpectedGrouped(); !reflect.DeepEqual(fmt.Sprint(readSQL["rows"]), fmt.Sprint(want)) {
		t.Errorf("read_sql grouped: %v, want %v", readSQL["rows"], want)
	}
	if dt := fmt.Sprint(readSQL["dtypes"]); !strings.Contains(dt, "n:int64") || !strings.Contains(dt, "users:int64") {
		t.Errorf("read_sql dtypes %s: counts should be int64", dt)
	}

	// plan is not reserved in MySQL 8: SQLAlchemy sends it bare.
	corePlan, _ := got["core_plan"].(map[string]any)
	wantPlan := []any{
		[]any{"free", float64(biCountWhere(func(e biEvent) bool { return e.plan == "free" }))},
		[]any{"pro", float64(biCountWhere(func(e biEvent) bool { return e.plan == "pro" }))},
	}
	if sqlText, _ := corePlan["sql"].(string); !strings.Contains(sqlText, "events.plan") || !reflect.DeepEqual(corePlan["rows"], wantPlan) {
		t.Errorf("SQLAlchemy Core select of plan: %v, want the bare name events.plan and rows %v", got["core_plan"], wantPlan)
	}

	daily := map[string]int{}
	for _, e := range biFixtureEvents() {
		if e.event == "Purchase" {
			daily[e.time.Format("2006-01-02")]++
		}
	}
	var days []string
	for d := range daily {
		days = append(days, d)
	}
	sort.Strings(days)
	var wantDaily [][]any
	for _, d := range days {
		wantDaily = append(wantDaily, []any{d, float64(daily[d])})
	}
	if fmt.Sprint(got["daily_purchases"]) != fmt.Sprint(wantDaily) {
		t.Errorf("read_sql day grain with params: %v, want %v", got["daily_purchases"], wantDaily)
	}

	stream, _ := got["stream"].(map[string]any)
	ev := biFixtureEvents()
	first, last := ev[0], ev[len(ev)-1]
	wantStream := map[string]any{
		"cursor":        "SSCursor",
		"rows":          float64(biEvents),
		"batches":       math.Ceil(float64(biEvents) / 250),
		"first":         []any{first.time.Format("2006-01-02T15:04:05"), first.event, first.distinct},
		"last":          []any{last.time.Format("2006-01-02T15:04:05"), last.event, last.distinct},
		"signups_after": float64(biCountWhere(func(e biEvent) bool { return e.event == "Signup" })),
	}
	if !reflect.DeepEqual(stream, wantStream) {
		t.Errorf("stream_results: %v, want %v", stream, wantStream)
	}

	var wantChunks []any
	for left := biEvents; left > 0; left -= 700 {
		wantChunks = append(wantChunks, float64(min(left, 700)))
	}
	if !reflect.DeepEqual(got["chunks"], wantChunks) {
		t.Errorf("read_sql chunksize=700: chunk sizes %v, want %v", got["chunks"], wantChunks)
	}

}

// javaTool finds java and javac (default-jdk-headless) and Connector/J
// (libmariadb-java), failing the test naming the package to install.
func javaTool(t *testing.T) (javac, java, jar string) {
	t.Helper()
	var err error
	if javac, err = exec.LookPath("javac"); err != nil {
		t.Fatal("javac is not installed: .ci/run installs it (apt-get install default-jdk-headless)")
	}
	if java, err = exec.LookPath("java"); err != nil {
		t.Fatal("java is not installed: .ci/run installs it (apt-get install default-jdk-headless)")
	}
	jar = "/usr/share/java/mariadb-java-client.jar"
	if !fileExists(jar) {
		t.Fatalf("%s is missing: .ci/run installs it (apt-get install libmariadb-java)", jar)
	}
	return javac, java, jar
}

// TestBIConnectorJ: MariaDB Connector/J over TLS verified against arb's
// certificate (a foreign certificate and plaintext refused), setMaxRows,
// setQueryTimeout and Statement.cancel stopping queries on the server,
// DatabaseMetaData (tables, columns, keys, indexes, routines), Metabase's
// URL options and week grain under its 2,000-row cap, setReadOnly (1792),
// client- and server-side prepared statements with parameters, and the
// analyst's writes refused with 1142.
func TestBIConnectorJ(t *testing.T) {
	javac, java, jar := javaTool(t)
	src := testdataPath(t, filepath.Join("java", "BiDrivers.java"))
	classes := t.TempDir()
	runTool(t, ".", 3*time.Minute, javac, "-cp", jar, "-d", classes, src)
	otherPath, _, _ := writeSelfSigned(t, t.TempDir(), "other")

	arb := startBIServer(t, "--require-secure-transport")
	cert := filepath.Join(arb.dir, "tls", "cert.pem")
	out := runTool(t, ".", 4*time.Minute, java, "-cp", jar+":"+classes, "BiDrivers",
		fmt.Sprint(arb.mysqlPort), biRootPassword, biAnalystPassword, cert, otherPath)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "\t")
		got[k] = v
	}
	t.Logf("Connector/J %s against %s:\n%s", got["driver"], got["meta_product"], out)
	if got["done"] != "yes" {
		t.Fatalf("BiDrivers did not finish:\n%s", out)
	}
	want := func(key, value string) {
		t.Helper()
		if got[key] != value {
			t.Errorf("%s: %q, want %q", key, got[key], value)
		}
	}
	wantError := func(key string, code int) {
		t.Helper()
		if !strings.HasPrefix(got[key], "error|") || (code != 0 && !strings.Contains(got[key], fmt.Sprintf("|%d|", code))) {
			t.Errorf("%s: %q, want an error %d", key, got[key], code)
		}
	}
	wantError("plaintext", 3159)
	wantError("wrong_cert", 0)
	if !strings.Contains(strings.ToLower(got["wrong_cert"]), "cert") {
		t.Errorf("wrong_cert: %q, want a certificate verification failure", got["wrong_cert"])
	}
	want("tls_count", fmt.Sprint(biEvents))
	want("sha2_count", fmt.Sprintf("sha@%%=%d", biCountWhere(func(e biEvent) bool { return e.event == "Signup" })))
	want("maxrows", "5")
	want("maxrows_after", fmt.Sprint(biEvents))
	want("maxrows_prepared", "7")
	purchases := biCountWhere(func(e biEvent) bool { return e.event == "Purchase" })
	want("maxrows_server_prepared", fmt.Sprintf("9,%d", purchases))
	want("streaming", fmt.Sprintf("%d,%d", biEvents, biCountWhere(func(e biEvent) bool { return e.event == "Page View" })))
	if tables := "," + got["meta_tables"] + ","; !strings.Contains(tables, ",events,") || !strings.Contains(tables, ",people,") {
		t.Errorf("getTables: %q, want events and people", got["meta_tables"])
	}
	for _, col := range []string{"time:DATETIME", "event:", "distinct_id:", "plan:", "amount:DOUBLE"} {
		if !strings.Contains(","+got["meta_columns"], ","+col) {
			t.Errorf("getColumns(events): %q, want %s", got["meta_columns"], col)
		}
	}

	// Keys, indexes and routines: none, but answered (DBeaver's navigator
	// and Metabase's sync stop on an error here).
	for _, key := range []string{"meta_primary_keys", "meta_imported_keys", "meta_index_info", "meta_procedures", "meta_functions"} {
		want(key, "0")
	}
	want("meta_type_info", "true")

	// Metabase's week grain of pro purchases, through its URL options.
	weeks := map[string]int{}
	for _, e := range biFixtureEvents() {
		if e.plan == "pro" && e.event == "Purchase" {
			d := e.time.AddDate(0, 0, -int(e.time.Weekday())) // back to Sunday
			weeks[d.Format("2006-01-02")]++
		}
	}
	var weekKeys []string
	for w := range weeks {
		weekKeys = append(weekKeys, w)
	}
	sort.Strings(weekKeys)
	var weekParts []string
	for _, w := range weekKeys {
		weekParts = append(weekParts, fmt.Sprintf("%s=%d", w, weeks[w]))
	}
	want("metabase", strings.Join(append(weekParts, "capped=2000"), ","))
	wantError("readonly_root_insert", 1792)

	from, to := time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	perEvent := map[string]int{}
	for _, e := range biFixtureEvents() {
		if !e.time.Before(from) && e.time.Before(to) && e.plan == "pro" {
			perEvent[e.event]++
		}
	}
	names, _, _ := biEventCounts()
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%d", n, perEvent[n]))
	}
	want("prepared_client", strings.Join(parts, ","))
	want("prepared_server", strings.Join(parts, ","))

	for _, key := range []string{"timeout", "cancel"} {
		wantError(key, 0)
		ms := got[key][strings.LastIndex(got[key], "ms=")+3:]
		if n, err := strconv.Atoi(ms); err != nil || n > 10000 {
			t.Errorf("%s: %q, want the query stopped within 10 s", key, got[key])
		}
	}
	want("timeout_then", fmt.Sprint(biCountWhere(func(e biEvent) bool { return e.event == "Purchase" })))
	want("cancel_still_running", "0")
	users := map[string]bool{}
	for _, e := range biFixtureEvents() {
		users[e.distinct] = true
	}
	want("cancel_then", fmt.Sprint(len(users)))
	wantError("analyst_insert", 1142)
	wantError("analyst_insert_prepared", 1142)
	want("final_count", fmt.Sprint(biEvents))
}

// TestBIKnex: knex 3 over mysql2 with TLS verified: the query builder's
// select/where/groupBy/orderBy/limit, a raw query with bindings and Date
// parameters, a pool of 4 shared by concurrent queries, and the analyst's
// insert refused with 1142.
func TestBIKnex(t *testing.T) {
	jsDir := nodeJSDir(t)
	for _, pkg := range []string{"knex", "mysql2"} {
		if !fileExists(filepath.Join(jsDir, "node_modules", pkg, "package.json")) {
			t.Fatalf("%s/node_modules/%s is missing: .ci/run installs it (npm ci in integration/js)", jsDir, pkg)
		}
	}
	arb := startBIServer(t, "--require-secure-transport")
	ca := filepath.Join(arb.dir, "tls", "cert.pem")
	out := runTool(t, jsDir, 3*time.Minute, "node", filepath.Join(jsDir, "node", "knex_bi.js"), fmt.Sprint(arb.mysqlPort), "analyst", biAnalystPassword, ca)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("knex_bi.js printed %q: %v", out, err)
	}
	t.Logf("knex %v, mysql2 %v", got["knex"], got["mysql2"])

	// builder: pro rows from 2025-01-08 per event, most rows first, 2 of them.
	from := time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC)
	type agg struct {
		event      string
		rows       int
		usersOfRow map[string]bool
	}
	byEvent := map[string]*agg{}
	for _, e := range biFixtureEvents() {
		if e.plan != "pro" || e.time.Before(from) {
			continue
		}
		a := byEvent[e.event]
		if a == nil {
			a = &agg{event: e.event, usersOfRow: map[string]bool{}}
			byEvent[e.event] = a
		}
		a.rows++
		a.usersOfRow[e.distinct] = true
	}
	var aggs []*agg
	for _, a := range byEvent {
		aggs = append(aggs, a)
	}
	sort.Slice(aggs, func(i, j int) bool {
		if aggs[i].rows != aggs[j].rows {
			return aggs[i].rows > aggs[j].rows
		}
		return aggs[i].event < aggs[j].event
	})
	var wantBuilder []any
	for _, a := range aggs[:2] {
		wantBuilder = append(wantBuilder, []any{a.event, float64(a.rows), float64(len(a.usersOfRow))})
	}
	if !reflect.DeepEqual(got["builder"], wantBuilder) {
		t.Errorf("knex builder: %v, want %v", got["builder"], wantBuilder)
	}

	revenue := 0.0
	for _, e := range biFixtureEvents() {
		if e.event == "Purchase" && e.time.Before(time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)) {
			revenue += e.amount
		}
	}
	if want := math.Round(revenue*100) / 100; got["raw"] != want {
		t.Errorf("knex.raw revenue: %v, want %v", got["raw"], want)
	}

	pool, _ := got["pool"].(map[string]any)
	perDay := map[string]int{}
	for _, e := range biFixtureEvents() {
		perDay[e.time.Format("2006-01-02")]++
	}
	var wantCounts []any
	for d := 1; d <= 12; d++ {
		day := fmt.Sprintf("2025-01-%02d", d)
		wantCounts = append(wantCounts, []any{day, float64(perDay[day])})
	}
	if pool == nil || !reflect.DeepEqual(pool["counts"], wantCounts) || pool["max"] != float64(4) || pool["used"] != float64(0) {
		t.Errorf("knex pool: %v, want counts %v, max 4, none in use", got["pool"], wantCounts)
	}
	if n, _ := got["connections"].(float64); n < 2 || n > 4 {
		t.Errorf("knex pool: 6 concurrent queries ran on %v server connections, want 2 to 4 (the pool's max)", got["connections"])
	}
	if ins, _ := got["insert"].(map[string]any); ins == nil || ins["errno"] != float64(1142) {
		t.Errorf("analyst insert through knex: %v, want errno 1142", got["insert"])
	}
}
