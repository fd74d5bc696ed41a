package peerkit

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"

	"secondarycerts/interop/ea"
)

// Broken modes both servers have; each adds its own.
const (
	BrokenSignature = "bad-signature"  // CertificateVerify signature corrupted, Finished recomputed over it
	BrokenExporter  = "wrong-exporter" // keys from the client's exporter labels
)

// ServerCore is what a server holds apart from its protocol: its
// identities, its broken mode and its log.
type ServerCore struct {
	Primary   Identity   // the TLS certificate
	Secondary []Identity // each sent in its own SERVER_CERTIFICATE
	Broken    string

	logMu sync.Mutex
	log   io.Writer
}

// NewServerCore checks the certificates and the broken mode, which is ""
// (behave), one of the shared modes or one of modes; log may be nil.
func NewServerCore(primary tls.Certificate, secondaries []tls.Certificate, broken string, log io.Writer, modes ...string) (*ServerCore, error) {
	known := broken == "" || broken == BrokenSignature || broken == BrokenExporter
	for _, m := range modes {
		known = known || broken == m
	}
	if !known {
		return nil, fmt.Errorf("unknown broken mode %q", broken)
	}
	s := &ServerCore{Broken: broken, log: log}
	var err error
	if s.Primary, err = NewIdentity(primary); err != nil {
		return nil, fmt.Errorf("primary certificate: %v", err)
	}
	for i, c := range secondaries {
		id, err := NewIdentity(c)
		if err != nil {
			return nil, fmt.Errorf("secondary certificate %d: %v", i+1, err)
		}
		s.Secondary = append(s.Secondary, id)
	}
	return s, nil
}

// Logf writes one line to the log, if any.
func (s *ServerCore) Logf(format string, args ...any) {
	if s.log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.log, format+"\n", args...)
}

// Keys derives the keys the server's authenticators are made with from
// derive (the connection's exporter). In wrong-exporter mode they come
// from the client's labels, still built as a server authenticator.
func (s *ServerCore) Keys(derive func(creator ea.Role) (ea.Keys, error)) (ea.Keys, error) {
	creator := ea.Server
	if s.Broken == BrokenExporter {
		creator = ea.Client
	}
	keys, err := derive(creator)
	keys.Creator = ea.Server
	return keys, err
}

// Authenticate builds an authenticator for id, spontaneous when request is
// nil, with a scheme from offered, and applies the bad-signature breakage.
func (s *ServerCore) Authenticate(keys ea.Keys, id Identity, request, context []byte, offered []ea.SignatureScheme) ([]byte, error) {
	auth, err := ea.Authenticate(keys, id.Identity, request, context, offered)
	if err != nil || s.Broken != BrokenSignature {
		return auth, err
	}
	return breakSignature(keys, request, auth), nil
}

// breakSignature flips the last bit of the CertificateVerify signature and
// then recomputes Finished, so that only the signature check can catch it.
func breakSignature(keys ea.Keys, request, auth []byte) []byte {
	msgLen := func(b []byte) int { return 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3])) }
	cert := auth[:msgLen(auth)]
	rest := auth[len(cert):]
	cv := append([]byte(nil), rest[:msgLen(rest)]...)
	cv[len(cv)-1] ^= 0x01
	return bytes.Join([][]byte{cert, cv, ea.FinishedMessage(keys, request, cert, cv)}, nil)
}

// HostOnly strips a port from an authority.
func HostOnly(authority string) string {
	if h, _, err := net.SplitHostPort(authority); err == nil {
		return h
	}
	return authority
}
