package main

// engine.go owns what every engine under test offers the runner, the
// shared helpers for starting and stopping servers, and the dataset
// reader the loaders share.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// engine is one system under test, loaded and ready for queries.
type engine interface {
	// name is the column heading: "arb", "ClickHouse", …
	name() string
	// dialect selects the query text in queries.go.
	dialect() dialect
	// query runs q and returns its rows; cells are any of nil, int64,
	// float64, string, []byte, time.Time (normalised by compare.go).
	// It returns once the engine has stopped working on q, also after
	// ctx expires.
	query(ctx context.Context, q string) ([][]any, error)
}

// loadResult is what one engine's load cost.
type loadResult struct {
	engine    string
	path      string // how it was loaded
	rows      int
	elapsed   time.Duration
	diskBytes int64
	note      string
	// cpu is the CPU time the load took: for arb the server process's
	// whole run through its SIGTERM flush, for DuckDB (in process) the
	// bench process's during COPY and CHECKPOINT. 0 when not measured.
	cpu time.Duration
}

// selfCPU is the user and system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// freePort returns a loopback TCP port free at the time of the call.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a server the harness started; stop ends it by PID.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan error
	log    string // its log file
	// cpu is the user and system CPU time of the whole run, set before
	// exited is sent (so read it after stop).
	cpu time.Duration
}

func startProcess(name, logPath string, bin string, args ...string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: create log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan error, 1), log: logPath}
	go func() {
		err := cmd.Wait()
		if st := cmd.ProcessState; st != nil {
			p.cpu = st.UserTime() + st.SystemTime()
		}
		p.exited <- err
		logFile.Close()
	}()
	logf("%s: started pid %d", name, cmd.Process.Pid)
	return p, nil
}

// stop sends SIGTERM to the process (by PID), waits up to grace, then
// SIGKILL. It is idempotent.
func (p *process) stop(grace time.Duration) error {
	if p == nil || p.cmd == nil {
		return nil
	}
	defer func() { p.cmd = nil }()
	pid := p.cmd.Process.Pid
	select {
	case err := <-p.exited:
		return fmt.Errorf("%s: pid %d had already exited: %v", p.name, pid, err)
	default:
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("%s: SIGTERM pid %d: %w", p.name, pid, err)
	}
	select {
	case err := <-p.exited:
		logf("%s: pid %d stopped", p.name, pid)
		if err != nil {
			return fmt.Errorf("%s: pid %d exit: %w", p.name, pid, err)
		}
		return nil
	case <-time.After(grace):
		syscall.Kill(pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("%s: pid %d ignored SIGTERM for %s, killed", p.name, pid, grace)
	}
}

// died reports the exit of a process that should be running, with the
// tail of its log.
func (p *process) died() error {
	select {
	case err := <-p.exited:
		p.cmd = nil
		return fmt.Errorf("%s exited: %v; log tail:\n%s", p.name, err, tailFile(p.log, 2000))
	default:
		return nil
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// dirBytes is the disk usage of a directory tree, as du counts it
// (allocated blocks).
func dirBytes(dir string) (int64, error) {
	var total int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}

// tsvRow is one dataset line split into its columns (see workload.go).
type tsvRow struct {
	time, event, distinctID, os, browser, city, plan, utm, amount string
}

// readDataset calls fn for up to limit rows of the cache file (all when
// limit <= 0). Strings in the row are valid only during the call.
func readDataset(path string, limit int, fn func(*tsvRow) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<20)
	var row tsvRow
	fields := [9]*string{&row.time, &row.event, &row.distinctID, &row.os, &row.browser, &row.city, &row.plan, &row.utm, &row.amount}
	n := 0
	for limit <= 0 || n < limit {
		line, err := rd.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return n, fmt.Errorf("%s: line %d: %w", path, n+1, err)
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		s := string(line) // one allocation a row
		for i := range fields {
			j := strings.IndexByte(s, '\t')
			if i == len(fields)-1 {
				j = len(s)
			} else if j < 0 {
				return n, fmt.Errorf("%s: line %d: %d fields, want %d", path, n+1, i+1, len(fields))
			}
			*fields[i] = s[:j]
			if j < len(s) {
				s = s[j+1:]
			} else {
				s = ""
			}
		}
		if err := fn(&row); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// waitUntil polls ready until it holds, p dies, or timeout passes.
func waitUntil(timeout time.Duration, p *process, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ready() {
		if err := p.died(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; log tail:\n%s", p.name, timeout, tailFile(p.log, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
