package peerkit

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"secondarycerts/interop/ea"
)

// Exit codes of both clients; the harness asserts them.
const (
	ExitOK          = 0
	ExitError       = 1 // usage, connection or unexpected failure
	ExitNotDetected = 2 // -expect-invalid was given, but nothing was invalid or ignored
	ExitInvalid     = 3 // an authenticator failed validation: the connection ended with SERVER_CERTIFICATE_INVALID
	ExitProtocol    = 4 // the server broke a frame rule: the connection ended with that error
	ExitIgnored     = 5 // a SERVER_CERTIFICATE arrived before the feature was negotiated and was ignored
	ExitUnproven    = 6 // a -fetch origin was never proven, so it was not fetched
)

// MaxCertificates bounds how many SERVER_CERTIFICATE frames a client holds
// per connection; the draft sets no limit (spec-notes/secondary-server-certs-h2.md, C5: 32).
const MaxCertificates = 32

// ErrTooManyCertificates is what ServerCertificate returns past MaxCertificates.
var ErrTooManyCertificates = errors.New("too many SERVER_CERTIFICATE frames")

// helloEntryExtensions are the CertificateEntry extensions Go's ClientHello
// solicits (status_request and signed_certificate_timestamp): a spontaneous
// authenticator may carry only these (RFC 9261 section 5.2). Its
// signature_algorithms include every scheme package ea supports, so the
// validator's default scheme set is the ClientHello's.
var helloEntryExtensions = []uint16{ea.ExtStatusRequest, ea.ExtSignedCertificateTimestamp}

// Events writes a client's events, one JSON object per line.
type Events struct {
	Out io.Writer
	mu  sync.Mutex
}

// Emit prints {"event":NAME,...fields} on one line.
func (e *Events) Emit(name string, fields map[string]any) {
	ev, _ := json.Marshal(name)
	line := `{"event":` + string(ev)
	if len(fields) > 0 {
		rest, _ := json.Marshal(fields)
		line += "," + string(rest[1:])
	} else {
		line += "}"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintln(e.Out, line)
}

// Fail reports err as an error event and returns ExitError.
func (e *Events) Fail(err error) int {
	e.Emit("error", map[string]any{"detail": err.Error()})
	return ExitError
}

// Session is a client's state on one connection apart from the protocol:
// its events, the authenticators it validated and the leaves they proved.
type Session struct {
	Events
	Roots       *x509.CertPool
	Keys        ea.Keys // set before any authenticator arrives
	ListOrigins bool    // certificate events carry "origins", the leaf's dNSNames

	mu        sync.Mutex
	validator *ea.Validator
	leaves    []*x509.Certificate // identities proven on this connection, TLS one first
	certCount int
	ignored   int
	changed   chan struct{}
}

// NewSession starts a session that prints its events to out and trusts roots.
func NewSession(out io.Writer, roots *x509.CertPool) *Session {
	return &Session{Events: Events{Out: out}, Roots: roots, validator: ea.NewValidator(), changed: make(chan struct{}, 1)}
}

// Finish applies -expect-invalid to the run's exit code, prints the exit
// event and returns the code.
func (s *Session) Finish(code int, expectInvalid bool) int {
	if expectInvalid && code == ExitOK {
		s.Emit("error", map[string]any{"detail": "expected an invalid or ignored certificate, saw none"})
		code = ExitNotDetected
	}
	s.Emit("exit", map[string]any{"code": code})
	return code
}

// Signal wakes Await to look again.
func (s *Session) Signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Prove records leaf, already verified (the TLS one), as proven.
func (s *Session) Prove(leaf *x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaves = append(s.leaves, leaf)
}

// Proven reports whether a proven leaf covers origin's host.
func (s *Session) Proven(origin string) bool {
	host := HostOnly(origin)
	s.mu.Lock()
	defer s.mu.Unlock()
	return CoversAny(s.leaves, host)
}

// Outcome is the exit code of a run that got to its end: an ignored
// certificate first, then an unproven fetch.
func (s *Session) Outcome(unproven bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ignored > 0:
		return ExitIgnored
	case unproven:
		return ExitUnproven
	}
	return ExitOK
}

// Await waits, at most wait, until every fetch origin is proven (or, with
// expectInvalid or no fetches, for the whole window) unless something was
// already caught or done is closed. Without negotiation it returns at once,
// as nothing the server sends could be used, unless expectInvalid.
func (s *Session) Await(done <-chan struct{}, wait time.Duration, negotiated, expectInvalid bool, fetch []string) {
	if !negotiated && !expectInvalid {
		return
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for !s.satisfied(expectInvalid, fetch) {
		select {
		case <-s.changed:
		case <-done:
			return
		case <-deadline.C:
			return
		}
	}
}

func (s *Session) satisfied(expectInvalid bool, fetch []string) bool {
	s.mu.Lock()
	ignored := s.ignored
	s.mu.Unlock()
	if ignored > 0 {
		return true
	}
	if expectInvalid || len(fetch) == 0 {
		return false
	}
	for _, o := range fetch {
		if !s.Proven(o) {
			return false
		}
	}
	return true
}

// ServerCertificate handles one SERVER_CERTIFICATE payload and prints its
// certificate event. One that arrived before negotiation (not usable) is
// counted as ignored and never used for authority (spec-notes/secondary-server-certs-h2.md, C3, our
// choice). It returns ErrTooManyCertificates past the limit, or the
// validation error of an invalid authenticator: the caller ends the
// connection with its protocol's error for each. An authenticator that is
// valid but fails the PKIX checks is no error; its identity is just not used.
func (s *Session) ServerCertificate(payload []byte, usable bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.Signal()
	s.certCount++
	if s.certCount > MaxCertificates {
		return ErrTooManyCertificates
	}
	if !usable {
		s.ignored++
		s.Emit("certificate", map[string]any{"valid": false, "ignored": true, "error": "not_negotiated"})
		return nil
	}
	res, err := s.validator.Validate(s.Keys, payload, ea.Options{OfferedEntryExtensions: helloEntryExtensions})
	if err != nil {
		s.Emit("certificate", map[string]any{"valid": false, "error": string(ea.KindOf(err)), "detail": err.Error()})
		return err
	}
	s.accept(res, "", "certificate", nil)
	return nil
}

// Answer validates auth, an authenticator answering request, and on
// success accepts its identity for host and prints event with fields. A
// validation error is returned with nothing printed.
func (s *Session) Answer(request, auth []byte, host, event string, fields map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.validator.Validate(s.Keys, auth, ea.Options{Request: request})
	if err != nil {
		return err
	}
	s.accept(res, host, event, fields)
	return nil
}

// accept runs the PKIX and name checks on a validated identity; failing
// them is not a protocol error, the identity is just not used (draft -02
// section 6.2). s.mu must be held.
func (s *Session) accept(res *ea.Result, wantHost, event string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	leaf := res.Chain[0]
	fields["names"] = ea.Names(leaf)
	fields["valid"] = false
	if err := ea.VerifyChain(res.Chain, s.Roots, x509.ExtKeyUsageServerAuth, time.Now()); err != nil {
		fields["error"], fields["detail"] = string(ea.KindUntrusted), err.Error()
	} else if wantHost != "" && !ea.Covers(leaf, wantHost) {
		fields["error"] = "name_mismatch"
	} else {
		fields["valid"] = true
		fields["scheme"] = res.Scheme.String()
		if s.ListOrigins {
			fields["origins"] = append([]string{}, leaf.DNSNames...)
		}
		s.leaves = append(s.leaves, leaf)
	}
	s.Emit(event, fields)
}
