package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// acceptAll runs l's accept loop, sending what it returns on a channel.
func acceptAll(l net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 16)
	go func() {
		defer close(ch)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	return ch
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newRetryListener(ln, "test", slog.New(slog.DiscardHandler))
}

func dial(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, ch <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted within 10 s")
		return nil
	}
}

// TestMySQLConnLimitRefusesWith1040 pins the refusal's bytes: an ERR
// packet, sequence 0, code 1040, no SQLSTATE (none before the handshake).
func TestMySQLConnLimitRefusesWith1040(t *testing.T) {
	l := newMySQLConnLimit(listenLoopback(t), 2, time.Hour, slog.New(slog.DiscardHandler))
	defer l.Close()
	accepted := acceptAll(l)
	dial(t, l)
	dial(t, l)
	first := receive(t, accepted)
	receive(t, accepted)
	if n := l.Open(); n != 2 {
		t.Fatalf("Open() = %d, want 2", n)
	}
	third := dial(t, l)
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(third)
	if err != nil {
		t.Fatalf("refused connection: %v", err)
	}
	want := append([]byte{23, 0, 0, 0, 0xff, 0x10, 0x04}, "Too many connections"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("refusal %q, want %q", got, want)
	}
	l.closed(first)
	dial(t, l)
	receive(t, accepted)
	if n := l.Open(); n != 2 {
		t.Fatalf("Open() = %d after a close and a new connection, want 2", n)
	}
}

func TestMySQLConnLimitHandshakeDeadline(t *testing.T) {
	l := newMySQLConnLimit(listenLoopback(t), 10, 50*time.Millisecond, slog.New(slog.DiscardHandler))
	defer l.Close()
	accepted := acceptAll(l)

	// Not authenticated: closed by the deadline.
	silent := dial(t, l)
	receive(t, accepted)
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unauthenticated connection: read %v, want it closed by the server", err)
	}

	// Authenticated in time: the deadline no longer applies.
	l2 := newMySQLConnLimit(listenLoopback(t), 10, time.Hour, slog.New(slog.DiscardHandler))
	defer l2.Close()
	accepted2 := acceptAll(l2)
	client := dial(t, l2)
	srv := receive(t, accepted2)
	l = l2
	l.authenticated(srv)
	l.handshakeExpired(srv) // as if the timer fired late
	srv.Write([]byte("x"))
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, make([]byte, 1)); err != nil {
		t.Fatalf("authenticated connection: %v, want it open", err)
	}
}

func TestHTTPConnLimit(t *testing.T) {
	l := newHTTPConnLimit(listenLoopback(t), 1, slog.New(slog.DiscardHandler))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(l)
	defer srv.Close()

	get := func(c net.Conn) (*http.Response, error) {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	held := dial(t, l)
	if resp, err := get(held); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	resp, err := get(dial(t, l))
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !resp.Close {
		t.Fatalf("connection beyond the limit: %v %v, want 503, Retry-After: 1, Connection: close", resp, err)
	}
	// A browser's request gets the CORS headers, or the SDK would see
	// status 0 (which mixpanel-browser takes for delivered).
	c := dial(t, l)
	fmt.Fprintf(c, "POST /track HTTP/1.1\r\nHost: x\r\nOrigin: https://shop.example\r\nContent-Length: 0\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		resp.Header.Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Fatalf("browser request beyond the limit: %v %v, want 503 with CORS headers for its origin", resp, err)
	}
	held.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := get(dial(t, l))
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing the first connection: %v %v", resp, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := l.Open(); n != 0 && n != 1 {
		t.Fatalf("Open() = %d", n)
	}
}

func TestConnectionVariables(t *testing.T) {
	got := connectionVariables(1000, 500*time.Millisecond, 8*time.Hour)
	if got["max_connections"] != int64(1000) || got["connect_timeout"] != int64(2) || got["wait_timeout"] != int64(28800) {
		t.Fatalf("connectionVariables = %v", got)
	}
}
