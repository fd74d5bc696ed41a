package ea

// Request is an authenticator request (RFC 9261 section 4): a CertificateRequest
// (type 13, made by a server) or a ClientCertificateRequest (type 17, made by a
// client). Both have the same body.
type Request struct {
	Type       int // TypeCertificateRequest or TypeClientCertificateRequest
	Context    []byte
	Extensions []Extension
}

// NewRequest builds a request made by maker: a server asks a client with type
// 13, a client asks a server with type 17, which alone may name a server.
func NewRequest(maker Role, context []byte, schemes []SignatureScheme, serverName string) (*Request, error) {
	if len(schemes) == 0 {
		return nil, fail(KindMalformed, "a request needs signature_algorithms")
	}
	req := &Request{Type: TypeCertificateRequest, Context: append([]byte(nil), context...)}
	if maker == Client {
		req.Type = TypeClientCertificateRequest
	}
	var sa, list writer
	for _, s := range schemes {
		list.u16(int(s))
	}
	sa.vec(2, list.b)
	req.Extensions = append(req.Extensions, Extension{Type: ExtSignatureAlgorithms, Data: sa.b})
	if serverName != "" {
		if maker != Client {
			return nil, fail(KindRole, "only a client-made request may carry server_name")
		}
		var sn, names writer
		names.u8(0) // host_name
		names.vec(2, []byte(serverName))
		sn.vec(2, names.b)
		if sn.bad || names.bad {
			return nil, fail(KindMalformed, "server name too long")
		}
		req.Extensions = append(req.Extensions, Extension{Type: ExtServerName, Data: sn.b})
	}
	return req, nil
}

// Marshal returns the framed request: these exact bytes enter the transcript.
func (q *Request) Marshal() ([]byte, error) {
	if q.Type != TypeCertificateRequest && q.Type != TypeClientCertificateRequest {
		return nil, fail(KindMalformed, "request type %d", q.Type)
	}
	var w writer
	w.vec(1, q.Context)
	writeExtensions(&w, q.Extensions)
	if w.bad || len(q.Extensions) == 0 {
		return nil, fail(KindMalformed, "request fields")
	}
	return frame(q.Type, w.b)
}

// ParseRequest parses one framed request strictly: known type, no trailing
// bytes, a non-empty extension list without duplicates, a well-formed
// signature_algorithms (required), and server_name only in type 17.
// Other extensions are kept but otherwise ignored, as RFC 9261 section 5.2.1 asks.
func ParseRequest(b []byte) (*Request, error) {
	msgs, err := splitMessages(b)
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fail(KindMalformed, "request must be exactly one handshake message")
	}
	m := msgs[0]
	if m.Type != TypeCertificateRequest && m.Type != TypeClientCertificateRequest {
		return nil, fail(KindMalformed, "handshake type %d is not a request", m.Type)
	}
	r := reader{b: m.Body}
	q := &Request{Type: m.Type, Context: r.vec(1, 0)}
	q.Extensions = parseExtensions(&r, 2)
	if !r.done() {
		return nil, fail(KindMalformed, "request body")
	}
	if _, err := q.SignatureSchemes(); err != nil {
		return nil, err
	}
	if _, found := findExtension(q.Extensions, ExtServerName); found && q.Type != TypeClientCertificateRequest {
		return nil, fail(KindMalformed, "server_name in a CertificateRequest")
	}
	if _, err := q.ServerName(); err != nil {
		return nil, err
	}
	return q, nil
}

// SignatureSchemes decodes the signature_algorithms extension, which must be present.
func (q *Request) SignatureSchemes() ([]SignatureScheme, error) {
	e, found := findExtension(q.Extensions, ExtSignatureAlgorithms)
	if !found {
		return nil, fail(KindMalformed, "request without signature_algorithms")
	}
	r := reader{b: e.Data}
	list := reader{b: r.vec(2, 2), bad: r.bad}
	var out []SignatureScheme
	for !list.bad && len(list.b) > 0 {
		out = append(out, SignatureScheme(list.u16()))
	}
	if list.bad || !r.done() {
		return nil, fail(KindMalformed, "signature_algorithms")
	}
	return out, nil
}

// ServerName decodes the server_name extension (RFC 6066 section 3): "" when absent.
func (q *Request) ServerName() (string, error) {
	e, found := findExtension(q.Extensions, ExtServerName)
	if !found {
		return "", nil
	}
	r := reader{b: e.Data}
	list := reader{b: r.vec(2, 1), bad: r.bad}
	name := ""
	for !list.bad && len(list.b) > 0 {
		nameType := list.u8()
		host := list.vec(2, 1)
		if nameType != 0 || name != "" {
			list.bad = true // only one host_name is allowed, and no other name types exist
		}
		name = string(host)
	}
	if list.bad || !r.done() {
		return "", fail(KindMalformed, "server_name")
	}
	return name, nil
}
