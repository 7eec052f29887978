package main

// `arb backup`: a consistent backup of a running server (--server, over
// its HTTP port) or of a stopped server's data directory (--data-dir)
// into a backup directory. A directory that holds a backup already gets
// an incremental one: only segment and people files it lacks are sent;
// MANIFEST, users files and the WAL tail always are. The directory stays
// a usable backup throughout (storage/backup_dir.go).

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"

	"arb/storage"
)

func backup(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	serverAddr := fs.String("server", "", "HTTP address of a running arb (host:port or URL)")
	dataDir := fs.String("data-dir", "", "data directory of a stopped arb (instead of --server)")
	to := fs.String("to", "", "backup directory (created if missing; an existing backup is updated incrementally)")
	password := fs.String("password", os.Getenv("ARB_ROOT_PASSWORD"), "the server's root password (default $ARB_ROOT_PASSWORD)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *to == "" || (*serverAddr == "") == (*dataDir == "") || fs.NArg() > 0 {
		return fmt.Errorf("usage: arb backup (--server HOST:PORT | --data-dir DIR) --to BACKUP-DIR")
	}
	osfs := storage.OSFS{}
	// One backup at a time into a directory.
	lock, err := storage.LockDataDir(osfs, *to)
	if err != nil {
		return err
	}
	defer lock.Release()
	held, err := storage.HeldBackupFiles(osfs, *to)
	if err != nil {
		return err
	}
	var stream io.Reader
	source := *serverAddr
	if *serverAddr != "" {
		body, err := requestBackup(*serverAddr, *password, held)
		if err != nil {
			return err
		}
		defer body.Close()
		stream = body
	} else {
		source = *dataDir
		if st, err := os.Stat(*dataDir); err != nil || !st.IsDir() {
			return fmt.Errorf("backup: %s is not a data directory", *dataDir)
		}
		dl, err := storage.LockDataDir(osfs, *dataDir)
		if err != nil {
			return err
		}
		defer dl.Release()
		b, err := storage.BackupDataDir(osfs, *dataDir, held)
		if err != nil {
			return err
		}
		defer b.Close()
		pr, pw := io.Pipe()
		go func() {
			_, err := b.WriteTo(pw)
			pw.CloseWithError(err)
		}()
		defer pr.Close()
		stream = pr
	}
	rc, err := storage.ReceiveBackup(osfs, *to, stream)
	if err != nil {
		return fmt.Errorf("backup of %s into %s: %w (the previous backup there, if any, is intact)", source, *to, err)
	}
	printReceipt(os.Stdout, source, *to, rc)
	return nil
}

// requestBackup asks a running server for a backup stream.
func requestBackup(addr, password string, held []storage.BackupFile) (io.ReadCloser, error) {
	url := strings.TrimRight(addr, "/")
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	body, err := json.Marshal(map[string]any{"have": held})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url+"/backup", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if password != "" {
		req.SetBasicAuth("root", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("backup: %s answered %s: %s", addr, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp.Body, nil
}

// printReceipt says what the backup holds and what it cost, by kind of
// file (the integration test reads the "sent" and "kept" lines).
func printReceipt(w io.Writer, source, to string, rc *storage.BackupReceipt) {
	count := func(names []string, dir string) int {
		n := 0
		for _, name := range names {
			if path.Dir(name) == dir {
				n++
			}
		}
		return n
	}
	fmt.Fprintf(w, "backup of %s in %s: backup point %06d.wal offset %d\n", source, to, rc.Point.Seq, rc.Point.Offset)
	fmt.Fprintf(w, "sent %d segment files, %d people files, %d users files, %d WAL files and MANIFEST (%d bytes)\n",
		count(rc.Received, "segments"), count(rc.Received, "people"), count(rc.Received, "users"), count(rc.Received, "wal"), rc.Bytes)
	fmt.Fprintf(w, "kept %d unchanged segment files, %d unchanged people files (%d bytes not sent)\n",
		count(rc.Kept, "segments"), count(rc.Kept, "people"), rc.KeptBytes)
	if len(rc.Removed) > 0 {
		fmt.Fprintf(w, "removed %d files the new backup does not need\n", len(rc.Removed))
	}
}
