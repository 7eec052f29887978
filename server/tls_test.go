package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsLoopbackAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:3306", true},
		{"127.0.0.2:3306", true},
		{"[::1]:3306", true},
		{"localhost:3306", true},
		{"0.0.0.0:3306", false},
		{"[::]:3306", false},
		{":3306", false},
		{"10.1.2.3:3306", false},
		{"no-port", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := isLoopbackAddr(tc.addr); got != tc.want {
				t.Fatalf("isLoopbackAddr(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tc := range []struct {
		name, mysql, http, password, wantErr string
	}{
		{"loopback without password", "127.0.0.1:1", "127.0.0.1:2", "", ""},
		{"mysql exposed without password", "0.0.0.0:1", "127.0.0.1:2", "", "--mysql-addr 0.0.0.0:1"},
		{"http exposed without password", "127.0.0.1:1", ":2", "", "--http-addr :2"},
		{"exposed with password", "0.0.0.0:1", "0.0.0.0:2", "pw", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkExposure(Config{MySQLAddr: tc.mysql, HTTPAddr: tc.http, RootPassword: tc.password})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--root-password")):
				t.Fatalf("error %v, want one naming %q and --root-password", err, tc.wantErr)
			}
		})
	}
}

// TestSelfSignedTLS: generated once, reused after; a key.pem left
// without its cert.pem (a crash between the two writes) is replaced; a
// cert.pem without key.pem is an error naming the key.
func TestSelfSignedTLS(t *testing.T) {
	dir := t.TempDir()
	first, certPath, generated, err := selfSignedTLS(dir)
	if err != nil || !generated {
		t.Fatalf("first start: generated %v, %v", generated, err)
	}
	if certPath != filepath.Join(dir, "tls", "cert.pem") {
		t.Fatalf("cert path %s", certPath)
	}
	again, _, generated, err := selfSignedTLS(dir)
	if err != nil || generated || !bytes.Equal(again.Certificate[0], first.Certificate[0]) {
		t.Fatalf("second start: generated %v, same %v, %v", generated, bytes.Equal(again.Certificate[0], first.Certificate[0]), err)
	}

	keyPath := filepath.Join(dir, "tls", "key.pem")
	if err := os.Remove(certPath); err != nil {
		t.Fatal(err)
	}
	fresh, _, generated, err := selfSignedTLS(dir)
	if err != nil || !generated || bytes.Equal(fresh.Certificate[0], first.Certificate[0]) {
		t.Fatalf("key.pem without cert.pem: generated %v, %v", generated, err)
	}

	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := selfSignedTLS(dir); err == nil || !strings.Contains(err.Error(), keyPath) {
		t.Fatalf("cert.pem without key.pem: %v, want an error naming %s", err, keyPath)
	}
}

func TestCertFingerprintFormat(t *testing.T) {
	got := certFingerprint([]byte("x"))
	// sha256("x") = 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881
	if want := "2D:71:16:42:B7:26:B0:44:01:62:7C:A9:FB:AC:32:F5:C8:53:0F:B1:90:3C:C4:DB:02:25:87:17:92:1A:48:81"; got != want {
		t.Fatalf("certFingerprint = %s, want %s", got, want)
	}
}
