package ea

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// testPKI is a CA and a way to issue leaves under it, made fresh per test run.
type testPKI struct {
	ca     *x509.Certificate
	caKey  crypto.Signer
	caDER  []byte
	serial int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &testPKI{ca: ca, caKey: key, caDER: der, serial: 1}
}

func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return pool
}

func newKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	switch kind {
	case "ed25519":
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		return k
	case "p256":
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return k
	case "p384":
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		return k
	case "rsa":
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		return k
	}
	t.Fatalf("unknown key kind %s", kind)
	return nil
}

// leaf issues a certificate for names with the given key, usable for server and client auth.
func (p *testPKI) leaf(t *testing.T, key crypto.Signer, names ...string) Identity {
	t.Helper()
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: names, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{Chain: [][]byte{der, p.caDER}, Signer: key}
}

// fixedKeys are exporter values from a made-up secret: enough for codec tests.
func fixedKeys(t *testing.T, creator Role) Keys {
	t.Helper()
	k, err := DeriveKeys(TLS13Exporter(make([]byte, 32), crypto.SHA256), crypto.SHA256, creator)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
