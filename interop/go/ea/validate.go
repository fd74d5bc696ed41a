package ea

import (
	"crypto/hmac"
	"crypto/x509"
)

// Validator validates the authenticators one connection receives from one
// peer. It remembers every context it accepted: RFC 9261 section 7.4 refuses
// an authenticator whose context an earlier valid one used.
type Validator struct {
	used map[string]bool
}

func NewValidator() *Validator { return &Validator{used: map[string]bool{}} }

// Options describe what the authenticator answers.
type Options struct {
	// Request is the framed request the authenticator answers, nil for a
	// spontaneous server authenticator.
	Request []byte
	// OfferedSchemes are the schemes this side sent in its ClientHello; they
	// bound a spontaneous authenticator's scheme (nil: any supported scheme).
	OfferedSchemes []SignatureScheme
	// OfferedEntryExtensions are the extension types this side sent in its
	// ClientHello, which a spontaneous authenticator's certificate entries may carry.
	OfferedEntryExtensions []uint16
}

// Result is a validated identity. The chain is NOT PKIX-validated: call VerifyChain.
type Result struct {
	Context []byte
	Entries []CertificateEntry
	Chain   []*x509.Certificate
	Scheme  SignatureScheme
}

// Validate checks an authenticator made by keys.Creator, in this order:
// strict parse, role and context, entry extensions, certificates parse, scheme,
// Finished (constant time), signature. A well-formed empty authenticator
// answering opts.Request gives KindEmpty.
func (v *Validator) Validate(keys Keys, authenticator []byte, opts Options) (*Result, error) {
	msgs, err := splitMessages(authenticator)
	if err != nil {
		return nil, err
	}
	var req *Request
	if opts.Request != nil {
		if req, err = parseRequestFor(keys.Creator, opts.Request); err != nil {
			return nil, err
		}
	} else if keys.Creator != Server {
		return nil, fail(KindRole, "a client authenticator must answer a request")
	}
	if len(msgs) == 1 && msgs[0].Type == TypeFinished {
		return nil, v.checkEmpty(keys, req, opts.Request, msgs[0])
	}
	if len(msgs) != 3 || msgs[0].Type != TypeCertificate || msgs[1].Type != TypeCertificateVerify || msgs[2].Type != TypeFinished {
		return nil, fail(KindMalformed, "want Certificate, CertificateVerify, Finished")
	}
	if len(msgs[2].Body) != keys.Hash.Size() {
		return nil, fail(KindMalformed, "Finished length %d, want %d", len(msgs[2].Body), keys.Hash.Size())
	}
	cert, err := parseCertificate(msgs[0].Body)
	if err != nil {
		return nil, err
	}
	cv, err := parseCertificateVerify(msgs[1].Body)
	if err != nil {
		return nil, err
	}
	if len(cert.Entries) == 0 {
		return nil, fail(KindMalformed, "empty certificate_list with a CertificateVerify")
	}
	if err := v.checkContext(cert.Context, req); err != nil {
		return nil, err
	}
	if err := checkEntryExtensions(cert.Entries, req, opts.OfferedEntryExtensions); err != nil {
		return nil, err
	}
	chain := make([]*x509.Certificate, len(cert.Entries))
	for i, e := range cert.Entries {
		if chain[i], err = x509.ParseCertificate(e.Data); err != nil {
			return nil, fail(KindMalformed, "certificate %d: %v", i, err)
		}
	}
	offered := opts.OfferedSchemes
	if req != nil {
		offered, _ = req.SignatureSchemes()
	} else if offered == nil {
		offered = SupportedSchemes
	}
	if !containsScheme(offered, cv.Scheme) {
		return nil, fail(KindScheme, "%v was not offered", cv.Scheme)
	}
	if err := checkSchemeFitsKey(cv.Scheme, chain[0].PublicKey); err != nil {
		return nil, err
	}
	want := finishedMAC(keys, opts.Request, msgs[0].Raw, msgs[1].Raw)
	if !hmac.Equal(want, msgs[2].Body) {
		return nil, fail(KindFinished, "Finished does not match")
	}
	if err := verify(chain[0].PublicKey, cv.Scheme, SignedContent(keys, opts.Request, msgs[0].Raw), cv.Signature); err != nil {
		return nil, err
	}
	v.used[string(cert.Context)] = true
	return &Result{Context: cert.Context, Entries: cert.Entries, Chain: chain, Scheme: cv.Scheme}, nil
}

func (v *Validator) checkContext(ctx []byte, req *Request) error {
	if req != nil && string(req.Context) != string(ctx) {
		return fail(KindContext, "context differs from the request's")
	}
	if v.used[string(ctx)] {
		return fail(KindContext, "context already used on this connection")
	}
	return nil
}

// checkEmpty verifies a lone Finished; a correct one is still "no identity".
func (v *Validator) checkEmpty(keys Keys, req *Request, request []byte, fin handshakeMessage) error {
	if req == nil {
		return fail(KindMalformed, "empty authenticator without a request")
	}
	if len(fin.Body) != keys.Hash.Size() {
		return fail(KindMalformed, "Finished length %d, want %d", len(fin.Body), keys.Hash.Size())
	}
	if err := v.checkContext(req.Context, req); err != nil {
		return err
	}
	empty, err := CertificateMessage(req.Context, nil)
	if err != nil {
		return err
	}
	if !hmac.Equal(finishedMAC(keys, request, empty), fin.Body) {
		return fail(KindFinished, "empty authenticator Finished does not match")
	}
	return fail(KindEmpty, "the peer refused the request")
}

// checkEntryExtensions allows only CT extensions that were offered: in the
// request, or for a spontaneous authenticator in the ClientHello (RFC 9261 section 5.2).
func checkEntryExtensions(entries []CertificateEntry, req *Request, offeredInHello []uint16) error {
	offered := map[uint16]bool{}
	if req != nil {
		for _, e := range req.Extensions {
			offered[e.Type] = true
		}
	} else {
		for _, t := range offeredInHello {
			offered[t] = true
		}
	}
	for i, entry := range entries {
		for _, e := range entry.Extensions {
			if !certificateEntryExtensions[e.Type] || !offered[e.Type] {
				return fail(KindExtension, "certificate %d carries extension %d, not allowed or not offered", i, e.Type)
			}
		}
	}
	return nil
}
