package main

// `arb repair wal`: the operator's explicit way past a damaged WAL, which
// the server refuses to open (storage/wal_replay.go). Without
// --drop-damaged-tail it only prints what a repair would drop.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"arb/storage"
)

func repair(args []string) error {
	if len(args) == 0 || args[0] != "wal" {
		return fmt.Errorf("usage: arb repair wal --data-dir DIR [--drop-damaged-tail]")
	}
	fs := flag.NewFlagSet("repair wal", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory of a stopped server (required)")
	drop := fs.Bool("drop-damaged-tail", false, "truncate the WAL at its first damaged record and remove the later WAL files")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *dataDir == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: arb repair wal --data-dir DIR [--drop-damaged-tail]")
	}
	r, err := storage.OpenWALRepair(storage.OSFS{}, *dataDir)
	if err != nil {
		return err
	}
	defer r.Close()
	p := r.Plan()
	printWALRepairPlan(os.Stdout, p, *drop)
	if !*drop || p.Damage == nil {
		return nil
	}
	d, later := *p.Damage, len(p.LaterFiles)
	if err := r.DropDamagedTail(); err != nil {
		return err
	}
	fmt.Printf("dropped: %s cut at offset %d, %d later files removed\n", d.File, d.Offset, later)
	return nil
}

// printWALRepairPlan prints what a repair drops (drop: that it is about to).
func printWALRepairPlan(w io.Writer, p *storage.WALRepairPlan, drop bool) {
	fmt.Fprintf(w, "wal %s: %d live files from sequence %d, %d records verify before any damage\n",
		p.Dir, p.Files, p.StartSeq, p.Records)
	d := p.Damage
	if d == nil {
		fmt.Fprintln(w, "no damage: nothing to drop")
		return
	}
	kind := "damaged"
	if d.Torn {
		kind = "torn (a crash explains it; opening the store would truncate it too)"
	}
	fmt.Fprintf(w, "%s at offset %d: %s\n  %s\n", d.File, d.Offset, kind, d.Reason)
	what := fmt.Sprintf("truncate it to %d bytes, keeping its %d good records before the damage", d.Offset, d.RecordsBefore)
	if d.InHeader() {
		what = "its header is damaged: replace it with a fresh header and no record"
	}
	after := fmt.Sprintf("%d records after the damaged one still verify and are dropped with it", d.IntactAfter)
	if d.IntactAfter < 0 {
		after = "the damaged record's end is unknown, so the records after it cannot be counted"
	}
	fmt.Fprintf(w, "  would drop %d of the file's %d bytes from offset %d: %s\n  %s\n", d.DropBytes(), d.FileBytes, d.Offset, what, after)
	for _, f := range p.LaterFiles {
		fmt.Fprintf(w, "  would remove later file %s: %d bytes, %d records verify\n", f.File, f.Bytes, f.Records)
	}
	if !drop {
		fmt.Fprintln(w, "nothing changed; rerun with --drop-damaged-tail to drop the above")
	}
}
