// Package h2ext is a small HTTP/2 connection (RFC 9113) for the interop
// peers: the preface and SETTINGS exchange, simple request/response streams,
// and the SETTINGS value and frame of draft-ietf-httpbis-secondary-server-certs.
// It sits on x/net/http2's Framer, which hands frame types it does not know
// back as *http2.UnknownFrame: that is how SERVER_CERTIFICATE arrives.
package h2ext

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"secondarycerts/interop/ea"
)

// Profile holds the codepoints, all unassigned by IANA, so all configurable.
type Profile struct {
	Setting http2.SettingID // SETTINGS_HTTP_SERVER_CERT_AUTH
	Frame   http2.FrameType // SERVER_CERTIFICATE
	Invalid http2.ErrCode   // SERVER_CERTIFICATE_INVALID
}

// DefaultProfile is the project's provisional experimental profile.
func DefaultProfile() Profile { return Profile{Setting: 0xf5ec, Frame: 0xf5, Invalid: 0x5ec0} }

// ParseNumber reads a flag value such as "0xf5" or "62956" that fits in bits.
func ParseNumber(s string, bits int) (uint64, error) { return strconv.ParseUint(s, 0, bits) }

// Error is a connection error: the connection sends GOAWAY with Code and closes.
type Error struct {
	Code   http2.ErrCode
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("h2ext: %v: %s", e.Code, e.Reason) }

func protocolError(format string, args ...any) error {
	return &Error{Code: http2.ErrCodeProtocol, Reason: fmt.Sprintf(format, args...)}
}

// Message is a whole request or response: decoded header fields and body.
type Message struct {
	StreamID uint32
	Header   []hpack.HeaderField
	Body     []byte
}

// Get returns the first value of a (lower-case) field or pseudo-header.
func (m *Message) Get(name string) string {
	for _, f := range m.Header {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Limits on what a peer may make us hold: our SETTINGS_MAX_FRAME_SIZE stays
// at the RFC 9113 default, and bodies are small in every exchange here.
const (
	maxFrameSize  = 16384
	maxBody       = 1 << 20
	clientPreface = http2.ClientPreface
)

type stream struct {
	msg  Message
	got  bool // final header block seen
	done chan struct{}
	err  error
}

// Conn is one HTTP/2 connection over TLS 1.3. Run reads frames; the On*
// callbacks run on Run's goroutine, so they see frames in order; set them
// before calling Run. Writes may come from any goroutine.
type Conn struct {
	TLS      *tls.Conn
	Profile  Profile
	IsServer bool

	// OnSettings runs after each SETTINGS frame from the peer (not ACKs).
	OnSettings func() error
	// OnServerCertificate runs for each SERVER_CERTIFICATE frame on stream 0.
	// usable is false when the feature is not negotiated: the frame must not
	// then be used for authority (digest section 2.3, our choice).
	OnServerCertificate func(authenticator []byte, usable bool) error
	// OnRequest runs on a server for each complete request.
	OnRequest func(req *Message) error
	// OnGoAway runs when the peer sends GOAWAY.
	OnGoAway func(code http2.ErrCode, debug string)

	fr *http2.Framer

	wmu         sync.Mutex // serialises writes and the HPACK encoder
	henc        *hpack.Encoder
	hbuf        bytes.Buffer
	writeClosed bool

	mu               sync.Mutex
	sentCertAuth     bool
	peerCertAuth     bool
	peerSettingsSeen bool
	peerMaxFrame     uint32
	peerGoneAway     bool
	streams          map[uint32]*stream
	nextStreamID     uint32 // client: next stream we open
	lastPeerStream   uint32 // server: highest stream the client opened
	pings            map[[8]byte]chan struct{}
	done             chan struct{}
	err              error
}

func newConn(t *tls.Conn, p Profile, server bool) *Conn {
	c := &Conn{TLS: t, Profile: p, IsServer: server, peerMaxFrame: maxFrameSize,
		streams: map[uint32]*stream{}, nextStreamID: 1, pings: map[[8]byte]chan struct{}{}, done: make(chan struct{})}
	c.fr = http2.NewFramer(t, t)
	c.fr.SetMaxReadFrameSize(maxFrameSize)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 64 << 10
	c.henc = hpack.NewEncoder(&c.hbuf)
	return c
}

// checkTLS insists on what RFC 9113 and RFC 9261 need here: h2 by ALPN and
// TLS 1.3 (EA on TLS 1.2 needs extended master secret, which Go cannot report).
func checkTLS(t *tls.Conn) error {
	cs := t.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		return errors.New("h2ext: TLS 1.3 was not negotiated")
	}
	if cs.NegotiatedProtocol != "h2" {
		return fmt.Errorf("h2ext: ALPN negotiated %q, not h2", cs.NegotiatedProtocol)
	}
	return nil
}

// TLSConfig returns cfg with what both peers must offer: TLS 1.3 and ALPN h2.
func TLSConfig(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	cfg.MinVersion = tls.VersionTLS13
	cfg.NextProtos = []string{"h2"}
	return cfg
}

// Client completes the TLS handshake on t, then sends the client preface and
// SETTINGS (with SETTINGS_HTTP_SERVER_CERT_AUTH=1 when advertise).
func Client(t *tls.Conn, p Profile, advertise bool) (*Conn, error) {
	if err := t.Handshake(); err != nil {
		return nil, err
	}
	if err := checkTLS(t); err != nil {
		return nil, err
	}
	c := newConn(t, p, false)
	if _, err := io.WriteString(t, clientPreface); err != nil {
		return nil, err
	}
	return c, c.writeSettings(advertise, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
}

// Server completes the TLS handshake on t (Go's server returns only after the
// client's Finished is verified, as RFC 9261 section 9 requires before any
// EA), reads the client preface and sends SETTINGS.
func Server(t *tls.Conn, p Profile, advertise bool) (*Conn, error) {
	if err := t.Handshake(); err != nil {
		return nil, err
	}
	if err := checkTLS(t); err != nil {
		return nil, err
	}
	buf := make([]byte, len(clientPreface))
	if _, err := io.ReadFull(t, buf); err != nil || string(buf) != clientPreface {
		return nil, errors.New("h2ext: bad client preface")
	}
	c := newConn(t, p, true)
	return c, c.writeSettings(advertise, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
}

func (c *Conn) writeSettings(advertise bool, extra ...http2.Setting) error {
	if advertise {
		extra = append(extra, http2.Setting{ID: c.Profile.Setting, Val: 1})
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if advertise {
		c.mu.Lock()
		c.sentCertAuth = true
		c.mu.Unlock()
	}
	return c.fr.WriteSettings(extra...)
}

// WriteRawSettings sends a SETTINGS frame as given, unchecked: negative tests
// use it to send values a correct peer never would.
func (c *Conn) WriteRawSettings(settings ...http2.Setting) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.fr.WriteSettings(settings...)
}

// AdvertiseCertAuth sends a further SETTINGS frame with the value 1.
func (c *Conn) AdvertiseCertAuth() error { return c.writeSettings(true) }

// Negotiated reports whether both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH=1.
func (c *Conn) Negotiated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sentCertAuth && c.peerCertAuth
}

// PeerCertAuth reports whether the peer sent the value 1.
func (c *Conn) PeerCertAuth() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerCertAuth
}

// Keys derives the RFC 9261 exporter values for authenticators made by
// creator, each as long as the negotiated suite's hash.
func (c *Conn) Keys(creator ea.Role) (ea.Keys, error) {
	cs := c.TLS.ConnectionState()
	return ea.ConnectionKeys(&cs, creator)
}

// WriteServerCertificate sends one SERVER_CERTIFICATE frame: one frame holds one
// whole authenticator, as no fragmentation exists (digest section 2.3). It
// takes any stream id and either role, so negative tests can misbehave.
func (c *Conn) WriteServerCertificate(streamID uint32, authenticator []byte) error {
	c.mu.Lock()
	max := c.peerMaxFrame
	c.mu.Unlock()
	if uint32(len(authenticator)) > max {
		return fmt.Errorf("h2ext: authenticator of %d bytes exceeds the peer's frame size %d", len(authenticator), max)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.fr.WriteRawFrame(c.Profile.Frame, 0, streamID, authenticator)
}

// writeMessage sends a header block and body on a stream; wmu must be held.
// Send-side flow control is not tracked: every body here is far below the
// 65,535-byte initial windows.
func (c *Conn) writeMessage(id uint32, fields []hpack.HeaderField, body []byte) error {
	c.mu.Lock()
	max := int(c.peerMaxFrame)
	c.mu.Unlock()
	c.hbuf.Reset()
	for _, f := range fields {
		if err := c.henc.WriteField(f); err != nil {
			return err
		}
	}
	block := c.hbuf.Bytes()
	first := block
	if len(first) > max {
		first = block[:max]
	}
	block = block[len(first):]
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first,
		EndStream: len(body) == 0, EndHeaders: len(block) == 0})
	for err == nil && len(block) > 0 {
		n := len(block)
		if n > max {
			n = max
		}
		err = c.fr.WriteContinuation(id, n == len(block), block[:n])
		block = block[n:]
	}
	for err == nil && len(body) > 0 {
		n := len(body)
		if n > max {
			n = max
		}
		err = c.fr.WriteData(id, n == len(body), body[:n])
		body = body[n:]
	}
	return err
}

// RoundTrip (client) sends a request on a new stream and waits for the response.
func (c *Conn) RoundTrip(fields []hpack.HeaderField, body []byte, timeout time.Duration) (*Message, error) {
	s := &stream{done: make(chan struct{})}
	c.wmu.Lock()
	c.mu.Lock()
	if c.writeClosed || c.peerGoneAway {
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, errors.New("h2ext: connection closed")
	}
	// Ids are taken under wmu so they reach the wire in increasing order.
	id := c.nextStreamID
	c.nextStreamID += 2
	s.msg.StreamID = id
	c.streams[id] = s
	c.mu.Unlock()
	err := c.writeMessage(id, fields, body)
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-s.done:
		if s.err != nil {
			return nil, s.err
		}
		return &s.msg, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("h2ext: no response on stream %d within %v", id, timeout)
	}
}

// Respond (server) answers a request stream with a status, fields and body.
func (c *Conn) Respond(streamID uint32, status int, fields []hpack.HeaderField, body []byte) error {
	all := append([]hpack.HeaderField{{Name: ":status", Value: strconv.Itoa(status)}}, fields...)
	all = append(all, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeMessage(streamID, all, body)
}

// Ping sends a PING and waits for its ACK. As the peer answers frames in
// order, the ACK also means it has processed everything we sent before.
func (c *Conn) Ping(timeout time.Duration) error {
	var data [8]byte
	rand.Read(data[:])
	ack := make(chan struct{})
	c.mu.Lock()
	c.pings[data] = ack
	c.mu.Unlock()
	c.wmu.Lock()
	err := c.fr.WritePing(false, data)
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-ack:
		return nil
	case <-c.done:
		return errors.New("h2ext: connection closed before PING ACK")
	case <-time.After(timeout):
		return errors.New("h2ext: no PING ACK")
	}
}

// GoAway sends GOAWAY with code and ends our side of the connection; Run
// keeps reading until the peer closes, so the peer gets to read the GOAWAY.
func (c *Conn) GoAway(code http2.ErrCode, debug string) {
	c.mu.Lock()
	last := c.lastPeerStream
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeClosed {
		return
	}
	c.writeClosed = true
	c.fr.WriteGoAway(last, code, []byte(debug))
	c.TLS.CloseWrite()
	// Bound how long the peer may keep us waiting for its close.
	c.TLS.SetReadDeadline(time.Now().Add(2 * time.Second))
}

// Done is closed when Run has returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil for a clean close), once Done is closed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Run reads and handles frames until the connection ends. A connection
// error (ours or a callback's *Error) is sent as GOAWAY before closing.
func (c *Conn) Run() error {
	err := c.readLoop()
	var ce *Error
	var h2ce http2.ConnectionError
	switch {
	case errors.As(err, &ce):
		c.GoAway(ce.Code, ce.Reason)
	case errors.As(err, &h2ce):
		c.GoAway(http2.ErrCode(h2ce), "")
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.GoAway(http2.ErrCodeFrameSize, "")
	default:
		if c.goneAway() || errors.Is(err, io.EOF) {
			err = nil // a close after GOAWAY, or a bare EOF, is the normal end
		}
	}
	if err != nil {
		io.Copy(io.Discard, c.TLS) // let the peer read our GOAWAY before we close
	}
	c.TLS.Close()
	c.mu.Lock()
	c.err = err
	for _, s := range c.streams {
		s.err = errors.New("h2ext: connection closed")
		close(s.done)
	}
	c.streams = map[uint32]*stream{}
	c.mu.Unlock()
	close(c.done)
	return err
}

// Close drops the connection at once (for timeouts); Run then returns.
func (c *Conn) Close() { c.TLS.Close() }

// goneAway reports whether either side has sent GOAWAY.
func (c *Conn) goneAway() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeClosed || c.peerGoneAway
}

func (c *Conn) readLoop() error {
	for {
		f, err := c.fr.ReadFrame()
		if se, ok := err.(http2.StreamError); ok {
			c.resetStream(se.StreamID, se.Code)
			continue
		}
		if err != nil {
			return err
		}
		c.mu.Lock()
		first := !c.peerSettingsSeen
		c.mu.Unlock()
		if sf, ok := f.(*http2.SettingsFrame); first && (!ok || sf.IsAck()) {
			return protocolError("the first frame is not SETTINGS") // RFC 9113 section 3.4
		}
		if err := c.handle(f); err != nil {
			return err
		}
	}
}

func (c *Conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.handleSettings(f)
	case *http2.MetaHeadersFrame:
		return c.handleHeaders(f)
	case *http2.DataFrame:
		return c.handleData(f)
	case *http2.PingFrame:
		if f.IsAck() {
			c.mu.Lock()
			if ch, ok := c.pings[f.Data]; ok {
				close(ch)
				delete(c.pings, f.Data)
			}
			c.mu.Unlock()
			return nil
		}
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.fr.WritePing(true, f.Data)
	case *http2.GoAwayFrame:
		if c.OnGoAway != nil {
			c.OnGoAway(f.ErrCode, string(f.DebugData()))
		}
		// Keep reading: responses to streams below the GOAWAY's last id may
		// still come, and the peer closes the transport when it is done.
		c.mu.Lock()
		c.peerGoneAway = true
		c.mu.Unlock()
		c.TLS.SetReadDeadline(time.Now().Add(2 * time.Second))
		return nil
	case *http2.RSTStreamFrame:
		c.finishStream(f.StreamID, fmt.Errorf("h2ext: stream reset with %v", f.ErrCode))
		return nil
	case *http2.PushPromiseFrame:
		return protocolError("PUSH_PROMISE although we disabled push")
	case *http2.UnknownFrame:
		return c.handleUnknown(f)
	}
	return nil // WINDOW_UPDATE and PRIORITY need nothing here
}

func (c *Conn) handleSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	c.peerSettingsSeen = true
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case c.Profile.Setting:
			// The draft only says "0 or 1" and "MUST NOT send 0 after 1";
			// treating violations as PROTOCOL_ERROR is our choice (digest 2.2).
			if s.Val > 1 {
				return protocolError("SETTINGS_HTTP_SERVER_CERT_AUTH=%d", s.Val)
			}
			if s.Val == 0 && c.peerCertAuth {
				return protocolError("SETTINGS_HTTP_SERVER_CERT_AUTH went from 1 to 0")
			}
			c.peerCertAuth = s.Val == 1
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		}
		return nil
	})
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.wmu.Lock()
	err = c.fr.WriteSettingsAck()
	c.wmu.Unlock()
	if err == nil && c.OnSettings != nil {
		err = c.OnSettings()
	}
	return err
}

func (c *Conn) handleUnknown(f *http2.UnknownFrame) error {
	if f.Type != c.Profile.Frame {
		return nil // unknown frame types are ignored (RFC 9113 section 5.5)
	}
	c.mu.Lock()
	knows, usable := c.sentCertAuth, c.sentCertAuth && c.peerCertAuth
	c.mu.Unlock()
	payload := append([]byte(nil), f.Payload()...)
	if !knows {
		// We never claimed to know this type, so to us it is unknown.
		if c.OnServerCertificate != nil {
			return c.OnServerCertificate(payload, false)
		}
		return nil
	}
	if c.IsServer {
		return protocolError("a client sent SERVER_CERTIFICATE") // draft -02 section 3.2
	}
	if f.StreamID != 0 {
		return protocolError("SERVER_CERTIFICATE on stream %d", f.StreamID) // draft -02 section 5.1
	}
	if c.OnServerCertificate != nil {
		return c.OnServerCertificate(payload, usable)
	}
	return nil
}

func (c *Conn) handleHeaders(f *http2.MetaHeadersFrame) error {
	if f.Truncated {
		c.resetStream(f.StreamID, http2.ErrCodeRefusedStream)
		return nil
	}
	id := f.StreamID
	c.mu.Lock()
	s := c.streams[id]
	if s == nil && c.IsServer {
		if id%2 == 0 || id <= c.lastPeerStream {
			c.mu.Unlock()
			return protocolError("HEADERS on stream %d, which the client cannot open", id)
		}
		c.lastPeerStream = id
		s = &stream{msg: Message{StreamID: id}, done: make(chan struct{})}
		c.streams[id] = s
	}
	c.mu.Unlock()
	if s == nil {
		return nil // a stream we already finished or reset
	}
	status := f.PseudoValue("status")
	switch {
	case s.got:
		// Trailers: not used here, only END_STREAM matters.
	case strings.HasPrefix(status, "1"):
		return nil // an informational response precedes the final one
	default:
		s.got = true
		s.msg.Header = append([]hpack.HeaderField(nil), f.Fields...)
	}
	if f.StreamEnded() {
		return c.completeStream(id)
	}
	return nil
}

func (c *Conn) handleData(f *http2.DataFrame) error {
	// Hand back the flow-control credit at once: bodies here are small and
	// bounded by maxBody, so the windows only need to stay open.
	if n := f.Length; n > 0 {
		c.wmu.Lock()
		c.fr.WriteWindowUpdate(0, n)
		if !f.StreamEnded() {
			c.fr.WriteWindowUpdate(f.StreamID, n)
		}
		c.wmu.Unlock()
	}
	c.mu.Lock()
	s := c.streams[f.StreamID]
	c.mu.Unlock()
	if s == nil || !s.got {
		if c.IsServer && s == nil {
			return &Error{Code: http2.ErrCodeStreamClosed, Reason: "DATA on a stream that is not open"}
		}
		return nil
	}
	if len(s.msg.Body)+len(f.Data()) > maxBody {
		c.resetStream(f.StreamID, http2.ErrCodeEnhanceYourCalm)
		return nil
	}
	s.msg.Body = append(s.msg.Body, f.Data()...)
	if f.StreamEnded() {
		return c.completeStream(f.StreamID)
	}
	return nil
}

// completeStream delivers a whole message: to OnRequest on a server, to the
// waiting RoundTrip on a client.
func (c *Conn) completeStream(id uint32) error {
	c.mu.Lock()
	s := c.streams[id]
	delete(c.streams, id)
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	if c.IsServer {
		if c.OnRequest != nil {
			return c.OnRequest(&s.msg)
		}
		return nil
	}
	close(s.done)
	return nil
}

func (c *Conn) finishStream(id uint32, err error) {
	c.mu.Lock()
	s := c.streams[id]
	delete(c.streams, id)
	c.mu.Unlock()
	if s != nil {
		s.err = err
		close(s.done)
	}
}

func (c *Conn) resetStream(id uint32, code http2.ErrCode) {
	c.finishStream(id, fmt.Errorf("h2ext: stream error %v", code))
	c.wmu.Lock()
	c.fr.WriteRSTStream(id, code)
	c.wmu.Unlock()
}
