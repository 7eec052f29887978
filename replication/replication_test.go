package replication

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePeers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{in: "n1=127.0.0.1:7001,n2=127.0.0.1:7002", want: map[string]string{"n1": "127.0.0.1:7001", "n2": "127.0.0.1:7002"}},
		{in: " n1=h:1 , ,n2=h:2", want: map[string]string{"n1": "h:1", "n2": "h:2"}},
		{in: "", want: map[string]string{}},
		{in: "n1", err: `peer "n1": want id=host:port`},
		{in: "=h:1", err: "want id=host:port"},
		{in: "n1=nohostport", err: "peer n1: address"},
		{in: "n1=h:1,n1=h:2", err: "peer n1 given twice"},
	} {
		got, err := ParsePeers(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePeers(%q): %v, want an error with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("ParsePeers(%q) = %v, %v; want %v", c.in, got, err, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("ParsePeers(%q)[%s] = %q, want %q", c.in, k, got[k], v)
			}
		}
	}
}

// FuzzReadSnapshot: a snapshot file of any bytes reads as the index a
// snapshot of that index wrote, or an error; never a panic.
func FuzzReadSnapshot(f *testing.F) {
	var buf bytes.Buffer
	buf.WriteString(snapshotMagic)
	buf.Write(binary.BigEndian.AppendUint64(nil, 12345))
	f.Add(buf.Bytes())
	f.Add([]byte("arbsnap"))
	f.Add([]byte{})
	f.Add([]byte("arbsnap2\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		index, err := readSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		if !bytes.HasPrefix(data, []byte(snapshotMagic)) || len(data) < len(snapshotMagic)+8 {
			t.Fatalf("read %d from %q", index, data)
		}
		if want := binary.BigEndian.Uint64(data[len(snapshotMagic):]); index != want {
			t.Fatalf("read %d, want %d", index, want)
		}
	})
}

// TestPortMuxRoutes: the Raft port hands each connection to the
// listener its first byte names, drops one with an unknown byte, and
// closes both listeners together.
func TestPortMuxRoutes(t *testing.T) {
	m, err := listenMux("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := m.ln.Addr().String()
	accept := func(l net.Listener) <-chan net.Conn {
		ch := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				ch <- c
			}
			close(ch)
		}()
		return ch
	}
	for _, c := range []struct {
		proto byte
		l     *muxListener
	}{{protoRaft, m.raft}, {protoGRPC, m.grpc}} {
		got := accept(c.l)
		conn, err := dialProto(addr, c.proto, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte("hello"))
		select {
		case sc := <-got:
			b := make([]byte, 5)
			if _, err := io.ReadFull(sc, b); err != nil || string(b) != "hello" {
				t.Fatalf("protocol %q: read %q, %v", c.proto, b, err)
			}
			sc.Close()
		case <-time.After(5 * time.Second):
			t.Fatalf("protocol %q: no connection accepted", c.proto)
		}
		conn.Close()
	}
	// An unknown first byte: the connection is closed, nobody accepts it.
	conn, err := dialProto(addr, 'X', time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a connection with an unknown protocol byte read %d bytes", n)
	}
	conn.Close()
	m.raft.Close()
	if _, err := m.grpc.Accept(); err == nil {
		t.Fatal("the gRPC side accepts after the port closed")
	}
}

// TestRawCodec: the forwarding service's messages are their bytes.
func TestRawCodec(t *testing.T) {
	var c rawCodec
	b, err := c.Marshal(&frame{b: []byte("abc")})
	if err != nil || string(b) != "abc" {
		t.Fatalf("marshal: %q, %v", b, err)
	}
	var f frame
	if err := c.Unmarshal([]byte("xyz"), &f); err != nil || string(f.b) != "xyz" {
		t.Fatalf("unmarshal: %q, %v", f.b, err)
	}
	if _, err := c.Marshal("not a frame"); err == nil {
		t.Fatal("marshal of a string succeeded")
	}
}

// TestRecoverReseed: wherever a crash stops ReseedDataDir after its
// first rename, RecoverReseed leaves the new store in the data directory
// with the node's own Raft state and TLS files, and nothing else.
func TestRecoverReseed(t *testing.T) {
	write := func(t *testing.T, path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	for _, stage := range []string{"after the first rename", "after the second rename", "raft moved, tls not", "all moved, stale left"} {
		t.Run(stage, func(t *testing.T) {
			base := t.TempDir()
			data, staging, stale := filepath.Join(base, "d"), filepath.Join(base, "d.reseed"), filepath.Join(base, "d.stale")
			// The old directory (now stale) and the new store (staging).
			write(t, filepath.Join(stale, "MANIFEST"), "old")
			write(t, filepath.Join(stale, "raft", "log", "wal"), "raft")
			write(t, filepath.Join(stale, "tls", "cert.pem"), "tls")
			write(t, filepath.Join(staging, "MANIFEST"), "new")
			switch stage {
			case "after the second rename":
				os.Rename(staging, data)
			case "raft moved, tls not":
				os.Rename(staging, data)
				os.Rename(filepath.Join(stale, "raft"), filepath.Join(data, "raft"))
			case "all moved, stale left":
				os.Rename(staging, data)
				os.Rename(filepath.Join(stale, "raft"), filepath.Join(data, "raft"))
				os.Rename(filepath.Join(stale, "tls"), filepath.Join(data, "tls"))
			}
			if err := RecoverReseed(data); err != nil {
				t.Fatal(err)
			}
			if got := read(filepath.Join(data, "MANIFEST")) + read(filepath.Join(data, "raft", "log", "wal")) + read(filepath.Join(data, "tls", "cert.pem")); got != "newrafttls" {
				t.Fatalf("data directory holds %q, want the new store with the node's raft and tls", got)
			}
			for _, d := range []string{staging, stale} {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Fatalf("%s left: %v", d, err)
				}
			}
			// Nothing to do the second time.
			if err := RecoverReseed(data); err != nil {
				t.Fatal(err)
			}
		})
	}
}
