package server

// Accept loops that survive running out of descriptors.
//
// go-mysql-server's accept loop (vitess mysql.Listener.Accept) returns
// on the first error from net.Listener.Accept and never starts again: a
// process that briefly hit its RLIMIT_NOFILE (EMFILE) or the system's
// file table (ENFILE) kept running with a dead MySQL port while /healthz
// said ok. retryListener sits under both of arb's listeners and never
// hands an accept error up except net.ErrClosed: like net/http's
// Server.Serve it sleeps 5 ms, doubling to 1 s, and tries again, logging
// each failure. The pending connection stays in the kernel's backlog and
// is accepted once a descriptor is free.
//
// INVARIANT: retryListener.Accept returns a connection or an error that
// wraps net.ErrClosed, never another error.

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// retryListener retries failed accepts with backoff until it is closed.
type retryListener struct {
	net.Listener
	name string // "mysql" or "http", for the log
	log  *slog.Logger

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: ends a backoff sleep at once
}

func newRetryListener(l net.Listener, name string, log *slog.Logger) *retryListener {
	return &retryListener{Listener: l, name: name, log: log, closed: make(chan struct{})}
}

// Accept waits for the next connection. Accept errors other than a closed
// listener (EMFILE, ENFILE, ENOBUFS, ECONNABORTED, anything) are logged
// and retried after a backoff of 5 ms doubling to 1 s.
func (l *retryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	failures := 0
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if failures > 0 {
				l.log.Info("accepting connections again", "listener", l.name, "addr", l.Addr().String(), "failed_accepts", failures)
			}
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		select {
		case <-l.closed:
			return nil, net.ErrClosed
		default:
		}
		failures++
		delay = nextAcceptDelay(delay)
		l.log.Warn("accept failed; retrying", "listener", l.name, "addr", l.Addr().String(), "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

// Close closes the listener; an Accept sleeping in its backoff returns
// net.ErrClosed at once.
func (l *retryListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// nextAcceptDelay is the backoff after a failed accept that followed a
// wait of prev (0 for the first failure): 5 ms, doubling, at most 1 s.
func nextAcceptDelay(prev time.Duration) time.Duration {
	if prev == 0 {
		return acceptRetryMin
	}
	return min(2*prev, acceptRetryMax)
}
