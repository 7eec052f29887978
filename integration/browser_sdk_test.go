package integration

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The unmodified official browser SDK, installed by `.ci/run` (npm ci in
// integration/js), and the page that drives it.
const (
	browserUMD     = "js/node_modules/mixpanel-browser/dist/mixpanel.umd.js"
	browserPageDir = "js/browser"
	browserToken   = "tokweb"
	// browserBudgetMS is Chromium's virtual time per page: enough for the
	// SDK's 5 s batch flush, fast-forwarded, so it costs little real time.
	browserBudgetMS = 20000
)

// chromiumBinary finds Chromium: $CHROMIUM, chromium on $PATH, or
// /usr/bin/chromium.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		if !fileExists(p) {
			t.Fatalf("$CHROMIUM=%s does not exist: .ci/run installs chromium (apt-get install chromium)", p)
		}
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if fileExists("/usr/bin/chromium") {
		return "/usr/bin/chromium"
	}
	t.Fatal("chromium is not installed: .ci/run installs it (apt-get install chromium)")
	return ""
}

// pageLog is what the test page (js/browser/sdk-page.js) records.
type pageLog struct {
	Scenario string `json:"scenario"`
	Requests []struct {
		Method   string  `json:"method"`
		URL      string  `json:"url"`
		Body     *string `json:"body"`
		Status   int     `json:"status"`
		Response string  `json:"response"`
	} `json:"requests"`
	Beacons []struct {
		URL    string  `json:"url"`
		Body   *string `json:"body"`
		Result bool    `json:"result"`
	} `json:"beacons"`
	Callbacks []struct {
		I      int             `json:"i"`
		Result json.RawMessage `json:"result"`
	} `json:"callbacks"`
	Resend *struct {
		Method   string `json:"method"`
		URL      string `json:"url"`
		Body     string `json:"body"`
		Events   int    `json:"events"`
		Status   int    `json:"status"`
		Response string `json:"response"`
	} `json:"resend"`
	DistinctIDs []string `json:"distinctIds"`
	Errors      []string `json:"errors"`
	Done        bool     `json:"done"`
}

var (
	titleRE   = regexp.MustCompile(`<title>([^<]*)</title>`)
	pageLogRE = regexp.MustCompile(`(?s)<pre id="log">(.*?)</pre>`)
)

// runBrowserPage loads the test page for one scenario in a fresh headless
// Chromium and returns what the page logged.
func runBrowserPage(t *testing.T, chromium, pageURL string) *pageLog {
	t.Helper()
	return runBrowserPageFor(t, chromium, pageURL, browserBudgetMS, 45*time.Second, nil)
}

// runBrowserPageFor is runBrowserPage with budgetMS of virtual time, at
// most timeout of real time, and the page log also decoded into extra
// (when not nil) for fields pageLog does not have.
func runBrowserPageFor(t *testing.T, chromium, pageURL string, budgetMS int, timeout time.Duration, extra any) *pageLog {
	t.Helper()
	profile, err := os.MkdirTemp("", "arb-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-proxy-server",
		"--user-data-dir="+profile,
		fmt.Sprintf("--virtual-time-budget=%d", budgetMS),
		"--dump-dom", pageURL)
	// Its own process group, so the whole browser goes when it is done.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	dom := stdout.String()
	if err != nil {
		t.Fatalf("chromium %s: %v after %v\nstderr:\n%s\nDOM:\n%s", pageURL, err, time.Since(start), tailOf(stderr.String(), 4000), dom)
	}
	m := pageLogRE.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("chromium %s: no <pre id=\"log\"> in the dumped DOM\nstderr:\n%s\nDOM:\n%s", pageURL, tailOf(stderr.String(), 4000), dom)
	}
	var pl pageLog
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &pl); err != nil {
		t.Fatalf("page log: %v\n%s", err, m[1])
	}
	if extra != nil {
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), extra); err != nil {
			t.Fatalf("page log: %v\n%s", err, m[1])
		}
	}
	title := ""
	if tm := titleRE.FindStringSubmatch(dom); tm != nil {
		title = html.UnescapeString(tm[1])
	}
	t.Logf("chromium: %v real time, title %q, %d XHRs, %d beacons", time.Since(start).Round(time.Millisecond), title, len(pl.Requests), len(pl.Beacons))
	if len(pl.Errors) > 0 || !pl.Done || title != "done:"+pl.Scenario {
		t.Fatalf("page did not finish cleanly (title %q, done %v): errors %q\npage log: %s\nstderr:\n%s",
			title, pl.Done, pl.Errors, html.UnescapeString(m[1]), tailOf(stderr.String(), 4000))
	}
	return &pl
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// waitFor polls a one-value query until it answers want or 20 s pass.
// Errors are tolerated while waiting: the columns the SDK's properties
// create appear only with the first stored event.
func waitFor(t *testing.T, db *sql.DB, want, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	var err error
	for {
		var v sql.NullString
		err = db.QueryRow(query, args...).Scan(&v)
		got = "NULL"
		if v.Valid {
			got = v.String
		}
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %v: after 20 s got %q (error %v), want %q", query, args, got, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserSDK points the unmodified mixpanel-browser 2.83.0 in headless
// Chromium at arb, from a page on another origin, in each transport the
// SDK has, and checks on the server, through SQL, what was stored.
func TestBrowserSDK(t *testing.T) {
	chromium := chromiumBinary(t)
	if !fileExists(browserUMD) {
		t.Fatalf("%s is missing: .ci/run installs it (npm ci in integration/js)", browserUMD)
	}
	arb := startArb(t, "--project", "web:"+browserToken+":secweb")
	// A pool on the project's own database: with --project, arb has no
	// `default` database for arb.DB() to connect to.
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/web?parseTime=true&loc=UTC&interpolateParams=true", arb.mysqlPort))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	arbBase := strings.TrimSuffix(arb.url("/"), "/")

	// The page and the bundle come from a server of their own: another
	// origin than arb's, so every SDK request is cross-origin.
	mux := http.NewServeMux()
	mux.HandleFunc("/mixpanel.umd.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, browserUMD)
	})
	mux.Handle("/", http.FileServer(http.Dir(browserPageDir)))
	page := httptest.NewServer(mux)
	defer page.Close()
	pageOrigin := page.URL
	if pageOrigin == arbBase {
		t.Fatal("the page must not share arb's origin")
	}

	t.Run("cors", func(t *testing.T) {
		// The browser's XHRs use credentials: arb must echo the Origin
		// (a '*' makes the browser hide the reply) and allow credentials.
		pre, err := http.NewRequest(http.MethodOptions, arb.url("/track/?verbose=1&ip=1"), nil)
		if err != nil {
			t.Fatal(err)
		}
		pre.Header.Set("Origin", pageOrigin)
		pre.Header.Set("Access-Control-Request-Method", "POST")
		pre.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("preflight: HTTP %d", resp.StatusCode)
		}
		expect(t, "preflight Access-Control-Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), pageOrigin)
		expect(t, "preflight Access-Control-Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "true")
		if !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Methods")), "post") {
			t.Fatalf("preflight Access-Control-Allow-Methods %q lacks POST", resp.Header.Get("Access-Control-Allow-Methods"))
		}

		ev := fmt.Sprintf(`[{"event":"CORS probe","properties":{"token":%q,"distinct_id":"cors-probe","scenario":"cors","time":%d,"$insert_id":"cors-probe-1"}}]`, browserToken, time.Now().Unix())
		form := "data=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(ev)))
		req, err := http.NewRequest(http.MethodPost, arb.url("/track/?verbose=1&ip=1&_=1"), strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", pageOrigin)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		expect(t, "POST /track/ status", fmt.Sprint(resp.StatusCode), "200")
		expectVerbose1(t, "POST /track/ verbose reply", body.String())
		expect(t, "POST Access-Control-Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), pageOrigin)
		expect(t, "POST Access-Control-Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "true")
		waitFor(t, db, "1", "SELECT count(*) FROM web.events WHERE scenario = ?", "cors")
	})

	load := func(t *testing.T, scenario string) *pageLog {
		t.Helper()
		q := url.Values{"scenario": {scenario}, "arb": {arbBase}, "token": {browserToken}}
		pl := runBrowserPage(t, chromium, page.URL+"/?"+q.Encode())
		if pl.Scenario != scenario {
			t.Fatalf("page ran scenario %q, want %q", pl.Scenario, scenario)
		}
		return pl
	}

	// stored checks the three events every scenario but "identify" tracks
	// (Event 1..3 with properties step and nested {n}).
	stored := func(t *testing.T, scenario string) {
		t.Helper()
		waitFor(t, db, "3", "SELECT count(*) FROM web.events WHERE scenario = ?", scenario)
		expect(t, scenario+": rows", queryString(t, db,
			"SELECT count(*), count(DISTINCT insert_id), CAST(sum(step) AS SIGNED), min(mp_lib), max(`$lib_version`), count(DISTINCT distinct_id) FROM web.events WHERE scenario = ?", scenario),
			"3|3|6|web|2.83.0|1")
		expect(t, scenario+": events", queryString(t, db,
			"SELECT event, JSON_EXTRACT(nested, '$.n') FROM web.events WHERE scenario = ? ORDER BY step", scenario),
			"Event 1|1\nEvent 2|2\nEvent 3|3")
		expect(t, scenario+": anonymous ids", queryString(t, db,
			"SELECT count(*) FROM web.events WHERE scenario = ? AND raw_distinct_id LIKE '$device:%' AND raw_distinct_id = distinct_id", scenario), "3")
		if got := queryString(t, db, "SELECT min(`$current_url`) FROM web.events WHERE scenario = ?", scenario); !strings.HasPrefix(got, pageOrigin+"/?") {
			t.Fatalf("%s: $current_url %q, want the test page", scenario, got)
		}
		checkTimes(t, db, scenario)
	}

	// trackXHRs returns the SDK's XHRs to /track/ and checks arb answered
	// each with 200 (the browser reports 0 when CORS fails).
	type xhr = struct {
		Method   string
		URL      string
		Body     *string
		Status   int
		Response string
	}
	trackXHRs := func(t *testing.T, pl *pageLog) []xhr {
		t.Helper()
		var out []xhr
		for _, r := range pl.Requests {
			if r.Status != 200 {
				t.Fatalf("%s %s: browser saw HTTP %d (%q)", r.Method, r.URL, r.Status, r.Response)
			}
			if strings.HasPrefix(r.URL, arbBase+"/track/?") {
				out = append(out, xhr(r))
			}
		}
		if len(out) == 0 {
			t.Fatalf("no XHR to %s/track/: %+v", arbBase, pl.Requests)
		}
		return out
	}
	batched := func(t *testing.T, pl *pageLog) []xhr {
		t.Helper()
		reqs := trackXHRs(t, pl)
		for _, r := range reqs {
			if r.Method != "POST" || r.Body == nil || !strings.HasPrefix(*r.Body, "data=") || !strings.Contains(r.URL, "verbose=1") {
				t.Fatalf("batched request %s %s body %v: want POST data= with verbose=1", r.Method, r.URL, r.Body)
			}
			expectVerbose1(t, "batch reply", r.Response)
		}
		return reqs
	}
	callbacksAll1 := func(t *testing.T, pl *pageLog) {
		t.Helper()
		if len(pl.Callbacks) != 3 {
			t.Fatalf("%d track callbacks, want 3: %+v", len(pl.Callbacks), pl.Callbacks)
		}
		for _, c := range pl.Callbacks {
			expect(t, fmt.Sprintf("track callback %d", c.I), string(c.Result), "1")
		}
	}

	t.Run("batch", func(t *testing.T) {
		// Defaults: batched POSTs of %-encoded base64 arrays, verbose=1.
		pl := load(t, "batch")
		for _, r := range batched(t, pl) {
			if strings.HasPrefix(*r.Body, "data=%5B") {
				t.Fatalf("default payload format is raw JSON, want base64: %.80s", *r.Body)
			}
		}
		stored(t, "batch")
	})

	t.Run("batch_requests_false", func(t *testing.T) {
		// One POST per event, a single object, reply 1 given to the callback.
		pl := load(t, "nobatch")
		reqs := trackXHRs(t, pl)
		if len(reqs) != 3 {
			t.Fatalf("%d requests, want one per event", len(reqs))
		}
		for _, r := range reqs {
			if r.Method != "POST" || r.Body == nil || !strings.HasPrefix(*r.Body, "data=") {
				t.Fatalf("%s %s body %v: want POST data=", r.Method, r.URL, r.Body)
			}
			expect(t, "reply", r.Response, "1")
		}
		callbacksAll1(t, pl)
		stored(t, "nobatch")
	})

	t.Run("api_method_GET", func(t *testing.T) {
		pl := load(t, "get")
		reqs := trackXHRs(t, pl)
		for _, r := range reqs {
			if r.Method != "GET" || r.Body != nil || !strings.Contains(r.URL, "data=") {
				t.Fatalf("%s %s body %v: want GET with data= in the URL", r.Method, r.URL, r.Body)
			}
			expect(t, "reply", r.Response, "1")
		}
		callbacksAll1(t, pl)
		stored(t, "get")
	})

	t.Run("api_payload_format_json", func(t *testing.T) {
		pl := load(t, "json")
		for _, r := range batched(t, pl) {
			if !strings.HasPrefix(*r.Body, "data=%5B") {
				t.Fatalf("json payload format: body %.80s, want data=<%%-encoded JSON array>", *r.Body)
			}
		}
		stored(t, "json")
	})

	t.Run("sendBeacon", func(t *testing.T) {
		// text/plain beacons: the page cannot see arb's reply, so only the
		// server side tells whether they were taken.
		pl := load(t, "beacon")
		if len(pl.Beacons) != 3 {
			t.Fatalf("%d beacons, want 3: %+v", len(pl.Beacons), pl.Beacons)
		}
		for _, b := range pl.Beacons {
			if !b.Result || !strings.HasPrefix(b.URL, arbBase+"/track/?") || b.Body == nil || !strings.HasPrefix(*b.Body, "data=") {
				t.Fatalf("beacon %+v: want an accepted POST of data= to /track/", b)
			}
		}
		for _, r := range pl.Requests {
			if strings.HasPrefix(r.URL, arbBase+"/track") {
				t.Fatalf("sendBeacon transport made an XHR: %s %s", r.Method, r.URL)
			}
		}
		callbacksAll1(t, pl)
		stored(t, "beacon")
	})

	t.Run("identify", func(t *testing.T) {
		// Two anonymous events, identify('alice'), one more: one user,
		// 'alice', owns all three; the raw ids stay as sent.
		pl := load(t, "identify")
		batched(t, pl)
		if len(pl.DistinctIDs) != 2 || !strings.HasPrefix(pl.DistinctIDs[0], "$device:") || pl.DistinctIDs[1] != "alice" {
			t.Fatalf("SDK distinct ids before/after identify: %q", pl.DistinctIDs)
		}
		anon := pl.DistinctIDs[0]
		waitFor(t, db, "3", "SELECT count(*) FROM web.events WHERE scenario = ?", "identify")
		expect(t, "events of alice", queryString(t, db, "SELECT count(*) FROM web.events WHERE distinct_id = 'alice' AND scenario = 'identify'"), "3")
		expect(t, "one user", queryString(t, db, "SELECT count(DISTINCT distinct_id) FROM web.events WHERE scenario = 'identify'"), "1")
		expect(t, "raw ids", queryString(t, db,
			"SELECT event, raw_distinct_id, `$device_id`, `$user_id` FROM web.events WHERE scenario = 'identify' ORDER BY step"),
			fmt.Sprintf("Anon A|%[1]s|%[2]s|NULL\nAnon B|%[1]s|%[2]s|NULL\nKnown C|alice|%[2]s|alice", anon, strings.TrimPrefix(anon, "$device:")))
		expect(t, "anonymous raw ids", queryString(t, db,
			"SELECT count(*) FROM web.events WHERE scenario = 'identify' AND raw_distinct_id LIKE '$device:%'"), "2")
		expect(t, "$identify event", queryString(t, db,
			"SELECT count(*), min(distinct_id), min(`$anon_distinct_id`) FROM web.events WHERE event = '$identify'"), "1|alice|"+anon)
		checkTimes(t, db, "identify")
	})

	t.Run("resend", func(t *testing.T) {
		// The page posts the SDK's batch a second time, byte for byte, as
		// the SDK does after a timeout or on unload: it counts once.
		pl := load(t, "resend")
		reqs := batched(t, pl)
		rs := pl.Resend
		if rs == nil {
			t.Fatal("the page did not resend")
		}
		if rs.Events < 1 || rs.Body != *reqs[0].Body || rs.URL != reqs[0].URL {
			t.Fatalf("resent %d events to %s, want the SDK's first batch (%s)", rs.Events, rs.URL, reqs[0].URL)
		}
		expect(t, "resend status", fmt.Sprint(rs.Status), "200")
		expectVerbose1(t, "resend reply", rs.Response)
		// Both copies are acknowledged, hence stored: what a query sees
		// now is final.
		stored(t, "resend")
	})

	// Nothing else arrived: the CORS probe and 3 events per page.
	if !t.Failed() {
		expect(t, "all events", queryString(t, db, "SELECT count(*) FROM web.events WHERE event <> '$identify'"), "22")
	}
}

// checkTimes checks the scenario's event times are the browser's clock:
// now, give or take Chromium's fast-forwarded virtual time.
func checkTimes(t *testing.T, db *sql.DB, scenario string) {
	t.Helper()
	got := queryString(t, db, "SELECT min(time), max(time) FROM web.events WHERE scenario = ?", scenario)
	lo, hi, _ := strings.Cut(got, "|")
	for _, s := range []string{lo, hi} {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("%s: time %q: %v", scenario, s, err)
		}
		if d := time.Since(tm); d < -2*time.Minute || d > 10*time.Minute {
			t.Fatalf("%s: event time %v is %v away from now", scenario, tm, d)
		}
	}
}

// expectVerbose1 checks a verbose legacy reply is {"status":1,"error":null}
// (as JSON: the key order is free).
func expectVerbose1(t *testing.T, what, body string) {
	t.Helper()
	var v struct {
		Status *json.Number    `json:"status"`
		Error  json.RawMessage `json:"error"`
	}
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil || v.Status == nil || v.Status.String() != "1" || string(v.Error) != "null" {
		t.Fatalf("%s: %q, want {\"status\":1,\"error\":null}", what, body)
	}
}
