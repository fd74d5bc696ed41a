package ea

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// SignatureScheme is a TLS SignatureScheme codepoint (RFC 8446 section 4.2.3).
type SignatureScheme uint16

// The schemes this package can sign and verify: all TLS 1.3-valid.
const (
	ECDSAWithP256AndSHA256 SignatureScheme = 0x0403
	ECDSAWithP384AndSHA384 SignatureScheme = 0x0503
	ECDSAWithP521AndSHA512 SignatureScheme = 0x0603
	PSSWithSHA256          SignatureScheme = 0x0804 // rsa_pss_rsae_*
	PSSWithSHA384          SignatureScheme = 0x0805
	PSSWithSHA512          SignatureScheme = 0x0806
	Ed25519                SignatureScheme = 0x0807
)

// SupportedSchemes lists them in the order a builder prefers.
var SupportedSchemes = []SignatureScheme{
	Ed25519, ECDSAWithP256AndSHA256, ECDSAWithP384AndSHA384, ECDSAWithP521AndSHA512,
	PSSWithSHA256, PSSWithSHA384, PSSWithSHA512,
}

var schemeNames = map[SignatureScheme]string{
	ECDSAWithP256AndSHA256: "ecdsa_secp256r1_sha256",
	ECDSAWithP384AndSHA384: "ecdsa_secp384r1_sha384",
	ECDSAWithP521AndSHA512: "ecdsa_secp521r1_sha512",
	PSSWithSHA256:          "rsa_pss_rsae_sha256",
	PSSWithSHA384:          "rsa_pss_rsae_sha384",
	PSSWithSHA512:          "rsa_pss_rsae_sha512",
	Ed25519:                "ed25519",
}

func (s SignatureScheme) String() string {
	if n, ok := schemeNames[s]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", uint16(s))
}

// hash is the scheme's digest; 0 for Ed25519, which signs the message itself.
func (s SignatureScheme) hash() crypto.Hash {
	switch s {
	case ECDSAWithP256AndSHA256, PSSWithSHA256:
		return crypto.SHA256
	case ECDSAWithP384AndSHA384, PSSWithSHA384:
		return crypto.SHA384
	case ECDSAWithP521AndSHA512, PSSWithSHA512:
		return crypto.SHA512
	}
	return 0
}

// checkSchemeFitsKey applies RFC 8446 section 4.2.3 as RFC 9261 section 5.2.2 asks:
// a supported TLS 1.3 scheme, of the key's type, and for ECDSA of the key's curve.
func checkSchemeFitsKey(s SignatureScheme, pub crypto.PublicKey) error {
	if _, ok := schemeNames[s]; !ok {
		return fail(KindScheme, "%v is not a TLS 1.3 scheme this peer supports", s)
	}
	var fits bool
	switch k := pub.(type) {
	case ed25519.PublicKey:
		fits = s == Ed25519
	case *ecdsa.PublicKey:
		fits = (s == ECDSAWithP256AndSHA256 && k.Curve == elliptic.P256()) ||
			(s == ECDSAWithP384AndSHA384 && k.Curve == elliptic.P384()) ||
			(s == ECDSAWithP521AndSHA512 && k.Curve == elliptic.P521())
	case *rsa.PublicKey:
		// emLen must hold hash, salt (= hash length) and two bytes (RFC 8017
		// section 9.1.1). Only PSS schemes have a hash to size: asking
		// crypto.Hash(0) for its size panics.
		pss := s == PSSWithSHA256 || s == PSSWithSHA384 || s == PSSWithSHA512
		fits = pss && (k.N.BitLen()-1+7)/8 >= 2*s.hash().Size()+2
	default:
		return fail(KindScheme, "unsupported public key type %T", pub)
	}
	if !fits {
		return fail(KindScheme, "%v does not fit the end-entity key", s)
	}
	return nil
}

// ChooseScheme picks the first scheme, in our preference order, that the peer
// offered and that fits the key; KindNoCertificate when none does.
func ChooseScheme(pub crypto.PublicKey, offered []SignatureScheme) (SignatureScheme, error) {
	for _, s := range SupportedSchemes {
		if containsScheme(offered, s) && checkSchemeFitsKey(s, pub) == nil {
			return s, nil
		}
	}
	return 0, fail(KindNoCertificate, "no offered scheme fits the key")
}

func containsScheme(list []SignatureScheme, s SignatureScheme) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func digest(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

func sign(signer crypto.Signer, s SignatureScheme, msg []byte) ([]byte, error) {
	if err := checkSchemeFitsKey(s, signer.Public()); err != nil {
		return nil, err
	}
	h := s.hash()
	switch s {
	case Ed25519:
		return signer.Sign(rand.Reader, msg, crypto.Hash(0))
	case PSSWithSHA256, PSSWithSHA384, PSSWithSHA512:
		return signer.Sign(rand.Reader, digest(h, msg), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	default: // ECDSA: crypto.Signer returns the ASN.1 DER form TLS uses
		return signer.Sign(rand.Reader, digest(h, msg), h)
	}
}

func verify(pub crypto.PublicKey, s SignatureScheme, msg, sig []byte) error {
	if err := checkSchemeFitsKey(s, pub); err != nil {
		return err
	}
	h := s.hash()
	ok := false
	switch k := pub.(type) {
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest(h, msg), sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPSS(k, h, digest(h, msg), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}) == nil
	}
	if !ok {
		return fail(KindSignature, "CertificateVerify signature (%v) does not verify", s)
	}
	return nil
}
