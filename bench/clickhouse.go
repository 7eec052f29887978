package main

// clickhouse.go runs ClickHouse 18.16 (Debian's clickhouse-server): a
// generated config and data directory under the run's throwaway dir,
// loopback only, ports of our choosing, stopped by PID. Two databases hold
// the same data: `str` with String columns and `lc` with LowCardinality
// columns (allow_experimental_low_cardinality_type=1); each is an engine
// of its own in the result table.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type clickhouseServer struct {
	dir      string
	httpPort int
	tcpPort  int
	proc     *process
	client   *http.Client
}

// clickhouseDB is one database of the server, queried as an engine.
type clickhouseDB struct {
	srv     *clickhouseServer
	db      string
	heading string
}

func (c *clickhouseDB) name() string     { return c.heading }
func (c *clickhouseDB) dialect() dialect { return dialectClickHouse }

const clickhouseConfig = `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{{dir}}/log/clickhouse-server.log</log>
        <errorlog>{{dir}}/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <http_port>{{http}}</http_port>
    <tcp_port>{{tcp}}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>64</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>16</max_concurrent_queries>
    <uncompressed_cache_size>8589934592</uncompressed_cache_size>
    <mark_cache_size>5368709120</mark_cache_size>
    <path>{{dir}}/data/</path>
    <tmp_path>{{dir}}/tmp/</tmp_path>
    <user_files_path>{{dir}}/user_files/</user_files_path>
    <format_schema_path>{{dir}}/format_schemas/</format_schema_path>
    <users_config>{{dir}}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
</yandex>
`

const clickhouseUsers = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>16000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`

// clickhouseSchema creates the events table; typ is the type of the
// low-cardinality string columns (String or LowCardinality(String)).
// Sorted by (event, time): the common layout for event tables.
func clickhouseSchema(typ string) string {
	return fmt.Sprintf("CREATE TABLE events (time DateTime, event %[1]s, distinct_id String, `$os` %[1]s, `$browser` %[1]s, "+
		"`$city` %[1]s, plan %[1]s, utm_source %[1]s, amount Nullable(Float64)) "+
		"ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY (event, time)", typ)
}

func startClickHouse(dir string) (*clickhouseServer, error) {
	c := &clickhouseServer{dir: dir, client: &http.Client{}}
	var err error
	if c.httpPort, err = freePort(); err != nil {
		return nil, err
	}
	if c.tcpPort, err = freePort(); err != nil {
		return nil, err
	}
	for _, sub := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	r := strings.NewReplacer("{{dir}}", dir, "{{http}}", fmt.Sprint(c.httpPort), "{{tcp}}", fmt.Sprint(c.tcpPort))
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(r.Replace(clickhouseConfig)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(clickhouseUsers), 0o644); err != nil {
		return nil, err
	}
	p, err := startProcess("clickhouse", filepath.Join(dir, "log", "stdout.log"), "clickhouse-server",
		"--config-file="+filepath.Join(dir, "config.xml"))
	if err != nil {
		return nil, err
	}
	c.proc = p
	err = waitUntil(60*time.Second, p, func() bool {
		_, err := c.exec(context.Background(), "", "SELECT 1", nil)
		return err == nil
	})
	if err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *clickhouseServer) stop() error {
	if c == nil {
		return nil
	}
	return c.proc.stop(time.Minute)
}

// exec posts query (body appended after it when not nil) to the HTTP
// interface and returns the reply. Settings go in the URL.
func (c *clickhouseServer) exec(ctx context.Context, db, query string, body io.Reader, settings ...string) (string, error) {
	v := url.Values{}
	if db != "" {
		v.Set("database", db)
	}
	for i := 0; i+1 < len(settings); i += 2 {
		v.Set(settings[i], settings[i+1])
	}
	var req *http.Request
	var err error
	u := fmt.Sprintf("http://127.0.0.1:%d/?", c.httpPort)
	if body != nil {
		v.Set("query", query)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u+v.Encode(), body)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u+v.Encode(), strings.NewReader(query))
	}
	if err != nil {
		return "", err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clickhouse: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(reply)))
	}
	return string(reply), nil
}

// load creates database db with the given column type and streams the
// dataset into it as one INSERT … FORMAT TabSeparated.
func (c *clickhouseServer) load(ctx context.Context, db, typ, path string) (loadResult, error) {
	res := loadResult{engine: "ClickHouse " + db, path: "HTTP INSERT FORMAT TabSeparated"}
	set := []string{"allow_experimental_low_cardinality_type", "1"}
	if _, err := c.exec(ctx, "", "CREATE DATABASE "+db, nil); err != nil {
		return res, err
	}
	if _, err := c.exec(ctx, db, clickhouseSchema(typ), nil, set...); err != nil {
		return res, err
	}
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	start := time.Now()
	if _, err := c.exec(ctx, db, "INSERT INTO events FORMAT TabSeparated", bufio.NewReaderSize(f, 1<<20), set...); err != nil {
		return res, err
	}
	res.elapsed = time.Since(start)
	out, err := c.exec(ctx, db, "SELECT count(), sum(bytes) FROM system.parts WHERE active AND database = '"+db+"' AND table = 'events'", nil)
	if err != nil {
		return res, err
	}
	if _, err := fmt.Sscanf(out, "%d\t%d", &res.rows, &res.diskBytes); err != nil {
		return res, fmt.Errorf("clickhouse: parts of %s: %q: %w", db, out, err)
	}
	if n, err := c.exec(ctx, db, "SELECT count() FROM events", nil); err == nil {
		fmt.Sscan(n, &res.rows)
	}
	res.note = "sum(bytes) of active parts"
	return res, nil
}

func (c *clickhouseDB) query(ctx context.Context, q string) ([][]any, error) {
	deadline, ok := ctx.Deadline()
	set := []string{}
	if ok {
		// Let the server stop too, not only the client.
		set = append(set, "max_execution_time", fmt.Sprint(int(time.Until(deadline).Seconds())+1))
	}
	out, err := c.srv.exec(ctx, c.db, q+"\nFORMAT TabSeparated", nil, set...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	var rows [][]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		row := make([]any, len(fields))
		for i, f := range fields {
			if f == `\N` {
				row[i] = nil
			} else {
				row[i] = tsvUnescape(f)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func tsvUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`, `\'`, `'`).Replace(s)
}
