package h3peer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/ea"
)

// ALPN is the only protocol we speak.
const ALPN = "h3"

// Conn is the HTTP/3 layer of one QUIC connection: the two control
// streams, the QPACK streams (drained; we use no dynamic table), and the
// extension's SETTINGS value and frame.
type Conn struct {
	Q         quic.Connection
	server    bool
	profile   Profile
	advertise bool // we send SETTINGS_HTTP_SERVER_CERT_AUTH = 1

	// Set before Start; each runs on the control stream's reader goroutine.
	OnSettings          func() error
	OnServerCertificate func(payload []byte, usable bool) error // client side
	OnGoAway            func(id uint64)
	// OnOtherFrame gets the control-stream frames of types nothing above handles (the client-certificate
	// frames, say); nil ignores them, as RFC 9114 section 9 asks for unknown types.
	OnOtherFrame func(typ uint64, payload []byte) error
	Logf                func(format string, args ...any) // notes worth a log line; nil discards
	// Test hooks: extra SETTINGS and bytes written after them.
	ExtraSettings []Setting
	AfterSettings []byte

	ctrlMu sync.Mutex
	ctrl   quic.SendStream

	mu           sync.Mutex
	peerSettings map[uint64]uint64
	settingsCh   chan struct{}
	uniSeen      map[uint64]bool // control and QPACK stream types already opened by the peer

	endOnce  sync.Once
	ended    chan struct{}
	endErr   error  // what ended the connection
	localErr *Error // the error we closed with, if we did
}

// NewConn wraps an established QUIC connection; call Start next.
func NewConn(q quic.Connection, server bool, profile Profile, advertise bool) *Conn {
	return &Conn{Q: q, server: server, profile: profile, advertise: advertise,
		settingsCh: make(chan struct{}), uniSeen: map[uint64]bool{}, ended: make(chan struct{})}
}

// Start opens our control stream, sends SETTINGS, and starts reading the
// peer's unidirectional streams.
func (c *Conn) Start() error {
	s, err := c.Q.OpenUniStream()
	if err != nil {
		return err
	}
	settings := []Setting{{greaseValue(), greaseValue() & 0xffff}} // RFC 9114 section 7.2.4.1: ignored by peers
	if c.advertise {
		settings = append(settings, Setting{c.profile.Setting, 1})
	}
	settings = append(settings, c.ExtraSettings...)
	b := appendVarint(nil, StreamControl)
	b = appendFrame(b, FrameSettings, settingsPayload(settings))
	b = appendFrame(b, greaseValue(), []byte("grease")) // a reserved frame type: ignored
	b = append(b, c.AfterSettings...)
	c.ctrlMu.Lock()
	c.ctrl = s
	_, err = s.Write(b)
	c.ctrlMu.Unlock()
	if err != nil {
		return err
	}
	go c.acceptUni()
	return nil
}

func (c *Conn) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// greaseValue is a random reserved type or id, 0x1f*N + 0x21.
func greaseValue() uint64 {
	var b [1]byte
	rand.Read(b[:])
	return 0x1f*uint64(b[0]) + 0x21
}

// WriteControlFrame sends one frame on our control stream.
func (c *Conn) WriteControlFrame(typ uint64, payload []byte) error {
	c.ctrlMu.Lock()
	defer c.ctrlMu.Unlock()
	_, err := c.ctrl.Write(appendFrame(nil, typ, payload))
	return err
}

// WriteServerCertificate sends a SERVER_CERTIFICATE frame on the control stream.
func (c *Conn) WriteServerCertificate(authenticator []byte) error {
	return c.WriteControlFrame(c.profile.Frame, authenticator)
}

// Settings waits for the peer's SETTINGS (or the connection's end) and returns them.
func (c *Conn) Settings() (map[uint64]uint64, bool) {
	select {
	case <-c.settingsCh:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.peerSettings, true
	case <-c.ended:
		return nil, false
	}
}

// SettingsArrived is closed once the peer's SETTINGS has been read.
func (c *Conn) SettingsArrived() <-chan struct{} { return c.settingsCh }

// PeerCertAuth reports whether the peer sent the setting with value 1.
func (c *Conn) PeerCertAuth() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerSettings != nil && c.peerSettings[c.profile.Setting] == 1
}

// Negotiated: both sides sent the setting with value 1 (draft section 3.2).
func (c *Conn) Negotiated() bool { return c.advertise && c.PeerCertAuth() }

// Keys derives creator's RFC 9261 exporter values from the QUIC TLS handshake.
func (c *Conn) Keys(creator ea.Role) (ea.Keys, error) {
	tlsState := c.Q.ConnectionState().TLS
	if !tlsState.HandshakeComplete {
		return ea.Keys{}, errors.New("handshake not complete")
	}
	h, err := ea.HashForSuite(tlsState.CipherSuite)
	if err != nil {
		return ea.Keys{}, err
	}
	return ea.DeriveKeys(tlsState.ExportKeyingMaterial, h, creator)
}

// Fail closes the connection with err's code (H3_INTERNAL_ERROR for errors
// that are not *Error). Only the first call counts.
func (c *Conn) Fail(err error) {
	var he *Error
	if !errors.As(err, &he) {
		he = connErr(ErrInternal, "%v", err)
	}
	c.mu.Lock()
	first := c.localErr == nil
	if first {
		c.localErr = he
	}
	c.mu.Unlock()
	if first {
		c.Q.CloseWithError(quic.ApplicationErrorCode(he.Code), he.Reason)
	}
}

// Close ends the connection cleanly with H3_NO_ERROR.
func (c *Conn) Close() { c.Fail(&Error{Code: ErrNoError}) }

// LocalError is the error we closed with, or nil.
func (c *Conn) LocalError() *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localErr
}

// Ended is closed when the connection is gone; EndError says why.
func (c *Conn) Ended() <-chan struct{} { return c.ended }

func (c *Conn) EndError() error {
	<-c.ended
	return c.endErr
}

// RemoteClose returns the application error code the peer closed with.
func RemoteClose(err error) (*quic.ApplicationError, bool) {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote {
		return ae, true
	}
	return nil, false
}

func (c *Conn) end(err error) {
	c.endOnce.Do(func() {
		c.endErr = err
		close(c.ended)
	})
}

// acceptUni accepts the peer's unidirectional streams until the connection ends.
func (c *Conn) acceptUni() {
	for {
		s, err := c.Q.AcceptUniStream(context.Background())
		if err != nil {
			c.end(err)
			return
		}
		go c.handleUni(s)
	}
}

// handleUni dispatches on the stream type (RFC 9114 section 6.2).
func (c *Conn) handleUni(s quic.ReceiveStream) {
	fr := newFrameReader(s)
	typ, err := readVarint(fr.r)
	if err != nil {
		return // reset or closed before its type: nothing to do
	}
	switch typ {
	case StreamControl, StreamQPACKEncoder, StreamQPACKDecoder:
		c.mu.Lock()
		dup := c.uniSeen[typ]
		c.uniSeen[typ] = true
		c.mu.Unlock()
		if dup {
			c.Fail(connErr(ErrStreamCreation, "second stream of type 0x%x", typ))
			return
		}
		if typ == StreamControl {
			c.readControl(fr)
			return
		}
		// Capacity 0 on both sides: nothing useful can arrive; drain it.
		io.Copy(io.Discard, fr.r)
	case StreamPush:
		if c.server {
			c.Fail(connErr(ErrStreamCreation, "a client opened a push stream"))
		} else {
			c.Fail(connErr(ErrID, "push stream without MAX_PUSH_ID"))
		}
	default:
		// Unknown or reserved type: abort reading (RFC 9114 section 6.2).
		s.CancelRead(quic.StreamErrorCode(ErrStreamCreation))
	}
}

// readControl reads the peer's control stream: SETTINGS first, then
// GOAWAY, the extension frame, and ignored unknown frames.
func (c *Conn) readControl(fr *frameReader) {
	err := c.controlLoop(fr)
	select {
	case <-c.Q.Context().Done():
		return // the connection is closing anyway
	default:
	}
	var he *Error
	var se *quic.StreamError
	switch {
	case errors.As(err, &he):
		c.Fail(he)
	case err == errCleanEnd || errors.As(err, &se):
		how := "ended"
		if se != nil {
			how = fmt.Sprintf("was reset with 0x%x", uint64(se.ErrorCode))
		}
		// Some stacks reset every stream just before their CONNECTION_CLOSE,
		// and the two can arrive together: give the close a moment to land.
		select {
		case <-c.Q.Context().Done():
			c.logf("the peer's control stream %s just before the connection closed", how)
			return
		case <-time.After(250 * time.Millisecond):
		}
		c.Fail(connErr(ErrClosedCriticalStream, "the control stream %s", how))
	}
	// Anything else is the connection itself failing: acceptUni sees it too.
}

func (c *Conn) controlLoop(fr *frameReader) error {
	typ, payload, err := fr.next(maxFramePayload)
	if err != nil {
		return err
	}
	if typ != FrameSettings {
		return connErr(ErrMissingSettings, "control stream began with frame 0x%x", typ)
	}
	settings, err := parseSettings(payload)
	if err != nil {
		return err
	}
	if v, ok := settings[c.profile.Setting]; ok && v > 1 {
		return connErr(ErrSettings, "SETTINGS_HTTP_SERVER_CERT_AUTH = %d", v)
	}
	c.mu.Lock()
	c.peerSettings = settings
	c.mu.Unlock()
	close(c.settingsCh)
	if c.OnSettings != nil {
		if err := c.OnSettings(); err != nil {
			return err
		}
	}
	for {
		typ, payload, err := fr.next(maxFramePayload)
		if err == errSkippedLarge {
			if typ == c.profile.Frame {
				return connErr(ErrExcessiveLoad, "SERVER_CERTIFICATE over %d bytes", maxFramePayload)
			}
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case typ == c.profile.Frame:
			if c.server {
				return connErr(ErrFrameUnexpected, "SERVER_CERTIFICATE from a client")
			}
			if c.OnServerCertificate != nil {
				if err := c.OnServerCertificate(payload, c.Negotiated()); err != nil {
					return err
				}
			}
		case typ == FrameSettings:
			return connErr(ErrFrameUnexpected, "second SETTINGS")
		case typ == FrameData || typ == FrameHeaders || typ == FramePushPromise || isHTTP2Only(typ):
			return connErr(ErrFrameUnexpected, "frame 0x%x on the control stream", typ)
		case typ == FrameGoAway:
			id, rest, ok := parseVarint(payload)
			if !ok || len(rest) != 0 {
				return connErr(ErrFrame, "malformed GOAWAY")
			}
			if c.OnGoAway != nil {
				c.OnGoAway(id)
			}
		case typ == FrameMaxPushID && !c.server:
			return connErr(ErrFrameUnexpected, "MAX_PUSH_ID from a server")
		case c.OnOtherFrame != nil:
			if err := c.OnOtherFrame(typ, payload); err != nil {
				return err
			}
		}
		// CANCEL_PUSH, MAX_PUSH_ID (we never push), reserved and unknown frames: ignored.
	}
}

// isHTTP2Only: frame types reserved because they exist only in HTTP/2
// (RFC 9114 section 7.2.8); receiving one is H3_FRAME_UNEXPECTED.
func isHTTP2Only(typ uint64) bool {
	return typ == 0x02 || typ == 0x06 || typ == 0x08 || typ == 0x09
}

// Message is a decoded request or response.
type Message struct {
	Fields Fields
	Body   []byte
}

// readMessage reads HEADERS, DATA and trailers until the stream's FIN.
// Interim (1xx) responses are skipped. A SERVER_CERTIFICATE here is
// H3_FRAME_UNEXPECTED (the frame belongs on the control stream only).
func (c *Conn) readMessage(fr *frameReader, request bool) (*Message, error) {
	var m *Message
	trailers := false
	for {
		typ, payload, err := fr.next(maxFramePayload)
		if err == errSkippedLarge {
			if typ == c.profile.Frame {
				return nil, connErr(ErrFrameUnexpected, "SERVER_CERTIFICATE on a request stream")
			}
			continue
		}
		if err == errCleanEnd {
			if m == nil {
				return nil, connErr(ErrRequestIncomplete, "stream ended before HEADERS")
			}
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		switch {
		case typ == FrameHeaders:
			if trailers {
				return nil, connErr(ErrFrameUnexpected, "HEADERS after trailers")
			}
			fields, err := DecodeFields(payload)
			if err != nil {
				return nil, connErr(ErrQPACKDecompression, "%v", err)
			}
			if m != nil {
				trailers = true // ignored
				continue
			}
			if err := checkFields(fields, request); err != nil {
				return nil, connErr(ErrMessage, "%v", err)
			}
			if status := fields.Get(":status"); !request && len(status) == 3 && status[0] == '1' {
				continue // interim response
			}
			m = &Message{Fields: fields}
		case typ == FrameData:
			if m == nil || trailers {
				return nil, connErr(ErrFrameUnexpected, "DATA outside a message body")
			}
			m.Body = append(m.Body, payload...)
		case typ == c.profile.Frame:
			return nil, connErr(ErrFrameUnexpected, "SERVER_CERTIFICATE on a request stream")
		case typ == FramePushPromise && !request:
			return nil, connErr(ErrID, "PUSH_PROMISE without MAX_PUSH_ID")
		case typ == FrameSettings || typ == FrameGoAway || typ == FrameMaxPushID ||
			typ == FrameCancelPush || typ == FramePushPromise || isHTTP2Only(typ):
			return nil, connErr(ErrFrameUnexpected, "frame 0x%x on a request stream", typ)
		}
	}
}

// writeMessage sends HEADERS, one DATA frame if body is not empty, and FIN.
func writeMessage(s quic.SendStream, fields Fields, body []byte, extra []byte) error {
	b := append([]byte(nil), extra...)
	b = appendFrame(b, FrameHeaders, EncodeFields(fields))
	if len(body) > 0 {
		b = appendFrame(b, FrameData, body)
	}
	if _, err := s.Write(b); err != nil {
		return err
	}
	return s.Close()
}

// streamFail turns a request stream's read error into what to do: an
// *Error closes the connection, anything else is the connection ending or
// the stream being reset.
func (c *Conn) streamFail(err error) error {
	var he *Error
	if errors.As(err, &he) {
		c.Fail(he)
		return he
	}
	return fmt.Errorf("stream: %w", err)
}
