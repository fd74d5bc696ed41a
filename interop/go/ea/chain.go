package ea

import (
	"crypto/x509"
	"net"
	"os"
	"time"
)

// LoadRoots reads a PEM file of trust anchors.
func LoadRoots(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fail(KindMalformed, "no certificates in %s", path)
	}
	return pool, nil
}

// VerifyChain is the application's PKIX step RFC 9261 leaves to the caller:
// the chain must lead to roots at now, for the given extended key usage.
// Names are not checked here: which hosts it covers is Names/Covers.
func VerifyChain(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) error {
	if len(chain) == 0 {
		return fail(KindUntrusted, "no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return fail(KindUntrusted, "%v", err)
	}
	return nil
}

// Names lists the leaf's SAN dNSNames and IP addresses.
func Names(leaf *x509.Certificate) []string {
	names := append([]string{}, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// Covers reports whether leaf's SANs cover host (RFC 6125 matching with
// wildcards, as crypto/x509 implements it; IP literals against IP SANs).
func Covers(leaf *x509.Certificate, host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return leaf.VerifyHostname(host) == nil
}
