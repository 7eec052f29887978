package server

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestNextAcceptDelay(t *testing.T) {
	var got []time.Duration
	d := time.Duration(0)
	for range 10 {
		d = nextAcceptDelay(d)
		got = append(got, d)
	}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
}

// failingListener fails its first len(errs) accepts with errs, then
// hands out pipe connections; after Close it returns net.ErrClosed.
type failingListener struct {
	errs   []error
	calls  atomic.Int32
	closed chan struct{}
}

func (l *failingListener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	n := int(l.calls.Add(1))
	if n <= len(l.errs) {
		return nil, l.errs[n-1]
	}
	if l.errs == nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	c, _ := net.Pipe()
	return c, nil
}

func (l *failingListener) Close() error   { close(l.closed); return nil }
func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func TestRetryListenerRetriesAcceptErrors(t *testing.T) {
	opErr := func(e syscall.Errno) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", e)}
	}
	inner := &failingListener{closed: make(chan struct{}),
		errs: []error{opErr(syscall.EMFILE), opErr(syscall.ENFILE), opErr(syscall.ENOBUFS), errors.New("something else")}}
	l := newRetryListener(inner, "test", slog.New(slog.DiscardHandler))
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept after %d failures: %v, want a connection", len(inner.errs), err)
	}
	c.Close()
	if n := int(inner.calls.Load()); n != len(inner.errs)+1 {
		t.Fatalf("inner Accept called %d times, want %d", n, len(inner.errs)+1)
	}
}

func TestRetryListenerCloseEndsBackoff(t *testing.T) {
	inner := &failingListener{closed: make(chan struct{})} // EMFILE forever
	l := newRetryListener(inner, "test", slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	for inner.calls.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still retrying 10 s after Close")
	}
}
