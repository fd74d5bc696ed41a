// Package peer holds the Go interop server and client: independent peers
// that speak HTTP/2 with secondary certificates (RFC 9261 authenticators in
// SERVER_CERTIFICATE frames, and our OPTIONS * proposal). What does not
// depend on HTTP/2 is in package peerkit.
package peer

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/h2ext"
	"secondarycerts/interop/peerkit"
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
	BrokenSignature      = peerkit.BrokenSignature
	BrokenExporter       = peerkit.BrokenExporter
	BrokenNonzeroStream  = "nonzero-stream"  // SERVER_CERTIFICATE on stream 1
	BrokenBeforeSettings = "before-settings" // SERVER_CERTIFICATE before our SETTINGS value 1
)

// ServerConfig configures a Server.
type ServerConfig = peerkit.ServerConfig[h2ext.Profile]

// Server accepts HTTP/2 connections and serves every origin it holds a certificate for.
type Server struct {
	*peerkit.ServerCore
	cfg    ServerConfig
	leaves []*x509.Certificate // of every identity, the TLS one first
}

// NewServer checks the configuration.
func NewServer(cfg ServerConfig) (*Server, error) {
	core, err := peerkit.NewServerCore(cfg.Primary, cfg.Secondaries, cfg.Broken, cfg.Log, BrokenNonzeroStream, BrokenBeforeSettings)
	if err != nil {
		return nil, err
	}
	s := &Server{ServerCore: core, cfg: cfg}
	for _, id := range s.identities() {
		s.leaves = append(s.leaves, id.Leaf)
	}
	return s, nil
}

// identities is the TLS identity, then the secondaries.
func (s *Server) identities() []peerkit.Identity {
	return append([]peerkit.Identity{s.Primary}, s.Secondary...)
}

// Listen opens a TCP listener on addr.
func (s *Server) Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

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
		s.Logf("%s: setup failed: %v", sc.who, err)
		raw.Close()
		return
	}
	raw.SetDeadline(time.Time{})
	sc.conn = conn
	if sc.keys, err = s.Keys(conn.Keys); err != nil {
		s.Logf("%s: %v", sc.who, err)
		conn.Close()
		return
	}
	conn.OnSettings = sc.onSettings
	conn.OnRequest = sc.onRequest
	conn.OnGoAway = func(code http2.ErrCode, debug string) {
		s.Logf("%s: goaway received code=0x%x %s", sc.who, uint32(code), debug)
	}
	if s.cfg.Broken == BrokenBeforeSettings && !s.cfg.Plain {
		// Our first SETTINGS lacked the value; the frames go out before the
		// SETTINGS that carries it, so the client cannot yet use them.
		if err := sc.sendCertificates(); err == nil {
			err = conn.AdvertiseCertAuth()
		}
	}
	if err := conn.Run(); err != nil {
		s.Logf("%s: connection error: %v", sc.who, err)
	}
	s.Logf("%s: closed", sc.who)
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
	for _, id := range sc.s.Secondary {
		auth, err := sc.s.Authenticate(sc.keys, id, nil, ea.NewContext(), sc.offered)
		if err != nil {
			sc.s.Logf("%s: cannot authenticate %v: %v", sc.who, id.Leaf.DNSNames, err)
			continue
		}
		if err := sc.conn.WriteServerCertificate(stream, auth); err != nil {
			return err
		}
		sc.s.Logf("%s: sent SERVER_CERTIFICATE for %v (%d bytes, stream %d)", sc.who, id.Leaf.DNSNames, len(auth), stream)
	}
	return nil
}

func (sc *serverConn) onRequest(req *h2ext.Message) error {
	method, path := req.Get(":method"), req.Get(":path")
	switch {
	case method == "OPTIONS" && path == "*":
		return sc.optionsStar(req)
	case method == "GET" || method == "HEAD":
		host := peerkit.HostOnly(req.Get(":authority"))
		text := []hpack.HeaderField{{Name: "content-type", Value: "text/plain; charset=utf-8"}}
		if !peerkit.CoversAny(sc.s.leaves, host) {
			sc.s.Logf("%s: 421 for %q", sc.who, host)
			return sc.conn.Respond(req.StreamID, 421, text, []byte("not authoritative for "+host+"\n"))
		}
		body := []byte("hello from " + host)
		if method == "HEAD" {
			body = nil
		}
		sc.s.Logf("%s: 200 for %q", sc.who, host)
		return sc.conn.Respond(req.StreamID, 200, text, body)
	}
	return sc.conn.Respond(req.StreamID, 405, nil, nil)
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
		sc.s.Logf("%s: OPTIONS * refused with 400: %v", sc.who, err)
		return sc.conn.Respond(req.StreamID, 400, []hpack.HeaderField{noStore}, nil)
	}
	sc.seen[string(parsed.Context)] = true
	name, _ := parsed.ServerName() // ParseRequest checked it
	id, ok := sc.s.Primary, name == ""
	for _, cand := range sc.s.identities() {
		if !ok && ea.Covers(cand.Leaf, name) {
			id, ok = cand, true
		}
	}
	var auth []byte
	if ok {
		auth, err = sc.s.Authenticate(sc.keys, id, req.Body, nil, sc.offered)
	}
	if !ok || ea.KindOf(err) == ea.KindNoCertificate {
		auth, err = ea.EmptyAuthenticator(sc.keys, req.Body)
	}
	if err != nil {
		sc.s.Logf("%s: OPTIONS * failed: %v", sc.who, err)
		return sc.conn.Respond(req.StreamID, 500, []hpack.HeaderField{noStore}, nil)
	}
	sc.s.Logf("%s: OPTIONS * for %q answered (%d bytes, identity %v)", sc.who, name, len(auth), ok)
	return sc.conn.Respond(req.StreamID, 200, []hpack.HeaderField{{Name: "content-type", Value: MediaAuthenticator}, noStore}, auth)
}
