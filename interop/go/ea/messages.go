package ea

// Extension types that matter here (RFC 8446 section 4.2, RFC 6066).
const (
	ExtServerName                 = 0
	ExtStatusRequest              = 5
	ExtSignatureAlgorithms        = 13
	ExtStatusRequestV2            = 17
	ExtSignedCertificateTimestamp = 18
	ExtDelegatedCredential        = 34
	ExtCertificateAuthorities     = 47
	ExtOIDFilters                 = 48
	ExtSignatureAlgorithmsCert    = 50
	ExtTransparencyInfo           = 52
)

// certificateEntryExtensions are the types whose TLS 1.3 column contains CT,
// the only ones a CertificateEntry may carry (and then only when offered).
var certificateEntryExtensions = map[uint16]bool{
	ExtStatusRequest: true, ExtSignedCertificateTimestamp: true,
	ExtDelegatedCredential: true, ExtTransparencyInfo: true,
}

// Extension is a TLS extension: type and opaque body.
type Extension struct {
	Type uint16
	Data []byte
}

// parseExtensions reads Extension extensions<min..2^16-1> and refuses
// duplicate types (RFC 8446 section 4.2).
func parseExtensions(r *reader, min int) []Extension {
	list := reader{b: r.vec(2, min), bad: r.bad}
	var out []Extension
	seen := map[uint16]bool{}
	for !list.bad && len(list.b) > 0 {
		t := uint16(list.u16())
		data := list.vec(2, 0)
		if seen[t] {
			list.bad = true
		}
		seen[t] = true
		out = append(out, Extension{Type: t, Data: data})
	}
	if list.bad {
		r.bad = true
	}
	return out
}

func writeExtensions(w *writer, exts []Extension) {
	var inner writer
	for _, e := range exts {
		inner.u16(int(e.Type))
		inner.vec(2, e.Data)
	}
	w.bad = w.bad || inner.bad
	w.vec(2, inner.b)
}

func findExtension(exts []Extension, t uint16) (Extension, bool) {
	for _, e := range exts {
		if e.Type == t {
			return e, true
		}
	}
	return Extension{}, false
}

// CertificateEntry is one certificate of a chain with its entry extensions.
type CertificateEntry struct {
	Data       []byte // DER X.509
	Extensions []Extension
}

// Certificate is the TLS 1.3 Certificate message (RFC 8446 section 4.4.2).
type Certificate struct {
	Context []byte
	Entries []CertificateEntry
}

// Marshal returns the framed message.
func (c *Certificate) Marshal() ([]byte, error) {
	var w, list writer
	w.vec(1, c.Context)
	for _, e := range c.Entries {
		if len(e.Data) == 0 {
			return nil, fail(KindMalformed, "empty certificate data")
		}
		list.vec(3, e.Data)
		writeExtensions(&list, e.Extensions)
	}
	w.vec(3, list.b)
	if w.bad || list.bad {
		return nil, fail(KindMalformed, "certificate message fields too long")
	}
	return frame(TypeCertificate, w.b)
}

func parseCertificate(body []byte) (*Certificate, error) {
	r := reader{b: body}
	c := &Certificate{Context: r.vec(1, 0)}
	list := reader{b: r.vec(3, 0), bad: r.bad}
	for !list.bad && len(list.b) > 0 {
		data := list.vec(3, 1)
		exts := parseExtensions(&list, 0)
		c.Entries = append(c.Entries, CertificateEntry{Data: data, Extensions: exts})
	}
	if list.bad || !r.done() {
		return nil, fail(KindMalformed, "certificate message")
	}
	return c, nil
}

// CertificateVerify is RFC 8446 section 4.4.3's message.
type CertificateVerify struct {
	Scheme    SignatureScheme
	Signature []byte
}

// Marshal returns the framed message.
func (cv *CertificateVerify) Marshal() ([]byte, error) {
	var w writer
	w.u16(int(cv.Scheme))
	w.vec(2, cv.Signature)
	if w.bad {
		return nil, fail(KindMalformed, "signature too long")
	}
	return frame(TypeCertificateVerify, w.b)
}

func parseCertificateVerify(body []byte) (*CertificateVerify, error) {
	r := reader{b: body}
	cv := &CertificateVerify{Scheme: SignatureScheme(r.u16()), Signature: r.vec(2, 0)}
	if !r.done() {
		return nil, fail(KindMalformed, "certificate_verify message")
	}
	return cv, nil
}
