package integration

// tls_test.go: the MySQL port's TLS (server/tls.go) through go-sql-driver
// and the mariadb CLI, --require-secure-transport, the self-signed
// certificate's reuse across restarts, a given --tls-cert/--tls-key, and
// the refusal to listen beyond loopback with a passwordless root.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// readCertPEM parses the first certificate in a PEM file.
func readCertPEM(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM CERTIFICATE block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}

// fingerprint is a certificate's SHA-256 as arb logs it (AB:CD:…).
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

var tlsConfigSeq atomic.Int64

// openTLS opens a go-sql-driver pool on p that trusts only ca, checks the
// server name serverName, and counts verified TLS handshakes in
// *handshakes, recording the certificate the server presented.
func openTLS(t *testing.T, p *arbProcess, ca *x509.Certificate, serverName string, handshakes *atomic.Int64, served *atomic.Pointer[x509.Certificate]) *sql.DB {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	name := fmt.Sprintf("arb-tls-%d", tlsConfigSeq.Add(1))
	err := mysql.RegisterTLSConfig(name, &tls.Config{RootCAs: pool, ServerName: serverName,
		VerifyConnection: func(cs tls.ConnectionState) error {
			handshakes.Add(1)
			served.Store(cs.PeerCertificates[0])
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/default?tls=%s", p.mysqlPort, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mariadbCLI runs the mariadb client against p with extra flags and
// returns its combined output and error.
func mariadbCLI(t *testing.T, p *arbProcess, flags ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatal("the mariadb client is not installed: .ci/run installs it (apt-get install mariadb-client)")
	}
	args := append([]string{"-h", "127.0.0.1", "-P", fmt.Sprint(p.mysqlPort), "-u", "root", "--connect-timeout=10"}, flags...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// writeSelfSigned writes a fresh self-signed ECDSA certificate for
// 127.0.0.1 and its key to dir, returning the paths and the certificate.
func writeSelfSigned(t *testing.T, dir, name string) (certPath, keyPath string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, cert
}

var fingerprintLog = regexp.MustCompile(`msg="TLS certificate" .*generated=(true|false) sha256_fingerprint=([0-9A-F:]+)`)

// TestTLSSelfSignedRequired: with no --tls-cert arb generates a certificate
// in the data directory, logs its fingerprint, serves it to verifying TLS
// clients, refuses plaintext ones with 3159 under
// --require-secure-transport, and keeps the same certificate after a
// restart.
func TestTLSSelfSignedRequired(t *testing.T) {
	p := startArb(t, "--require-secure-transport")
	certPath, keyPath := filepath.Join(p.dir, "tls", "cert.pem"), filepath.Join(p.dir, "tls", "key.pem")
	cert := readCertPEM(t, certPath)

	// The certificate: ECDSA P-256, for localhost and 127.0.0.1, 10 years.
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("certificate key is %T, want ECDSA P-256", cert.PublicKey)
	}
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		if err := cert.VerifyHostname(host); err != nil {
			t.Errorf("host name: %v", err)
		}
	}
	if atLeast := time.Now().AddDate(9, 11, 0); cert.NotAfter.Before(atLeast) {
		t.Errorf("certificate valid until %s, want about 10 years", cert.NotAfter)
	}
	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key.pem mode %o, want 600", perm)
	}
	// The start-up log names its fingerprint.
	m := fingerprintLog.FindAllStringSubmatch(p.log.String(), -1)
	if len(m) != 1 || m[0][1] != "true" || m[0][2] != fingerprint(cert) {
		t.Fatalf("log lines %q: want one generated=true with fingerprint %s", m, fingerprint(cert))
	}

	// go-sql-driver verifying the certificate gets TLS.
	var handshakes atomic.Int64
	var served atomic.Pointer[x509.Certificate]
	db := openTLS(t, p, cert, "localhost", &handshakes, &served)
	if got := queryString(t, db, "SELECT 1"); got != "1" {
		t.Fatalf("SELECT 1 over TLS = %q", got)
	}
	if handshakes.Load() == 0 || !served.Load().Equal(cert) {
		t.Fatalf("no verified TLS handshake with the generated certificate (%d handshakes)", handshakes.Load())
	}
	// By IP SAN too.
	var ipHandshakes atomic.Int64
	dbIP := openTLS(t, p, cert, "127.0.0.1", &ipHandshakes, &served)
	if err := dbIP.Ping(); err != nil || ipHandshakes.Load() == 0 {
		t.Fatalf("TLS by IP 127.0.0.1: %v (%d handshakes)", err, ipHandshakes.Load())
	}

	// A plaintext client gets MySQL's 3159.
	err = p.DB().Ping()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 3159 {
		t.Fatalf("plaintext connection: %v, want error 3159", err)
	}
	out, err := mariadbCLI(t, p, "--skip-ssl", "-e", "SELECT 1")
	if err == nil || !strings.Contains(out, "ERROR 3159") {
		t.Fatalf("mariadb --skip-ssl: %v\n%s\nwant ERROR 3159", err, out)
	}

	// The mariadb CLI with --ssl-ca and --ssl-verify-server-cert.
	out, err = mariadbCLI(t, p, "--ssl", "--ssl-ca="+certPath, "--ssl-verify-server-cert", "-e", `\s`)
	if err != nil || !strings.Contains(out, "Cipher in use is") {
		t.Fatalf("mariadb --ssl --ssl-verify-server-cert: %v\n%s", err, out)
	}
	// Verification is real: another CA is refused.
	otherCA, _, _ := writeSelfSigned(t, t.TempDir(), "other")
	out, err = mariadbCLI(t, p, "--ssl", "--ssl-ca="+otherCA, "--ssl-verify-server-cert", "-e", "SELECT 1")
	if err == nil || !strings.Contains(out, "ERROR 2026") {
		t.Fatalf("mariadb verifying against another CA: %v\n%s\nwant ERROR 2026", err, out)
	}

	// A restart reuses the certificate.
	db.Close()
	dbIP.Close()
	p.Stop()
	p.Restart()
	m = fingerprintLog.FindAllStringSubmatch(p.log.String(), -1)
	if len(m) != 2 || m[1][1] != "false" || m[1][2] != fingerprint(cert) {
		t.Fatalf("log lines after restart %q: want the second generated=false with fingerprint %s", m, fingerprint(cert))
	}
	if again := readCertPEM(t, certPath); !again.Equal(cert) {
		t.Fatal("cert.pem changed across a restart")
	}
	var handshakes2 atomic.Int64
	db2 := openTLS(t, p, cert, "localhost", &handshakes2, &served)
	if err := db2.Ping(); err != nil || handshakes2.Load() == 0 || !served.Load().Equal(cert) {
		t.Fatalf("TLS after restart: %v (%d handshakes)", err, handshakes2.Load())
	}
}

// TestTLSGivenCertificate: --tls-cert/--tls-key are served instead of a
// generated certificate (none is written), and without
// --require-secure-transport plaintext clients still connect.
func TestTLSGivenCertificate(t *testing.T) {
	certPath, keyPath, cert := writeSelfSigned(t, t.TempDir(), "given")
	p := startArb(t, "--tls-cert", certPath, "--tls-key", keyPath)
	var handshakes atomic.Int64
	var served atomic.Pointer[x509.Certificate]
	db := openTLS(t, p, cert, "127.0.0.1", &handshakes, &served)
	if err := db.Ping(); err != nil {
		t.Fatalf("TLS with the given certificate: %v", err)
	}
	if handshakes.Load() == 0 || !served.Load().Equal(cert) {
		t.Fatalf("server did not present the --tls-cert certificate (%d handshakes)", handshakes.Load())
	}
	m := fingerprintLog.FindAllStringSubmatch(p.log.String(), -1)
	if len(m) != 1 || m[0][1] != "false" || m[0][2] != fingerprint(cert) {
		t.Fatalf("log lines %q: want generated=false with fingerprint %s", m, fingerprint(cert))
	}
	if _, err := os.Stat(filepath.Join(p.dir, "tls")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a certificate was generated although --tls-cert was given: %v", err)
	}
	if err := p.DB().Ping(); err != nil {
		t.Fatalf("plaintext without --require-secure-transport: %v", err)
	}
	// Only one of the pair is an error, before the data directory is made.
	dir := filepath.Join(t.TempDir(), "data")
	out, err := runArb(t, "serve", "--data-dir", dir, "--mysql-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--tls-cert", certPath)
	if err == nil || !strings.Contains(out, "give both or neither") {
		t.Fatalf("--tls-cert without --tls-key: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data directory made by a refused start: %v", err)
	}
}

// TestRefuseExposedWithoutRootPassword: listening beyond loopback without
// --root-password fails at once, naming the flag, before the data
// directory is created; with a password the same address serves.
func TestRefuseExposedWithoutRootPassword(t *testing.T) {
	for _, tc := range []struct{ name, mysqlHost, httpHost string }{
		{"mysql 0.0.0.0", "0.0.0.0", "127.0.0.1"},
		{"mysql all interfaces", "", "127.0.0.1"},
		{"http 0.0.0.0", "127.0.0.1", "0.0.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			start := time.Now()
			out, err := runArb(t, "serve", "--data-dir", dir,
				"--mysql-addr", fmt.Sprintf("%s:%d", tc.mysqlHost, freePort(t)),
				"--http-addr", fmt.Sprintf("%s:%d", tc.httpHost, freePort(t)))
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("arb serve exited with %v, want a non-zero exit\n%s", err, out)
			}
			if !strings.Contains(out, "--root-password") || !strings.Contains(out, "loopback") {
				t.Fatalf("error does not name --root-password:\n%s", out)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("refusal took %s", took)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("data directory touched by a refused start: %v", err)
			}
		})
	}
	t.Run("with a root password", func(t *testing.T) {
		p := startArb(t, "--root-password", "s3cret", "--mysql-addr", fmt.Sprintf("0.0.0.0:%d", freePort(t)))
		if strings.Contains(p.log.String(), "--root-password") {
			t.Fatalf("refused although a root password was given:\n%s", p.log.String())
		}
	})
}

// TestTLSConnectionLimit: a TLS connection counts as authenticated (the
// connect timeout does not cut it) and gives its place back on close
// (vitess replaces the connection with a *tls.Conn after the greeting).
func TestTLSConnectionLimit(t *testing.T) {
	p := startArb(t, "--mysql-max-connections", "1", "--mysql-connect-timeout", "1s")
	cert := readCertPEM(t, filepath.Join(p.dir, "tls", "cert.pem"))
	var handshakes atomic.Int64
	var served atomic.Pointer[x509.Certificate]
	db := openTLS(t, p, cert, "localhost", &handshakes, &served)
	db.SetMaxIdleConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Past the connect timeout, the authenticated TLS connection still works.
	time.Sleep(1500 * time.Millisecond)
	var one int
	if err := conn.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("TLS connection after the connect timeout: %v", err)
	}
	// Closed, its place is free again (the gauge counts the limit's
	// places); then the next TLS connection gets in.
	closeConn := func(c *sql.Conn) {
		c.Raw(func(any) error { return driver.ErrBadConn }) // close it for real
		c.Close()
		eventually(t, 10*time.Second, "the TLS connection's place freed", func() error {
			if n := scrapeMetrics(t, p.url("/metrics"), "arb_mysql_connections")["arb_mysql_connections"]; n != 0 {
				return fmt.Errorf("arb_mysql_connections %v", n)
			}
			return nil
		})
	}
	closeConn(conn)
	for i := range 3 {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatalf("connection %d after closing TLS ones: %v", i, err)
		}
		if err := c.PingContext(context.Background()); err != nil {
			t.Fatalf("connection %d after closing TLS ones: %v", i, err)
		}
		closeConn(c)
	}
	if handshakes.Load() < 4 {
		t.Fatalf("%d TLS handshakes, want 4 connections over TLS", handshakes.Load())
	}
}

// TestHTTPS: with --https the HTTP port serves TLS with the MySQL port's
// (here generated) certificate, and plaintext HTTP gets no answer from a
// route.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	httpPort := freePort(t)
	cmd := exec.Command(arbBinary(t), "serve", "--data-dir", dir, "--https",
		"--mysql-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort))
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("arb log:\n%s", log.String())
		}
	})
	// The certificate is written once the data directory is locked;
	// /healthz answers once everything is up.
	certPath := filepath.Join(dir, "tls", "cert.pem")
	var client *http.Client
	var served atomic.Pointer[x509.Certificate]
	url := fmt.Sprintf("https://localhost:%d/healthz", httpPort)
	eventually(t, 60*time.Second, "arb serving /healthz over HTTPS", func() error {
		select {
		case err := <-exited:
			t.Fatalf("arb exited during start-up: %v", err)
		default:
		}
		if client == nil {
			if _, err := os.Stat(certPath); err != nil {
				return err
			}
			pool := x509.NewCertPool()
			pool.AddCert(readCertPEM(t, certPath))
			client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
				VerifyConnection: func(cs tls.ConnectionState) error { served.Store(cs.PeerCertificates[0]); return nil }}}}
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	if cert := readCertPEM(t, certPath); !served.Load().Equal(cert) {
		t.Fatal("HTTPS did not present the generated certificate")
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plaintext /healthz answered 200 under --https")
		}
	}
}
