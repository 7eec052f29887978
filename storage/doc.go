// Package storage owns arb's bytes on disk: the write-ahead log, the
// in-memory buffer of recent events, immutable columnar segments, the user
// dictionary and the manifest that names what is live.
//
// Import direction: storage imports nothing of arb's; engine, planner,
// server, ingest and replication import it. It never parses SQL or HTTP.
// It keeps rows, schemas and the identity union-find, not the meaning of
// Mixpanel's profile operations: it resolves them in order with the
// Options.ProfileUpdater it is given (ingest.ApplyProfileOp; profiles.go)
// and stores the resulting profiles.
//
// Invariants every file here keeps:
//   - An event is acknowledged only after the WAL record holding it is
//     fsynced (see wal.go), or, for a bulk load (bulk.go), once the
//     manifest naming the segments that hold it is durable. Replay after a
//     crash restores every acknowledged event exactly once.
//   - A file is published by writing a temp file, fsync, rename, fsync of
//     the directory (atomic_file.go). Nothing is deleted before the manifest
//     that no longer needs it is durable.
//   - Bytes read back are checked (CRC per WAL record, checksum per segment
//     block and footer). A mismatch is an error of class ErrCorruption that
//     names file and offset; wrong data is never served.
//   - All disk access goes through FS (fs.go) so tests can inject failures.
//   - A sharded project (shards.go) keeps its rows in projects of its own,
//     one per shard of ShardOf(distinct_id); a batch is one record naming
//     the project, applied to every shard or to none, and a query reads the
//     shards through one union snapshot (shard_view.go) in which user
//     numbers never collide. Nothing outside storage sees a shard.
package storage
