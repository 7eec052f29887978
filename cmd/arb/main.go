// Command arb is the arb event analytics database server.
//
//	arb serve [flags]      run the server
//	arb debug segment FILE dump a segment file's layout
//	arb debug wal|manifest|people FILE  dump that file's records
//	arb repair wal --data-dir DIR       show (and drop) a damaged WAL tail
//	arb backup|restore|verify ...       backups and offline checks
//	arb version            print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"arb/ingest"
	"arb/replication"
	"arb/server"
	"arb/storage"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "debug":
		err = debug(os.Args[2:])
	case "repair":
		err = repair(os.Args[2:])
	case "backup":
		err = backup(os.Args[2:])
	case "restore":
		err = restore(os.Args[2:])
	case "verify":
		err = verify(os.Args[2:])
	case "version":
		fmt.Println(server.Version)
	case "-h", "-help", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "arb: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "arb:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  arb serve [flags]        run the server (arb serve -h lists the flags)
  arb debug segment FILE   print a segment file's layout
  arb debug wal FILE       print a WAL file's header and records
  arb debug manifest FILE  print a MANIFEST's decoded body
  arb debug people FILE    print a people file's project, counts and rows
  arb repair wal --data-dir DIR [--drop-damaged-tail]
                           show what a damaged WAL tail holds; drop it only with the flag
  arb backup (--server HOST:PORT | --data-dir DIR) --to BACKUP-DIR
                           consistent (incremental) backup of a running or stopped arb
  arb restore --from BACKUP-DIR --data-dir NEW-DIR
                           copy a backup into a new data directory and verify it
  arb verify --data-dir DIR
                           check every checksum and manifest reference; exit 1 on damage
  arb version              print the version
`)
}

// projectFlags collects repeated --project NAME:TOKEN:SECRET flags.
type projectFlags []server.ProjectSpec

func (p *projectFlags) String() string { return fmt.Sprint(len(*p), " projects") }

func (p *projectFlags) Set(v string) error {
	spec, err := server.ParseProjectSpec(v)
	if err != nil {
		return err
	}
	*p = append(*p, spec)
	return nil
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./data", "data directory (created if missing)")
	mysqlAddr := fs.String("mysql-addr", "127.0.0.1:3306", "MySQL protocol listen address")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "HTTP listen address (/healthz, /metrics, ingestion)")
	rootPassword := fs.String("root-password", "", "password of the MySQL user root (default: none; then arb refuses to listen beyond loopback)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate the MySQL port offers for TLS, with --tls-key (default: a self-signed one generated in <data-dir>/tls on first start)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	requireSecure := fs.Bool("require-secure-transport", false, "refuse MySQL clients that do not use TLS (error 3159)")
	https := fs.Bool("https", false, "serve the HTTP port over TLS with the MySQL port's certificate (--tls-cert or the generated one)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	flushInterval := fs.Duration("flush-interval", time.Minute, "flush buffered events to segments at least this often")
	flushRows := fs.Int("flush-rows", 1_000_000, "flush a project's buffered events when it holds this many")
	compactionDelay := fs.Duration("compaction-delay", 30*time.Second, "merge a day's segments once its newest is this old (sooner when it has --compaction-max-segments)")
	compactionMax := fs.Int("compaction-max-segments", 4, "merge a day's segments at once when it holds this many")
	compactionRate := fs.Int64("compaction-bytes-per-second", 64<<20, "bytes per second a compaction may read and write, so merging a day leaves disk bandwidth to ingest and queries (0: unlimited)")
	backgroundCompaction := fs.Bool("background-compaction", true, "merge days' segments in the background (false: only POST /admin/compact does, e.g. to benchmark a fixed layout)")
	dedupIndexBytes := fs.Int64("dedup-index-bytes", 256<<20, "memory for the segments' dedup indexes; beyond it the least recently used are rebuilt from disk when needed")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "how long shutdown waits for running statements")
	maxOpenFiles := fs.Int("max-open-files", storage.DefaultMaxOpenFiles, "segment files kept open while idle; others are reopened when read")
	blockCache := fs.Int64("block-cache-bytes", storage.DefaultBlockCacheBytes, "bytes of decoded column blocks kept in memory for queries (0: none)")
	heapPreTouch := fs.Bool("heap-pretouch", true, "after the block cache warm-up, fault in the pages the heap grows into before its first collection (a quarter of --memory-limit at most), so that queries right after a start do not pay a page fault per 4 KiB they allocate")
	memoryLimit := fs.Int64("memory-limit", server.DefaultMemoryLimit(), "memory budget in bytes: caches, buffered events and ingestion requests are fitted into it, and near it ingestion waits, then gets 503/retryable errors; the default is half the machine's memory")
	maxColumns := fs.Int("max-columns", storage.DefaultMaxColumns, "property columns a table of a project may have; a batch that would add more is refused whole, naming the new keys")
	shards := fs.Int("shards", 1, "shards a project created from now on keeps its events in, by the hash of distinct_id (1 to 256; existing projects keep theirs): each shard has its own buffer, segments and user numbers, written and flushed in parallel; a batch stays atomic across them")
	userCache := fs.Int64("user-cache-bytes", storage.DefaultUserCacheBytes, "bytes per project of recently seen distinct_ids kept in memory; the rest of the user dictionary is read from disk")
	warmBlockCache := fs.Bool("warm-block-cache", true, "on a clean stop, list what the decoded-block cache holds; on start, decode it again in the background, so the first queries after a restart do not decode everything they read")
	var projects projectFlags
	ingestBudget := fs.Int64("http-ingest-budget", ingest.DefaultBudget, "bytes of HTTP ingestion requests handled at once; more waits up to 2 s, then gets 503 + Retry-After")
	mysqlMaxConns := fs.Int("mysql-max-connections", server.DefaultMySQLMaxConnections, "MySQL connections open at once; more are refused with error 1040 (Too many connections)")
	mysqlConnectTimeout := fs.Duration("mysql-connect-timeout", server.DefaultMySQLConnectTimeout, "close a MySQL connection that has not authenticated within this time")
	mysqlIdleTimeout := fs.Duration("mysql-idle-timeout", server.DefaultMySQLIdleTimeout, "close a MySQL connection idle between statements for this long (MySQL's wait_timeout)")
	httpMaxConns := fs.Int("http-max-connections", server.DefaultHTTPMaxConnections, "HTTP connections open at once; more are answered 503 + Retry-After and closed")
	httpIdleTimeout := fs.Duration("http-idle-timeout", server.DefaultHTTPIdleTimeout, "close an HTTP keep-alive connection idle for this long")
	httpBodyTimeout := fs.Duration("http-body-read-timeout", server.DefaultHTTPBodyReadTimeout, "an ingestion request's whole body must arrive within this time, else 408 and the connection is closed")
	maxConcurrentQueries := fs.Int("max-concurrent-queries", server.DefaultMaxConcurrentQueries(), "SQL statements reading tables that run at once; more wait in a queue (SELECT 1, SET, SHOW, KILL and information_schema never wait)")
	queryQueueTimeout := fs.Duration("query-queue-timeout", server.DefaultQueryQueueTimeout, "how long a statement waits for one of --max-concurrent-queries; then error 1205 (retry the statement)")
	queryMemory := fs.Int64("query-memory-bytes", 0, "memory one query's native grouping state and result may take; past it the query fails with error 1114 (0: min(1 GiB, RAM/4, max(256 MiB, --memory-limit/2)); -1: no limit)")
	maxExecutionTime := fs.Duration("max-execution-time", 0, "default of MySQL's max_execution_time for SELECTs: past it a query fails with error 3024 (0: no limit; sessions and the MAX_EXECUTION_TIME hint override it)")
	httpPrefix := fs.String("http-prefix", "", "also serve the ingestion routes under this path prefix, e.g. /mp (ad-blocker-proof routes)")
	nodeID := fs.String("node-id", "", "cluster mode: this node's id (with --peers)")
	raftAddr := fs.String("raft-addr", "", "cluster mode: this node's Raft address, host:port (default: its entry in --peers); peers reach it there")
	raftHeartbeat := fs.Duration("raft-heartbeat-timeout", replication.DefaultHeartbeatTimeout, "cluster mode: how long a follower goes without hearing from the leader before it calls an election (also the leader's lease); shorter fails over faster, too short on a loaded machine causes needless elections")
	raftElection := fs.Duration("raft-election-timeout", replication.DefaultElectionTimeout, "cluster mode: how long a candidate waits for votes before it tries again")
	raftSnapInterval := fs.Duration("raft-snapshot-interval", replication.DefaultSnapshotInterval, "cluster mode: how often Raft checks whether to take a snapshot (a flush of the store)")
	raftSnapThreshold := fs.Uint64("raft-snapshot-threshold", replication.DefaultSnapshotThreshold, "cluster mode: log entries since the last snapshot that make Raft take one")
	raftTrailing := fs.Uint64("raft-trailing-logs", replication.DefaultTrailingLogs, "cluster mode: log entries kept before a snapshot, so a replica that was down catches up from the log (beyond: it reseeds from the leader)")
	raftSegment := fs.Int("raft-log-segment-bytes", 0, "cluster mode: size of the Raft log's segment files, which it drops whole once a snapshot covers them (0: raft-wal's 64 MiB)")
	join := fs.String("join", "", "cluster mode: the Raft address of a member of a running cluster this new node joins (with --node-id and --raft-addr; an empty --data-dir is first filled with a backup of that member's store)")
	peers := fs.String("peers", "", "cluster mode: every node of the cluster, this one too: n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003")
	fs.Var(&projects, "project", "NAME:TOKEN:SECRET: make sure this project exists with these credentials (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	raiseOpenFileLimit(log)
	if *blockCache < 0 {
		return fmt.Errorf("--block-cache-bytes: %d is negative", *blockCache)
	}
	storage.SetBlockCacheBytes(*blockCache)
	for name, v := range map[string]int{"--mysql-max-connections": *mysqlMaxConns, "--http-max-connections": *httpMaxConns} {
		if v <= 0 {
			return fmt.Errorf("%s: %d must be positive", name, v)
		}
	}
	for name, d := range map[string]time.Duration{"--mysql-connect-timeout": *mysqlConnectTimeout, "--mysql-idle-timeout": *mysqlIdleTimeout,
		"--http-idle-timeout": *httpIdleTimeout, "--http-body-read-timeout": *httpBodyTimeout} {
		if d <= 0 {
			return fmt.Errorf("%s: %s must be positive", name, d)
		}
	}
	if *maxColumns <= 0 {
		return fmt.Errorf("--max-columns: %d is not positive", *maxColumns)
	}
	if err := storage.ValidateShards(*shards); err != nil {
		return fmt.Errorf("--shards: %w", err)
	}
	if *maxConcurrentQueries <= 0 || *queryQueueTimeout <= 0 || *maxExecutionTime < 0 {
		return fmt.Errorf("--max-concurrent-queries %d, --query-queue-timeout %s, --max-execution-time %s: want positive, positive, not negative",
			*maxConcurrentQueries, *queryQueueTimeout, *maxExecutionTime)
	}
	if *userCache <= 0 {
		return fmt.Errorf("--user-cache-bytes: %d is not positive", *userCache)
	}
	switch {
	case *compactionRate < 0:
		return fmt.Errorf("--compaction-bytes-per-second: %d is negative", *compactionRate)
	case *compactionRate == 0:
		*compactionRate = -1 // storage.Options: negative is unlimited, zero the default
	}

	var cluster *replication.Config
	if *nodeID != "" || *peers != "" || *raftAddr != "" || *join != "" {
		if *nodeID == "" || (*peers == "") == (*join == "") {
			return fmt.Errorf("cluster mode needs --node-id and either --peers (the founding members) or --join (a member to join), not both (got --node-id %q, --peers %q, --join %q)", *nodeID, *peers, *join)
		}
		members, err := replication.ParsePeers(*peers)
		if err != nil {
			return fmt.Errorf("--peers: %w", err)
		}
		cluster = &replication.Config{ID: *nodeID, Addr: *raftAddr, Peers: members, Join: *join,
			HeartbeatTimeout: *raftHeartbeat, ElectionTimeout: *raftElection,
			SnapshotInterval: *raftSnapInterval, SnapshotThreshold: *raftSnapThreshold, TrailingLogs: *raftTrailing, LogSegmentBytes: *raftSegment}
	}

	cfg := server.Config{
		Cluster: cluster,
		DataDir: *dataDir, MySQLAddr: *mysqlAddr, HTTPAddr: *httpAddr,
		Projects: projects, RootPassword: *rootPassword, Logger: log,
		TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey, RequireSecureTransport: *requireSecure, HTTPS: *https, HTTPPrefix: *httpPrefix, IngestBudget: *ingestBudget,
		MemoryLimit: *memoryLimit, HeapPreTouch: *heapPreTouch,
		MySQLMaxConnections: *mysqlMaxConns, MySQLConnectTimeout: *mysqlConnectTimeout, MySQLIdleTimeout: *mysqlIdleTimeout,
		Queries: server.QueryLimits{MaxConcurrent: *maxConcurrentQueries, QueueTimeout: *queryQueueTimeout,
			MemoryBytes: *queryMemory, MaxExecutionTime: *maxExecutionTime},
		HTTPMaxConnections: *httpMaxConns, HTTPIdleTimeout: *httpIdleTimeout, HTTPBodyReadTimeout: *httpBodyTimeout,
		Store: storage.Options{FlushInterval: *flushInterval, FlushRows: *flushRows,
			CompactionDelay: *compactionDelay, CompactionMaxSegments: *compactionMax, DisableCompaction: !*backgroundCompaction,
			CompactionBytesPerSecond: *compactionRate,
			DedupIndexBytes:          *dedupIndexBytes, MaxOpenFiles: *maxOpenFiles,
			UserCacheBytes: *userCache, MaxColumns: *maxColumns, Shards: *shards, WarmBlockCache: *warmBlockCache},
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	for {
		srv, err := server.Start(cfg)
		var behind *replication.ReseedError
		if errors.As(err, &behind) {
			// Cluster mode: a reseed that did not finish (crash, or the
			// leader changed under it); do it now.
			log.Warn("the store is behind this node's Raft state; reseeding", "err", err)
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			err = replication.ReseedDataDir(ctx, behind.Leader, *dataDir)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		select {
		case got := <-sig:
			log.Info("shutting down", "signal", got.String())
			ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
		case <-srv.ReseedNeeded():
			leader := srv.ReseedFrom()
			// Cluster mode: this node fell behind the leader's log
			// (replication/reseed.go). Stop, take a backup of the
			// leader's store in place of ours, and start again.
			ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				log.Warn("shutdown before reseeding", "err", err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
			err = replication.ReseedDataDir(ctx, leader, *dataDir)
			cancel()
			if err != nil {
				return err
			}
			log.Info("reseeded the store from the leader; starting again", "leader", leader)
			continue
		}
		break
	}
	log.Info("stopped cleanly")
	return nil
}

// raiseOpenFileLimit lifts the soft limit on open files to the hard one:
// every live segment keeps its file open (until compaction merges a day's
// segments, a busy store holds many).
func raiseOpenFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur >= lim.Max {
		return
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("raise open file limit", "err", err)
	}
}
