package main

// `arb verify`: checks every checksum and manifest reference of a data
// directory (or a backup directory) offline, changing nothing. One line
// per problem, naming file and offset; exit status 1 if there is any.

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"arb/storage"
)

func verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory of a stopped arb, or a backup directory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *dataDir == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: arb verify --data-dir DIR")
	}
	// LockDataDir would create a missing directory.
	if st, err := os.Stat(*dataDir); err != nil || !st.IsDir() {
		return fmt.Errorf("verify: %s is not a directory", *dataDir)
	}
	osfs := storage.OSFS{}
	lock, err := storage.LockDataDir(osfs, *dataDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	sum, err := storage.VerifyDataDir(osfs, *dataDir)
	if err != nil {
		return err
	}
	for _, p := range sum.Problems {
		fmt.Println(p)
	}
	if len(sum.Problems) > 0 {
		return fmt.Errorf("verify %s: %d problems (%s)", *dataDir, len(sum.Problems), sum)
	}
	fmt.Printf("ok: %s\n", sum)
	return nil
}
