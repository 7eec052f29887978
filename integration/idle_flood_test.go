package integration

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConnectionsTenThousandIdle opens 10,000 MySQL connections that
// never authenticate and holds them: the server greets at most
// --mysql-max-connections of them and refuses the rest with error 1040,
// keeps its descriptors bounded, cuts the silent ones after the connect
// timeout, and then serves a real client again — the port never dies and
// nothing waits for the flood to go away by itself.
func TestConnectionsTenThousandIdle(t *testing.T) {
	const flood, max = 10000, 1000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < flood+1000 {
		lim.Cur = min(lim.Max, flood+1000)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < flood+200 {
			t.Fatalf("this test needs %d descriptors; the limit is %d (%v)", flood+200, lim.Cur, err)
		}
	}
	arb := startArb(t, "--mysql-max-connections", fmt.Sprint(max), "--mysql-connect-timeout", "3s")
	pid := arb.cmd.Process.Pid
	fdsBefore := fdCount(t, pid)

	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var greeted, refused, other int
	var greetedConns []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	start := time.Now()
	for i := 0; i < flood; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", arb.mysqlPort))
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		wg.Add(1)
		sem <- struct{}{}
		go func(c net.Conn) {
			defer func() { <-sem; wg.Done() }()
			g, err := readGreeting(c, 30*time.Second)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && len(g) > 3 && g[0] == 0xff && int(g[1])|int(g[2])<<8 == 1040:
				refused++
			case err == nil && len(g) > 0 && g[0] == 10: // protocol version 10: a greeting
				greeted++
				greetedConns = append(greetedConns, c)
			default:
				other++ // closed by the connect timeout before we read: fine
			}
		}(c)
	}
	wg.Wait()
	fdsHeld := fdCount(t, pid)
	t.Logf("%d connections in %s: %d greeted, %d refused with 1040, %d closed; server descriptors %d → %d",
		flood, time.Since(start).Round(time.Millisecond), greeted, refused, other, fdsBefore, fdsHeld)
	// The limit bounds connections open at once, not greetings over the
	// flood: a greeted connection the connect timeout cut frees its slot
	// for a later one (on a slow machine dialing 10,000 takes longer than
	// the timeout). Every greeting beyond the limit needs a slot freed
	// before it, so greeted ≤ limit + greeted connections closed by now.
	cut := 0
	for _, c := range greetedConns {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			cut++
		}
	}
	t.Logf("%d of the greeted connections were cut by the connect timeout during the flood", cut)
	if greeted > max+cut {
		t.Errorf("%d connections greeted, limit %d (+%d slots freed by the connect timeout)", greeted, max, cut)
	}
	if refused < flood-max-other-greeted || refused == 0 {
		t.Errorf("%d refused with 1040, want the %d beyond the limit", refused, flood-greeted-other)
	}
	if fdsHeld > fdsBefore+max+100 {
		t.Errorf("server holds %d descriptors with %d connections open against it (limit %d)", fdsHeld, flood, max)
	}
	// The silent ones are cut after the connect timeout: a real client
	// gets in while the flood's sockets are still open on our side.
	db := openMySQL(t, arb, "tcp")
	took := eventually(t, 60*time.Second, "a real client during the flood", func() error {
		c, err := mysqlConn(db)
		if err == nil {
			c.Close()
		}
		return err
	})
	t.Logf("a real client got in %s after the flood", took.Round(time.Millisecond))
	// All the silent ones go, each its connect timeout after it came.
	eventually(t, 60*time.Second, "the silent connections cut", func() error {
		if n := scrapeMetrics(t, arb.url("/metrics"), "arb_mysql_connections")["arb_mysql_connections"]; n > 10 {
			return fmt.Errorf("arb_mysql_connections %v", n)
		}
		return nil
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
