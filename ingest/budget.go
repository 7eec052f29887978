package ingest

// The ingest budget: how much HTTP request data is held at once.
//
// A request is charged for the bytes it has actually sent (its query
// string at once, its body as each read returns), and keeps that charge
// until it is answered, since the decoded records live that long. A
// sender that announces a large Content-Length and then sends nothing
// holds nothing; one that sends slowly holds only what it sent, and only
// until its body read deadline (--http-body-read-timeout), when it gets
// 408 and its connection is closed. A read that cannot be charged within
// ingestWait ends the request with 503 and Retry-After.
//
// Memory follows the charge: no body buffer is taken before the first
// body byte arrives, and the buffer is not sized from the announced
// length beyond bodyPresizeBytes (readBodyInto would otherwise allocate
// up to 10 MiB for a sender that has sent one byte).
//
// INVARIANT: budgetedBody.held equals what it acquired from the budget
// and has not released; release returns all of it exactly once.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// bodyPresizeBytes bounds the body buffer allocated from Content-Length
// before the bytes have arrived; a larger body grows it as it comes.
const bodyPresizeBytes = 64 << 10

var (
	// errIngestOverloaded: the budget had no room within ingestWait.
	errIngestOverloaded = errors.New("server overloaded: too much ingestion in flight; retry with backoff")
	// errBodyTimeout: the body did not arrive within the read deadline.
	errBodyTimeout = errors.New("request body not received within the read deadline")
)

// budgetedBody reads a request body, charging the budget for each byte
// read. It is used by one request's goroutine only.
type budgetedBody struct {
	r       *http.Request
	budget  *semaphore.Weighted
	timeout time.Duration
	rc      *http.ResponseController // nil when no deadline could be set
	held    int64                    // bytes acquired from budget; see the INVARIANT above
	head    []byte                   // read by waitFirstByte, not yet returned by Read
	headErr error                    // the error that came with head
	// err is why the body could not be read (errIngestOverloaded or
	// errBodyTimeout), nil otherwise; serve answers it in place of the
	// payload error readBodyInto reports.
	err error
	// inflight, when set, counts the bytes charged by every request (the
	// arb_ingest_request_bytes gauge).
	inflight *atomic.Int64
}

// newBudgetedBody starts r's body read deadline (timeout from now; none
// when zero or when w cannot set one).
func newBudgetedBody(r *http.Request, budget *semaphore.Weighted, timeout time.Duration, w http.ResponseWriter) *budgetedBody {
	b := &budgetedBody{r: r, budget: budget, timeout: timeout}
	if timeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			b.rc = rc
		}
	}
	return b
}

// charge acquires n bytes of budget, waiting up to ingestWait.
func (b *budgetedBody) charge(ctx context.Context, n int64) error {
	ctx, cancel := context.WithTimeout(ctx, ingestWait)
	defer cancel()
	if err := b.budget.Acquire(ctx, n); err != nil {
		return errIngestOverloaded
	}
	b.held += n
	if b.inflight != nil {
		b.inflight.Add(n)
	}
	return nil
}

// release gives back everything charged.
func (b *budgetedBody) release() {
	if b.held > 0 {
		b.budget.Release(b.held)
		if b.inflight != nil {
			b.inflight.Add(-b.held)
		}
		b.held = 0
	}
}

// waitFirstByte blocks until the body's first bytes (or its end) arrive,
// so that an idle sender costs no body buffer. It returns b.err when the
// deadline passed or the budget had no room.
func (b *budgetedBody) waitFirstByte() error {
	if b.r.Body == nil || b.r.Body == http.NoBody {
		return nil
	}
	var first [512]byte
	n, err := b.read(first[:])
	for n == 0 && err == nil {
		n, err = b.read(first[:])
	}
	b.head, b.headErr = first[:n:n], err
	return b.err
}

// Read implements io.Reader for readBodyInto.
func (b *budgetedBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	if b.headErr != nil {
		return 0, b.headErr
	}
	return b.read(p)
}

// Close implements io.Closer (net/http closes the original body).
func (b *budgetedBody) Close() error { return nil }

// read reads from the body and charges what arrived.
func (b *budgetedBody) read(p []byte) (int, error) {
	n, err := b.r.Body.Read(p)
	if n > 0 {
		if cerr := b.charge(b.r.Context(), int64(n)); cerr != nil {
			b.err = cerr
			return 0, cerr
		}
	}
	if err != nil && err != io.EOF && isTimeout(err) {
		b.err = errBodyTimeout
		return n, fmt.Errorf("%w after %s: %v", errBodyTimeout, b.timeout, err)
	}
	return n, err
}

// request is r with its body read through b, and with a Content-Length
// no larger than bodyPresizeBytes, which readBodyInto uses only to size
// its buffer (see the package comment above).
func (b *budgetedBody) request() *http.Request {
	r := b.r.WithContext(b.r.Context())
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = b
	}
	r.ContentLength = min(r.ContentLength, bodyPresizeBytes)
	return r
}

// done lifts the read deadline once the body has been read: net/http's
// background read, which notices a client hanging up, must not time out
// (and cancel the request's context) while the records are applied.
func (b *budgetedBody) done() {
	if b.rc != nil {
		b.rc.SetReadDeadline(time.Time{})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// overloaded answers 503 with Retry-After: the budget had no room.
func (h *Handler) overloaded(w http.ResponseWriter, endpoint string) {
	h.metrics.requests.WithLabelValues(endpoint, "503").Inc()
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"code": 503, "error": errIngestOverloaded.Error(), "status": "Service Unavailable"})
}

// bodyFailed answers a request whose body could not be read: 503 when
// the budget had no room, 408 (and the connection closed) when the body
// did not arrive in time.
func (h *Handler) bodyFailed(w http.ResponseWriter, req *request, err error) {
	if errors.Is(err, errIngestOverloaded) {
		h.overloaded(w, req.endpoint)
		return
	}
	if req.endpoint == "import" {
		req.format = replyImport
	}
	w.Header().Set("Connection", "close")
	h.fail(w, req, &payloadError{http.StatusRequestTimeout, fmt.Sprintf("%v (%s)", err, h.bodyReadTimeout)})
}
