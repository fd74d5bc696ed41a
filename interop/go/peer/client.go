package peer

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/h2ext"
)

// Exit codes of the client; the harness asserts them.
const (
	ExitOK          = 0
	ExitError       = 1 // usage, connection or unexpected failure
	ExitNotDetected = 2 // -expect-invalid was given, but nothing was invalid or ignored
	ExitInvalid     = 3 // an authenticator failed validation: GOAWAY SERVER_CERTIFICATE_INVALID sent
	ExitProtocol    = 4 // the server broke a frame rule: GOAWAY with that error (PROTOCOL_ERROR) sent
	ExitIgnored     = 5 // a SERVER_CERTIFICATE arrived before the feature was negotiated and was ignored
	ExitUnproven    = 6 // a -fetch origin was never proven, so it was not fetched
)

// maxCertificates bounds how many SERVER_CERTIFICATE frames we hold per
// connection; the draft sets no limit (digest section 2.3 suggests 32).
const maxCertificates = 32

// helloEntryExtensions are the CertificateEntry extensions Go's ClientHello
// solicits (status_request and signed_certificate_timestamp): a spontaneous
// authenticator may carry only these (RFC 9261 section 5.2). Its
// signature_algorithms include every scheme package ea supports, so the
// validator's default scheme set is the ClientHello's.
var helloEntryExtensions = []uint16{ea.ExtStatusRequest, ea.ExtSignedCertificateTimestamp}

// ClientConfig configures one client run.
type ClientConfig struct {
	Addr          string // host:port to dial
	Port          string // the origin port, for Exported-Auth-Origin
	ServerName    string // SNI and the :authority of OPTIONS *
	Path          string // request path of each fetch
	Roots         *x509.CertPool
	Fetch         []string // authorities to GET once proven
	OptionsStar   []string // origins to ask for with OPTIONS * first
	ExpectInvalid bool
	Plain         bool // do not advertise the setting
	Profile       h2ext.Profile
	Wait          time.Duration // how long to wait for SERVER_CERTIFICATE frames
	Timeout       time.Duration // for the whole run
	Out           io.Writer     // one JSON object per line
}

type client struct {
	cfg   ClientConfig
	conn  *h2ext.Conn
	keys  ea.Keys
	outMu sync.Mutex

	mu        sync.Mutex
	validator *ea.Validator
	leaves    []*x509.Certificate // identities proven on this connection, TLS one first
	certCount int
	ignored   int
	changed   chan struct{}
}

// RunClient connects, collects certificates, runs the OPTIONS * requests and
// fetches, printing events, and returns the process exit code.
func RunClient(cfg ClientConfig) int {
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
	rest, _ := json.Marshal(fields)
	line := `{"event":` + string(ev)
	if len(fields) > 0 {
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
	raw, err := net.DialTimeout("tcp", c.cfg.Addr, 5*time.Second)
	if err != nil {
		return c.fail(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	tlsCfg := h2ext.TLSConfig(&tls.Config{ServerName: c.cfg.ServerName, RootCAs: c.cfg.Roots})
	conn, err := h2ext.Client(tls.Client(raw, tlsCfg), c.cfg.Profile, !c.cfg.Plain)
	if err != nil {
		raw.Close()
		return c.fail(err)
	}
	raw.SetDeadline(time.Time{})
	c.conn = conn
	cs := conn.TLS.ConnectionState()
	if c.keys, err = conn.Keys(ea.Server); err != nil {
		conn.Close()
		return c.fail(err)
	}
	c.leaves = []*x509.Certificate{cs.PeerCertificates[0]} // verified by crypto/tls against -ca and SNI
	c.emit("connected", map[string]any{"alpn": cs.NegotiatedProtocol, "cipher": tls.CipherSuiteName(cs.CipherSuite),
		"hash": ea.HashName(c.keys.Hash), "names": ea.Names(cs.PeerCertificates[0])})

	conn.OnServerCertificate = c.onCertificate
	conn.OnSettings = func() error { c.signal(); return nil }
	conn.OnGoAway = func(code http2.ErrCode, debug string) {
		c.emit("goaway", map[string]any{"code": uint32(code), "from": "server", "debug": debug})
	}
	go conn.Run()
	defer time.AfterFunc(c.cfg.Timeout, conn.Close).Stop()

	// The server handles our SETTINGS before our PING, so after the ACK we
	// know its SETTINGS and have every frame it sent in answer to ours.
	if err := conn.Ping(5 * time.Second); err != nil {
		return c.ended(err)
	}
	c.emit("settings", map[string]any{"peerCertAuth": conn.PeerCertAuth(), "negotiated": conn.Negotiated()})
	c.awaitCertificates()
	select {
	case <-conn.Done():
		return c.ended(nil)
	default:
	}
	for _, origin := range c.cfg.OptionsStar {
		if code := c.optionsStar(origin); code != ExitOK {
			return code
		}
	}
	unproven := false
	for _, origin := range c.cfg.Fetch {
		if !c.proven(origin) {
			c.emit("unproven", map[string]any{"authority": origin})
			unproven = true
			continue
		}
		resp, err := conn.RoundTrip([]hpack.HeaderField{
			{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
			{Name: ":authority", Value: origin}, {Name: ":path", Value: c.cfg.Path},
		}, nil, 5*time.Second)
		if err != nil {
			return c.ended(err)
		}
		status, _ := strconv.Atoi(resp.Get(":status"))
		// Every request goes on this one connection: that is what is tested.
		c.emit("response", map[string]any{"authority": origin, "status": status, "body": string(resp.Body), "sameConnection": true})
	}
	conn.GoAway(http2.ErrCodeNo, "")
	select {
	case <-conn.Done():
	case <-time.After(3 * time.Second):
		conn.Close()
	}
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

// awaitCertificates waits, at most cfg.Wait, until every fetch origin is
// proven (or, with -expect-invalid or no fetches, for the whole window)
// unless something was already caught.
func (c *client) awaitCertificates() {
	if !c.conn.Negotiated() && !c.cfg.ExpectInvalid {
		return // nothing the server sends now could be used
	}
	deadline := time.NewTimer(c.cfg.Wait)
	defer deadline.Stop()
	for !c.satisfied() {
		select {
		case <-c.changed:
		case <-c.conn.Done():
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

// ended maps the end of the connection to an exit code: a connection error
// we raised (GOAWAY sent) is a detection; anything else is a failure.
func (c *client) ended(cause error) int {
	select {
	case <-c.conn.Done():
	case <-time.After(3 * time.Second):
	}
	var ce *h2ext.Error
	if errors.As(c.conn.Err(), &ce) {
		c.emit("goaway", map[string]any{"code": uint32(ce.Code), "from": "client", "debug": ce.Reason})
		if ce.Code == c.cfg.Profile.Invalid {
			return ExitInvalid
		}
		return ExitProtocol
	}
	if cause == nil {
		cause = errors.New("the connection ended early")
	}
	return c.fail(cause)
}

// onCertificate handles a SERVER_CERTIFICATE frame (on Run's goroutine).
func (c *client) onCertificate(payload []byte, usable bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.signal()
	c.certCount++
	if c.certCount > maxCertificates {
		return &h2ext.Error{Code: http2.ErrCodeEnhanceYourCalm, Reason: "too many SERVER_CERTIFICATE frames"}
	}
	if !usable {
		// Not negotiated: never used for authority (digest section 2.3, our choice).
		c.ignored++
		c.emit("certificate", map[string]any{"valid": false, "ignored": true, "error": "not_negotiated"})
		return nil
	}
	res, err := c.validator.Validate(c.keys, payload, ea.Options{OfferedEntryExtensions: helloEntryExtensions})
	if err != nil {
		// Draft -02 section 6: a connection error of type SERVER_CERTIFICATE_INVALID.
		c.emit("certificate", map[string]any{"valid": false, "error": string(ea.KindOf(err)), "detail": err.Error()})
		return &h2ext.Error{Code: c.cfg.Profile.Invalid, Reason: err.Error()}
	}
	c.accept(res, "", "certificate", nil)
	return nil
}

// accept runs the PKIX and name checks on a validated identity; failing
// them is not a protocol error, the identity is just not used (draft -02
// section 6.2). c.mu must be held.
func (c *client) accept(res *ea.Result, wantHost, event string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	leaf := res.Chain[0]
	fields["names"] = ea.Names(leaf)
	fields["valid"] = false
	if err := ea.VerifyChain(res.Chain, c.cfg.Roots, x509.ExtKeyUsageServerAuth, time.Now()); err != nil {
		fields["error"], fields["detail"] = string(ea.KindUntrusted), err.Error()
	} else if wantHost != "" && !ea.Covers(leaf, wantHost) {
		fields["error"] = "name_mismatch"
	} else {
		fields["valid"] = true
		fields["scheme"] = res.Scheme.String()
		c.leaves = append(c.leaves, leaf)
	}
	c.emit(event, fields)
}

// optionsStar asks the server to prove origin with our OPTIONS * proposal
// (digest section 4.2): a ClientCertificateRequest naming the host, with a
// fresh context, sent under the authority the connection already has.
func (c *client) optionsStar(origin string) int {
	host := hostOnly(origin)
	if host == origin && c.cfg.Port != "" {
		origin = net.JoinHostPort(host, c.cfg.Port)
	}
	q, err := ea.NewRequest(ea.Client, ea.NewContext(), ea.SupportedSchemes, host)
	if err != nil {
		return c.fail(err)
	}
	request, err := q.Marshal()
	if err != nil {
		return c.fail(err)
	}
	resp, err := c.conn.RoundTrip([]hpack.HeaderField{
		{Name: ":method", Value: "OPTIONS"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: c.cfg.ServerName}, {Name: ":path", Value: "*"},
		{Name: "max-forwards", Value: "0"}, {Name: "content-type", Value: MediaRequest},
		{Name: FieldOrigin, Value: strconv.Quote("https://" + origin)},
	}, request, 5*time.Second)
	if err != nil {
		return c.ended(err)
	}
	status, _ := strconv.Atoi(resp.Get(":status"))
	fields := map[string]any{"authority": host, "status": status}
	if status != 200 || resp.Get("content-type") != MediaAuthenticator {
		fields["valid"], fields["contentType"] = false, resp.Get("content-type")
		c.emit("options", fields)
		return ExitOK
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	res, err := c.validator.Validate(c.keys, resp.Body, ea.Options{Request: request})
	switch {
	case ea.KindOf(err) == ea.KindEmpty:
		fields["valid"], fields["refused"] = false, true
		c.emit("options", fields)
		return ExitOK
	case err != nil:
		// No frame rule covers this; treating it like an invalid
		// SERVER_CERTIFICATE keeps one behaviour for every bad authenticator.
		fields["valid"], fields["error"], fields["detail"] = false, string(ea.KindOf(err)), err.Error()
		c.emit("options", fields)
		c.emit("goaway", map[string]any{"code": uint32(c.cfg.Profile.Invalid), "from": "client", "debug": err.Error()})
		c.conn.GoAway(c.cfg.Profile.Invalid, err.Error())
		return ExitInvalid
	}
	c.accept(res, host, "options", fields)
	return ExitOK
}
