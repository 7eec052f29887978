package replication

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Protocol bytes: the first byte of every connection to a node's Raft
// address says who it is for.
const (
	protoRaft byte = 'R'
	protoGRPC byte = 'G'
)

// portMux accepts connections on the Raft address and hands each to
// Raft's transport or to the gRPC server by its first byte.
type portMux struct {
	ln        net.Listener
	raft      *muxListener
	grpc      *muxListener
	closeOnce sync.Once
	closed    chan struct{}
}

func listenMux(addr string) (*portMux, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on the raft address %s: %w", addr, err)
	}
	m := &portMux{ln: ln, closed: make(chan struct{})}
	m.raft = &muxListener{mux: m, conns: make(chan net.Conn)}
	m.grpc = &muxListener{mux: m, conns: make(chan net.Conn)}
	go m.serve()
	return m, nil
}

func (m *portMux) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			m.close()
			return
		}
		go m.route(c)
	}
}

// route reads the protocol byte (a peer that sends none within a few
// seconds is dropped) and queues the connection for its listener.
func (m *portMux) route(c net.Conn) {
	var b [1]byte
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	l := m.raft
	switch b[0] {
	case protoRaft:
	case protoGRPC:
		l = m.grpc
	default:
		c.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-m.closed:
		c.Close()
	}
}

func (m *portMux) close() {
	m.closeOnce.Do(func() {
		close(m.closed)
		m.ln.Close()
	})
}

// muxListener is one protocol's side of the port: a net.Listener.
type muxListener struct {
	mux   *portMux
	conns chan net.Conn
}

func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.mux.closed:
		return nil, net.ErrClosed
	}
}

func (l *muxListener) Close() error { l.mux.close(); return nil }

func (l *muxListener) Addr() net.Addr { return l.mux.ln.Addr() }

// dialProto connects to a node's Raft address for protocol proto.
func dialProto(addr string, proto byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{proto}); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

// raftStream is Raft's StreamLayer over the mux.
type raftStream struct {
	*muxListener
	advertise net.Addr
}

var _ raft.StreamLayer = (*raftStream)(nil)

func (s *raftStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialProto(string(address), protoRaft, timeout)
}

func (s *raftStream) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.muxListener.Addr()
}
