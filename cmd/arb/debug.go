package main

// `arb debug KIND FILE`: print one on-disk file's format for people. Each
// dump lives in storage beside its format; this only dispatches.

import (
	"fmt"
	"os"
	"strings"

	"arb/storage"
)

const debugUsage = "usage: arb debug segment|wal|manifest|people FILE (people: a .people file or a users/NNNNNN.ust user state run)"

func debug(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf(debugUsage)
	}
	path := args[1]
	switch args[0] {
	case "segment":
		return debugSegment(path)
	case "wal":
		return storage.DumpWAL(os.Stdout, storage.OSFS{}, path)
	case "manifest":
		return storage.DumpManifest(os.Stdout, storage.OSFS{}, path)
	case "people":
		if strings.HasSuffix(path, ".ust") {
			return storage.DumpUserStateRun(os.Stdout, storage.OSFS{}, path)
		}
		return storage.DumpPeopleFile(os.Stdout, storage.OSFS{}, path)
	}
	return fmt.Errorf("debug: unknown file kind %q; %s", args[0], debugUsage)
}

func debugSegment(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	seg, err := storage.OpenSegment(f, st.Size(), path)
	if err != nil {
		return err
	}
	return seg.Dump(os.Stdout)
}
