package integration

// The protocol commands vitess refuses and arb answers itself
// (server/protocol_commands.go), driven by the clients that send them:
// COM_STATISTICS by `mariadb-admin status` and the mariadb CLI's `status`,
// COM_CHANGE_USER by mysql2's changeUser (and its pools).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// statisticsLine is the answer to COM_STATISTICS as MySQL words it
// (MySQL 8.0 manual 6.5.2 "mysqladmin", status), printed verbatim by
// mariadb-admin.
var statisticsLine = regexp.MustCompile(`^Uptime: (\d+)  Threads: (\d+)  Questions: (\d+)  Slow queries: 0  Opens: (\d+)  Flush tables: 1  Open tables: (\d+)  Queries per second avg: \d+\.\d{3}$`)

// TestComStatistics runs `mariadb-admin status` (over TLS, which arb
// offers and the client takes, and with --ssl=0) and the CLI's `status`
// command, which ends with the same line.
func TestComStatistics(t *testing.T) {
	arb := startArb(t)
	admin, err := exec.LookPath("mariadb-admin")
	if err != nil {
		t.Fatal("mariadb-admin is not installed: .ci/run installs mariadb-client")
	}
	for i := 0; i < 5; i++ {
		arb.mariadb(t, "default", "SELECT 1")
	}
	for _, tls := range []string{"--ssl", "--ssl=0"} {
		cmd := exec.Command(admin, "-h", "127.0.0.1", "-P", fmt.Sprint(arb.mysqlPort), "-u", "root", tls, "status")
		out, err := cmd.CombinedOutput()
		line := strings.TrimSpace(string(out))
		if err != nil {
			t.Fatalf("mariadb-admin %s status: %v\n%s", tls, err, out)
		}
		m := statisticsLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("mariadb-admin %s status printed %q, want MySQL's status line", tls, line)
		}
		if threads, _ := strconv.Atoi(m[2]); threads < 1 {
			t.Errorf("%s: Threads %d, want at least mariadb-admin's own connection", line, threads)
		}
		if questions, _ := strconv.Atoi(m[3]); questions < 5 {
			t.Errorf("%s: Questions %d, want at least the 5 statements sent before", line, questions)
		}
		// events, people, groups of the default project and arb's 4
		// tables (cluster, compactions, projects, segments).
		if m[4] != "7" || m[5] != "7" {
			t.Errorf("%s: Opens/Open tables %s/%s, want 7", line, m[4], m[5])
		}
	}
	out := arb.mariadb(t, "default", "status")
	if !regexp.MustCompile(`(?m)^Threads: \d+  Questions: \d+  Slow queries: 0  Opens: 7  Flush tables: 1  Open tables: 7  Queries per second avg: \d+\.\d{3}$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^Uptime:\s+\d+ sec`).MatchString(out) {
		t.Errorf("mariadb -e status does not show the server's statistics:\n%s", out)
	}
}

// TestMySQL2ChangeUser runs js/node/change_user.js: mysql2's changeUser
// on a connection, to a mysql_native_password account and (over TLS) a
// caching_sha2_password one, and on a pooled connection (MySQL client/server protocol,
// COM_CHANGE_USER; MySQL 8.0 C API mysql_change_user(): the new user's
// session has no user variables or temporary tables of the old one and
// the database asked for; a failed change leaves the user unchanged and
// is ERROR 1045).
func TestMySQL2ChangeUser(t *testing.T) {
	jsDir := nodeJSDir(t)
	if !fileExists(filepath.Join(jsDir, "node_modules", "mysql2", "package.json")) {
		t.Fatalf("%s/node_modules/mysql2 is missing: .ci/run installs it (npm ci in integration/js)", jsDir)
	}
	arb := startArb(t, "--root-password", "rootpw", "--project", "default:tok:sec", "--project", "shop:tok2:sec2")
	root, err := sql.Open("mysql", fmt.Sprintf("root:rootpw@tcp(127.0.0.1:%d)/default", arb.mysqlPort))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, q := range []string{
		"CREATE USER 'analyst'@'%' IDENTIFIED WITH mysql_native_password BY 'apw'",
		"GRANT SELECT ON shop.* TO 'analyst'@'%'",
		"CREATE USER 'sha'@'%' IDENTIFIED WITH caching_sha2_password BY 'spw'",
		"GRANT SELECT ON shop.* TO 'sha'@'%'",
		"INSERT INTO shop.events (time, event, distinct_id) VALUES ('2025-01-01 10:00:00', 'a', 'u1'), ('2025-01-01 10:00:01', 'b', 'u2')",
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(jsDir, "node", "change_user.js"), fmt.Sprint(arb.mysqlPort), "rootpw")
	cmd.Dir = jsDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node change_user.js: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	type who struct {
		User   string `json:"user"`
		X      any    `json:"x"`
		DB     any    `json:"db"`
		Events any    `json:"events"`
		ID     any    `json:"id"`
	}
	var got struct {
		Before, AfterWrong, After, PooledAnalyst, PooledRoot, Sha2 who
		WrongPassword, InsertAsAnalyst, TempTableGone, Sha2Wrong   int
		PooledFirstID                                              any
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("change_user.js printed %q: %v", stdout.String(), err)
	}
	t.Logf("mysql2: %s", stdout.String())
	str := func(v any) string { return fmt.Sprint(v) }
	if got.Before.User != "root@%" || str(got.Before.X) != "42" || str(got.Before.DB) != "default" {
		t.Errorf("before changeUser: %+v", got.Before)
	}
	if got.WrongPassword != 1045 {
		t.Errorf("changeUser with a wrong password: errno %d, want 1045", got.WrongPassword)
	}
	if got.AfterWrong.User != "root@%" || str(got.AfterWrong.X) != "42" || str(got.AfterWrong.DB) != "default" {
		t.Errorf("after a refused changeUser: %+v, want root, @x 42, default", got.AfterWrong)
	}
	if got.After.User != "analyst@%" || got.After.X != nil || str(got.After.DB) != "shop" || str(got.After.Events) != "2" {
		t.Errorf("after changeUser to analyst: %+v, want analyst@%%, @x NULL, shop, 2 events", got.After)
	}
	if got.InsertAsAnalyst != 1142 {
		t.Errorf("INSERT as analyst after changeUser: errno %d, want 1142", got.InsertAsAnalyst)
	}
	if got.TempTableGone != 1146 {
		t.Errorf("root's temporary table after changeUser: errno %d, want 1146", got.TempTableGone)
	}
	if got.Sha2Wrong != 1045 || got.Sha2.User != "sha@%" || str(got.Sha2.DB) != "shop" {
		t.Errorf("caching_sha2_password account over TLS: wrong password errno %d (want 1045), then %+v (want sha@%%, shop)", got.Sha2Wrong, got.Sha2)
	}
	if got.PooledAnalyst.User != "analyst@%" || got.PooledRoot.User != "root@%" || str(got.PooledRoot.DB) != "default" ||
		str(got.PooledAnalyst.ID) != str(got.PooledFirstID) || str(got.PooledRoot.ID) != str(got.PooledFirstID) {
		t.Errorf("pooled connection: first id %v, as analyst %+v, back as root %+v; want one connection changed twice", got.PooledFirstID, got.PooledAnalyst, got.PooledRoot)
	}
}
