package ingest

// The HTTP handler: routes, CORS, one request's way from body to Applier,
// and the replies (Mixpanel's plain, verbose and /import forms).

import (
	"bytes"
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"arb/storage"
)

// DefaultBudget bounds the bytes of requests being decoded and
// applied at once; a request that does not fit within ingestWait is shed
// with 503 and Retry-After instead of growing memory without bound.
const (
	DefaultBudget = 512 << 20
	ingestWait    = 2 * time.Second
)

// replyFormat is how a request is answered: decided by how the request
// came (mixpanel-ingest.md §1.5), not by its path.
type replyFormat uint8

const (
	replyPlain   replyFormat = iota // body 1 or 0
	replyVerbose                    // {"status":1,"error":null}
	replyImport                     // {"code":200,"num_records_imported":N,...}
)

// Applier takes a project's validated writes, whole or not at all, and
// returns once they are durable (storage.Project is one: on a single node
// its write-ahead log makes them durable; in a cluster its write path
// appends them to the Raft log and applies them once committed, see
// storage.Options.Log). Errors are storage's (storage.RowError names the
// row; FaultError, ErrOverloaded, ErrLogUnavailable, ErrRecordTooLarge are
// retryable refusals), which fail maps to HTTP statuses.
type Applier interface {
	Name() string
	Info() storage.ProjectInfo
	// IngestValidUTF8 stores events whose strings are all valid UTF-8:
	// the decoders refuse a record that is not (a request's text is
	// checked once, not each string again where it is stored).
	IngestValidUTF8(events []storage.Event) error
	UpdateProfiles(table string, ops []storage.ProfileOp) error
}

// Projects finds the project a request writes to, by token or secret.
type Projects interface {
	Projects() []storage.ProjectInfo
	Applier(name string) (Applier, bool)
}

// Config is what a Handler needs from the server.
type Config struct {
	Projects Projects
	Metrics  *Metrics
	// Budget is the bytes of request data being read and applied at once
	// (DefaultBudget when 0).
	Budget int64
	// BodyReadTimeout bounds the time to receive a whole body; zero
	// means none.
	BodyReadTimeout time.Duration
}

// Handler serves the ingestion endpoints.
type Handler struct {
	projects Projects
	metrics  *Metrics
	// budget holds the bytes of request data read and not yet answered
	// (budget.go): a sender is charged for what it has sent, not for the
	// Content-Length it announced.
	budget          *semaphore.Weighted
	bodyReadTimeout time.Duration
}

// New returns a Handler; cfg.Metrics may be nil (a private set).
func New(cfg Config) *Handler {
	m := cfg.Metrics
	if m == nil {
		m = NewMetrics()
	}
	return &Handler{projects: cfg.Projects, metrics: m, budget: semaphore.NewWeighted(cmp.Or(cfg.Budget, DefaultBudget)),
		bodyReadTimeout: cfg.BodyReadTimeout}
}

// Register adds the ingestion routes to mux, at the root and under
// prefix (e.g. "/mp") when it is not empty.
func (h *Handler) Register(mux *http.ServeMux, prefix string) {
	bases := []string{""}
	if prefix = strings.TrimRight(prefix, "/"); prefix != "" {
		bases = append(bases, prefix)
	}
	for _, base := range bases {
		for _, ep := range []string{"track", "import", "engage", "groups"} {
			ep := ep
			fn := func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, ep) }
			mux.HandleFunc(base+"/"+ep, h.cors(fn))
			mux.HandleFunc(base+"/"+ep+"/", h.cors(fn))
		}
		decide := h.cors(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
		})
		mux.HandleFunc(base+"/decide", decide)
		mux.HandleFunc(base+"/decide/", decide)
	}
}

// cors answers preflights and adds the headers the browser SDK needs:
// its XHRs use credentials, so the Origin is echoed (a '*' makes the
// browser hide the reply).
func (h *Handler) cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
			// Retry-After tells a client how long to wait after a 503.
			hd.Set("Access-Control-Expose-Headers", "Retry-After")
			hd.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				hd.Set("Access-Control-Allow-Headers", req)
			} else {
				hd.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Authorization")
			}
			hd.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next(w, r)
	}
}

// request is one ingestion request being served.
type request struct {
	endpoint string
	r        *http.Request
	format   replyFormat
	verbose  bool
	img      bool
	callback string
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, endpoint string) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		http.Error(w, "method not allowed: use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	req := &request{endpoint: endpoint, r: r, verbose: q.Get("verbose") == "1", img: q.Get("img") == "1", callback: q.Get("callback")}
	if req.verbose {
		req.format = replyVerbose
	}
	// The query string has arrived whole and is charged at once; the body
	// is charged as it is read, within bodyReadTimeout (budget.go).
	bb := newBudgetedBody(r, h.budget, h.bodyReadTimeout, w)
	bb.inflight = &h.metrics.inflight
	defer bb.release()
	if err := bb.charge(r.Context(), max(int64(len(r.URL.RawQuery)), 1)); err != nil {
		h.overloaded(w, endpoint)
		return
	}
	if err := bb.waitFirstByte(); err != nil {
		h.bodyFailed(w, req, err)
		return
	}

	// The body buffer goes back to the pool when the request is answered:
	// nothing stored keeps a reference to it (payload.text says how).
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBodyBytes {
			bodyBuffers.Put(buf)
		}
	}()
	body, err := readBodyInto(bb.request(), buf)
	if bb.err != nil {
		h.bodyFailed(w, req, bb.err)
		return
	}
	bb.done()
	if endpoint == "import" && !carriesData(r, body) {
		req.format = replyImport
	}
	var p *payload
	if err == nil {
		p, err = decodePayload(r, body, endpoint == "import")
	}
	if err != nil {
		h.fail(w, req, err)
		return
	}
	ingest := h.ingestEvents
	if endpoint == "engage" || endpoint == "groups" {
		ingest = h.ingestProfiles
	}
	n, err := ingest(req, p)
	if err != nil {
		h.fail(w, req, err)
		return
	}
	h.ok(w, req, n)
}

// FaultRetryAfter is the Retry-After, in seconds, of a write refused by a
// fault that clears itself (disk full, out of descriptors).
const FaultRetryAfter = "5"

// overloadRetryAfter is the Retry-After of a batch refused because the
// ingest buffer stayed full: a flush usually makes room within seconds.
const overloadRetryAfter = "2"

// recordErrors are the bad records of a request (which then stores none).
type recordErrors []*recordError

func (e recordErrors) Error() string {
	msg := e[0].Error()
	if len(e) > 1 {
		msg += fmt.Sprintf(" (and %d more bad records)", len(e)-1)
	}
	return msg
}

// authError is a failed /import authentication.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// ingestEvents validates and stores the events of a /track or /import
// request; it returns how many records were accepted (duplicates and
// $ignore'd ones included, as Mixpanel counts them).
func (h *Handler) ingestEvents(req *request, p *payload) (int, error) {
	q := req.r.URL.Query()
	rules := &eventRules{endpoint: req.endpoint, now: time.Now(), strict: q.Get("strict") == "1"}
	if q.Get("ip") == "1" {
		rules.clientIP = clientIP(req.r)
	}
	var project Applier
	// projectToken is the project's token, read at most once, and only
	// when a record names a token: Info takes the project's lock, which
	// concurrent batches hold.
	var projectToken string
	tokenKnown := false
	bySecret := false
	if req.endpoint == "import" {
		var err error
		project, bySecret, err = h.authenticateImport(req.r)
		if err != nil {
			return 0, err
		}
	}
	parsed := rules.parseRecords(p)
	if parsed.notJSON.Load() {
		var err error
		if p, err = p.reference(); err != nil {
			return 0, err
		}
		parsed = rules.parseRecords(p)
	}
	events := parsed.events[:0] // kept events, compacted in place
	var bad recordErrors
	for i := range p.records {
		if rerr := parsed.errs[i]; rerr != nil {
			bad = append(bad, rerr)
			continue
		}
		ev, token := parsed.events[i], parsed.tokens[i]
		if ev.Name == "$merge" && !bySecret {
			bad = append(bad, &recordError{Index: i, InsertID: ev.InsertID, Field: "event", Message: "$merge is accepted only on /import authenticated with the project secret"})
			continue
		}
		if project != nil && token != "" && !tokenKnown {
			projectToken, tokenKnown = project.Info().Token, true
		}
		switch {
		case project == nil && token == "":
			bad = append(bad, &recordError{Index: i, InsertID: ev.InsertID, Field: "properties.token", Message: "token, missing or empty"})
			continue
		case project == nil:
			proj, ok := h.projectByToken(token)
			if !ok {
				bad = append(bad, &recordError{Index: i, InsertID: ev.InsertID, Field: "properties.token", Message: "unknown project token"})
				continue
			}
			project, projectToken, tokenKnown = proj, token, true
		case token != "" && token != projectToken:
			bad = append(bad, &recordError{Index: i, InsertID: ev.InsertID, Field: "properties.token", Message: fmt.Sprintf("token does not belong to project %s (one request, one project)", project.Name())})
			continue
		}
		if !parsed.ignore[i] {
			if len(events) == i {
				// In place already: a copy onto itself would still cost
				// write barriers while the GC runs.
				events = events[:i+1]
			} else {
				events = append(events, ev)
			}
		}
	}
	if len(bad) > 0 {
		return 0, bad
	}
	if len(events) > 0 {
		if err := project.IngestValidUTF8(events); err != nil {
			return 0, storeError(err)
		}
	}
	h.metrics.records.WithLabelValues(req.endpoint).Add(float64(len(p.records)))
	return len(p.records), nil
}

// storeError turns a storage refusal of a validated batch into a record
// error when it names a row (a property whose name or value storage
// refuses), else passes it on.
func storeError(err error) error {
	var re *storage.RowError
	if errors.As(err, &re) {
		return recordErrors{{Index: re.Row - 1, Field: "properties." + re.Column, Message: re.Err.Error()}}
	}
	return err
}

// authenticateImport checks /import credentials (§1.6): Basic auth with
// the project secret as user or password (service accounts: any user,
// the secret as password, ?project_id= the project name), the token as
// user with an empty password, or ?api_key=<secret>.
func (h *Handler) authenticateImport(r *http.Request) (Applier, bool, error) {
	q := r.URL.Query()
	user, pass, hasBasic := r.BasicAuth()
	apiKey := q.Get("api_key")
	for _, info := range h.projects.Projects() {
		if pid := q.Get("project_id"); pid != "" && pid != info.Name {
			continue
		}
		proj, ok := h.projects.Applier(info.Name)
		if !ok {
			continue
		}
		switch {
		case apiKey != "" && equalSecret(apiKey, info.Secret),
			hasBasic && (equalSecret(user, info.Secret) || (pass != "" && equalSecret(pass, info.Secret))):
			return proj, true, nil
		case hasBasic && pass == "" && q.Get("project_id") == "" && equalSecret(user, info.Token):
			return proj, false, nil
		}
	}
	return nil, false, &authError{"Invalid credentials"}
}

func equalSecret(a, b string) bool {
	return b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (h *Handler) projectByToken(token string) (Applier, bool) {
	for _, info := range h.projects.Projects() {
		if info.Token == token {
			return h.projects.Applier(info.Name)
		}
	}
	return nil, false
}

// clientIP is the request's client address: the first X-Forwarded-For
// entry, X-Real-IP, or the peer address (Mixpanel's tracking proxy sets
// the headers).
func clientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if ip := strings.TrimSpace(first); net.ParseIP(ip) != nil {
			return ip
		}
	}
	if ip := strings.TrimSpace(r.Header.Get("X-Real-IP")); net.ParseIP(ip) != nil {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// transparentGIF is the 1×1 image answered to img=1.
var transparentGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

func (h *Handler) ok(w http.ResponseWriter, req *request, n int) {
	h.metrics.requests.WithLabelValues(req.endpoint, "200").Inc()
	switch req.format {
	case replyImport:
		writeJSON(w, http.StatusOK, map[string]any{"code": 200, "num_records_imported": n, "status": "OK"})
	default:
		h.legacy(w, req, http.StatusOK, 1, "")
	}
}

// fail answers a refused request. Size limits are 413, failed /import
// authentication 401 and overload 503, whatever the format (the SDKs
// branch on those); other refusals keep the request's format, legacy
// ones with HTTP 200 as Mixpanel does, and an X-Arb-Error header that
// names the problem even when the body is a bare 0.
//
// A write refused by a fault that clears itself (storage.FaultError:
// nothing stored) is 507 Insufficient Storage for a full disk and 503 for
// a process out of descriptors, both with Retry-After: the client retries
// the same request later. A store that stopped taking writes for good
// (storage.ErrStoreFailed) stays 500. A batch refused because the
// ingest buffer stayed full (storage.ErrOverloaded) is 503 with
// Retry-After; one that would pass --max-columns is bad input (400).
func (h *Handler) fail(w http.ResponseWriter, req *request, err error) {
	var pe *payloadError
	var ae *authError
	var fe *storage.FaultError
	var bad recordErrors
	errors.As(err, &bad)
	status := http.StatusBadRequest
	switch {
	case errors.As(err, &pe):
		status = pe.status
	case errors.As(err, &ae):
		status = http.StatusUnauthorized
	case bad != nil:
	case errors.As(err, &fe):
		status = http.StatusServiceUnavailable
		if fe.Kind == storage.FaultNoSpace {
			status = http.StatusInsufficientStorage
		}
		w.Header().Set("Retry-After", FaultRetryAfter)
	case errors.Is(err, storage.ErrRecordTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, storage.ErrLogUnavailable):
		// Cluster mode: no leader or quorum right now (a failover takes
		// about a second); the write may or may not be stored, and a
		// retry counts an event with an insert_id once.
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, storage.ErrOverloaded):
		// The ingest buffer stayed full (flushes lag behind): nothing was
		// stored; the SDKs retry a 503 after Retry-After.
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", overloadRetryAfter)
	case errors.As(err, new(*storage.ColumnLimitError)):
		// Bad input for this project's schema: retrying cannot help.
	default:
		status = http.StatusInternalServerError
	}
	h.metrics.requests.WithLabelValues(req.endpoint, strconv.Itoa(status)).Inc()
	msg := err.Error()
	w.Header().Set("X-Arb-Error", headerSafe(msg))
	if status == http.StatusUnauthorized || status == http.StatusRequestEntityTooLarge || req.format == replyImport {
		body := map[string]any{"code": status, "error": msg, "status": http.StatusText(status)}
		if bad != nil {
			body["error"] = "some data points in the request failed validation: " + msg
			body["num_records_imported"] = 0
			body["failed_records"] = bad
		}
		writeJSON(w, status, body)
		return
	}
	if status >= http.StatusInternalServerError {
		h.legacy(w, req, status, 0, msg)
		return
	}
	// Bad input on a legacy endpoint: 200 with status 0, as Mixpanel
	// answers (the browser SDK would otherwise retry a batch that can
	// never succeed) — except corrupt encodings and bodies, which are 400.
	if pe != nil {
		h.legacy(w, req, status, 0, msg)
		return
	}
	h.legacy(w, req, http.StatusOK, 0, msg)
}

// legacy writes a 1/0 reply in the request's flavour: plain, verbose
// JSON, a 1×1 GIF (img=1) or JSONP (callback=).
func (h *Handler) legacy(w http.ResponseWriter, req *request, status, result int, msg string) {
	var body string
	if req.format == replyVerbose || req.callback != "" {
		b, _ := json.Marshal(map[string]any{"status": result, "error": nilIfEmpty(msg)})
		body = string(b)
	} else {
		body = strconv.Itoa(result)
	}
	switch {
	case req.img:
		w.Header().Set("Content-Type", "image/gif")
		w.Header().Set("Cache-Control", "no-cache, no-store")
		w.WriteHeader(status)
		w.Write(transparentGIF)
	case req.callback != "" && isJSIdentifier(req.callback):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s(%s);", req.callback, body)
	default:
		if req.format == replyVerbose {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isJSIdentifier accepts JSONP callback names (dotted identifiers), so a
// callback parameter cannot inject script.
func isJSIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c == '$' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
