package h3peer

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peer"
)

// Exit codes: the same as go-h2-client's (peer.Exit*).
const (
	ExitOK          = peer.ExitOK
	ExitError       = peer.ExitError
	ExitNotDetected = peer.ExitNotDetected
	ExitInvalid     = peer.ExitInvalid  // an authenticator failed validation: closed with SERVER_CERTIFICATE_INVALID
	ExitProtocol    = peer.ExitProtocol // the server broke a frame rule: closed with that H3 error
	ExitIgnored     = peer.ExitIgnored  // a SERVER_CERTIFICATE arrived without negotiation and was ignored
	ExitUnproven    = peer.ExitUnproven
)

// maxCertificates bounds the SERVER_CERTIFICATE frames held per connection.
const maxCertificates = 32

// helloEntryExtensions: the CertificateEntry extensions Go's ClientHello
// solicits (status_request, signed_certificate_timestamp), the only ones a
// spontaneous authenticator may carry (RFC 9261 section 5.2).
var helloEntryExtensions = []uint16{ea.ExtStatusRequest, ea.ExtSignedCertificateTimestamp}

// ClientConfig configures one client run.
type ClientConfig struct {
	Addr          string // host:port (UDP) to dial
	ServerName    string // SNI, and the first authority fetched
	Path          string // request path of each fetch
	Roots         *x509.CertPool
	Fetch         []string // further authorities to GET once proven
	ExpectInvalid bool
	Plain         bool // do not advertise the setting
	Profile       Profile
	Wait          time.Duration // how long to wait for SERVER_CERTIFICATE frames
	Timeout       time.Duration // for the whole run
	Out           io.Writer     // one JSON object per line
}

type client struct {
	cfg   ClientConfig
	h     *Conn
	keys  ea.Keys
	outMu sync.Mutex

	mu        sync.Mutex
	validator *ea.Validator
	leaves    []*x509.Certificate // identities proven on this connection, TLS one first
	certCount int
	ignored   int
	changed   chan struct{}
}

// RunClient connects, collects certificates, fetches the TLS name and the
// proven -fetch origins on the one connection, prints events, and returns
// the process exit code.
func RunClient(cfg ClientConfig) int {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	c := &client{cfg: cfg, validator: ea.NewValidator(), changed: make(chan struct{}, 1)}
	code := c.run()
	if cfg.ExpectInvalid && code == ExitOK {
		c.emit("error", map[string]any{"detail": "expected an invalid or ignored certificate, saw none"})
		code = ExitNotDetected
	}
	c.emit("exit", map[string]any{"code": code})
	return code
}

// emit prints {"event":NAME,...fields} on one line.
func (c *client) emit(name string, fields map[string]any) {
	ev, _ := json.Marshal(name)
	line := `{"event":` + string(ev)
	if len(fields) > 0 {
		rest, _ := json.Marshal(fields)
		line += "," + string(rest[1:])
	} else {
		line += "}"
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	fmt.Fprintln(c.cfg.Out, line)
}

func (c *client) fail(err error) int {
	c.emit("error", map[string]any{"detail": err.Error()})
	return ExitError
}

func (c *client) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *client) run() int {
	tlsConf := &tls.Config{ServerName: c.cfg.ServerName, RootCAs: c.cfg.Roots,
		MinVersion: tls.VersionTLS13, NextProtos: []string{ALPN}}
	qc := QUICConfig()
	qc.MaxIncomingStreams = -1 // servers open no bidirectional streams in HTTP/3
	dialLimit := 5 * time.Second
	if c.cfg.Timeout > 0 && c.cfg.Timeout < dialLimit {
		dialLimit = c.cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialLimit)
	q, err := quic.DialAddrContext(ctx, c.cfg.Addr, tlsConf, qc)
	cancel()
	if err != nil {
		return c.fail(fmt.Errorf("QUIC handshake with %s: %w", c.cfg.Addr, err))
	}
	c.h = NewConn(q, false, c.cfg.Profile, !c.cfg.Plain)
	cs := q.ConnectionState().TLS
	if c.keys, err = c.h.Keys(ea.Server); err != nil {
		c.h.Fail(err)
		return c.fail(err)
	}
	leaf := cs.PeerCertificates[0] // verified by the TLS stack against -ca and the server name
	c.leaves = []*x509.Certificate{leaf}
	c.emit("connected", map[string]any{"alpn": cs.NegotiatedProtocol, "cipher": tls.CipherSuiteName(cs.CipherSuite),
		"hash": ea.HashName(c.keys.Hash), "names": ea.Names(leaf)})

	c.h.OnServerCertificate = c.onCertificate
	c.h.OnSettings = func() error {
		// Emitted here, before any frame after SETTINGS is handled.
		c.emit("settings", map[string]any{"peerCertAuth": c.h.PeerCertAuth(), "negotiated": c.h.Negotiated()})
		c.signal()
		return nil
	}
	c.h.OnGoAway = func(id uint64) { c.emit("goaway", map[string]any{"id": id, "from": "server"}) }
	if err := c.h.Start(); err != nil {
		c.h.Fail(err)
		return c.fail(err)
	}
	defer time.AfterFunc(c.cfg.Timeout, func() {
		c.h.Fail(connErr(ErrNoError, "-timeout %v reached", c.cfg.Timeout))
	}).Stop()

	select {
	case <-c.h.SettingsArrived():
	case <-c.h.Ended():
		return c.ended(nil)
	case <-time.After(5 * time.Second):
		c.h.Close()
		return c.fail(errors.New("no SETTINGS from the server"))
	}
	c.awaitCertificates()
	select {
	case <-c.h.Ended():
		return c.ended(nil)
	default:
	}
	unproven := false
	origins := []string{c.cfg.ServerName}
	for _, o := range c.cfg.Fetch {
		if o != c.cfg.ServerName {
			origins = append(origins, o)
		}
	}
	for _, origin := range origins {
		if !c.proven(origin) {
			c.emit("unproven", map[string]any{"authority": origin})
			unproven = true
			continue
		}
		resp, err := c.roundTrip(origin)
		if err != nil {
			return c.ended(err)
		}
		status, _ := strconv.Atoi(resp.Fields.Get(":status"))
		sum := sha256.Sum256(resp.Body)
		// Every request goes on this one connection: that is what is tested.
		c.emit("response", map[string]any{"authority": origin, "status": status, "body": string(resp.Body),
			"sha256": hex.EncodeToString(sum[:]), "sameConnection": true})
	}
	c.h.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ignored > 0:
		return ExitIgnored
	case unproven:
		return ExitUnproven
	}
	return ExitOK
}

// roundTrip sends GET origin/path on a new request stream and reads the response.
func (c *client) roundTrip(origin string) (*Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.h.Q.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	st.SetDeadline(time.Now().Add(5 * time.Second))
	req := Fields{{":method", "GET"}, {":scheme", "https"}, {":authority", origin}, {":path", c.cfg.Path},
		{"user-agent", "go-h3-client"}}
	if err := writeMessage(st, req, nil, nil); err != nil {
		return nil, err
	}
	resp, err := c.h.readMessage(newFrameReader(st), false)
	if err != nil {
		return nil, c.h.streamFail(err)
	}
	return resp, nil
}

// awaitCertificates waits, at most cfg.Wait, until every fetch origin is
// proven (or, with -expect-invalid or no fetches, for the whole window),
// unless something was already caught.
func (c *client) awaitCertificates() {
	if !c.h.Negotiated() && !c.cfg.ExpectInvalid {
		return // nothing the server sends now could be used
	}
	deadline := time.NewTimer(c.cfg.Wait)
	defer deadline.Stop()
	for !c.satisfied() {
		select {
		case <-c.changed:
		case <-c.h.Ended():
			return
		case <-deadline.C:
			return
		}
	}
}

func (c *client) satisfied() bool {
	c.mu.Lock()
	ignored := c.ignored
	c.mu.Unlock()
	if ignored > 0 {
		return true
	}
	if c.cfg.ExpectInvalid || len(c.cfg.Fetch) == 0 {
		return false
	}
	for _, o := range c.cfg.Fetch {
		if !c.proven(o) {
			return false
		}
	}
	return true
}

func (c *client) proven(origin string) bool {
	host := hostOnly(origin)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, leaf := range c.leaves {
		if ea.Covers(leaf, host) {
			return true
		}
	}
	return false
}

// ended maps the end of the connection to an exit code: an error we
// closed with is a detection; anything else is a failure.
func (c *client) ended(cause error) int {
	select {
	case <-c.h.Ended():
	case <-time.After(3 * time.Second):
	}
	if le := c.h.LocalError(); le != nil && le.Code != ErrNoError {
		c.emit("close", map[string]any{"code": le.Code, "from": "client", "reason": le.Reason})
		if le.Code == c.cfg.Profile.Invalid {
			return ExitInvalid
		}
		return ExitProtocol
	}
	select {
	case <-c.h.Ended():
		if ae, ok := RemoteClose(c.h.EndError()); ok {
			c.emit("close", map[string]any{"code": uint64(ae.ErrorCode), "from": "server", "reason": ae.ErrorMessage})
		}
	default:
	}
	if cause == nil {
		cause = errors.New("the connection ended early")
		if le := c.h.LocalError(); le != nil && le.Reason != "" {
			cause = errors.New(le.Reason) // our -timeout
		} else if le == nil {
			select {
			case <-c.h.Ended():
				cause = fmt.Errorf("the connection ended early: %v", c.h.EndError())
			default:
			}
		}
	}
	return c.fail(cause)
}

// onCertificate handles a SERVER_CERTIFICATE frame (on the control stream's goroutine).
func (c *client) onCertificate(payload []byte, usable bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.signal()
	c.certCount++
	if c.certCount > maxCertificates {
		return connErr(ErrExcessiveLoad, "too many SERVER_CERTIFICATE frames")
	}
	if !usable {
		// Not negotiated: never used for authority.
		c.ignored++
		c.emit("certificate", map[string]any{"valid": false, "ignored": true, "error": "not_negotiated"})
		return nil
	}
	res, err := c.validator.Validate(c.keys, payload, ea.Options{OfferedEntryExtensions: helloEntryExtensions})
	if err != nil {
		// The draft: close the connection with SERVER_CERTIFICATE_INVALID.
		c.emit("certificate", map[string]any{"valid": false, "error": string(ea.KindOf(err)), "detail": err.Error()})
		return &Error{Code: c.cfg.Profile.Invalid, Reason: err.Error()}
	}
	// PKIX failure is not a protocol error: the identity is just not used.
	leaf := res.Chain[0]
	fields := map[string]any{"names": ea.Names(leaf), "valid": false}
	if err := ea.VerifyChain(res.Chain, c.cfg.Roots, x509.ExtKeyUsageServerAuth, time.Now()); err != nil {
		fields["error"], fields["detail"] = string(ea.KindUntrusted), err.Error()
	} else {
		fields["valid"], fields["scheme"] = true, res.Scheme.String()
		fields["origins"] = append([]string{}, leaf.DNSNames...)
		c.leaves = append(c.leaves, leaf)
	}
	c.emit("certificate", fields)
	return nil
}
