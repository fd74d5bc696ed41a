package h3peer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/ea"
)

// Broken modes make the server misbehave on purpose, for negative tests.
const (
	BrokenSignature     = "bad-signature"  // CertificateVerify signature corrupted, Finished recomputed over it
	BrokenExporter      = "wrong-exporter" // keys from the client's exporter labels
	BrokenRequestStream = "request-stream" // SERVER_CERTIFICATE sent on a response stream, not the control stream
	BrokenUnadvertised  = "unadvertised"   // frames sent without our SETTINGS carrying value 1
)

var brokenModes = map[string]bool{"": true, BrokenSignature: true, BrokenExporter: true,
	BrokenRequestStream: true, BrokenUnadvertised: true}

// ServerConfig configures a Server.
type ServerConfig struct {
	Primary     tls.Certificate   // the TLS certificate
	Secondaries []tls.Certificate // each sent in its own SERVER_CERTIFICATE
	Profile     Profile
	Broken      string
	Plain       bool      // never advertise the setting, never send the frame
	Log         io.Writer // one line per notable event; nil discards
}

type identity struct {
	ea.Identity
	leaf *x509.Certificate
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

// Server accepts HTTP/3 connections and serves its TLS name and each
// secondary name it proved on the connection.
type Server struct {
	cfg       ServerConfig
	primary   identity
	secondary []identity
	logMu     sync.Mutex

	helloMu sync.Mutex
	offered map[string][]ea.SignatureScheme // ClientHello signature_algorithms by remote address
}

// NewServer checks the configuration.
func NewServer(cfg ServerConfig) (*Server, error) {
	if !brokenModes[cfg.Broken] {
		return nil, fmt.Errorf("unknown broken mode %q", cfg.Broken)
	}
	s := &Server{cfg: cfg, offered: map[string][]ea.SignatureScheme{}}
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

// QUICConfig is what both peers use: the handshake bounded, no 0-RTT.
func QUICConfig() *quic.Config {
	return &quic.Config{HandshakeIdleTimeout: 5 * time.Second, MaxIdleTimeout: 30 * time.Second}
}

// Listen opens a QUIC listener on addr (UDP) with TLS 1.3 and ALPN h3.
func (s *Server) Listen(addr string) (quic.Listener, error) {
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			// A spontaneous authenticator must use a scheme the ClientHello
			// offered (RFC 9261 section 5.2.2): keep them per connection.
			var offered []ea.SignatureScheme
			for _, v := range h.SignatureSchemes {
				offered = append(offered, ea.SignatureScheme(v))
			}
			if h.Conn != nil {
				s.helloMu.Lock()
				s.offered[h.Conn.RemoteAddr().String()] = offered
				s.helloMu.Unlock()
			}
			return &s.cfg.Primary, nil
		},
	}
	return quic.ListenAddr(addr, tlsConf, QUICConfig())
}

// Serve accepts connections until l is closed.
func (s *Server) Serve(l quic.Listener) error {
	for {
		q, err := l.Accept(context.Background())
		if err != nil {
			return err
		}
		go s.serveConn(q)
	}
}

// serverConn is one connection's state.
type serverConn struct {
	s       *Server
	h       *Conn
	keys    ea.Keys
	offered []ea.SignatureScheme
	who     string

	mu     sync.Mutex
	sent   bool
	proven []*x509.Certificate // TLS leaf and the secondaries sent on this connection
	stash  []byte              // request-stream mode: the frame to put on the next response
}

func (s *Server) serveConn(q quic.Connection) {
	sc := &serverConn{s: s, who: q.RemoteAddr().String(), proven: []*x509.Certificate{s.primary.leaf}}
	s.helloMu.Lock()
	sc.offered = s.offered[sc.who]
	delete(s.offered, sc.who)
	s.helloMu.Unlock()
	recorded := len(sc.offered)
	if sc.offered == nil {
		sc.offered = ea.SupportedSchemes
	}
	advertise := !s.cfg.Plain && s.cfg.Broken != BrokenUnadvertised
	sc.h = NewConn(q, true, s.cfg.Profile, advertise)
	creator := ea.Server
	if s.cfg.Broken == BrokenExporter {
		creator = ea.Client
	}
	var err error
	if sc.keys, err = sc.h.Keys(creator); err != nil {
		s.logf("%s: %v", sc.who, err)
		sc.h.Fail(err)
		return
	}
	// wrong-exporter: values from the client labels, still built as a server authenticator.
	sc.keys.Creator = ea.Server
	sc.h.OnSettings = sc.onSettings
	sc.h.OnGoAway = func(id uint64) { s.logf("%s: goaway received id=%d", sc.who, id) }
	sc.h.Logf = func(format string, args ...any) { s.logf(sc.who+": "+format, args...) }
	if err := sc.h.Start(); err != nil {
		s.logf("%s: setup failed: %v", sc.who, err)
		sc.h.Fail(err)
		return
	}
	s.logf("%s: connected (alpn %s, %d signature schemes from the ClientHello)", sc.who,
		q.ConnectionState().TLS.NegotiatedProtocol, recorded)
	for {
		st, err := q.AcceptStream(context.Background())
		if err != nil {
			break
		}
		go sc.handleRequest(st)
	}
	end := sc.h.EndError()
	if ae, ok := RemoteClose(end); ok {
		s.logf("%s: close received code=0x%x reason=%q", sc.who, uint64(ae.ErrorCode), ae.ErrorMessage)
	} else if le := sc.h.LocalError(); le != nil && le.Code != ErrNoError {
		s.logf("%s: closed with code=0x%x reason=%q", sc.who, le.Code, le.Reason)
	} else if le == nil {
		s.logf("%s: connection ended: %v", sc.who, end)
	}
	s.logf("%s: closed", sc.who)
}

// onSettings sends the secondary certificates once both sides sent value 1
// (draft section 3.2), right after the client's SETTINGS.
func (sc *serverConn) onSettings() error {
	if sc.s.cfg.Plain {
		return nil
	}
	if sc.h.Negotiated() || (sc.s.cfg.Broken == BrokenUnadvertised && sc.h.PeerCertAuth()) {
		return sc.sendCertificates()
	}
	sc.s.logf("%s: not negotiated (client value %v), no SERVER_CERTIFICATE", sc.who, sc.h.PeerCertAuth())
	return nil
}

func (sc *serverConn) sendCertificates() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.sent {
		return nil
	}
	sc.sent = true
	for _, id := range sc.s.secondary {
		auth, err := sc.authenticate(id)
		if err != nil {
			sc.s.logf("%s: cannot authenticate %v: %v", sc.who, id.leaf.DNSNames, err)
			continue
		}
		sc.proven = append(sc.proven, id.leaf)
		if sc.s.cfg.Broken == BrokenRequestStream {
			sc.stash = appendFrame(sc.stash, sc.s.cfg.Profile.Frame, auth)
			sc.s.logf("%s: SERVER_CERTIFICATE for %v held for a response stream", sc.who, id.leaf.DNSNames)
			continue
		}
		if err := sc.h.WriteServerCertificate(auth); err != nil {
			return err
		}
		sc.s.logf("%s: sent SERVER_CERTIFICATE for %v (%d bytes)", sc.who, id.leaf.DNSNames, len(auth))
	}
	return nil
}

// authenticate builds a spontaneous authenticator for id with a fresh
// context and applies the bad-signature breakage.
func (sc *serverConn) authenticate(id identity) ([]byte, error) {
	auth, err := ea.Authenticate(sc.keys, id.Identity, nil, ea.NewContext(), sc.offered)
	if err != nil || sc.s.cfg.Broken != BrokenSignature {
		return auth, err
	}
	return breakSignature(sc.keys, auth), nil
}

// breakSignature flips the last bit of the CertificateVerify signature and
// recomputes Finished, so only the signature check can catch it.
func breakSignature(keys ea.Keys, auth []byte) []byte {
	size := func(b []byte) int { return 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3])) }
	cert := auth[:size(auth)]
	rest := auth[len(cert):]
	cv := append([]byte(nil), rest[:size(rest)]...)
	cv[len(cv)-1] ^= 0x01
	return bytes.Join([][]byte{cert, cv, ea.FinishedMessage(keys, nil, cert, cv)}, nil)
}

func (sc *serverConn) covers(host string) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, leaf := range sc.proven {
		if ea.Covers(leaf, host) {
			return true
		}
	}
	return false
}

func (sc *serverConn) handleRequest(st quic.Stream) {
	req, err := sc.h.readMessage(newFrameReader(st), true)
	if err != nil {
		var he *Error
		if errors.As(err, &he) && (he.Code == ErrMessage || he.Code == ErrRequestIncomplete) {
			// A malformed request is a stream error (RFC 9114 section 4.1.2).
			st.CancelRead(quic.StreamErrorCode(he.Code))
			st.CancelWrite(quic.StreamErrorCode(he.Code))
			sc.s.logf("%s: request refused: %v", sc.who, he)
			return
		}
		sc.h.streamFail(err)
		if he != nil {
			sc.s.logf("%s: connection error: %v", sc.who, he)
		}
		return
	}
	var extra []byte
	if sc.s.cfg.Broken == BrokenRequestStream {
		sc.mu.Lock()
		extra, sc.stash = sc.stash, nil
		sc.mu.Unlock()
	}
	method := req.Fields.Get(":method")
	authority := req.Fields.Get(":authority")
	if authority == "" {
		authority = req.Fields.Get("host")
	}
	host := hostOnly(authority)
	text := Fields{{"content-type", "text/plain"}}
	var status int
	var body []byte
	switch {
	case method != "GET" && method != "HEAD":
		status = 405
	case !sc.covers(host):
		status, body = 421, []byte("not authoritative for "+host+"\n")
	default:
		status, body = 200, []byte("hello from "+host+" over go-h3\n")
		if method == "HEAD" {
			body = nil
		}
	}
	fields := append(Fields{{":status", fmt.Sprint(status)}}, text...)
	if err := writeMessage(st, fields, body, extra); err != nil {
		sc.s.logf("%s: response for %q: %v", sc.who, host, err)
		return
	}
	sc.s.logf("%s: %d for %s %q", sc.who, status, method, host)
}

// hostOnly strips a port from an authority.
func hostOnly(authority string) string {
	if h, _, err := net.SplitHostPort(authority); err == nil {
		return h
	}
	return authority
}
