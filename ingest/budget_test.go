package ingest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/sync/semaphore"
)

// TestBudgetedBodyChargesBytesRead: a sender that has sent nothing holds
// no budget; what it sends is charged as it arrives and released whole.
func TestBudgetedBodyChargesBytesRead(t *testing.T) {
	const size = 1000
	sem := semaphore.NewWeighted(size)
	pr, pw := io.Pipe()
	r := httptest.NewRequest("POST", "/import", pr)
	r.ContentLength = 1 << 20 // announced, never sent
	b := newBudgetedBody(r, sem, 0, httptest.NewRecorder())

	first := make(chan error, 1)
	go func() { first <- b.waitFirstByte() }()
	// Nothing sent yet: the whole budget is free.
	if !sem.TryAcquire(size) {
		t.Fatal("budget charged before any body byte arrived")
	}
	sem.Release(size)

	pw.Write([]byte("[{}"))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if b.held != 3 {
		t.Fatalf("held %d after 3 bytes, want 3", b.held)
	}
	go func() { pw.Write([]byte(strings.Repeat(" ", 97) + "]")); pw.Close() }()
	body, err := io.ReadAll(b.request().Body)
	if err != nil || len(body) != 101 {
		t.Fatalf("body %d bytes, %v; want 101", len(body), err)
	}
	if b.held != 101 {
		t.Fatalf("held %d after 101 bytes, want 101", b.held)
	}
	if got := b.request().ContentLength; got != bodyPresizeBytes {
		t.Fatalf("Content-Length passed on %d, want it capped at %d", got, bodyPresizeBytes)
	}
	b.release()
	if !sem.TryAcquire(size) {
		t.Fatal("budget not wholly released")
	}
}

// TestBudgetedBodyOverloaded: bytes that cannot be charged within
// ingestWait end the read with errIngestOverloaded.
func TestBudgetedBodyOverloaded(t *testing.T) {
	sem := semaphore.NewWeighted(4)
	r := httptest.NewRequest("POST", "/import", strings.NewReader("0123456789"))
	b := newBudgetedBody(r, sem, 0, httptest.NewRecorder())
	if err := b.waitFirstByte(); !errors.Is(err, errIngestOverloaded) {
		t.Fatalf("waitFirstByte: %v, want errIngestOverloaded", err)
	}
	if b.held != 0 {
		t.Fatalf("held %d after a failed charge", b.held)
	}
}

// TestBudgetedBodyEmpty: no body and an empty body read as empty.
func TestBudgetedBodyEmpty(t *testing.T) {
	for _, body := range []io.Reader{nil, strings.NewReader("")} {
		r := httptest.NewRequest("GET", "/track?data=x", body)
		b := newBudgetedBody(r, semaphore.NewWeighted(10), 0, httptest.NewRecorder())
		if err := b.waitFirstByte(); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if rb := b.request().Body; rb != nil && rb != http.NoBody {
			got, _ = io.ReadAll(rb)
		}
		if len(got) != 0 || b.held != 0 {
			t.Fatalf("body %q, held %d", got, b.held)
		}
	}
}
