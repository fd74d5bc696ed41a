// Package h3peer holds the Go HTTP/3 interop server and client: independent
// peers for the HTTP/3 half of secondary certificates (RFC 9261
// authenticators in SERVER_CERTIFICATE frames on the control stream). The
// HTTP/3 layer (RFC 9114 framing, a static-table-only QPACK of RFC 9204) is
// written here on raw quic-go streams; quic-go's own http3 package is not used.
package h3peer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Frame and stream types of RFC 9114.
const (
	FrameData        = 0x00
	FrameHeaders     = 0x01
	FrameCancelPush  = 0x03
	FrameSettings    = 0x04
	FramePushPromise = 0x05
	FrameGoAway      = 0x07
	FrameMaxPushID   = 0x0d

	StreamControl       = 0x00
	StreamPush          = 0x01
	StreamQPACKEncoder  = 0x02
	StreamQPACKDecoder  = 0x03
	SettingQPACKMaxCap  = 0x01
	SettingMaxFieldSize = 0x06
	SettingQPACKBlocked = 0x07
)

// Application error codes of RFC 9114 section 8.1 and RFC 9204 section 6.
const (
	ErrNoError               = 0x0100
	ErrGeneralProtocol       = 0x0101
	ErrInternal              = 0x0102
	ErrStreamCreation        = 0x0103
	ErrClosedCriticalStream  = 0x0104
	ErrFrameUnexpected       = 0x0105
	ErrFrame                 = 0x0106
	ErrExcessiveLoad         = 0x0107
	ErrID                    = 0x0108
	ErrSettings              = 0x0109
	ErrMissingSettings       = 0x010a
	ErrRequestIncomplete     = 0x010d
	ErrMessage               = 0x010e
	ErrQPACKDecompression    = 0x0200
	maxVarint                = 1<<62 - 1
	maxFramePayload          = 1 << 16 // control frames and field sections we accept
	maxCertificateFrameBytes = 1 << 16
)

// Profile holds the extension's provisional codepoints, which the harness
// may change to follow the draft.
type Profile struct {
	Setting uint64 // SETTINGS_HTTP_SERVER_CERT_AUTH
	Frame   uint64 // SERVER_CERTIFICATE
	Invalid uint64 // SERVER_CERTIFICATE_INVALID
}

// DefaultProfile is the draft's HTTP/3 codepoints as we use them now.
func DefaultProfile() Profile { return Profile{Setting: 0x5ec0, Frame: 0x5ec1, Invalid: 0x5ec2} }

// ParseNumber reads a decimal or 0x-prefixed number that fits a QUIC varint.
func ParseNumber(s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 64)
	if err != nil {
		return 0, err
	}
	if v > maxVarint {
		return 0, fmt.Errorf("%s does not fit a varint", s)
	}
	return v, nil
}

// Error is an HTTP/3 connection error: the code we close the connection with.
type Error struct {
	Code   uint64
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("h3 error 0x%x: %s", e.Code, e.Reason) }

func connErr(code uint64, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// isReserved reports the greased types and ids of RFC 9114 section 7.2.8
// and 11.2: 0x1f*N + 0x21.
func isReserved(v uint64) bool { return v >= 0x21 && (v-0x21)%0x1f == 0 }

// appendVarint encodes v as a QUIC variable-length integer (RFC 9000 section 16),
// using the shortest form.
func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v>>8)|0x40, byte(v))
	case v < 1<<30:
		return append(b, byte(v>>24)|0x80, byte(v>>16), byte(v>>8), byte(v))
	}
	return append(b, byte(v>>56)|0xc0, byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// readVarint reads one QUIC varint.
func readVarint(r io.ByteReader) (uint64, error) {
	first, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	n := 1 << (first >> 6)
	v := uint64(first & 0x3f)
	for i := 1; i < n; i++ {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		v = v<<8 | uint64(b)
	}
	return v, nil
}

// parseVarint reads a varint from the front of b.
func parseVarint(b []byte) (v uint64, rest []byte, ok bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, nil, false
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, b[n:], true
}

// appendFrame encodes one frame: type, length, payload.
func appendFrame(b []byte, typ uint64, payload []byte) []byte {
	b = appendVarint(b, typ)
	b = appendVarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// Setting is one SETTINGS parameter.
type Setting struct{ ID, Value uint64 }

func settingsPayload(settings []Setting) []byte {
	var p []byte
	for _, s := range settings {
		p = appendVarint(p, s.ID)
		p = appendVarint(p, s.Value)
	}
	return p
}

// parseSettings decodes a SETTINGS payload (RFC 9114 section 7.2.4): a
// repeated id, or an HTTP/2 setting id, is H3_SETTINGS_ERROR.
func parseSettings(p []byte) (map[uint64]uint64, error) {
	out := map[uint64]uint64{}
	for len(p) > 0 {
		id, rest, ok := parseVarint(p)
		if !ok {
			return nil, connErr(ErrFrame, "truncated SETTINGS")
		}
		val, rest, ok := parseVarint(rest)
		if !ok {
			return nil, connErr(ErrFrame, "truncated SETTINGS")
		}
		p = rest
		if _, dup := out[id]; dup {
			return nil, connErr(ErrSettings, "setting 0x%x repeated", id)
		}
		if id == 0x00 || (id >= 0x02 && id <= 0x05) {
			return nil, connErr(ErrSettings, "HTTP/2 setting 0x%x in HTTP/3 SETTINGS", id)
		}
		out[id] = val
	}
	return out, nil
}

// frameReader reads frames from one stream.
type frameReader struct {
	r *bufio.Reader
}

func newFrameReader(r io.Reader) *frameReader { return &frameReader{r: bufio.NewReader(r)} }

// errCleanEnd is the stream ending exactly between frames.
var errCleanEnd = errors.New("stream ended")

// next reads one frame's type and payload. Payloads over limit are an
// error; unknown frames are returned too, the caller skips them. A stream
// ending between frames gives errCleanEnd; ending inside one is H3_FRAME_ERROR.
func (fr *frameReader) next(limit int) (uint64, []byte, error) {
	typ, err := readVarint(fr.r)
	if err == io.EOF {
		return 0, nil, errCleanEnd
	}
	if err != nil {
		return 0, nil, truncated(err)
	}
	length, err := readVarint(fr.r)
	if err != nil {
		return 0, nil, truncated(err)
	}
	if length > uint64(limit) {
		// Skip what we will not hold, unless the caller must see it.
		if typ != FrameData && typ != FrameHeaders && typ != FrameSettings {
			if _, err := io.CopyN(io.Discard, fr.r, int64(length)); err != nil {
				return 0, nil, truncated(err)
			}
			return typ, nil, errSkippedLarge
		}
		return typ, nil, connErr(ErrExcessiveLoad, "frame 0x%x of %d bytes is over our limit", typ, length)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(fr.r, payload); err != nil {
		return 0, nil, truncated(err)
	}
	return typ, payload, nil
}

var errSkippedLarge = errors.New("large frame skipped")

// truncated maps a stream ending inside a frame to H3_FRAME_ERROR; other
// read errors (resets, the connection closing) pass through.
func truncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return connErr(ErrFrame, "stream ended inside a frame")
	}
	return err
}
