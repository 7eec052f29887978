package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReadyzSaysWhenQueriesCannotBeAnswered: /readyz is 200 while the
// MySQL listener serves and 503 naming it once that loop has stopped,
// while /healthz (liveness) stays 200.
func TestReadyzSaysWhenQueriesCannotBeAnswered(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz of a serving server: %d %q", code, body)
	}
	srv.mysql.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get("/readyz")
		if code == 503 && strings.Contains(body, "MySQL listener stopped") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with the MySQL listener closed: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
}
