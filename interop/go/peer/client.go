package peer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/h2ext"
	"secondarycerts/interop/peerkit"
)

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
	*peerkit.Session
	cfg  ClientConfig
	conn *h2ext.Conn
}

// RunClient connects, collects certificates, runs the OPTIONS * requests and
// fetches, printing events, and returns the process exit code (peerkit.Exit*).
func RunClient(cfg ClientConfig) int {
	c := &client{Session: peerkit.NewSession(cfg.Out, cfg.Roots), cfg: cfg}
	return c.Finish(c.run(), cfg.ExpectInvalid)
}

func (c *client) run() int {
	raw, err := net.DialTimeout("tcp", c.cfg.Addr, 5*time.Second)
	if err != nil {
		return c.Fail(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	tlsCfg := h2ext.TLSConfig(&tls.Config{ServerName: c.cfg.ServerName, RootCAs: c.cfg.Roots})
	conn, err := h2ext.Client(tls.Client(raw, tlsCfg), c.cfg.Profile, !c.cfg.Plain)
	if err != nil {
		raw.Close()
		return c.Fail(err)
	}
	raw.SetDeadline(time.Time{})
	c.conn = conn
	cs := conn.TLS.ConnectionState()
	if c.Keys, err = conn.Keys(ea.Server); err != nil {
		conn.Close()
		return c.Fail(err)
	}
	c.Prove(cs.PeerCertificates[0]) // verified by crypto/tls against -ca and SNI
	c.Emit("connected", map[string]any{"alpn": cs.NegotiatedProtocol, "cipher": tls.CipherSuiteName(cs.CipherSuite),
		"hash": ea.HashName(c.Keys.Hash), "names": ea.Names(cs.PeerCertificates[0])})

	conn.OnServerCertificate = c.onCertificate
	conn.OnSettings = func() error { c.Signal(); return nil }
	conn.OnGoAway = func(code http2.ErrCode, debug string) {
		c.Emit("goaway", map[string]any{"code": uint32(code), "from": "server", "debug": debug})
	}
	go conn.Run()
	defer time.AfterFunc(c.cfg.Timeout, conn.Close).Stop()

	// The server handles our SETTINGS before our PING, so after the ACK we
	// know its SETTINGS and have every frame it sent in answer to ours.
	if err := conn.Ping(5 * time.Second); err != nil {
		return c.ended(err)
	}
	c.Emit("settings", map[string]any{"peerCertAuth": conn.PeerCertAuth(), "negotiated": conn.Negotiated()})
	c.Await(conn.Done(), c.cfg.Wait, conn.Negotiated(), c.cfg.ExpectInvalid, c.cfg.Fetch)
	select {
	case <-conn.Done():
		return c.ended(nil)
	default:
	}
	for _, origin := range c.cfg.OptionsStar {
		if code := c.optionsStar(origin); code != peerkit.ExitOK {
			return code
		}
	}
	unproven := false
	for _, origin := range c.cfg.Fetch {
		if !c.Proven(origin) {
			c.Emit("unproven", map[string]any{"authority": origin})
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
		c.Emit("response", map[string]any{"authority": origin, "status": status, "body": string(resp.Body), "sameConnection": true})
	}
	conn.GoAway(http2.ErrCodeNo, "")
	select {
	case <-conn.Done():
	case <-time.After(3 * time.Second):
		conn.Close()
	}
	return c.Outcome(unproven)
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
		c.Emit("goaway", map[string]any{"code": uint32(ce.Code), "from": "client", "debug": ce.Reason})
		if ce.Code == c.cfg.Profile.Invalid {
			return peerkit.ExitInvalid
		}
		return peerkit.ExitProtocol
	}
	if cause == nil {
		cause = errors.New("the connection ended early")
	}
	return c.Fail(cause)
}

// onCertificate handles a SERVER_CERTIFICATE frame (on Run's goroutine).
func (c *client) onCertificate(payload []byte, usable bool) error {
	err := c.ServerCertificate(payload, usable)
	switch {
	case err == peerkit.ErrTooManyCertificates:
		return &h2ext.Error{Code: http2.ErrCodeEnhanceYourCalm, Reason: err.Error()}
	case err != nil:
		// Draft -02 section 6: a connection error of type SERVER_CERTIFICATE_INVALID.
		return &h2ext.Error{Code: c.cfg.Profile.Invalid, Reason: err.Error()}
	}
	return nil
}

// optionsStar asks the server to prove origin with our OPTIONS * proposal
// (digest section 4.2): a ClientCertificateRequest naming the host, with a
// fresh context, sent under the authority the connection already has.
func (c *client) optionsStar(origin string) int {
	host := peerkit.HostOnly(origin)
	if host == origin && c.cfg.Port != "" {
		origin = net.JoinHostPort(host, c.cfg.Port)
	}
	q, err := ea.NewRequest(ea.Client, ea.NewContext(), ea.SupportedSchemes, host)
	if err != nil {
		return c.Fail(err)
	}
	request, err := q.Marshal()
	if err != nil {
		return c.Fail(err)
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
		c.Emit("options", fields)
		return peerkit.ExitOK
	}
	err = c.Answer(request, resp.Body, host, "options", fields)
	switch {
	case err == nil:
		return peerkit.ExitOK
	case ea.KindOf(err) == ea.KindEmpty:
		fields["valid"], fields["refused"] = false, true
		c.Emit("options", fields)
		return peerkit.ExitOK
	}
	// No frame rule covers this; treating it like an invalid
	// SERVER_CERTIFICATE keeps one behaviour for every bad authenticator.
	fields["valid"], fields["error"], fields["detail"] = false, string(ea.KindOf(err)), err.Error()
	c.Emit("options", fields)
	c.Emit("goaway", map[string]any{"code": uint32(c.cfg.Profile.Invalid), "from": "client", "debug": err.Error()})
	c.conn.GoAway(c.cfg.Profile.Invalid, err.Error())
	return peerkit.ExitInvalid
}
