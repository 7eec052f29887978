package server

// COM_STATISTICS and COM_CHANGE_USER, the two protocol commands vitess
// refuses before any handler sees them.
//
// vitess (github.com/dolthub/vitess go/mysql/conn.go, Conn.handleNextCommand)
// dispatches on the command byte and answers every command it has no case
// for, COM_STATISTICS (0x09) and COM_CHANGE_USER (0x11) among them, from
// its default branch with ERROR 1047 "command handling not implemented
// yet" without calling the mysql.Handler. The mariadb CLI's `status` and
// `mariadb-admin status` send COM_STATISTICS; mysql2's changeUser (on a
// connection or one taken from a pool) sends COM_CHANGE_USER.
//
// A net.Conn wrapper in the listener cannot see them: clients switch to
// TLS inside the protocol (arb always offers it) and vitess reads the
// commands through crypto/tls above any wrapper. So the commands are
// taken out of the stream above TLS, where vitess reads: once a
// connection has authenticated, commandTap becomes the source of vitess's
// buffered reader (Conn's unexported bufferedReader, reached by
// reflection and Reset onto the tap; nothing else of vitess is touched).
// The tap passes every packet through unchanged except a COM_STATISTICS
// or COM_CHANGE_USER starting a command (sequence 0), which it answers
// itself on the connection and drops from the stream. vitess is blocked
// reading the next command meanwhile and has flushed all it wrote, so the
// answer cannot interleave with its output. Commands are counted on the
// way (Questions in COM_STATISTICS).
//
// INVARIANT: the tap hands vitess exactly the bytes the client sent minus
// whole COM_STATISTICS/COM_CHANGE_USER packets, in order, except the text
// of a COM_STMT_PREPARE vitess would refuse, which it replaces (quoted
// keywords, keyword_identifiers.go; a stand-in, prepared_compat.go); it holds at
// most one read buffer (mysql.DefaultConnBufferSize) of the client's
// bytes besides what vitess's own reader holds.
// INVARIANT: the tap is installed only when vitess's reader holds no
// buffered bytes (the client waits for the handshake's OK before sending
// anything), so no byte is read twice or lost.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
)

// Command bytes (MySQL client/server protocol, "Text Protocol").
const (
	comQuery       = 0x03
	comStatistics  = 0x09
	comChangeUser  = 0x11
	comStmtPrepare = 0x16
	comStmtExecute = 0x17
)

const (
	erAccessDenied   = 1045 // ER_ACCESS_DENIED_ERROR
	erUnknownCom     = 1047 // ER_UNKNOWN_COM_ERROR
	maxPayloadLength = 1<<24 - 1
)

// serverStats is what COM_STATISTICS reports.
type serverStats struct {
	started   time.Time
	questions atomic.Int64 // COM_QUERY and COM_STMT_EXECUTE commands received
	threads   func() int   // connections open
	tables    func() int   // tables arb serves
}

// statisticsLine is MySQL's COM_STATISTICS answer (the format of
// mysqladmin status, MySQL 8.0 manual 6.5.2 "mysqladmin"): uptime in
// seconds, open connections, statements received, slow queries (arb
// keeps no slow log: 0), tables opened and open (arb's tables are always
// open: the tables it serves), flushes (1, MySQL's count at start), and
// statements per second of uptime with three decimals.
func (s *serverStats) statisticsLine(now time.Time) string {
	up := int64(now.Sub(s.started) / time.Second)
	q := s.questions.Load()
	per1000 := int64(0)
	if up > 0 {
		per1000 = q * 1000 / up
	}
	tables := s.tables()
	return fmt.Sprintf("Uptime: %d  Threads: %d  Questions: %d  Slow queries: 0  Opens: %d  Flush tables: 1  Open tables: %d  Queries per second avg: %d.%03d",
		up, s.threads(), q, tables, tables, per1000/1000, per1000%1000)
}

// commandTap is vitess's read source on one connection (see above).
type commandTap struct {
	conn net.Conn // what vitess writes to (tls.Conn or not)
	// r reads conn, buffered so that a packet's header and command byte
	// cost no read call of their own; every read of the connection
	// after the tap is installed goes through it.
	r       *bufio.Reader
	h       *compatHandler
	c       *mysql.Conn
	pending []byte // passed-through bytes vitess has not read yet
	left    int    // bytes of the current packet's payload still to pass
}

// installCommandTap makes tap the source of c's buffered reader. It
// reports false (and changes nothing) when vitess's reader is not where
// it is expected or holds unread bytes.
func installCommandTap(c *mysql.Conn, h *compatHandler) bool {
	f := reflect.ValueOf(c).Elem().FieldByName("bufferedReader")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*bufio.Reader]() || f.IsNil() {
		return false
	}
	br := (*bufio.Reader)(f.UnsafePointer())
	if br.Buffered() > 0 {
		return false
	}
	br.Reset(&commandTap{conn: c.Conn, r: bufio.NewReaderSize(c.Conn, mysql.DefaultConnBufferSize), h: h, c: c})
	return true
}

// Read passes the client's bytes through, answering the commands vitess
// refuses on the way.
func (t *commandTap) Read(p []byte) (int, error) {
	for len(t.pending) == 0 && t.left == 0 {
		if err := t.nextPacket(); err != nil {
			return 0, err
		}
	}
	if len(t.pending) > 0 {
		n := copy(p, t.pending)
		t.pending = t.pending[n:]
		return n, nil
	}
	n, err := t.r.Read(p[:min(len(p), t.left)])
	t.left -= n
	return n, err
}

// nextPacket reads the next packet's header and first payload byte. A
// command the tap answers is read whole and answered; anything else is
// queued for vitess with the rest of its payload left on the wire.
func (t *commandTap) nextPacket() error {
	var hdr [5]byte
	if _, err := io.ReadFull(t.r, hdr[:4]); err != nil {
		return err
	}
	length := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	seq := hdr[3]
	if length == 0 {
		t.pending = append(t.pending[:0], hdr[:4]...)
		return nil
	}
	if _, err := io.ReadFull(t.r, hdr[4:5]); err != nil {
		return err
	}
	cmd := hdr[4]
	if seq == 0 {
		switch cmd {
		case comQuery, comStmtExecute:
			t.h.stats.questions.Add(1)
		case comStmtPrepare:
			// vitess parses a statement to prepare before any handler
			// sees it: a property named like a word it reserves and
			// MySQL does not must be quoted here (keyword_identifiers.go).
			if length < maxPayloadLength {
				payload := make([]byte, length)
				payload[0] = cmd
				if _, err := io.ReadFull(t.r, payload[1:]); err != nil {
					return err
				}
				if q, ok := preparedQuoted(string(payload[1:])); ok && len(q)+1 < maxPayloadLength {
					payload = append(payload[:1], q...)
				} else if q, ok := preparedStandIn(string(payload[1:])); ok {
					// WITH ROLLUP, EXPLAIN FORMAT=JSON: vitess parses a
					// stand-in, ComPrepare gets the original back
					// (prepared_compat.go).
					t.h.preparing.Store(t.c.ConnectionID, preparedSwap{standIn: q, original: string(payload[1:])})
					payload = append(payload[:1], q...)
				}
				n := len(payload)
				t.pending = append(append(t.pending[:0], byte(n), byte(n>>8), byte(n>>16), seq), payload...)
				t.left = 0
				return nil
			}
		case comStatistics, comChangeUser:
			if length < maxPayloadLength {
				payload := make([]byte, length)
				payload[0] = cmd
				if _, err := io.ReadFull(t.r, payload[1:]); err != nil {
					return err
				}
				return t.answer(payload)
			}
		}
	}
	t.pending = append(t.pending[:0], hdr[:]...)
	t.left = length - 1
	return nil
}

// answer answers a COM_STATISTICS or COM_CHANGE_USER command.
func (t *commandTap) answer(payload []byte) error {
	pw := &packetWriter{w: t.conn, r: t.r, seq: 1}
	if payload[0] == comStatistics {
		return pw.write([]byte(t.h.stats.statisticsLine(time.Now())))
	}
	return t.changeUser(payload[1:], pw)
}

// packetWriter writes packets of one exchange with consecutive sequence
// numbers, and reads the client's replies in the same numbering.
type packetWriter struct {
	w   net.Conn
	r   io.Reader // the tap's reader of the same connection
	seq byte
}

func (pw *packetWriter) write(payload []byte) error {
	if len(payload) >= maxPayloadLength {
		return fmt.Errorf("packet of %d bytes is too long for one MySQL packet", len(payload))
	}
	buf := make([]byte, 4, 4+len(payload))
	buf[0], buf[1], buf[2], buf[3] = byte(len(payload)), byte(len(payload)>>8), byte(len(payload)>>16), pw.seq
	pw.seq++
	_, err := pw.w.Write(append(buf, payload...))
	return err
}

func (pw *packetWriter) read() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(pw.r, hdr[:]); err != nil {
		return nil, err
	}
	length := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if hdr[3] != pw.seq {
		return nil, fmt.Errorf("COM_CHANGE_USER: packet with sequence %d, want %d", hdr[3], pw.seq)
	}
	if length >= maxPayloadLength {
		return nil, fmt.Errorf("COM_CHANGE_USER: reply of %d bytes is too long", length)
	}
	pw.seq++
	payload := make([]byte, length)
	_, err := io.ReadFull(pw.r, payload)
	return payload, err
}

// writeError writes an ERR packet (protocol 4.1: marker, code, '#',
// SQLSTATE, message).
func (pw *packetWriter) writeError(code uint16, state, msg string) error {
	p := []byte{0xff, byte(code), byte(code >> 8), '#'}
	p = append(p, state...)
	return pw.write(append(p, msg...))
}

// writeOK writes an OK packet with no rows affected.
func (pw *packetWriter) writeOK(status uint16) error {
	return pw.write([]byte{0x00, 0, 0, byte(status), byte(status >> 8), 0, 0})
}

// changeUserRequest is COM_CHANGE_USER's payload after the command byte.
type changeUserRequest struct {
	user, db  string
	collation uint8 // 0: not sent
}

// parseChangeUser reads COM_CHANGE_USER's fields (MySQL protocol
// documentation, "COM_CHANGE_USER"): user, auth response, database,
// character set; a plugin name and connection attributes may follow and
// are not needed. The auth response is length-prefixed: vitess speaks
// only protocol 4.1, whose clients all send CLIENT_SECURE_CONNECTION (the
// flag itself is not kept by vitess: Conn.Capabilities holds a subset).
// The response itself is ignored: it is computed from the handshake's
// scramble, which vitess does not expose, so the server always asks again
// (AuthSwitchRequest), as MySQL may.
func parseChangeUser(p []byte) (changeUserRequest, error) {
	var r changeUserRequest
	bad := errors.New("malformed COM_CHANGE_USER packet")
	i := bytes.IndexByte(p, 0)
	if i < 0 {
		return r, bad
	}
	r.user, p = string(p[:i]), p[i+1:]
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		return r, bad
	}
	p = p[1+int(p[0]):]
	if len(p) == 0 {
		return r, nil
	}
	if i = bytes.IndexByte(p, 0); i < 0 {
		return r, bad
	}
	r.db, p = string(p[:i]), p[i+1:]
	if len(p) >= 2 {
		r.collation = uint8(binary.LittleEndian.Uint16(p))
	}
	return r, nil
}

// changeUser re-authenticates the connection as the named user and, on
// success, gives it a fresh session (as COM_RESET_CONNECTION does: user
// variables, session variables, temporary tables and prepared statements
// are gone) with the requested database and character set, as MySQL 8
// does (MySQL protocol documentation, "COM_CHANGE_USER"). On failure the
// client gets ERROR 1045 and the connection keeps its user and session.
func (t *commandTap) changeUser(payload []byte, pw *packetWriter) error {
	req, err := parseChangeUser(payload)
	if err != nil {
		return pw.writeError(erUnknownCom, "08S01", err.Error())
	}
	userData, err := t.h.authenticate(t.c, req.user, pw)
	if err != nil {
		var se *mysql.SQLError
		if errors.As(err, &se) {
			return pw.writeError(uint16(se.Num), se.State, se.Message)
		}
		return err // the connection failed mid-exchange
	}
	old := t.c.User
	oldData, oldCollation := t.c.UserData, t.c.CharacterSet
	t.c.User, t.c.UserData = req.user, userData
	if req.collation != 0 {
		t.c.CharacterSet = req.collation
	}
	if err := t.h.resetSession(t.c, req.db); err != nil {
		t.c.User, t.c.UserData, t.c.CharacterSet = old, oldData, oldCollation
		_ = t.h.resetSession(t.c, "")
		var se *mysql.SQLError
		if errors.As(mysqlError(err), &se) {
			return pw.writeError(uint16(se.Num), se.State, se.Message)
		}
		return pw.writeError(erUnknownError, "HY000", err.Error())
	}
	return pw.writeOK(t.c.StatusFlags)
}

// authenticate runs an authentication exchange for user on c and returns
// the user data the session builder takes (sql.MysqlConnectionUser).
// mysql_native_password is checked by the listener's own auth method;
// caching_sha2_password (which needs TLS for a password, as at connect
// time) is checked here against the account's stored hash, because
// vitess's implementation reads and writes through the vitess connection,
// which is blocked in this very read.
func (h *compatHandler) authenticate(c *mysql.Conn, user string, pw *packetWriter) (mysql.Getter, error) {
	denied := func() error {
		return mysql.NewSQLError(erAccessDenied, "28000", "Access denied for user '%s'@'%s' (using password: YES)", user, remoteHost(c))
	}
	if h.auth == nil {
		return nil, denied()
	}
	var method mysql.AuthMethod
	for _, m := range h.auth.AuthMethods() {
		if (m.Name() == mysql.MysqlNativePassword || m.Name() == mysql.CachingSha2Password) && m.HandleUser(c, user) {
			method = m
			break
		}
	}
	if method == nil {
		return nil, denied()
	}
	salt, err := mysql.NewSalt()
	if err != nil {
		return nil, err
	}
	data := append(append([]byte(nil), salt...), 0)
	sw := append([]byte{0xfe}, method.Name()...)
	sw = append(append(sw, 0), data...)
	if err := pw.write(sw); err != nil {
		return nil, err
	}
	reply, err := pw.read()
	if err != nil {
		return nil, err
	}
	if method.Name() == mysql.MysqlNativePassword {
		ud, err := method.HandleAuthPluginData(c, user, data, reply, c.RemoteAddr())
		if err != nil {
			return nil, denied()
		}
		return ud, nil
	}
	return h.cachingSha2(c, user, salt, reply, pw, denied)
}

// cachingSha2 finishes a caching_sha2_password exchange. go-mysql-server
// keeps no cache of scrambles, so a password is always checked in full:
// the server asks for it (AuthMoreData 0x04), the client sends it in
// clear over TLS, and it is hashed with the account's salt and iteration
// count and compared with the stored hash. An account without a password
// is accepted on an empty reply.
func (h *compatHandler) cachingSha2(c *mysql.Conn, user string, salt, reply []byte, pw *packetWriter, denied func() error) (mysql.Getter, error) {
	if h.users == nil || !h.users.Enabled() {
		return nil, denied()
	}
	host := remoteHost(c)
	rd := h.users.Reader()
	entry := h.users.GetUser(rd, user, host, false)
	rd.Close()
	if entry == nil || entry.Locked {
		return nil, denied()
	}
	ok := func() (mysql.Getter, error) {
		return sql.MysqlConnectionUser{User: entry.User, Host: entry.Host}, nil
	}
	empty := len(reply) == 0 || (len(reply) == 1 && reply[0] == 0)
	if entry.AuthString == "" {
		if !empty {
			return nil, denied()
		}
		return ok()
	}
	if empty || !c.TLSEnabled() {
		return nil, denied()
	}
	if err := pw.write([]byte{mysql.AuthMoreDataPacket, mysql.CachingSha2FullAuth}); err != nil {
		return nil, err
	}
	clear, err := pw.read()
	if err != nil {
		return nil, err
	}
	password := strings.TrimRight(string(clear), "\x00")
	_, iterations, storedSalt, _, err := mysql.DeserializeCachingSha2PasswordAuthString([]byte(entry.AuthString))
	if err != nil {
		return nil, denied()
	}
	want, err := mysql.SerializeCachingSha2PasswordAuthString(password, storedSalt, iterations)
	if err != nil || string(want) != entry.AuthString {
		return nil, denied()
	}
	return ok()
}

// remoteHost is the client's host as accounts name it.
func remoteHost(c *mysql.Conn) string {
	addr := c.RemoteAddr()
	if addr == nil {
		return "localhost"
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// resetSession gives c a fresh go-mysql-server session (the session
// builder reads c's user and character set) with db as its database
// (none when empty), and forgets c's prepared statements.
func (h *compatHandler) resetSession(c *mysql.Conn, db string) error {
	// go-mysql-server's reset carries the old session's database over to
	// the new one, checking the (new) user's access to it: name db there
	// first, so that the check is of db.
	if s, ok := h.sessions.Load(c.ConnectionID); ok {
		s.(*session).SetCurrentDatabase(db)
	}
	c.PrepareData = make(map[uint32]*mysql.PrepareData)
	return h.Handler.ComResetConnection(c)
}
