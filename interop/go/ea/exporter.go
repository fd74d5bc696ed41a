package ea

import (
	"crypto"
	"crypto/hmac"
	_ "crypto/sha256" // register SHA-224/256 for crypto.Hash.New
	_ "crypto/sha512" // register SHA-384/512
	"crypto/tls"
)

// Role is who creates an authenticator; it picks the exporter labels.
type Role int

const (
	Server Role = iota
	Client
)

func (r Role) String() string {
	if r == Client {
		return "client"
	}
	return "server"
}

// Labels returns the RFC 9261 section 5.1 exporter labels for authenticators made by creator.
func Labels(creator Role) (handshakeContext, finishedKey string) {
	return "EXPORTER-" + creator.String() + " authenticator handshake context",
		"EXPORTER-" + creator.String() + " authenticator finished key"
}

// Keys are the two exporter values for one direction of one connection.
type Keys struct {
	Creator          Role
	Hash             crypto.Hash
	HandshakeContext []byte
	FinishedKey      []byte
}

// ExportFunc is a TLS exporter: crypto/tls's ExportKeyingMaterial has this shape.
type ExportFunc func(label string, context []byte, length int) ([]byte, error)

// DeriveKeys asks the exporter for creator's two values, Hash.Size() bytes each,
// with no context (in TLS 1.3 no context and an empty one are the same).
func DeriveKeys(export ExportFunc, hash crypto.Hash, creator Role) (Keys, error) {
	hcLabel, fkLabel := Labels(creator)
	hc, err := export(hcLabel, nil, hash.Size())
	if err != nil {
		return Keys{}, fail(KindConnection, "exporter: %v", err)
	}
	fk, err := export(fkLabel, nil, hash.Size())
	if err != nil {
		return Keys{}, fail(KindConnection, "exporter: %v", err)
	}
	return Keys{Creator: creator, Hash: hash, HandshakeContext: hc, FinishedKey: fk}, nil
}

// HashForSuite is the TLS 1.3 cipher suite's hash, the "authenticator hash".
func HashForSuite(suite uint16) (crypto.Hash, error) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256:
		return crypto.SHA256, nil
	case tls.TLS_AES_256_GCM_SHA384:
		return crypto.SHA384, nil
	}
	return 0, fail(KindConnection, "cipher suite 0x%04x is not a known TLS 1.3 suite", suite)
}

// HashName is the lower-case name the harness prints ("sha256", "sha384").
func HashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "sha256"
	case crypto.SHA384:
		return "sha384"
	case crypto.SHA512:
		return "sha512"
	}
	return h.String()
}

// ConnectionKeys derives creator's keys from a completed TLS 1.3 connection.
// TLS 1.2 is refused: RFC 9261 needs extended master secret there, which
// crypto/tls does not report.
func ConnectionKeys(cs *tls.ConnectionState, creator Role) (Keys, error) {
	if !cs.HandshakeComplete || cs.Version != tls.VersionTLS13 {
		return Keys{}, fail(KindConnection, "need a completed TLS 1.3 handshake")
	}
	h, err := HashForSuite(cs.CipherSuite)
	if err != nil {
		return Keys{}, err
	}
	return DeriveKeys(cs.ExportKeyingMaterial, h, creator)
}

// TLS13Exporter is the RFC 8446 section 7.5 exporter computed from an
// exporter_master_secret, for test vectors and key logs:
// HKDF-Expand-Label(Derive-Secret(secret, label, ""), "exporter", Hash(context), length).
func TLS13Exporter(exporterSecret []byte, h crypto.Hash) ExportFunc {
	return func(label string, context []byte, length int) ([]byte, error) {
		derived := expandLabel(h, exporterSecret, label, digest(h, nil), h.Size())
		return expandLabel(h, derived, "exporter", digest(h, context), length), nil
	}
}

// expandLabel is HKDF-Expand-Label (RFC 8446 section 7.1) over HKDF-Expand (RFC 5869).
func expandLabel(h crypto.Hash, secret []byte, label string, context []byte, length int) []byte {
	var info writer
	info.u16(length)
	info.vec(1, []byte("tls13 "+label))
	info.vec(1, context)
	var out, prev []byte
	for i := byte(1); len(out) < length; i++ {
		m := hmac.New(h.New, secret)
		m.Write(prev)
		m.Write(info.b)
		m.Write([]byte{i})
		prev = m.Sum(nil)
		out = append(out, prev...)
	}
	return out[:length]
}
