package ea

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/x509"
)

// NewContext returns a fresh random certificate_request_context (32 bytes):
// unique and unpredictable, as RFC 9261 section 5.2.1 asks.
func NewContext() []byte {
	c := make([]byte, 32)
	if _, err := rand.Read(c); err != nil {
		panic("ea: no randomness: " + err.Error())
	}
	return c
}

// CertificateMessage is the framed Certificate carrying chain (leaf first)
// with empty entry extensions.
func CertificateMessage(context []byte, chain [][]byte) ([]byte, error) {
	c := Certificate{Context: context}
	for _, der := range chain {
		c.Entries = append(c.Entries, CertificateEntry{Data: der})
	}
	return c.Marshal()
}

// transcriptHash is Hash(HandshakeContext || parts...).
func transcriptHash(keys Keys, parts ...[]byte) []byte {
	h := keys.Hash.New()
	h.Write(keys.HandshakeContext)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// SignedContent is what CertificateVerify signs (RFC 9261 section 5.2.2):
// 64 spaces, "Exported Authenticator", a zero byte, then
// Hash(HandshakeContext || request || Certificate). request is nil when spontaneous.
func SignedContent(keys Keys, request, certificate []byte) []byte {
	out := bytes.Repeat([]byte{0x20}, 64)
	out = append(out, "Exported Authenticator"...)
	out = append(out, 0)
	return append(out, transcriptHash(keys, request, certificate)...)
}

// CertificateVerifyMessage signs and frames a CertificateVerify.
func CertificateVerifyMessage(keys Keys, signer crypto.Signer, scheme SignatureScheme, request, certificate []byte) ([]byte, error) {
	sig, err := sign(signer, scheme, SignedContent(keys, request, certificate))
	if err != nil {
		return nil, err
	}
	cv := CertificateVerify{Scheme: scheme, Signature: sig}
	return cv.Marshal()
}

// finishedMAC is HMAC(FinishedKey, Hash(HandshakeContext || parts...)) (RFC 9261
// section 5.2.3): the exporter value is the HMAC key as is.
func finishedMAC(keys Keys, parts ...[]byte) []byte {
	m := hmac.New(keys.Hash.New, keys.FinishedKey)
	m.Write(transcriptHash(keys, parts...))
	return m.Sum(nil)
}

// FinishedMessage frames the Finished over request || Certificate || CertificateVerify.
func FinishedMessage(keys Keys, request, certificate, certificateVerify []byte) []byte {
	msg, _ := frame(TypeFinished, finishedMAC(keys, request, certificate, certificateVerify))
	return msg
}

// Identity is a certificate chain (DER, leaf first) and the leaf's private key.
type Identity struct {
	Chain  [][]byte
	Signer crypto.Signer
}

// Authenticate builds Certificate || CertificateVerify || Finished made by keys.Creator.
// With a framed request it answers that request (its context and
// signature_algorithms); with request == nil it builds a spontaneous server
// authenticator over context, choosing among offered (the schemes the client
// sent in its ClientHello; nil means any supported scheme). KindNoCertificate means nothing fits: answer a
// request with EmptyAuthenticator then.
func Authenticate(keys Keys, id Identity, request, context []byte, offered []SignatureScheme) ([]byte, error) {
	if len(id.Chain) == 0 {
		return nil, fail(KindMalformed, "empty chain")
	}
	if request != nil {
		req, err := parseRequestFor(keys.Creator, request)
		if err != nil {
			return nil, err
		}
		context = req.Context
		offered, _ = req.SignatureSchemes()
	} else if keys.Creator != Server {
		return nil, fail(KindRole, "only servers authenticate spontaneously")
	} else if offered == nil {
		offered = SupportedSchemes
	}
	leaf, err := x509.ParseCertificate(id.Chain[0])
	if err != nil {
		return nil, fail(KindMalformed, "leaf certificate: %v", err)
	}
	if !publicKeysEqual(leaf.PublicKey, id.Signer.Public()) {
		return nil, fail(KindMalformed, "the key does not belong to the leaf certificate")
	}
	scheme, err := ChooseScheme(leaf.PublicKey, offered)
	if err != nil {
		return nil, err
	}
	cert, err := CertificateMessage(context, id.Chain)
	if err != nil {
		return nil, err
	}
	cv, err := CertificateVerifyMessage(keys, id.Signer, scheme, request, cert)
	if err != nil {
		return nil, err
	}
	fin := FinishedMessage(keys, request, cert, cv)
	return bytes.Join([][]byte{cert, cv, fin}, nil), nil
}

// EmptyAuthenticator is the refusal of RFC 9261 section 6: a lone Finished over
// request || Certificate-with-empty-list (that Certificate is hashed, never sent).
func EmptyAuthenticator(keys Keys, request []byte) ([]byte, error) {
	req, err := parseRequestFor(keys.Creator, request)
	if err != nil {
		return nil, err
	}
	empty, err := CertificateMessage(req.Context, nil)
	if err != nil {
		return nil, err
	}
	msg, _ := frame(TypeFinished, finishedMAC(keys, request, empty))
	return msg, nil
}

// parseRequestFor parses a request and checks it was made by the other side:
// servers answer type 17, clients answer type 13.
func parseRequestFor(creator Role, request []byte) (*Request, error) {
	req, err := ParseRequest(request)
	if err != nil {
		return nil, err
	}
	want := TypeClientCertificateRequest
	if creator == Client {
		want = TypeCertificateRequest
	}
	if req.Type != want {
		return nil, fail(KindRole, "a %v answers request type %d, not %d", creator, want, req.Type)
	}
	return req, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
