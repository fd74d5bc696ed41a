package h3peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peerkit"
)

// Broken modes make the server misbehave on purpose, for negative tests.
const (
	BrokenSignature     = peerkit.BrokenSignature
	BrokenExporter      = peerkit.BrokenExporter
	BrokenRequestStream = "request-stream" // SERVER_CERTIFICATE sent on a response stream, not the control stream
	BrokenUnadvertised  = "unadvertised"   // frames sent without our SETTINGS carrying value 1
)

// ServerConfig configures a Server.
type ServerConfig = peerkit.ServerConfig[Profile]

// Server accepts HTTP/3 connections and serves its TLS name and each
// secondary name it proved on the connection.
type Server struct {
	*peerkit.ServerCore
	cfg ServerConfig

	helloMu sync.Mutex
	offered map[string][]ea.SignatureScheme // ClientHello signature_algorithms by remote address

	clientRoots *x509.CertPool // -client-ca: client certificates at the HTTP layer (clientcert.go)
}

// NewServer checks the configuration.
func NewServer(cfg ServerConfig) (*Server, error) {
	core, err := peerkit.NewServerCore(cfg.Primary, cfg.Secondaries, cfg.Broken, cfg.Log, BrokenRequestStream, BrokenUnadvertised)
	if err != nil {
		return nil, err
	}
	s := &Server{ServerCore: core, cfg: cfg, offered: map[string][]ea.SignatureScheme{}}
	if cfg.ClientCA != "" {
		if s.clientRoots, err = ea.LoadRoots(cfg.ClientCA); err != nil {
			return nil, fmt.Errorf("-client-ca: %w", err)
		}
	}
	return s, nil
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
	cc     *clientCerts        // the client-certificate flow, with -client-ca
}

func (s *Server) serveConn(q quic.Connection) {
	sc := &serverConn{s: s, who: q.RemoteAddr().String(), proven: []*x509.Certificate{s.Primary.Leaf}}
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
	var err error
	if sc.keys, err = s.Keys(sc.h.Keys); err != nil {
		s.Logf("%s: %v", sc.who, err)
		sc.h.Fail(err)
		return
	}
	if s.clientRoots != nil {
		sc.cc = newClientCerts(sc, s.clientRoots)
		sc.h.ExtraSettings = append(sc.h.ExtraSettings, Setting{SettingClientCertAuth, 1})
		sc.h.OnOtherFrame = sc.cc.onFrame
	}
	sc.h.OnSettings = sc.onSettings
	sc.h.OnGoAway = func(id uint64) { s.Logf("%s: goaway received id=%d", sc.who, id) }
	sc.h.Logf = func(format string, args ...any) { s.Logf(sc.who+": "+format, args...) }
	if err := sc.h.Start(); err != nil {
		s.Logf("%s: setup failed: %v", sc.who, err)
		sc.h.Fail(err)
		return
	}
	s.Logf("%s: connected (alpn %s, %d signature schemes from the ClientHello)", sc.who,
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
		s.Logf("%s: close received code=0x%x reason=%q", sc.who, uint64(ae.ErrorCode), ae.ErrorMessage)
	} else if le := sc.h.LocalError(); le != nil && le.Code != ErrNoError {
		s.Logf("%s: closed with code=0x%x reason=%q", sc.who, le.Code, le.Reason)
	} else if le == nil {
		s.Logf("%s: connection ended: %v", sc.who, end)
	}
	s.Logf("%s: closed", sc.who)
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
	sc.s.Logf("%s: not negotiated (client value %v), no SERVER_CERTIFICATE", sc.who, sc.h.PeerCertAuth())
	return nil
}

func (sc *serverConn) sendCertificates() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.sent {
		return nil
	}
	sc.sent = true
	for _, id := range sc.s.Secondary {
		auth, err := sc.s.Authenticate(sc.keys, id, nil, ea.NewContext(), sc.offered)
		if err != nil {
			sc.s.Logf("%s: cannot authenticate %v: %v", sc.who, id.Leaf.DNSNames, err)
			continue
		}
		sc.proven = append(sc.proven, id.Leaf)
		if sc.s.cfg.Broken == BrokenRequestStream {
			sc.stash = appendFrame(sc.stash, sc.s.cfg.Profile.Frame, auth)
			sc.s.Logf("%s: SERVER_CERTIFICATE for %v held for a response stream", sc.who, id.Leaf.DNSNames)
			continue
		}
		if err := sc.h.WriteServerCertificate(auth); err != nil {
			return err
		}
		sc.s.Logf("%s: sent SERVER_CERTIFICATE for %v (%d bytes)", sc.who, id.Leaf.DNSNames, len(auth))
	}
	return nil
}

func (sc *serverConn) covers(host string) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return peerkit.CoversAny(sc.proven, host)
}

func (sc *serverConn) handleRequest(st quic.Stream) {
	req, err := sc.h.readMessage(newFrameReader(st), true)
	if err != nil {
		var he *Error
		if errors.As(err, &he) && (he.Code == ErrMessage || he.Code == ErrRequestIncomplete) {
			// A malformed request is a stream error (RFC 9114 section 4.1.2).
			st.CancelRead(quic.StreamErrorCode(he.Code))
			st.CancelWrite(quic.StreamErrorCode(he.Code))
			sc.s.Logf("%s: request refused: %v", sc.who, he)
			return
		}
		sc.h.streamFail(err)
		if he != nil {
			sc.s.Logf("%s: connection error: %v", sc.who, he)
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
	host := peerkit.HostOnly(authority)
	text := Fields{{"content-type", "text/plain"}}
	var status int
	var body []byte
	switch {
	case method != "GET" && method != "HEAD":
		status = 405
	case !sc.covers(host):
		status, body = 421, []byte("not authoritative for "+host+"\n")
	case sc.cc != nil && req.Fields.Get(":path") == "/protected":
		var text string
		status, text = sc.cc.identity(10 * time.Second)
		body = []byte(text + "\n")
	default:
		status, body = 200, []byte("hello from "+host+" over go-h3\n")
		if method == "HEAD" {
			body = nil
		}
	}
	fields := append(Fields{{":status", fmt.Sprint(status)}}, text...)
	if err := writeMessage(st, fields, body, extra); err != nil {
		sc.s.Logf("%s: response for %q: %v", sc.who, host, err)
		return
	}
	sc.s.Logf("%s: %d for %s %q", sc.who, status, method, host)
}
