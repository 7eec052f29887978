package main

// `arb restore`: copies a backup directory into a new data directory and
// verifies the copy, so that `arb serve --data-dir NEW` answers as the
// source did at the backup point.

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"arb/storage"
)

func restore(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", "backup directory written by arb backup")
	dataDir := fs.String("data-dir", "", "new data directory (must be missing or empty)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *from == "" || *dataDir == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: arb restore --from BACKUP-DIR --data-dir NEW-DIR")
	}
	if st, err := os.Stat(*from); err != nil || !st.IsDir() {
		return fmt.Errorf("restore: %s is not a backup directory", *from)
	}
	// Refuse before the lock creates NEW/LOCK.
	if names, err := os.ReadDir(*dataDir); err == nil && len(names) > 0 {
		return fmt.Errorf("restore into %s: %w", *dataDir, storage.ErrNotEmpty)
	}
	osfs := storage.OSFS{}
	src, err := storage.LockDataDir(osfs, *from)
	if err != nil {
		return err
	}
	defer src.Release()
	dst, err := storage.LockDataDir(osfs, *dataDir)
	if err != nil {
		return err
	}
	defer dst.Release()
	pt, err := storage.RestoreBackup(osfs, *from, *dataDir)
	if err != nil {
		return err
	}
	sum, err := storage.VerifyDataDir(osfs, *dataDir)
	if err != nil {
		return err
	}
	for _, p := range sum.Problems {
		fmt.Println(p)
	}
	if len(sum.Problems) > 0 {
		return fmt.Errorf("restore into %s: the copy fails verification (%d problems); do not serve it", *dataDir, len(sum.Problems))
	}
	fmt.Printf("restored %s into %s: backup point %06d.wal offset %d; verified %s\n", *from, *dataDir, pt.Seq, pt.Offset, sum)
	return nil
}
