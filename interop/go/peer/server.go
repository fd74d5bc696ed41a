package peer

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/h2ext"
)

// Names from our OPTIONS * proposal (digest section 4.2); none is registered.
const (
	MediaRequest       = "application/exported-authenticator-request"
	MediaAuthenticator = "application/exported-authenticator"
	FieldCapability    = "exported-auth"
	FieldOrigin        = "exported-auth-origin"
)

// Broken modes make the server misbehave on purpose, for negative tests.
const (
	BrokenSignature      = "bad-signature"   // CertificateVerify signature corrupted, Finished recomputed over it
	BrokenExporter       = "wrong-exporter"  // keys from the client's exporter labels
	BrokenNonzeroStream  = "nonzero-stream"  // SERVER_CERTIFICATE on stream 1
	BrokenBeforeSettings = "before-settings" // SERVER_CERTIFICATE before our SETTINGS value 1
)

var brokenModes = map[string]bool{"": true, BrokenSignature: true, BrokenExporter: true,
	BrokenNonzeroStream: true, BrokenBeforeSettings: true}

// ServerConfig configures a Server.
type ServerConfig struct {
	Primary     tls.Certificate   // the TLS certificate
	Secondaries []tls.Certificate // each sent in its own SERVER_CERTIFICATE
	Profile     h2ext.Profile
	Broken      string
	Plain       bool      // never advertise the setting: a peer without the extension
	Log         io.Writer // one line per notable event; nil discards
}

type identity struct {
	ea.Identity
	leaf *x509.Certificate
}

// Server accepts HTTP/2 connections and serves every origin it holds a certificate for.
type Server struct {
	cfg       ServerConfig
	primary   identity
	secondary []identity
	logMu     sync.Mutex
}

func toIdentity(c tls.Certificate) (identity, error) {
	if len(c.Certificate) == 0 {
		return identity{}, errors.New("empty certificate chain")
	}
	signer, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return identity{}, errors.New("private key cannot sign")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return identity{}, err
	}
	return identity{Identity: ea.Identity{Chain: c.Certificate, Signer: signer}, leaf: leaf}, nil
}

// NewServer checks the configuration.
func NewServer(cfg ServerConfig) (*Server, error) {
	if !brokenModes[cfg.Broken] {
		return nil, fmt.Errorf("unknown broken mode %q", cfg.Broken)
	}
	s := &Server{cfg: cfg}
	var err error
	if s.primary, err = toIdentity(cfg.Primary); err != nil {
		return nil, fmt.Errorf("primary certificate: %v", err)
	}
	for i, c := range cfg.Secondaries {
		id, err := toIdentity(c)
		if err != nil {
			return nil, fmt.Errorf("secondary certificate %d: %v", i+1, err)
		}
		s.secondary = append(s.secondary, id)
	}
	return s, nil
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.cfg.Log, format+"\n", args...)
}

// Serve accepts connections until l is closed.
func (s *Server) Serve(l net.Listener) error {
	for {
		raw, err := l.Accept()
		if err != nil {
			return err
		}
		go s.serveConn(raw)
	}
}

// serverConn is one connection's state.
type serverConn struct {
	s       *Server
	conn    *h2ext.Conn
	keys    ea.Keys
	offered []ea.SignatureScheme // the ClientHello's signature_algorithms
	sent    bool                 // spontaneous certificates sent
	seen    map[string]bool      // request contexts already answered
	who     string
}

func (s *Server) serveConn(raw net.Conn) {
	sc := &serverConn{s: s, seen: map[string]bool{}, who: raw.RemoteAddr().String()}
	cfg := h2ext.TLSConfig(&tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		// A spontaneous authenticator must use a scheme from the ClientHello
		// (RFC 9261 section 5.2.2), so keep them for this connection.
		for _, v := range h.SignatureSchemes {
			sc.offered = append(sc.offered, ea.SignatureScheme(v))
		}
		return &s.cfg.Primary, nil
	}})
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	advertise := !s.cfg.Plain && s.cfg.Broken != BrokenBeforeSettings
	conn, err := h2ext.Server(tls.Server(raw, cfg), s.cfg.Profile, advertise)
	if err != nil {
		s.logf("%s: setup failed: %v", sc.who, err)
		raw.Close()
		return
	}
	raw.SetDeadline(time.Time{})
	sc.conn = conn
	creator := ea.Server
	if s.cfg.Broken == BrokenExporter {
		creator = ea.Client
	}
	if sc.keys, err = conn.Keys(creator); err != nil {
		s.logf("%s: %v", sc.who, err)
		conn.Close()
		return
	}
	// wrong-exporter: values from the client labels, still built as a server authenticator.
	sc.keys.Creator = ea.Server
	conn.OnSettings = sc.onSettings
	conn.OnRequest = sc.onRequest
	conn.OnGoAway = func(code http2.ErrCode, debug string) {
		s.logf("%s: goaway received code=0x%x %s", sc.who, uint32(code), debug)
	}
	if s.cfg.Broken == BrokenBeforeSettings && !s.cfg.Plain {
		// Our first SETTINGS lacked the value; the frames go out before the
		// SETTINGS that carries it, so the client cannot yet use them.
		if err := sc.sendCertificates(); err == nil {
			err = conn.AdvertiseCertAuth()
		}
	}
	if err := conn.Run(); err != nil {
		s.logf("%s: connection error: %v", sc.who, err)
	}
	s.logf("%s: closed", sc.who)
}

// onSettings sends the secondary certificates once both sides sent value 1
// (draft -02 sections 3.2 and 4): right after the client's SETTINGS.
func (sc *serverConn) onSettings() error {
	if sc.sent || !sc.conn.Negotiated() {
		return nil
	}
	return sc.sendCertificates()
}

func (sc *serverConn) sendCertificates() error {
	sc.sent = true
	stream := uint32(0)
	if sc.s.cfg.Broken == BrokenNonzeroStream {
		stream = 1
	}
	for _, id := range sc.s.secondary {
		auth, err := sc.authenticate(id, nil, ea.NewContext())
		if err != nil {
			sc.s.logf("%s: cannot authenticate %v: %v", sc.who, id.leaf.DNSNames, err)
			continue
		}
		if err := sc.conn.WriteServerCertificate(stream, auth); err != nil {
			return err
		}
		sc.s.logf("%s: sent SERVER_CERTIFICATE for %v (%d bytes, stream %d)", sc.who, id.leaf.DNSNames, len(auth), stream)
	}
	return nil
}

// authenticate builds an authenticator for id, spontaneous when request is
// nil, and applies the bad-signature breakage.
func (sc *serverConn) authenticate(id identity, request, context []byte) ([]byte, error) {
	auth, err := ea.Authenticate(sc.keys, id.Identity, request, context, sc.offered)
	if err != nil || sc.s.cfg.Broken != BrokenSignature {
		return auth, err
	}
	return breakSignature(sc.keys, request, auth), nil
}

// breakSignature flips a bit of the CertificateVerify signature and then
// recomputes Finished, so that only the signature check can catch it.
func breakSignature(keys ea.Keys, request, auth []byte) []byte {
	msgLen := func(b []byte) int { return 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3])) }
	cert := auth[:msgLen(auth)]
	rest := auth[len(cert):]
	cv := append([]byte(nil), rest[:msgLen(rest)]...)
	cv[len(cv)-1] ^= 0x01
	return bytes.Join([][]byte{cert, cv, ea.FinishedMessage(keys, request, cert, cv)}, nil)
}

func (sc *serverConn) onRequest(req *h2ext.Message) error {
	method, path := req.Get(":method"), req.Get(":path")
	switch {
	case method == "OPTIONS" && path == "*":
		return sc.optionsStar(req)
	case method == "GET" || method == "HEAD":
		host := hostOnly(req.Get(":authority"))
		text := []hpack.HeaderField{{Name: "content-type", Value: "text/plain; charset=utf-8"}}
		if !sc.covers(host) {
			sc.s.logf("%s: 421 for %q", sc.who, host)
			return sc.conn.Respond(req.StreamID, 421, text, []byte("not authoritative for "+host+"\n"))
		}
		body := []byte("hello from " + host)
		if method == "HEAD" {
			body = nil
		}
		sc.s.logf("%s: 200 for %q", sc.who, host)
		return sc.conn.Respond(req.StreamID, 200, text, body)
	}
	return sc.conn.Respond(req.StreamID, 405, nil, nil)
}

func (sc *serverConn) covers(host string) bool {
	if ea.Covers(sc.s.primary.leaf, host) {
		return true
	}
	for _, id := range sc.s.secondary {
		if ea.Covers(id.leaf, host) {
			return true
		}
	}
	return false
}

// optionsStar implements digest section 4.2: a bodiless OPTIONS * discovers
// the capability; one carrying a ClientCertificateRequest gets an
// authenticator for the named server, or an empty one (a refusal).
func (sc *serverConn) optionsStar(req *h2ext.Message) error {
	noStore := hpack.HeaderField{Name: "cache-control", Value: "no-store"}
	if len(req.Body) == 0 && req.Get("content-type") == "" {
		return sc.conn.Respond(req.StreamID, 204, []hpack.HeaderField{{Name: FieldCapability, Value: "server"}, noStore}, nil)
	}
	if req.Get("content-type") != MediaRequest {
		return sc.conn.Respond(req.StreamID, 415, []hpack.HeaderField{noStore}, nil)
	}
	parsed, err := ea.ParseRequest(req.Body)
	if err != nil || parsed.Type != ea.TypeClientCertificateRequest || sc.seen[string(parsed.Context)] {
		sc.s.logf("%s: OPTIONS * refused with 400: %v", sc.who, err)
		return sc.conn.Respond(req.StreamID, 400, []hpack.HeaderField{noStore}, nil)
	}
	sc.seen[string(parsed.Context)] = true
	name, _ := parsed.ServerName() // ParseRequest checked it
	id, ok := sc.s.primary, name == ""
	for _, cand := range append([]identity{sc.s.primary}, sc.s.secondary...) {
		if !ok && ea.Covers(cand.leaf, name) {
			id, ok = cand, true
		}
	}
	var auth []byte
	if ok {
		auth, err = sc.authenticate(id, req.Body, nil)
	}
	if !ok || ea.KindOf(err) == ea.KindNoCertificate {
		auth, err = ea.EmptyAuthenticator(sc.keys, req.Body)
	}
	if err != nil {
		sc.s.logf("%s: OPTIONS * failed: %v", sc.who, err)
		return sc.conn.Respond(req.StreamID, 500, []hpack.HeaderField{noStore}, nil)
	}
	sc.s.logf("%s: OPTIONS * for %q answered (%d bytes, identity %v)", sc.who, name, len(auth), ok)
	return sc.conn.Respond(req.StreamID, 200, []hpack.HeaderField{{Name: "content-type", Value: MediaAuthenticator}, noStore}, auth)
}

// hostOnly strips a port from an authority.
func hostOnly(authority string) string {
	if h, _, err := net.SplitHostPort(authority); err == nil {
		return h
	}
	return authority
}
