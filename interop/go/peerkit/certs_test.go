package peerkit

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"

	"secondarycerts/interop/ea"
)

func TestGenerateCertsWritesAUsableSet(t *testing.T) {
	dir := t.TempDir()
	if _, err := GenerateCerts(dir); err != nil {
		t.Fatal(err)
	}
	roots, err := ea.LoadRoots(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range GeneratedLeaves {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, l.Name+".pem"), filepath.Join(dir, l.Name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: l.Name}); err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
	}
}
