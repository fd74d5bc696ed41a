// Package peerkit holds what the HTTP/2 peers (package peer) and the HTTP/3
// peers (package h3peer) share, none of it tied to a protocol: test
// certificates and identities, the client's record of which origins its
// validated certificates prove, its JSON events and exit codes, the
// server's identities, log and broken modes, and the commands' flags.
package peerkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"secondarycerts/interop/ea"
)

// TestCA issues short-lived certificates for tests and the harness.
type TestCA struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// NewTestCA makes a self-signed ECDSA P-256 CA named name.
func NewTestCA(name string) (*TestCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return &TestCA{Cert: cert, key: key}, err
}

// Pool is a trust store holding only this CA.
func (ca *TestCA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue makes a server leaf for names with a fresh key of kind "ed25519" or
// "p256". The chain holds the leaf alone: the CA is the trust anchor.
func (ca *TestCA) Issue(kind string, names ...string) (tls.Certificate, error) {
	var key crypto.Signer
	var err error
	switch kind {
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		err = fmt.Errorf("unknown key kind %q", kind)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		DNSNames: names, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, err
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// GeneratedLeaves are what GenerateCerts issues: name and key kind. The
// primary is ECDSA (every TLS stack signs with it); the secondaries cover
// both EA signature families the project supports.
var GeneratedLeaves = []struct{ Name, Kind string }{
	{"a.example", "p256"}, {"b.example", "ed25519"}, {"c.example", "p256"},
}

// GenerateCerts writes dir/ca.pem and, for each of GeneratedLeaves,
// dir/NAME.pem (the chain) and dir/NAME.key (PKCS#8). It returns the paths.
func GenerateCerts(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ca, err := NewTestCA("secondarycerts interop test CA")
	if err != nil {
		return nil, err
	}
	var written []string
	write := func(name, blockType string, der []byte) error {
		path := filepath.Join(dir, name)
		written = append(written, path)
		return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600)
	}
	if err := write("ca.pem", "CERTIFICATE", ca.Cert.Raw); err != nil {
		return nil, err
	}
	for _, l := range GeneratedLeaves {
		c, err := ca.Issue(l.Kind, l.Name)
		if err != nil {
			return nil, err
		}
		key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			return nil, err
		}
		if err := write(l.Name+".pem", "CERTIFICATE", c.Certificate[0]); err != nil {
			return nil, err
		}
		if err := write(l.Name+".key", "PRIVATE KEY", key); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// Identity is a certificate chain and key a server can authenticate as.
type Identity struct {
	ea.Identity
	Leaf *x509.Certificate
}

// NewIdentity checks c: a non-empty chain, a key that can sign.
func NewIdentity(c tls.Certificate) (Identity, error) {
	if len(c.Certificate) == 0 {
		return Identity{}, errors.New("empty certificate chain")
	}
	signer, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return Identity{}, errors.New("private key cannot sign")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return Identity{}, err
	}
	return Identity{Identity: ea.Identity{Chain: c.Certificate, Signer: signer}, Leaf: leaf}, nil
}

// CoversAny reports whether one of leaves is valid for host.
func CoversAny(leaves []*x509.Certificate, host string) bool {
	for _, leaf := range leaves {
		if ea.Covers(leaf, host) {
			return true
		}
	}
	return false
}

// SecondaryFlag collects repeated "-secondary chain.pem,key.pem" pairs.
type SecondaryFlag []tls.Certificate

func (s *SecondaryFlag) String() string { return fmt.Sprintf("%d identities", len(*s)) }

func (s *SecondaryFlag) Set(v string) error {
	parts := strings.Split(v, ",")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("want chain.pem,key.pem, got %q", v)
	}
	c, err := tls.LoadX509KeyPair(strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]))
	if err != nil {
		return err
	}
	*s = append(*s, c)
	return nil
}
