package integration

// Users and grants end to end: accounts made over SQL as root, what each
// may do checked through go-sql-driver (error numbers) and the mariadb
// CLI, and all of it still in place after a clean restart, after a kill
// -9 right after a GRANT's OK, and refused loudly when the grants file is
// damaged.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// openAs opens a go-sql-driver pool on p as user with password on db;
// params are extra DSN parameters (e.g. "tls=name").
func openAs(t *testing.T, p *arbProcess, user, password, db, params string) *sql.DB {
	t.Helper()
	dsn := fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/%s?parseTime=true&loc=UTC", user, password, p.mysqlPort, db)
	if params != "" {
		dsn += "&" + params
	}
	pool, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	pool.SetMaxIdleConns(0) // every statement authenticates anew
	t.Cleanup(func() { pool.Close() })
	return pool
}

// errorNumber is the MySQL error number of err, 0 when err is not one.
func errorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// wantErrorNumber runs query on db and checks it fails with MySQL error
// number want (and SQLSTATE state when not empty).
func wantErrorNumber(t *testing.T, db *sql.DB, want uint16, state, query string) {
	t.Helper()
	_, err := db.Exec(query)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != want || (state != "" && string(me.SQLState[:]) != state) {
		t.Fatalf("%s: got %v; want MySQL error %d %s", query, err, want, state)
	}
}

// mariadbAs runs statements through the mariadb CLI as user on db and
// returns its output and error.
func mariadbAs(t *testing.T, p *arbProcess, user, password, db, statements string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatal("the mariadb client is not installed: .ci/run installs it (apt-get install mariadb-client)")
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-P", fmt.Sprint(p.mysqlPort), "-u", user, "-p"+password,
		"--connect-timeout=10", "--batch", "--skip-column-names", "-e", statements, db)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// registerArbTLS registers a go-sql-driver TLS config that trusts p's
// generated certificate and returns its name.
func registerArbTLS(t *testing.T, p *arbProcess) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(readCertPEM(t, filepath.Join(p.dir, "tls", "cert.pem")))
	name := fmt.Sprintf("arb-users-%d", tlsConfigSeq.Add(1))
	if err := mysql.RegisterTLSConfig(name, &tls.Config{RootCAs: pool, ServerName: "localhost"}); err != nil {
		t.Fatal(err)
	}
	return name
}

// usersFixture is what TestUsersAndGrants sets up and checks after each
// restart.
type usersFixture struct {
	p    *arbProcess
	rows int // events in shop.events
}

const insertEvent = "INSERT INTO events (time, event, distinct_id) VALUES ('2025-03-01 10:00:00', 'Signup', 'u%d')"

// checkAccounts checks every account's rights through go-sql-driver and
// the mariadb CLI; analystWrites says whether analyst has INSERT too.
func (f *usersFixture) checkAccounts(t *testing.T, rootPassword string, analystWrites bool) {
	t.Helper()
	p := f.p
	root := openAs(t, p, "root", rootPassword, "shop", "")
	analyst := openAs(t, p, "analyst", "apw", "shop", "")
	ingest := openAs(t, p, "ingest", "ipw", "shop", "tls="+registerArbTLS(t, p))

	// SHOW GRANTS, as root and for oneself.
	grants := queryString(t, root, "SHOW GRANTS FOR analyst")
	if !strings.Contains(grants, "GRANT SELECT") || !strings.Contains(grants, "`shop`.*") || strings.Contains(grants, "old_analyst") {
		t.Fatalf("SHOW GRANTS FOR analyst:\n%s", grants)
	}
	if got := queryString(t, root, "SELECT user, plugin FROM mysql.user WHERE user IN ('analyst', 'ingest', 'gone') ORDER BY user"); got != "analyst|mysql_native_password\ningest|caching_sha2_password" {
		t.Fatalf("accounts:\n%s", got)
	}

	// analyst reads; writes only when granted INSERT.
	if got := queryString(t, analyst, "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("analyst: count(*) = %s, want %d", got, f.rows)
	}
	if analystWrites {
		exec1(t, analyst, fmt.Sprintf(insertEvent, f.rows))
		f.rows++
	} else {
		// A literal INSERT (the native path) and an INSERT ... SELECT (go-
		// mysql-server's) are both refused, and nothing is stored.
		wantErrorNumber(t, analyst, 1142, "42000", fmt.Sprintf(insertEvent, 999))
		wantErrorNumber(t, analyst, 1142, "42000", "INSERT INTO events (time, event, distinct_id) SELECT time, event, distinct_id FROM events")
		out, err := mariadbAs(t, p, "analyst", "apw", "shop", fmt.Sprintf(insertEvent, 998))
		if err == nil || !strings.Contains(out, "ERROR 1142 (42000)") || !strings.Contains(out, "INSERT command denied to user 'analyst'") {
			t.Fatalf("analyst INSERT from the CLI: %v\n%s", err, out)
		}
	}
	out, err := mariadbAs(t, p, "analyst", "apw", "shop", "SELECT count(*) FROM events")
	if err != nil || out != fmt.Sprint(f.rows) {
		t.Fatalf("analyst SELECT from the CLI: %v\n%s\nwant %d", err, out, f.rows)
	}
	wantErrorNumber(t, analyst, 1044, "42000", "SELECT * FROM arb.projects")
	// Each account sees its own grants, not others'.
	for _, q := range []string{"SHOW GRANTS", "SHOW GRANTS FOR CURRENT_USER()", "SHOW GRANTS FOR analyst"} {
		if own := queryString(t, analyst, q); own != grants {
			t.Fatalf("analyst %s:\n%s\nwant\n%s", q, own, grants)
		}
	}
	wantErrorNumber(t, analyst, 1044, "42000", "SHOW GRANTS FOR ingest")

	// ingest (caching_sha2_password, over TLS) writes and cannot read.
	exec1(t, ingest, fmt.Sprintf(insertEvent, f.rows))
	f.rows++
	wantErrorNumber(t, ingest, 1142, "42000", "SELECT count(*) FROM events")
	if out, err := mariadbAs(t, p, "ingest", "ipw", "shop", fmt.Sprintf(insertEvent, f.rows)); err != nil {
		t.Fatalf("ingest INSERT from the CLI: %v\n%s", err, out)
	}
	f.rows++
	out, err = mariadbAs(t, p, "ingest", "ipw", "shop", "SELECT * FROM events")
	if err == nil || !strings.Contains(out, "ERROR 1142 (42000)") || !strings.Contains(out, "SELECT command denied to user 'ingest'") {
		t.Fatalf("ingest SELECT from the CLI: %v\n%s", err, out)
	}
	if got := queryString(t, root, "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("root: count(*) = %s, want %d", got, f.rows)
	}

	// ALL on the project reads and writes it, nothing else; ALL on *.*
	// reaches every project.
	owner := openAs(t, p, "owner", "opw", "shop", "")
	exec1(t, owner, fmt.Sprintf(insertEvent, f.rows))
	f.rows++
	if got := queryString(t, owner, "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("owner: count(*) = %s, want %d", got, f.rows)
	}
	wantErrorNumber(t, owner, 1044, "42000", "SELECT * FROM arb.projects")
	everything := openAs(t, p, "everything", "epw", "shop", "")
	exec1(t, everything, fmt.Sprintf(insertEvent, f.rows))
	f.rows++
	if got := queryString(t, everything, "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("everything: count(*) = %s, want %d", got, f.rows)
	}
	if got := queryString(t, everything, "SELECT name FROM arb.projects WHERE name = 'shop'"); got != "shop" {
		t.Fatalf("everything: arb.projects = %q", got)
	}

	// Unknown users, wrong and old passwords, and a dropped user: 1045.
	for _, c := range []struct{ user, password string }{
		{"analyst", "wrong"}, {"analyst", "old"}, {"nobody", "x"}, {"gone", "gpw"}, {"ingest", "wrong"},
	} {
		err := openAs(t, p, c.user, c.password, "shop", "tls="+registerArbTLS(t, p)).Ping()
		if errorNumber(err) != 1045 {
			t.Fatalf("%s with password %q: %v, want error 1045", c.user, c.password, err)
		}
		out, err := mariadbAs(t, p, c.user, c.password, "shop", "SELECT 1")
		if err == nil || !strings.Contains(out, "ERROR 1045") {
			t.Fatalf("mariadb as %s with password %q: %v\n%s\nwant ERROR 1045", c.user, c.password, err, out)
		}
	}
}

// TestUsersAndGrants: CREATE USER, ALTER USER, DROP USER, GRANT and
// REVOKE over SQL; an analyst reads and is refused writes (1142), an
// ingest-only user (caching_sha2_password) writes and is refused reads;
// wrong credentials get 1045; READ ONLY transactions refuse writes
// (1792); only root sets global variables (1227); HTTP ingestion keeps
// its token and secret. Accounts and grants survive a restart, a kill -9 right after
// the OK of a GRANT or REVOKE, and a damaged grants file stops the start
// naming the file. root's password is --root-password's at each start.
func TestUsersAndGrants(t *testing.T) {
	p := startArb(t, "--project", "shop:tok:sec", "--root-password", "rootpw1")
	f := &usersFixture{p: p}
	root := openAs(t, p, "root", "rootpw1", "shop", "")
	for i := 0; i < 3; i++ {
		exec1(t, root, fmt.Sprintf(insertEvent, f.rows))
		f.rows++
	}
	for _, q := range []string{
		"CREATE USER analyst IDENTIFIED BY 'old'",
		"ALTER USER analyst IDENTIFIED BY 'apw'",
		"GRANT SELECT ON shop.* TO analyst",
		"CREATE USER ingest IDENTIFIED WITH caching_sha2_password BY 'ipw'",
		"GRANT INSERT ON shop.* TO ingest",
		"CREATE USER owner IDENTIFIED BY 'opw'",
		"GRANT ALL ON shop.* TO owner",
		"CREATE USER everything IDENTIFIED BY 'epw'",
		"GRANT ALL ON *.* TO everything",
		"CREATE USER gone IDENTIFIED BY 'gpw'",
		"GRANT ALL ON *.* TO gone",
		"DROP USER gone",
	} {
		exec1(t, root, q)
	}
	f.checkAccounts(t, "rootpw1", false)

	// HTTP ingestion keeps its own credentials (the project's token and
	// secret), whatever the MySQL accounts.
	track := "/track?verbose=1&data=" + url.QueryEscape(base64.StdEncoding.EncodeToString(
		[]byte(`{"event":"Http","properties":{"token":"tok","distinct_id":"h1","time":1740823200000}}`)))
	req, _ := http.NewRequest("POST", p.url("/import?strict=1"), strings.NewReader(`[{"event":"Http","properties":{"distinct_id":"h2","time":1740823200000,"$insert_id":"h2"}}]`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("sec", "")
	for _, do := range []func() (*http.Response, error){
		func() (*http.Response, error) { return http.Get(p.url(track)) },
		func() (*http.Response, error) { return http.DefaultClient.Do(req) },
	} {
		resp, err := do()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "1") {
			t.Fatalf("%s %s: %s %s", resp.Request.Method, resp.Request.URL.Path, resp.Status, body)
		}
		f.rows++
	}
	if got := queryString(t, root, "SELECT count(*) FROM events WHERE event = 'Http'"); got != "2" {
		t.Fatalf("events from /track and /import: %s, want 2", got)
	}

	// caching_sha2_password needs TLS for its full handshake (the
	// password goes in clear): in plaintext the driver is refused, 1045.
	if err := openAs(t, p, "ingest", "ipw", "shop", "").Ping(); errorNumber(err) != 1045 {
		t.Fatalf("caching_sha2_password user in plaintext: %v, want error 1045", err)
	}

	// LOAD DATA LOCAL INFILE (arb's own write path) is refused alike: 1142
	// to analyst, 1792 in a READ ONLY session, nothing stored.
	csv := filepath.Join(t.TempDir(), "events.csv")
	if err := os.WriteFile(csv, []byte("2025-03-02 10:00:00,Load,l1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load := "LOAD DATA LOCAL INFILE '" + csv + "' INTO TABLE events FIELDS TERMINATED BY ',' (time, `event`, distinct_id)"
	wantErrorNumber(t, openAs(t, p, "analyst", "apw", "shop", "allowAllFiles=true"), 1142, "42000", load)
	rootLoad, err := openAs(t, p, "root", "rootpw1", "shop", "allowAllFiles=true").Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rootLoad.ExecContext(t.Context(), "SET SESSION TRANSACTION READ ONLY"); err != nil {
		t.Fatal(err)
	}
	if _, err := rootLoad.ExecContext(t.Context(), load); errorNumber(err) != 1792 {
		t.Fatalf("LOAD DATA in a READ ONLY session: %v, want error 1792", err)
	}
	rootLoad.Close()
	if got := queryString(t, root, "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("count(*) = %s after refused loads, want %d", got, f.rows)
	}

	// Only root manages accounts.
	analyst := openAs(t, p, "analyst", "apw", "shop", "")
	wantErrorNumber(t, analyst, 1227, "42000", "CREATE USER x IDENTIFIED BY 'y'")
	wantErrorNumber(t, analyst, 1227, "42000", "GRANT INSERT ON shop.* TO analyst")
	// Nor may analyst change global variables (every session's limits);
	// its own session's are its own.
	wantErrorNumber(t, analyst, 1227, "42000", "SET GLOBAL max_execution_time = 1")
	wantErrorNumber(t, analyst, 1227, "42000", "SET @@global.sql_select_limit = 1")
	exec1(t, analyst, "SET SESSION sql_select_limit = 1")
	if got := queryString(t, root, "SELECT @@global.max_execution_time"); got != "0" {
		t.Fatalf("@@global.max_execution_time = %s after analyst's refused SET GLOBAL, want 0", got)
	}

	// READ ONLY transactions refuse writes with 1792, native path and
	// go-mysql-server's alike; READ WRITE and COMMIT lift it.
	conn, err := root.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mustExec := func(q string) {
		t.Helper()
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	wantReadOnly := func(q string) {
		t.Helper()
		_, err := conn.ExecContext(t.Context(), q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1792 || string(me.SQLState[:]) != "25006" {
			t.Fatalf("%s in a READ ONLY transaction: %v, want error 1792 (25006)", q, err)
		}
	}
	mustExec("SET SESSION TRANSACTION READ ONLY")
	wantReadOnly(fmt.Sprintf(insertEvent, 900))
	wantReadOnly("INSERT INTO events (time, event, distinct_id) SELECT time, event, distinct_id FROM events")
	mustExec("SET SESSION TRANSACTION READ WRITE")
	mustExec(fmt.Sprintf(insertEvent, f.rows))
	f.rows++
	mustExec("START TRANSACTION READ ONLY")
	wantReadOnly(fmt.Sprintf(insertEvent, 901))
	mustExec("COMMIT")
	mustExec(fmt.Sprintf(insertEvent, f.rows))
	f.rows++
	conn.Close()
	out, err := mariadbAs(t, p, "root", "rootpw1", "shop", "SET SESSION TRANSACTION READ ONLY; "+fmt.Sprintf(insertEvent, 902))
	if err == nil || !strings.Contains(out, "ERROR 1792 (25006)") {
		t.Fatalf("mariadb READ ONLY session INSERT: %v\n%s", err, out)
	}
	if got := queryString(t, root, "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("count(*) = %s after the refused writes, want %d", got, f.rows)
	}

	// A clean restart with another root password: the accounts and grants
	// are back, root's password is the new flag's.
	p.Stop()
	p.extra[len(p.extra)-1] = "rootpw2"
	p.Restart()
	if err := openAs(t, p, "root", "rootpw1", "shop", "").Ping(); errorNumber(err) != 1045 {
		t.Fatalf("root with the old --root-password: %v, want error 1045", err)
	}
	f.checkAccounts(t, "rootpw2", false)

	// kill -9 right after the OK of a GRANT: it is in effect after the
	// restart; then the same for a REVOKE and a CREATE USER.
	root = openAs(t, p, "root", "rootpw2", "shop", "")
	exec1(t, root, "GRANT INSERT ON shop.* TO analyst")
	p.Kill()
	p.Restart()
	f.checkAccounts(t, "rootpw2", true)

	root = openAs(t, p, "root", "rootpw2", "shop", "")
	exec1(t, root, "REVOKE INSERT ON shop.* FROM analyst")
	exec1(t, root, "CREATE USER late IDENTIFIED BY 'lpw'")
	exec1(t, root, "GRANT SELECT ON shop.* TO late")
	p.Kill()
	p.Restart()
	f.checkAccounts(t, "rootpw2", false)
	if got := queryString(t, openAs(t, p, "late", "lpw", "shop", ""), "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("late: count(*) = %s, want %d", got, f.rows)
	}

	// A backup of the running server carries the accounts: restored,
	// verified and started elsewhere, analyst reads there with its
	// password and grants.
	backupDir, restoredDir := filepath.Join(t.TempDir(), "backup"), filepath.Join(t.TempDir(), "restored")
	if out, code := runArbCmd(t, nil, "backup", "--server", fmt.Sprintf("127.0.0.1:%d", p.httpPort), "--password", "rootpw2", "--to", backupDir); code != 0 {
		t.Fatalf("arb backup: exit %d\n%s", code, out)
	}
	if out, code := runArbCmd(t, nil, "restore", "--from", backupDir, "--data-dir", restoredDir); code != 0 {
		t.Fatalf("arb restore: exit %d\n%s", code, out)
	}
	if out, code := runArbCmd(t, nil, "verify", "--data-dir", restoredDir); code != 0 {
		t.Fatalf("arb verify of the restored directory: exit %d\n%s", code, out)
	}
	restored := startArbIn(t, restoredDir, "--root-password", "rootpw3")
	if got := queryString(t, openAs(t, restored, "analyst", "apw", "shop", ""), "SELECT count(*) FROM events"); got != fmt.Sprint(f.rows) {
		t.Fatalf("analyst on the restored server: count(*) = %s, want %d", got, f.rows)
	}
	wantErrorNumber(t, openAs(t, restored, "analyst", "apw", "shop", ""), 1142, "42000", fmt.Sprintf(insertEvent, 997))
	restored.Stop()

	// A damaged grants file stops the start, naming the file; the intact
	// file starts it again with everything in place.
	p.Stop()
	grantsPath := filepath.Join(p.dir, "grants")
	good, err := os.ReadFile(grantsPath)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0x20
	if err := os.WriteFile(grantsPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "serve", "--data-dir", p.dir, "--mysql-addr", fmt.Sprintf("127.0.0.1:%d", p.mysqlPort),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", p.httpPort), "--root-password", "rootpw2")
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
		}
	}()
	startOut, err := cmd.CombinedOutput()
	close(done)
	if err == nil || !strings.Contains(string(startOut), grantsPath) || !strings.Contains(string(startOut), "checksum mismatch") {
		t.Fatalf("start with a damaged grants file: %v\n%s\nwant a failed start naming %s", err, startOut, grantsPath)
	}
	if err := os.WriteFile(grantsPath, good, 0o644); err != nil {
		t.Fatal(err)
	}
	p.Restart()
	f.checkAccounts(t, "rootpw2", false)
}
