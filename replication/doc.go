// Package replication is arb's cluster mode: the store's writes go
// through a Raft log (hashicorp/raft with raft-wal as log and stable
// store) replicated on every node, and each node's storage applies the
// committed entries in log order (storage.Store.ApplyLogged).
//
// What it owns and its invariants:
//   - A Node is one member of the group. It implements storage.Log: a
//     write prepared by the store is appended on the leader (forwarded
//     over gRPC when this node is a follower) and Append returns only
//     after the entry is committed on a quorum (fsynced by raft-wal on a
//     majority) and applied to this node's store, with the apply's own
//     refusal if it refused the entry. So a write acknowledged by any node
//     survives the loss of any minority of nodes, and the node that
//     acknowledged it shows it to the next query at once.
//   - ReadBarrier makes a query see every write acknowledged before it
//     started, on any node: the leader confirms it still leads (a
//     heartbeat round) and, once per term, that every entry of earlier
//     terms is applied (a Raft barrier); the read index is the last
//     write at or below its commit index, and a follower waits until it
//     has applied as far.
//   - Every entry carries a 5-byte header with the writer's
//     --max-columns, so apply decides alike on every replica.
//   - A snapshot is the store's immutable segments plus the applied
//     index: fsm.Persist flushes the store (the manifest then names every
//     entry up to the snapshot's index), and the snapshot file holds only
//     that index. Raft's log keeps TrailingLogs entries before it, so a
//     restart replays what the store lacks (the store skips entries at or
//     below the manifest's applied index). A replica that fell behind the
//     log's first entry gets the leader's snapshot, which fsm.Restore
//     cannot install in place: it reseeds (reseed.go) — its server stops,
//     its store is replaced by a backup of the leader's, and it starts
//     again with its Raft state kept. Start refuses a store behind the
//     node's own newest snapshot (a reseed that did not finish).
//   - One TCP port per node (the Raft address) carries both Raft's own
//     streams and the gRPC forwarding service: every connection opens
//     with one byte naming its protocol (mux.go).
//
// Today the whole data set is one Raft group replicated on every node
// (one shard); sharding by user across several groups is to come.
package replication
