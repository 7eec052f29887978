package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	gms "github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"arb/ingest"
	"arb/planner"
	"arb/replication"
	"arb/storage"
)

// Version is what clients see as the server version. The MySQL version
// comes first because drivers parse it to pick features.
const Version = "8.0.31-arb"

// versionComment is @@version_comment.
const versionComment = "arb event analytics database"

// ProjectSpec is a project the server makes sure exists at start-up.
type ProjectSpec struct {
	Name, Token, Secret string
}

// Config configures a Server. Zero fields take the defaults in cmd/arb.
type Config struct {
	// Cluster, when set, makes this server a node of a cluster whose
	// writes go through a Raft log (cluster.go); nil: a single node.
	Cluster   *replication.Config
	DataDir   string
	MySQLAddr string
	HTTPAddr  string
	Projects  []ProjectSpec
	// RootPassword is the MySQL root password; empty means none, and
	// then both addresses must be loopback (checkExposure).
	RootPassword string
	// TLSCertFile and TLSKeyFile are the MySQL port's certificate and key
	// (PEM), both or neither; neither: a self-signed pair generated in
	// the data directory (tls.go).
	TLSCertFile, TLSKeyFile string
	// RequireSecureTransport refuses MySQL clients that do not switch to
	// TLS (error 3159).
	RequireSecureTransport bool
	// HTTPS serves the HTTP port over TLS with the MySQL port's
	// certificate.
	HTTPS bool
	// HTTPPrefix serves the ingestion routes also under this path (e.g.
	// "/mp"), for ad-blocker-proof routes.
	HTTPPrefix string
	// IngestBudget bounds the bytes of HTTP ingestion requests in flight
	// (ingest.DefaultBudget when 0); beyond it requests get 503.
	IngestBudget int64
	// MemoryLimit is the memory budget (memory_limit.go): the other
	// budgets are fitted into it and it is Go's soft memory limit. 0: no
	// limit besides each budget.
	MemoryLimit int64
	// HeapPreTouch faults in the pages of the heap's first collection
	// cycle after the block cache warm-up (heap_pretouch.go), at most a
	// quarter of MemoryLimit (1 GiB without one).
	HeapPreTouch bool
	// Connection limits and timeouts (conn_limit.go); zero takes the
	// Default* constant of the same name.
	MySQLMaxConnections int
	MySQLConnectTimeout time.Duration // to authenticate after connecting
	MySQLIdleTimeout    time.Duration // between statements (wait_timeout)
	HTTPMaxConnections  int
	HTTPIdleTimeout     time.Duration // between keep-alive requests
	HTTPBodyReadTimeout time.Duration // to receive an ingestion request's whole body
	Queries             QueryLimits   // per-statement limits (query_limits.go)
	Logger              *slog.Logger
	// Store tunes storage (flush thresholds); FS, Dir, Logger and the
	// metrics hooks are set by the server.
	Store storage.Options
}

// Server is a running arb: the store, the MySQL listener and the HTTP
// listener.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *storage.Store
	metrics *metrics
	mysql   *gms.Server
	http    *http.Server
	httpLn  net.Listener
	tls     *tls.Config // the MySQL port's, and the HTTP port's with HTTPS

	mysqlConns *mysqlConnLimit // the MySQL listener, counting connections
	httpConns  *httpConnLimit  // the HTTP listener, counting connections

	parser   *schemaParser
	sessions sync.Map // connection id → *session

	// warmedUp is set once the block cache warm-up and the heap
	// pre-touch (heap_pretouch.go) are done (metric arb_warmed_up).
	warmedUp atomic.Bool
	// inflight counts statements being run, so shutdown can wait for them.
	inflight sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
	served   chan error // MySQL accept loop's exit
	// mysqlStopped is set when the MySQL accept loop has returned: the
	// server no longer answers queries (/readyz says so).
	mysqlStopped atomic.Pointer[error]
	// node is this server's member of the cluster (nil: single node).
	node *replication.Node
	// grants loads users and grants changed through the log (cluster
	// mode; nil on a single node).
	grants *replicatedGrants
	// stopping is closed when Shutdown begins.
	stopping chan struct{}
}

// Start opens the store and starts listening. The caller must Shutdown.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// go-mysql-server logs each connection at Info and each failed query
	// and its secure_file_priv default at Warn; clients see their errors.
	logrus.SetLevel(logrus.ErrorLevel)
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(), served: make(chan error, 1), stopping: make(chan struct{})}

	// Checked before binding, so that a refused start touches nothing.
	if err := checkExposure(cfg); err != nil {
		return nil, err
	}
	givenCert, err := loadTLSFiles(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, err
	}
	// Both ports are bound before the data directory is touched: a busy
	// port (often a second arb started by mistake) fails the start at
	// once, with the directory unchanged and no WAL replayed for nothing.
	// Our own listener also keeps go-mysql-server from binding with
	// SO_REUSEPORT, which would let two servers share the MySQL port.
	mysqlLn, err := net.Listen("tcp", cfg.MySQLAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for MySQL on %s: %w", cfg.MySQLAddr, err)
	}
	s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		mysqlLn.Close()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	// Neither accept loop ever ends on EMFILE/ENFILE (listener.go); both
	// refuse connections beyond their limit (conn_limit.go).
	s.mysqlConns = newMySQLConnLimit(newRetryListener(mysqlLn, "mysql", s.log),
		cmp.Or(cfg.MySQLMaxConnections, DefaultMySQLMaxConnections), cmp.Or(cfg.MySQLConnectTimeout, DefaultMySQLConnectTimeout), s.log)
	s.httpConns = newHTTPConnLimit(newRetryListener(s.httpLn, "http", s.log), cmp.Or(cfg.HTTPMaxConnections, DefaultHTTPMaxConnections), s.log)
	s.httpLn = s.httpConns
	closeListeners := func() { mysqlLn.Close(); s.httpLn.Close(); s.closeNode() }

	if cfg.MemoryLimit > 0 {
		if err := applyMemoryLimit(&cfg, cfg.MemoryLimit, s.log); err != nil {
			closeListeners()
			return nil, err
		}
		s.cfg = cfg
	}
	opts := cfg.Store
	opts.Dir, opts.Logger = cfg.DataDir, cfg.Logger
	opts.OnWALSync = s.metrics.walSynced
	opts.OnIngest = func(rows int) { s.metrics.rowsIngested.Add(float64(rows)) }
	// The Mixpanel profile operations' semantics (/engage, /groups), which
	// storage calls to resolve them: always ingest's, so that every node
	// of a cluster resolves a logged operation alike.
	opts.ProfileUpdater = ingest.ApplyProfileOp
	if err := s.openNode(&opts); err != nil {
		closeListeners()
		return nil, err
	}
	store, err := storage.Open(opts)
	if err != nil {
		closeListeners()
		return nil, err
	}
	s.store = store
	// The cluster node closes before the store: Raft must not apply
	// into a closed store.
	closeStore := func() { s.closeNode(); store.Close() }
	if err := s.startNode(store); err != nil {
		closeStore()
		closeListeners()
		return nil, err
	}
	s.metrics.observeStore(store)
	s.metrics.observeConnections(s.mysqlConns, s.httpConns)
	if err := s.ensureProjects(); err != nil {
		closeStore()
		closeListeners()
		return nil, err
	}
	// After storage.Open: the data directory lock is held.
	tlsConfig, err := setUpTLS(givenCert, cfg, s.log)
	if err != nil {
		closeStore()
		closeListeners()
		return nil, err
	}
	s.tls = tlsConfig

	engine := s.newEngine()
	var revertGrants func()
	if s.grants != nil {
		revertGrants = func() { s.grants.reloadFrom(store) }
	}
	if err := setUpUsers(engine.Analyzer.Catalog.MySQLDb, store, cfg.RootPassword, revertGrants); err != nil {
		closeStore()
		closeListeners()
		return nil, err
	}
	if s.grants != nil {
		s.grants.attach(engine.Analyzer.Catalog.MySQLDb, s.stopping, s.log)
	}
	idleTimeout := cmp.Or(cfg.MySQLIdleTimeout, DefaultMySQLIdleTimeout)
	// compat answers what go-mysql-server and vitess answer differently
	// from MySQL (compat_handler.go); its auth server is the listener's.
	compat := &compatHandler{users: engine.Analyzer.Catalog.MySQLDb, sessions: &s.sessions, log: s.log,
		stats: &serverStats{started: time.Now(), threads: s.mysqlConns.Open, tables: s.tableCount}}
	cfgMySQL := gms.Config{Protocol: "tcp", Address: cfg.MySQLAddr, Listener: s.mysqlConns, Version: Version,
		ConnWriteTimeout: DefaultMySQLWriteTimeout, TLSConfig: tlsConfig,
		// The idle timeout is vitess's per-read deadline only. Config's
		// ConnReadTimeout would also make go-mysql-server's handler fail
		// any query that sends no row for that long.
		ProtocolListenerFactory: func(c gms.Config, lc mysql.ListenerConfig, sel gms.ServerEventListener) (gms.ProtocolListener, error) {
			lc.ConnReadTimeout = idleTimeout
			compat.auth = lc.AuthServer
			return gms.MySQLProtocolListenerFactory(c, lc, sel)
		},
	}
	limits := newQueryLimits(cfg.Queries, cfg.MemoryLimit)
	if s.node != nil {
		limits.readBarrier = s.node.ReadBarrier
	}
	s.metrics.observeQueries(limits, &s.warmedUp)
	go func() {
		<-store.WarmedUp()
		if cfg.HeapPreTouch {
			preTouchHeap(cmp.Or(cfg.MemoryLimit/4, 1<<30), func() bool { return limits.running.Load() > 0 }, s.log)
		}
		s.warmedUp.Store(true)
	}()
	s.mysql, err = gms.NewServerWithHandler(cfgMySQL, engine, sql.NewContext, newSessionBuilder(&s.sessions), nil,
		func(h mysql.Handler) (mysql.Handler, error) {
			compat.Handler = h
			h = compat
			return &tlsHooks{limit: s.mysqlConns, requireSecure: cfg.RequireSecureTransport, Handler: &connHooks{limit: s.mysqlConns,
				Handler: &handler{Handler: h, metrics: s.metrics, inflight: &s.inflight, parser: s.parser, sessions: &s.sessions, limits: limits, users: engine.Analyzer.Catalog.MySQLDb}}}, nil
		})
	if err != nil {
		closeStore()
		closeListeners()
		return nil, fmt.Errorf("start MySQL server on %s: %w", cfg.MySQLAddr, err)
	}
	if err := sql.SystemVariables.AssignValues(connectionVariables(s.mysqlConns.max, s.mysqlConns.connectTimeout, idleTimeout)); err != nil {
		s.log.Warn("set connection variables", "err", err)
	}
	// HTTP is served last: /healthz answering means the store is open
	// and the MySQL server is ready.
	s.startHTTP()
	go func() {
		err := s.mysql.Start()
		if err == nil {
			err = errors.New("closed")
		}
		s.mysqlStopped.Store(&err)
		s.served <- err
	}()
	s.log.Info("arb serving", "mysql", s.MySQLAddr(), "http", s.HTTPAddr(), "https", cfg.HTTPS, "data_dir", cfg.DataDir)
	return s, nil
}

func (s *Server) newEngine() *sqle.Engine {
	planner.PatchAnalyzerDefaults() // before NewBuilder copies the rules
	b := analyzer.NewBuilder(newProvider(s.store, s.node))
	b = planner.Register(b)
	b = b.AddPreAnalyzeRule(ruleRefuseGlobalSet, refuseGlobalSet) // global_variables.go
	s.parser = &schemaParser{inner: sql.NewMysqlParser(), store: s.store}
	b.AddOverrides(sql.EngineOverrides{Builder: sql.BuilderOverrides{Parser: ownAccountParser{Parser: s.parser, sessions: &s.sessions}}})
	engine := sqle.New(b.Build(), &sqle.Config{})
	engine.Analyzer.Catalog.RegisterFunction(sql.NewEmptyContext(), planner.Functions()...)
	if err := sql.SystemVariables.AssignValues(map[string]any{
		"version":         Version,
		"version_comment": versionComment,
	}); err != nil {
		s.log.Warn("set version variables", "err", err)
	}
	return engine
}

// ensureProjects applies --project flags, and creates the default project
// in an empty data directory, printing its credentials once.
func (s *Server) ensureProjects() error {
	if s.node != nil {
		go s.ensureProjectsInCluster()
		return nil
	}
	for _, p := range s.cfg.Projects {
		if _, err := s.store.PutProject(p.Name, p.Token, p.Secret); err != nil {
			return err
		}
	}
	if len(s.cfg.Projects) == 0 && len(s.store.Projects()) == 0 {
		info, err := s.store.CreateProject("default", "", "")
		if err != nil {
			return err
		}
		s.log.Info("created project default; keep its credentials", "token", info.Token, "secret", info.Secret)
	}
	return nil
}

// startHTTP serves HTTP on s.httpLn, which Start bound.
func (s *Server) startHTTP() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	// /healthz is liveness; /readyz says whether writes are taken now
	// (storage.Store.Ready): 503 with the reason — the store failed, or a
	// fault refuses writes and since when — else 200 "ready".
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.mysqlStopped.Load(); err != nil {
			http.Error(w, "not ready: cannot answer queries: the MySQL listener stopped: "+(*err).Error(), http.StatusServiceUnavailable)
			return
		}
		if err := s.store.Ready(); err != nil {
			w.Header().Set("Retry-After", ingest.FaultRetryAfter)
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	ingest.New(ingest.Config{Projects: storeProjects{s.store}, Metrics: s.metrics.ingest, Budget: s.cfg.IngestBudget,
		BodyReadTimeout: cmp.Or(s.cfg.HTTPBodyReadTimeout, DefaultHTTPBodyReadTimeout)}).Register(mux, s.cfg.HTTPPrefix)
	registerBackup(mux, s.store, s.cfg.RootPassword, s.log)
	registerAdmin(mux, s.store, s.cfg.RootPassword, s.log)
	registerClusterAdmin(mux, s.node, s.cfg.RootPassword)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: cmp.Or(s.cfg.HTTPIdleTimeout, DefaultHTTPIdleTimeout)}
	ln := s.httpLn
	if s.cfg.HTTPS {
		// Connections beyond --http-max-connections are still refused in
		// plaintext (httpConnLimit), which an HTTPS client sees as a TLS
		// error rather than a 503.
		ln = tls.NewListener(s.httpLn, s.tls)
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
}

// MySQLAddr is the address the MySQL listener is bound to.
func (s *Server) MySQLAddr() string { return s.mysql.Listener.Addr().String() }

// HTTPAddr is the address the HTTP listener is bound to.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// Store is the server's store (for tests and in-process tools).
func (s *Server) Store() *storage.Store { return s.store }

// Shutdown stops accepting connections, waits for statements in flight
// (until ctx ends), flushes and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		close(s.stopping)
		if s.node != nil {
			// Statements waiting for a leader or a quorum give up: at
			// once when there is no leader, else after a grace period
			// in which writes in flight usually commit.
			if s.node.Status().Leader == "" {
				s.node.StopWaiting()
			} else {
				t := time.AfterFunc(shutdownWriteGrace, s.node.StopWaiting)
				defer t.Stop()
			}
		}
		s.mysql.Close()
		httpErr := s.http.Shutdown(ctx)
		done := make(chan struct{})
		go func() { s.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.log.Warn("shutdown: statements still running; closing anyway")
		}
		s.closeNode()
		s.stopErr = errors.Join(httpErr, s.store.Close())
	})
	return s.stopErr
}

// checkExposure refuses to listen beyond loopback while root has no
// password: anyone who could reach the port would be root (and /backup
// and /admin on the HTTP port take root's password too).
func checkExposure(cfg Config) error {
	if cfg.RootPassword != "" {
		return nil
	}
	for _, l := range []struct{ flag, addr string }{{"--mysql-addr", cfg.MySQLAddr}, {"--http-addr", cfg.HTTPAddr}} {
		if !isLoopbackAddr(l.addr) {
			return fmt.Errorf("%s %s listens beyond loopback while root has no password: set --root-password, or listen on 127.0.0.1", l.flag, l.addr)
		}
	}
	return nil
}

// isLoopbackAddr says whether host:port binds loopback only: a loopback
// IP, or a name all of whose addresses are loopback. An empty host is
// every interface.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// ParseProjectSpec parses NAME:TOKEN:SECRET.
func ParseProjectSpec(v string) (ProjectSpec, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return ProjectSpec{}, fmt.Errorf("project %q: want NAME:TOKEN:SECRET", v)
	}
	if err := storage.ValidateProjectName(parts[0]); err != nil {
		return ProjectSpec{}, err
	}
	return ProjectSpec{Name: parts[0], Token: parts[1], Secret: parts[2]}, nil
}
