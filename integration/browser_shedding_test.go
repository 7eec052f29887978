package integration

// The browser SDK against a shedding server (issue 14): the unmodified
// mixpanel-browser in headless Chromium tracks events while arb refuses
// every batch with 503 (its ingest buffer full because flushes fail), and
// then recovers. What must hold: the SDK's retries deliver every event in
// the end, each stored exactly once, and nothing stored before is lost.
//
// What the SDK does (mixpanel-browser 2.83.0, src/request-batcher.js):
// a batch answered 5xx or 429 stays queued and the whole queue is retried
// after twice the current flush interval (5 s at first: 10 s, 20 s, 40 s,
// … up to 10 minutes); Retry-After would replace that delay, but over XHR
// the SDK reads it from req.responseHeaders, which XMLHttpRequest does
// not have, so it is never seen. A 413 halves the batch instead. Chromium
// runs the page in virtual time: the back-off costs no real time, and
// virtual time stands still while a request is in flight, so the pace is
// arb's (each refusal waits storage.DefaultBufferWait, 2 s, for room).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// shedPageLog is the part of the page log (js/browser/sdk-page.js) this
// test reads beyond pageLog.
type shedPageLog struct {
	Requests []struct {
		URL    string  `json:"url"`
		Body   *string `json:"body"`
		Status int     `json:"status"`
		SentMS int64   `json:"sentMs"` // page (virtual) time
		DoneMS int64   `json:"doneMs"`
	} `json:"requests"`
	Reports []struct {
		MS  int64  `json:"ms"`
		Msg string `json:"msg"`
	} `json:"reports"`
}

const (
	shedEvents = 200 // events the page tracks: 4 of the SDK's batches of 50
	// shedBudgetMS is the page's virtual time: the SDK's back-off reaches
	// its 10-minute cap after about 20 minutes, so 4 hours leaves about 20
	// retries, a refused one costing about 2 s of real time, for the
	// server to recover in.
	shedBudgetMS = 4 * 3600 * 1000
	// shedRefusalsBeforeRecovery is how many of the SDK's requests are
	// refused before the tmpfs grows: its first attempt and two retries.
	shedRefusalsBeforeRecovery = 3
)

func TestBrowserShedding(t *testing.T) {
	chromium := chromiumBinary(t)
	if !fileExists(browserUMD) {
		t.Fatalf("%s is missing: .ci/run installs it (npm ci in integration/js)", browserUMD)
	}
	// segments/ on a 64 KiB tmpfs: every flush fails for want of room
	// while the WAL (on the data directory's own disk) takes writes.
	dir := t.TempDir()
	segs := filepath.Join(dir, "segments")
	mountTmpfs(t, segs, "64k")
	const token, secret = "tokshed", "secshed"
	arb := startArbAt(t, dir, "--project", "shed:"+token+":"+secret, "--memory-limit", strconv.Itoa(64<<20), "--log-level", "error")
	arbBase := strings.TrimSuffix(arb.url("/"), "/")

	filled := fillIngestBuffer(t, arb, secret)

	// The page and the bundle from another origin, as in TestBrowserSDK.
	mux := http.NewServeMux()
	mux.HandleFunc("/mixpanel.umd.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, browserUMD)
	})
	mux.Handle("/", http.FileServer(http.Dir(browserPageDir)))
	page := httptest.NewServer(mux)
	defer page.Close()

	// Once the SDK has been refused shedRefusalsBeforeRecovery times,
	// the tmpfs grows: flushes catch up and the next retry goes in.
	metricsURL := arb.url("/metrics")
	refused0, err := overloadRefusals(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	browserDone := make(chan struct{})
	type growth struct {
		at       time.Time
		refusals int // the SDK's requests refused by then
		err      error
	}
	grown := make(chan growth, 1)
	go func() {
		deadline := time.After(120 * time.Second)
		n := 0
	wait:
		for n < shedRefusalsBeforeRecovery {
			select {
			case <-browserDone:
				break wait
			case <-deadline:
				break wait
			case <-time.After(100 * time.Millisecond):
			}
			if r, err := overloadRefusals(metricsURL); err == nil {
				n = r - refused0
			}
		}
		out, err := exec.Command("mount", "-o", "remount,size=256m", segs).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("grow the tmpfs: %v: %s", err, out)
		}
		grown <- growth{at: time.Now(), refusals: n, err: err}
	}()
	// The watcher ends before the tmpfs is unmounted, even if the page
	// fails (cleanups run last first).
	var stopOnce sync.Once
	var watched growth
	stopWatch := func() growth {
		stopOnce.Do(func() { close(browserDone); watched = <-grown })
		return watched
	}
	t.Cleanup(func() { stopWatch() })

	start := time.Now()
	q := url.Values{"scenario": {"shed"}, "arb": {arbBase}, "token": {token}, "events": {strconv.Itoa(shedEvents)}}
	var sl shedPageLog
	runBrowserPageFor(t, chromium, page.URL+"/?"+q.Encode(), shedBudgetMS, 300*time.Second, &sl)
	finished := time.Now()
	g := stopWatch()
	if g.err != nil {
		t.Fatal(g.err)
	}
	if g.refusals < shedRefusalsBeforeRecovery {
		t.Fatalf("the tmpfs grew after %d refusals of the SDK's requests, want %d (before: %d)",
			g.refusals, shedRefusalsBeforeRecovery, refused0)
	}
	t.Logf("SDK refused %d times in %s before the tmpfs grew; the page finished %s after it grew",
		g.refusals, g.at.Sub(start).Round(time.Millisecond), finished.Sub(g.at).Round(time.Millisecond))

	// The page log: which of the SDK's requests were refused, and that
	// every event a refused request carried came again and was taken.
	var history []string // one line per request, for failures and the log
	refusedIDs := map[string]bool{}
	ackedIDs := map[string]int{} // insert_id -> seq
	seqOf := map[string]int{}
	refusedRequests, sawRetry := 0, false
	for i, r := range sl.Requests {
		if !strings.HasPrefix(r.URL, arbBase+"/track/?") || r.Body == nil {
			t.Fatalf("request %d: %s (body %v): want the SDK's POST to /track/", i, r.URL, r.Body != nil)
		}
		evs := trackedEvents(t, *r.Body)
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.insertID)
			if prev, ok := seqOf[e.insertID]; ok && prev != e.seq {
				t.Fatalf("insert_id %s sent with seq %d and %d", e.insertID, prev, e.seq)
			}
			seqOf[e.insertID] = e.seq
		}
		lo, hi := evs[0].seq, evs[0].seq
		for _, e := range evs {
			lo, hi = min(lo, e.seq), max(hi, e.seq)
		}
		history = append(history, fmt.Sprintf("%d: %d events (seq %d..%d) sent at %.1fs page time, HTTP %d",
			i, len(evs), lo, hi, float64(r.SentMS)/1000, r.Status))
		switch r.Status {
		case http.StatusServiceUnavailable:
			refusedRequests++
			for _, id := range ids {
				if refusedIDs[id] {
					sawRetry = true
				}
				refusedIDs[id] = true
			}
		case http.StatusOK:
			for _, e := range evs {
				ackedIDs[e.insertID] = e.seq
			}
		default:
			t.Fatalf("request %d: HTTP %d, want 200 or 503\n%s", i, r.Status, strings.Join(history, "\n"))
		}
	}
	t.Logf("the SDK's requests:\n%s", strings.Join(history, "\n"))
	var retryMsgs []string
	for _, r := range sl.Reports {
		retryMsgs = append(retryMsgs, fmt.Sprintf("%.1fs %s", float64(r.MS)/1000, r.Msg))
	}
	t.Logf("the SDK's error reports:\n%s", strings.Join(retryMsgs, "\n"))
	if refusedRequests < shedRefusalsBeforeRecovery || sl.Requests[0].Status != http.StatusServiceUnavailable {
		t.Fatalf("%d of the SDK's requests refused with 503 (first: HTTP %d), want the first and at least %d",
			refusedRequests, sl.Requests[0].Status, shedRefusalsBeforeRecovery)
	}
	if !sawRetry {
		t.Fatalf("no event was sent again after a 503: the SDK did not retry")
	}
	for id := range refusedIDs {
		if _, ok := ackedIDs[id]; !ok {
			t.Fatalf("event %s (seq %d) was refused and never acknowledged", id, seqOf[id])
		}
	}
	if len(ackedIDs) != shedEvents {
		t.Fatalf("%d distinct events acknowledged, want %d", len(ackedIDs), shedEvents)
	}
	seqs := map[int]bool{}
	for _, s := range ackedIDs {
		seqs[s] = true
	}
	for s := 1; s <= shedEvents; s++ {
		if !seqs[s] {
			t.Fatalf("event seq %d never acknowledged", s)
		}
	}
	retried := 0
	for _, r := range sl.Reports {
		if strings.HasPrefix(r.Msg, "Error; retry in ") {
			retried++
		}
	}
	if retried != refusedRequests {
		t.Fatalf("the SDK reported %d retries for %d refusals", retried, refusedRequests)
	}

	// On the server: each of the SDK's events once, by its own insert_id,
	// and the events stored before the shedding all still there.
	db := arb.DB()
	expect(t, "the SDK's events", queryString(t, db,
		"SELECT count(*), count(DISTINCT insert_id), count(DISTINCT seq), min(seq), max(seq), min(mp_lib) FROM events WHERE scenario = 'shed'"),
		fmt.Sprintf("%d|%d|%d|1|%d|web", shedEvents, shedEvents, shedEvents, shedEvents))
	rows, err := db.Query("SELECT insert_id, seq FROM events WHERE scenario = 'shed'")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for rows.Next() {
		var id string
		var seq float64
		if err := rows.Scan(&id, &seq); err != nil {
			t.Fatal(err)
		}
		stored[id] = int(seq)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for id, seq := range ackedIDs {
		if s, ok := stored[id]; !ok || s != seq {
			t.Fatalf("event %s (seq %d) acknowledged to the SDK: stored %v with seq %d", id, seq, ok, s)
		}
	}
	expect(t, "all events", queryString(t, db, "SELECT count(*), count(DISTINCT insert_id) FROM events"),
		fmt.Sprintf("%d|%d", filled+shedEvents, filled+shedEvents))
}

// overloadRefusals reads arb_ingest_overloaded_total: the batches arb
// refused because its ingest buffer stayed full.
func overloadRefusals(metricsURL string) (int, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "arb_ingest_overloaded_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("%s: no arb_ingest_overloaded_total", metricsURL)
}

// trackedEvent is what the test reads of one event the SDK sent.
type trackedEvent struct {
	insertID string
	seq      int
}

// trackedEvents decodes the events of the SDK's /track POST body
// (data=<%-encoded base64 JSON array>), all of scenario "shed".
func trackedEvents(t *testing.T, body string) []trackedEvent {
	t.Helper()
	form, err := url.ParseQuery(body)
	if err != nil {
		t.Fatalf("SDK body %.80q: %v", body, err)
	}
	var evs []struct {
		Properties struct {
			InsertID string  `json:"$insert_id"`
			Scenario string  `json:"scenario"`
			Seq      float64 `json:"seq"`
		} `json:"properties"`
	}
	raw, err := base64.StdEncoding.DecodeString(form.Get("data"))
	if err == nil {
		err = json.Unmarshal(raw, &evs)
	}
	if err != nil {
		t.Fatalf("SDK body %.80q: %v", body, err)
	}
	if len(evs) == 0 {
		t.Fatalf("SDK body %.80q: no events", body)
	}
	out := make([]trackedEvent, len(evs))
	for i, e := range evs {
		p := e.Properties
		if p.Scenario != "shed" || p.InsertID == "" || p.Seq != math.Trunc(p.Seq) {
			t.Fatalf("SDK event %+v: want scenario shed, an $insert_id and an integer seq", p)
		}
		out[i] = trackedEvent{insertID: p.InsertID, seq: int(p.Seq)}
	}
	return out
}

// fillIngestBuffer fills arb's ingest buffer with /import events until
// it has less room than the smallest event could take, so that any batch
// the SDK sends is refused while flushes keep failing. It returns how
// many events it stored. The room is read from /metrics; the events are
// all the same shape but for a pad property, so each one's size in the
// buffer is a fixed base plus its pad.
func fillIngestBuffer(t *testing.T, arb *arbProcess, secret string) int {
	t.Helper()
	const bulkPad = 4000
	metrics := func() (buffered, limit int64) {
		m := scrapeMetrics(t, arb.url("/metrics"), "arb_ingest_buffer_bytes", "arb_ingest_buffer_limit_bytes")
		if _, ok := m["arb_ingest_buffer_bytes"]; !ok || m["arb_ingest_buffer_limit_bytes"] <= 0 {
			t.Fatalf("/metrics lacks the ingest buffer's gauges: %v", m)
		}
		return int64(m["arb_ingest_buffer_bytes"]), int64(m["arb_ingest_buffer_limit_bytes"])
	}
	stored := 0
	// Random pads: segments of them do not compress into the tmpfs.
	rng := rand.New(rand.NewPCG(14, 14))
	padOf := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = 'a' + byte(rng.IntN(26))
		}
		return p
	}
	post := func(pads []int) (int, string) {
		var b bytes.Buffer
		b.WriteString("[")
		for i, pad := range pads {
			if i > 0 {
				b.WriteString(",")
			}
			// Fixed-width names and ids: only the pad changes the size.
			fmt.Fprintf(&b, `{"event":"Fill","properties":{"time":%d,"distinct_id":"filler","$insert_id":"fill%06d","pad":"%s"}}`,
				time.Now().UnixMilli(), stored+i, padOf(pad))
		}
		b.WriteString("]")
		req, _ := http.NewRequest("POST", arb.url("/import?strict=1"), &b)
		req.SetBasicAuth(secret, "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			stored += len(pads)
		}
		return resp.StatusCode, string(msg)
	}
	repeat := func(n, pad int) []int { return slices.Repeat([]int{pad}, n) }

	// One event into the empty buffer gives the base size.
	before, limit := metrics()
	if code, msg := post(repeat(1, bulkPad)); code != http.StatusOK {
		t.Fatalf("first /import: HTTP %d %s", code, msg)
	}
	after, _ := metrics()
	base := after - before - bulkPad
	if base < 96 || base > 1000 {
		t.Fatalf("one event of a %d-byte pad took %d bytes of the ingest buffer", bulkPad, after-before)
	}
	var steps []string
	for step := 0; ; step++ {
		buffered, _ := metrics()
		room := limit - buffered
		// Less room than the smallest filler event (an empty pad), and
		// the SDK's events are larger: a dozen more properties.
		if room < base {
			t.Logf("ingest buffer filled: %d of %d bytes (%d events of %d+pad bytes), steps %s",
				buffered, limit, stored, base, strings.Join(steps, ", "))
			return stored
		}
		if step == 20 {
			t.Fatalf("ingest buffer still has %d bytes of room after steps %s", room, strings.Join(steps, ", "))
		}
		// Bulk events until less than two of them fit, then one that
		// leaves less than half a filler event's room.
		var pads []int
		bulk := base + bulkPad
		if n := min(1500, room/bulk-1); n > 0 {
			pads = repeat(int(n), bulkPad)
		} else {
			pads = []int{int(max(0, room-base-base/2))}
		}
		code, msg := post(pads)
		steps = append(steps, fmt.Sprintf("%d events into %d bytes of room: HTTP %d", len(pads), room, code))
		if code != http.StatusOK {
			// Refused: the buffer has less room than counted; read again.
			if code != http.StatusServiceUnavailable {
				t.Fatalf("filling the ingest buffer: HTTP %d %s", code, msg)
			}
		}
	}
}
