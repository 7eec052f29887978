package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// skewedEvent is an event sent by a device whose clock runs ahead.
type skewedEvent struct {
	name     string
	insertID string // "" for none
	timeMs   int64  // as sent
}

// postTrack sends events to /track with verbose=1 and fails unless the
// reply is status 1.
func postTrack(t *testing.T, srv *Server, events []skewedEvent) {
	t.Helper()
	var recs []string
	for _, e := range events {
		props := fmt.Sprintf(`"token":"tok","distinct_id":"u1","time":%d`, e.timeMs)
		if e.insertID != "" {
			props += fmt.Sprintf(`,"$insert_id":%q`, e.insertID)
		}
		recs = append(recs, fmt.Sprintf(`{"event":%q,"properties":{%s}}`, e.name, props))
	}
	body := "[" + strings.Join(recs, ",") + "]"
	resp, err := http.Post("http://"+srv.HTTPAddr()+"/track?verbose=1", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	var v struct{ Status int }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(reply, &v) != nil || v.Status != 1 {
		t.Fatalf("/track: %d %s", resp.StatusCode, reply)
	}
}

// TestTrackDedupTimeAhead resends events stamped 30 s and 59 min ahead of
// the server's clock: the time is kept as sent, so every resend has the
// dedup key of the first and an $insert_id stays one row whether the
// first copy is buffered, flushed to a segment, reopened after a restart,
// or merged by a compaction. Events without $insert_id are never deduplicated (README):
// each send is a row, with the time as sent.
func TestTrackDedupTimeAhead(t *testing.T) {
	dir := t.TempDir()
	srv := startTestServer(t, dir)
	now := time.Now()
	events := []skewedEvent{
		{"Ahead30s", "ahead-30s", now.Add(30 * time.Second).UnixMilli()},
		{"Ahead59m", "ahead-59m", now.Add(59 * time.Minute).UnixMilli()},
		{"NoID30s", "", now.Add(30 * time.Second).UnixMilli()},
		{"NoID59m", "", now.Add(59 * time.Minute).UnixMilli()},
	}
	sends := 0
	check := func(stage string) {
		t.Helper()
		db := openDB(t, srv, "")
		for _, e := range events {
			rows, err := db.Query("SELECT time FROM events WHERE event = ?", e.name)
			if err != nil {
				t.Fatalf("%s: %v", stage, err)
			}
			n := 0
			for rows.Next() {
				var got time.Time
				if err := rows.Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got.UnixMilli() != e.timeMs {
					t.Errorf("%s: %s stored at %d, sent %d", stage, e.name, got.UnixMilli(), e.timeMs)
				}
				n++
			}
			rows.Close()
			want := 1
			if e.insertID == "" {
				want = sends
			}
			if n != want {
				t.Errorf("%s: %s has %d rows after %d sends, want %d", stage, e.name, n, sends, want)
			}
		}
		db.Close()
	}
	resend := func(stage string) {
		t.Helper()
		postTrack(t, srv, events)
		sends++
		check(stage)
	}

	resend("first send")
	// The server's clock must move on between sends (a clamp to the
	// receive time gave each retry another time); there is no clock to
	// inject into the HTTP path, so the test lets 2 s pass.
	time.Sleep(2 * time.Second)
	resend("resend 2 s later, first copy buffered")
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	resend("resend after a flush")
	if err := srv.Store().Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	srv = startTestServer(t, dir)
	resend("resend after a restart")
	for i := 0; i < 2; i++ { // the restart's resend is in memory: flush it, merge the day
		if err := srv.Store().Flush(); err != nil {
			t.Fatal(err)
		}
		if err := srv.Store().Compact(); err != nil {
			t.Fatal(err)
		}
	}
	if st := srv.Store().CompactionStats(); st.Runs == 0 || st.Failures != 0 {
		t.Fatalf("compactions: %+v, want runs and no failure", st)
	}
	resend("resend after a compaction")
}
