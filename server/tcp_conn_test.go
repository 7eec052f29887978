package server

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/dolthub/vitess/go/netutil"
)

// TestTCPConnOfUnwrapsTLS: the hang-up watcher finds the socket under a
// TLS connection on vitess's deadline wrapper, as under a plaintext one.
func TestTCPConnOfUnwrapsTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	wrapped := netutil.NewConnWithTimeouts(raw, time.Minute, time.Minute)
	for name, c := range map[string]net.Conn{
		"plain":   wrapped,
		"tls":     tls.Server(wrapped, &tls.Config{}),
		"bare":    raw,
		"tlsbare": tls.Client(raw, &tls.Config{InsecureSkipVerify: true}),
	} {
		if got := tcpConnOf(c); got != raw {
			t.Errorf("%s: tcpConnOf = %v, want the socket", name, got)
		}
	}
	if got := tcpConnOf(nil); got != nil {
		t.Errorf("nil conn: %v", got)
	}
}
