package h3peer

import (
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peerkit"
)

// Client certificates at the HTTP layer, server side (draft-rosomakho-httpbis-secondary-client-certs-00
// over HTTP/3), written from the draft: we confirm SETTINGS_HTTP_CLIENT_CERT_AUTH with 1; the first
// GET /protected on a connection whose client sent a non-zero count gets one CertificateRequest (type 13,
// RFC 9261 section 4) in an AUTHENTICATOR_REQUESTS frame on our control stream; the client's answer comes
// in a CLIENT_CERTIFICATE frame on its control stream and is validated with the client's exporter labels,
// then its chain against -client-ca. The outcome holds for the connection (the draft's identity is the
// connection's): 200 with the subject, or 403 (403 is an HTTP answer, the connection goes on).

// The flow's codepoints, the TypeScript profile's provisional values (not settable by flags here).
const (
	SettingClientCertAuth      = 0x5ec3
	FrameAuthenticatorRequests = 0x5ec4
	FrameClientCertificate     = 0x5ec5
)

type clientCerts struct {
	sc        *serverConn
	roots     *x509.CertPool
	validator *ea.Validator

	mu      sync.Mutex
	asked   bool
	pending []byte        // the request sent and not yet answered
	done    chan struct{} // closed once the outcome is known
	status  int
	text    string
}

func newClientCerts(sc *serverConn, roots *x509.CertPool) *clientCerts {
	return &clientCerts{sc: sc, roots: roots, validator: ea.NewValidator(), done: make(chan struct{})}
}

// clientCount is the client's SETTINGS_HTTP_CLIENT_CERT_AUTH (0 if absent or not yet here).
func (cc *clientCerts) clientCount() uint64 {
	cc.sc.h.mu.Lock()
	defer cc.sc.h.mu.Unlock()
	return cc.sc.h.peerSettings[SettingClientCertAuth]
}

// identity asks once per connection and waits (at most timeout) for the outcome: a status and a text.
func (cc *clientCerts) identity(timeout time.Duration) (int, string) {
	select {
	case <-cc.sc.h.SettingsArrived():
	case <-time.After(timeout):
		return 408, "no SETTINGS from the client"
	}
	if cc.clientCount() == 0 {
		return 403, "client certificate refused (not-negotiated)"
	}
	if err := cc.ask(); err != nil {
		return 500, err.Error()
	}
	select {
	case <-cc.done:
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return cc.status, cc.text
	case <-time.After(timeout):
		return 408, "no client certificate in time"
	}
}

func (cc *clientCerts) ask() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.asked {
		return nil
	}
	req, err := ea.NewRequest(ea.Server, ea.NewContext(), ea.SupportedSchemes, "")
	if err != nil {
		return err
	}
	b, err := req.Marshal()
	if err != nil {
		return err
	}
	cc.asked = true
	cc.pending = b
	// Authenticator Request { Length (i), request } (rosomakho-00 section 4.1.3).
	if err := cc.sc.h.WriteControlFrame(FrameAuthenticatorRequests, append(appendVarint(nil, uint64(len(b))), b...)); err != nil {
		return err
	}
	cc.sc.s.Logf("%s: sent AUTHENTICATOR_REQUESTS (%d bytes)", cc.sc.who, len(b))
	return nil
}

// onFrame takes the flow's frames from the client's control stream; an error closes the connection.
func (cc *clientCerts) onFrame(typ uint64, payload []byte) error {
	switch typ {
	case FrameAuthenticatorRequests:
		return connErr(ErrFrameUnexpected, "AUTHENTICATOR_REQUESTS from a client")
	case FrameClientCertificate:
	default:
		return nil
	}
	if cc.clientCount() == 0 {
		return connErr(ErrFrameUnexpected, "CLIENT_CERTIFICATE, but the client did not send SETTINGS_HTTP_CLIENT_CERT_AUTH")
	}
	cc.mu.Lock()
	request := cc.pending
	cc.pending = nil
	cc.mu.Unlock()
	if request == nil {
		return connErr(ErrFrameUnexpected, "CLIENT_CERTIFICATE with no authenticator request outstanding")
	}
	status, text := cc.judge(payload, request)
	cc.sc.s.Logf("%s: CLIENT_CERTIFICATE (%d bytes): %d %s", cc.sc.who, len(payload), status, text)
	cc.mu.Lock()
	cc.status, cc.text = status, text
	cc.mu.Unlock()
	close(cc.done)
	return nil
}

func (cc *clientCerts) judge(authenticator, request []byte) (int, string) {
	keys, err := cc.sc.h.Keys(ea.Client)
	if err != nil {
		return 500, err.Error()
	}
	res, err := cc.validator.Validate(keys, authenticator, ea.Options{Request: request})
	if ea.KindOf(err) == ea.KindEmpty {
		return 403, "client certificate refused (declined)"
	}
	if err != nil {
		return 403, fmt.Sprintf("client certificate refused (invalid): %v", err)
	}
	if err := ea.VerifyChain(res.Chain, cc.roots, x509.ExtKeyUsageClientAuth, time.Now()); err != nil {
		return 403, fmt.Sprintf("client certificate refused (rejected): %v", err)
	}
	return 200, "hello " + res.Chain[0].Subject.CommonName + " over go-h3 client certificates"
}

// clientAnswers is the client side: we advertise a count of 1, and answer each request of an
// AUTHENTICATOR_REQUESTS frame, in order, with one CLIENT_CERTIFICATE (rosomakho-00 section 4.2).
type clientAnswers struct {
	h        *Conn
	id       peerkit.Identity
	emit     func(event string, fields map[string]any)
	answered int
}

// advertised is the count we send in SETTINGS_HTTP_CLIENT_CERT_AUTH.
const advertised = 1

func (ca *clientAnswers) onFrame(typ uint64, payload []byte) error {
	switch typ {
	case FrameClientCertificate:
		return connErr(ErrFrameUnexpected, "CLIENT_CERTIFICATE from a server")
	case FrameAuthenticatorRequests:
	default:
		return nil
	}
	ca.h.mu.Lock()
	server := ca.h.peerSettings[SettingClientCertAuth]
	ca.h.mu.Unlock()
	if server != 1 {
		return connErr(ErrFrameUnexpected, "AUTHENTICATOR_REQUESTS, but the server did not send SETTINGS_HTTP_CLIENT_CERT_AUTH = 1")
	}
	var requests [][]byte
	for rest := payload; len(rest) > 0; {
		n, after, ok := parseVarint(rest)
		if !ok || n == 0 || uint64(len(after)) < n {
			return connErr(ErrMessage, "malformed AUTHENTICATOR_REQUESTS")
		}
		requests, rest = append(requests, after[:n]), after[n:]
	}
	if len(requests) == 0 {
		return connErr(ErrMessage, "AUTHENTICATOR_REQUESTS with no request")
	}
	// Each answer is sent before the next frame is read, so nothing stays outstanding past this frame.
	if len(requests) > advertised {
		return connErr(ErrFrameUnexpected, "%d authenticator requests outstanding; we advertised %d", len(requests), advertised)
	}
	keys, err := ca.h.Keys(ea.Client)
	if err != nil {
		return err
	}
	for _, request := range requests {
		auth, err := ea.Authenticate(keys, ca.id.Identity, request, nil, nil)
		if ea.KindOf(err) == ea.KindNoCertificate {
			auth, err = ea.EmptyAuthenticator(keys, request)
		}
		if err != nil {
			return connErr(ErrMessage, "authenticator request: %v", err)
		}
		if err := ca.h.WriteControlFrame(FrameClientCertificate, auth); err != nil {
			return err
		}
		ca.answered++
		ca.emit("clientCertificate", map[string]any{"bytes": len(auth), "names": ea.Names(ca.id.Leaf), "subject": ca.id.Leaf.Subject.CommonName})
	}
	return nil
}
