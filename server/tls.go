package server

// tls.go owns the MySQL port's TLS: the certificate it offers, where that
// certificate comes from, and --require-secure-transport.
//
// Where the certificate comes from:
//   - Config.TLSCertFile and Config.TLSKeyFile (PEM), both or neither;
//     they are loaded before any port is bound, so a bad pair fails the
//     start with the data directory untouched.
//   - Otherwise <data-dir>/tls/cert.pem and key.pem: a self-signed ECDSA
//     P-256 certificate for localhost, 127.0.0.1, ::1 and the host name,
//     valid for 10 years, generated on first start and reused after.
//
// Invariants:
//   - The generated pair is written only while the data directory lock is
//     held (Start calls selfSignedTLS after storage.Open), so a second
//     server started on a live directory never replaces its certificate.
//   - key.pem is published before cert.pem, each by temp file, fsync,
//     rename, directory fsync; so a cert.pem on disk always has its
//     key.pem. A key.pem without cert.pem (a crash between the two) is
//     replaced by a new pair. key.pem is mode 0600.
//   - With RequireSecureTransport a connection that did not switch to TLS
//     is refused with MySQL's 3159 (ER_SECURE_TRANSPORT_REQUIRED) once it
//     has authenticated, and closed: it never runs a statement. vitess's
//     own RequireSecureTransport is not used: it sends 1105 and carries
//     on with the handshake.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/netutil"
)

// Generated certificate files, below the data directory.
const (
	tlsDirName      = "tls"
	tlsCertFileName = "cert.pem"
	tlsKeyFileName  = "key.pem"
	// selfSignedValidity is how long a generated certificate is valid.
	selfSignedValidity = 10 * 365 * 24 * time.Hour
)

// erSecureTransportRequired is MySQL's ER_SECURE_TRANSPORT_REQUIRED.
const erSecureTransportRequired = 3159

// loadTLSFiles loads the pair named by --tls-cert and --tls-key; (nil,
// nil) when neither is set.
func loadTLSFiles(certFile, keyFile string) (*tls.Certificate, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, fmt.Errorf("TLS certificate %q and key %q: give both or neither", certFile, keyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

// selfSignedTLS loads <dataDir>/tls/{cert,key}.pem, generating them first
// if cert.pem is missing. generated says which.
// REQUIRES: the data directory lock is held.
func selfSignedTLS(dataDir string) (cert *tls.Certificate, certPath string, generated bool, err error) {
	dir := filepath.Join(dataDir, tlsDirName)
	certPath, keyPath := filepath.Join(dir, tlsCertFileName), filepath.Join(dir, tlsKeyFileName)
	if _, err := os.Stat(certPath); errors.Is(err, fs.ErrNotExist) {
		if err := generateSelfSigned(dir, certPath, keyPath); err != nil {
			return nil, "", false, err
		}
		generated = true
	} else if err != nil {
		return nil, "", false, fmt.Errorf("TLS certificate %s: %w", certPath, err)
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, "", false, fmt.Errorf("load TLS certificate %s and key %s: %w", certPath, keyPath, err)
	}
	return &pair, certPath, generated, nil
}

// generateSelfSigned writes a new key.pem, then cert.pem, into dir.
func generateSelfSigned(dir, certPath, keyPath string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create TLS directory %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return fmt.Errorf("generate TLS certificate serial: %w", err)
	}
	dnsNames := []string{"localhost"}
	if host, err := os.Hostname(); err == nil && host != "" && host != "localhost" {
		dnsNames = append(dnsNames, host)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "arb self-signed", Organization: []string{"arb"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(selfSignedValidity),
		DNSNames:     dnsNames,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		// Its own CA, so that clients can trust it with --ssl-ca.
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode TLS key: %w", err)
	}
	if err := writeFileSynced(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileSynced(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileSynced publishes data at path: temp file, fsync, rename,
// directory fsync.
func writeFileSynced(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}

// certFingerprint is the SHA-256 of the certificate's DER bytes, as
// `openssl x509 -fingerprint -sha256` prints it (AB:CD:…).
func certFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// setUpTLS picks the certificate (given, else self-signed in the data
// directory), logs where it comes from and its fingerprint, and returns
// the MySQL listener's TLS configuration.
// REQUIRES: the data directory lock is held (the store is open).
func setUpTLS(given *tls.Certificate, cfg Config, log *slog.Logger) (*tls.Config, error) {
	cert, source, generated := given, cfg.TLSCertFile, false
	if cert == nil {
		var err error
		if cert, source, generated, err = selfSignedTLS(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s: %w", source, err)
	}
	log.Info("TLS certificate", "file", source, "generated", generated, "sha256_fingerprint", certFingerprint(leaf.Raw),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "require_secure_transport", cfg.RequireSecureTransport)
	return &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}, nil
}

// tlsHooks wraps the MySQL protocol handler (outside connHooks): it
// refuses plaintext connections under RequireSecureTransport, and tells
// the connection limit about TLS connections, whose mysql.Conn.Conn
// vitess replaced by a *tls.Conn that connHooks cannot match.
type tlsHooks struct {
	mysql.Handler
	limit         *mysqlConnLimit
	requireSecure bool
}

func (h *tlsHooks) ConnectionAuthenticated(c *mysql.Conn) error {
	tc, ok := c.Conn.(*tls.Conn)
	if !ok && h.requireSecure {
		return mysql.NewSQLError(erSecureTransportRequired, "HY000",
			"Connections using insecure transport are prohibited while --require_secure_transport=ON.")
	}
	if ok {
		h.limit.authenticated(underTLS(tc))
	}
	return h.Handler.ConnectionAuthenticated(c)
}

func (h *tlsHooks) ConnectionClosed(c *mysql.Conn) {
	h.Handler.ConnectionClosed(c)
	if tc, ok := c.Conn.(*tls.Conn); ok {
		h.limit.closed(underTLS(tc))
	}
}

// underTLS is the net.Conn mysqlConnLimit.Accept returned, below tc and
// vitess's deadline wrapper (as acceptedConn unwraps a plaintext one).
func underTLS(tc *tls.Conn) net.Conn {
	if w, ok := tc.NetConn().(netutil.ConnWithTimeouts); ok {
		return w.Conn
	}
	return tc.NetConn()
}
