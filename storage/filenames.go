package storage

import (
	"fmt"
	"strconv"
	"strings"
)

// On-disk names. Every name storage writes is made and parsed here.
//
//	<data-dir>/LOCK                data directory lock, holder's PID (lock.go)
//	<data-dir>/MANIFEST            current manifest (manifest.go)
//	<data-dir>/grants              MySQL users and grants (grants_file.go)
//	<data-dir>/wal/000001.wal      write-ahead log files, in sequence
//	<data-dir>/segments/000042.seg segment files, numbered by the store
//	<data-dir>/users/<project>.users   user dictionary of a project
//	<data-dir>/users/000043.uix        user index run named by the manifest
//	<data-dir>/users/000044.ust        user state run named by the manifest
//	<data-dir>/people/000007.people    people snapshot named by the manifest
//	<data-dir>/blockcache.warm     block cache entries to decode at start (block_cache_warm.go)
const (
	lockName     = "LOCK"
	manifestName = "MANIFEST"
	grantsName   = "grants"
	walDirName   = "wal"
	segDirName   = "segments"
	usersDirName = "users"
	peopleDir    = "people"
	tmpSuffix    = ".tmp"
)

func walFileName(seq uint64) string       { return fmt.Sprintf("%06d.wal", seq) }
func segmentFileName(n uint64) string     { return fmt.Sprintf("%06d.seg", n) }
func stagedFileName(n uint64) string      { return fmt.Sprintf("%06d"+stagedSuffix, n) }
func peopleFileName(n uint64) string      { return fmt.Sprintf("%06d.people", n) }
func usersFileName(project string) string { return project + ".users" }
func userIndexFileName(n uint64) string   { return fmt.Sprintf("%06d.uix", n) }
func userStateFileName(n uint64) string   { return fmt.Sprintf("%06d.ust", n) }

// parseSeqName parses "000042.ext" into 42; ok is false for any other name.
func parseSeqName(name, ext string) (uint64, bool) {
	base, found := strings.CutSuffix(name, ext)
	if !found || len(base) < 6 {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 64)
	return n, err == nil
}

func parseWALFileName(name string) (uint64, bool)     { return parseSeqName(name, ".wal") }
func parseSegmentFileName(name string) (uint64, bool) { return parseSeqName(name, ".seg") }

// stagedSuffix ends a bulk load's staged segment (storage/bulk.go): a
// segment file no manifest names until the load commits, when it is
// renamed to a segment file of a fresh number. Open deletes any left
// (a load that never committed was never acknowledged).
const stagedSuffix = ".stage"
