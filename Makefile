# arb — see README.md. `make run` and `make test` are the two commands.
GO ?= go
BIN := bin/arb

.PHONY: all build run test test-duckdb vet bench soak fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/arb

run: build
	$(BIN) serve --data-dir ./data

vet:
	$(GO) vet ./...

# Every test: unit tests, fuzz seed corpora, and the integration tests,
# which start the real bin/arb (hence `build` first).
test: build vet integration/js/node_modules
	ARB_BIN=$(CURDIR)/$(BIN) $(GO) test -race -tags arb_invariants -timeout 20m ./...

# The second reference of the native plan's answers: every query of
# bench/queries/ on bin/arb and on DuckDB over the same events (bench/ is
# a module of its own, so DuckDB stays out of `make test`; .ci/run runs
# both; with them runs the test of the bench's /import client).
test-duckdb: build
	cd bench && ARB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 30m -v \
		-run 'TestCorpusAgreesWithDuckDB|TestCorpusFiles|TestParseCorpusFile|TestClassifyPlan|TestRunLineBatches' .

# The official Mixpanel SDKs the ingestion tests drive (integration/js).
integration/js/node_modules: integration/js/package.json integration/js/package-lock.json
	cd integration/js && npm ci --no-audit --no-fund
	touch $@

bench: build
	ARB_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
	$(MAKE) bench-peers
	$(MAKE) bench-corpus
	$(MAKE) bench-ingest-queries
	$(MAKE) bench-cluster

# arb against ClickHouse 18.16 and DuckDB on the workload of peers.md
# (bench/, a module of its own so `go test ./...` never builds DuckDB).
# EVENTS=100000000 for the large size; the table lands in bench/results.md.
.PHONY: bench-peers bench-clickhouse bench-corpus bench-ingest-queries bench-cluster
bench-peers: build bench-clickhouse
	cd bench && $(GO) run . -arb-bin $(CURDIR)/$(BIN) -events $${EVENTS:-10000000}

# The realistic query corpus of bench/queries/ (issue 13) on arb and DuckDB:
# answers checked, per query arb ms, DuckDB ms, plan and peak RSS; the
# table lands in bench/results-corpus.md. Its unit test (corpus files
# parse, both dialects present) runs first.
bench-corpus: build
	cd bench && $(GO) test -run 'TestCorpusFiles|TestParseCorpusFile|TestClassifyPlan' . && \
		$(GO) run . -corpus -arb-loader import -arb-bin $(CURDIR)/$(BIN) -events $${EVENTS:-10000000}

# Query latency while arb ingests (issue 13): a few queries in a loop during
# an HTTP /import load of the dataset into a fresh arb, for 30 s right after
# it and after a restart; answers checked (counts monotonic, exact at the
# end), per phase p50/p95/max ms, peak RSS and the ingest rate against a
# plain load. The table lands in bench/results-ingest.md.
bench-ingest-queries: build
	cd bench && $(GO) test -run 'TestIngestQueries' . && \
		$(GO) run . -during-ingest -arb-bin $(CURDIR)/$(BIN) -events $${EVENTS:-10000000}

# A cluster against one node on this machine (issue 15): the dataset
# through HTTP /import into one arb, a cluster of one (Raft, no
# replication) and a 3-node cluster on loopback, then Q0–Q8 on the single
# node, the cluster of one, the leader and a follower, every answer
# checked against the single node's; ingest events/s and per-query ms
# with ratios land in bench/results-cluster.md. Its unit tests run first.
# EVENTS defaults to 1,000,000 here: the cluster holds three copies and
# all five processes share the machine; 9 runs a query (interleaved
# across the setups) because the ratios of short queries are noisy.
bench-cluster: build
	cd bench && $(GO) test -run 'TestClusterPeers|TestClusterView|TestImportRetry|TestCheckModes|TestRenderCluster|TestMedianOf|TestMeasureInterleaved' . && \
		$(GO) run . -cluster -arb-bin $(CURDIR)/$(BIN) -events $${EVENTS:-1000000} -runs 9

# ClickHouse from Debian when missing; waits for another apt/dpkg holding the lock.
bench-clickhouse:
	@command -v clickhouse-server >/dev/null 2>&1 || { \
		apt-get -o DPkg::Lock::Timeout=600 update && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y clickhouse-server clickhouse-client; }

# 1,000 kill -9 cycles against the real binary (flushes and compactions
# running), 10 minutes of overload from several client processes, 10,000 randomized compaction histories against a model, and
# a day-equivalent of steady ingest (10M events, 1,440 flushes, one a
# second), whose SUMMARY line gives segments, fds and compactions; then
# cluster mode: 5 minutes of the history checker under kill -9, SIGSTOP
# and (as root) network partitions (its SOAK line), and 25 successive
# kill -9s of the leader (its FAILOVER line: median and max failover).
soak: build
	ARB_COMPACTION_RUNS=10000 $(GO) test -tags arb_invariants -run TestCompactionRandomized -timeout 600m -v ./storage/
	ARB_CRASH_STEPS=3 $(GO) test -tags arb_invariants -run 'TestCrash|TestFault' -timeout 120m -v ./storage/
	ARB_BIN=$(CURDIR)/$(BIN) ARB_CRASH_CYCLES=1000 $(GO) test -run 'TestCrash$$' -timeout 600m -v ./integration/
	ARB_BIN=$(CURDIR)/$(BIN) ARB_OVERLOAD_SECONDS=600 $(GO) test -run 'TestOverload$$' -timeout 60m -v ./integration/
	ARB_BIN=$(CURDIR)/$(BIN) ARB_STEADY_EVENTS=10000000 ARB_STEADY_FLUSHES=1440 ARB_STEADY_FLUSH_EVERY=1s \
		$(GO) test -run 'TestSteadyIngest$$' -timeout 180m -v ./integration/
	ARB_BIN=$(CURDIR)/$(BIN) ARB_SOAK_SECONDS=300 $(GO) test -run 'TestClusterSoak$$' -timeout 30m -v ./integration/
	ARB_BIN=$(CURDIR)/$(BIN) ARB_FAILOVER_KILLS=25 $(GO) test -run 'TestClusterFailoverKills$$' -timeout 30m -v ./integration/

# Short runs of every fuzz target; new crashers land in testdata/fuzz/.
fuzz:
	@for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 30s $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
