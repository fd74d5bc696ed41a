package h3peer

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peerkit"
)

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
	// ClientCert turns on client certificates at the HTTP layer (rosomakho-00, clientcert.go): we
	// advertise SETTINGS_HTTP_CLIENT_CERT_AUTH and answer the server's AUTHENTICATOR_REQUESTS with it.
	ClientCert *peerkit.Identity
}

type client struct {
	*peerkit.Session
	cfg ClientConfig
	h   *Conn
}

// RunClient connects, collects certificates, fetches the TLS name and the
// proven -fetch origins on the one connection, prints events, and returns
// the process exit code (peerkit.Exit*).
func RunClient(cfg ClientConfig) int {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	c := &client{Session: peerkit.NewSession(cfg.Out, cfg.Roots), cfg: cfg}
	c.ListOrigins = true
	return c.Finish(c.run(), cfg.ExpectInvalid)
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
		return c.Fail(fmt.Errorf("QUIC handshake with %s: %w", c.cfg.Addr, err))
	}
	c.h = NewConn(q, false, c.cfg.Profile, !c.cfg.Plain)
	cs := q.ConnectionState().TLS
	if c.Keys, err = c.h.Keys(ea.Server); err != nil {
		c.h.Fail(err)
		return c.Fail(err)
	}
	leaf := cs.PeerCertificates[0] // verified by the TLS stack against -ca and the server name
	c.Prove(leaf)
	c.Emit("connected", map[string]any{"alpn": cs.NegotiatedProtocol, "cipher": tls.CipherSuiteName(cs.CipherSuite),
		"hash": ea.HashName(c.Keys.Hash), "names": ea.Names(leaf)})

	c.h.OnServerCertificate = c.onCertificate
	if c.cfg.ClientCert != nil {
		c.h.ExtraSettings = append(c.h.ExtraSettings, Setting{SettingClientCertAuth, advertised})
		c.h.OnOtherFrame = (&clientAnswers{h: c.h, id: *c.cfg.ClientCert, emit: c.Emit}).onFrame
	}
	c.h.OnSettings = func() error {
		// Emitted here, before any frame after SETTINGS is handled.
		c.Emit("settings", map[string]any{"peerCertAuth": c.h.PeerCertAuth(), "negotiated": c.h.Negotiated()})
		c.Signal()
		return nil
	}
	c.h.OnGoAway = func(id uint64) { c.Emit("goaway", map[string]any{"id": id, "from": "server"}) }
	if err := c.h.Start(); err != nil {
		c.h.Fail(err)
		return c.Fail(err)
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
		return c.Fail(errors.New("no SETTINGS from the server"))
	}
	c.Await(c.h.Ended(), c.cfg.Wait, c.h.Negotiated(), c.cfg.ExpectInvalid, c.cfg.Fetch)
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
		if !c.Proven(origin) {
			c.Emit("unproven", map[string]any{"authority": origin})
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
		c.Emit("response", map[string]any{"authority": origin, "status": status, "body": string(resp.Body),
			"sha256": hex.EncodeToString(sum[:]), "sameConnection": true})
	}
	c.h.Close()
	return c.Outcome(unproven)
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

// ended maps the end of the connection to an exit code: an error we
// closed with is a detection; anything else is a failure.
func (c *client) ended(cause error) int {
	select {
	case <-c.h.Ended():
	case <-time.After(3 * time.Second):
	}
	if le := c.h.LocalError(); le != nil && le.Code != ErrNoError {
		c.Emit("close", map[string]any{"code": le.Code, "from": "client", "reason": le.Reason})
		if le.Code == c.cfg.Profile.Invalid {
			return peerkit.ExitInvalid
		}
		return peerkit.ExitProtocol
	}
	select {
	case <-c.h.Ended():
		if ae, ok := RemoteClose(c.h.EndError()); ok {
			c.Emit("close", map[string]any{"code": uint64(ae.ErrorCode), "from": "server", "reason": ae.ErrorMessage})
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
	return c.Fail(cause)
}

// onCertificate handles a SERVER_CERTIFICATE frame (on the control stream's goroutine).
func (c *client) onCertificate(payload []byte, usable bool) error {
	err := c.ServerCertificate(payload, usable)
	switch {
	case err == peerkit.ErrTooManyCertificates:
		return connErr(ErrExcessiveLoad, "%v", err)
	case err != nil:
		// The draft: close the connection with SERVER_CERTIFICATE_INVALID.
		return &Error{Code: c.cfg.Profile.Invalid, Reason: err.Error()}
	}
	return nil
}
