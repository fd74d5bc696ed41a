package ea

// reader walks TLS presentation-language data. It never trusts a length: any
// read past the end sets bad and returns zero values, so callers check once.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uint(size int) int {
	v := r.take(size)
	n := 0
	for _, c := range v {
		n = n<<8 | int(c)
	}
	return n
}

func (r *reader) u8() int  { return r.uint(1) }
func (r *reader) u16() int { return r.uint(2) }

// vec reads an opaque vector whose length prefix has lenSize bytes and checks
// the RFC's minimum length.
func (r *reader) vec(lenSize, min int) []byte {
	n := r.uint(lenSize)
	if !r.bad && n < min {
		r.bad = true
		return nil
	}
	return r.take(n)
}

func (r *reader) done() bool { return !r.bad && len(r.b) == 0 }

// writer appends TLS presentation-language data; an oversize vector sets bad.
type writer struct {
	b   []byte
	bad bool
}

func (w *writer) uint(size int, v int) {
	if v < 0 || (size < 4 && v >= 1<<(8*size)) {
		w.bad = true
		return
	}
	for i := size - 1; i >= 0; i-- {
		w.b = append(w.b, byte(v>>(8*i)))
	}
}

func (w *writer) u8(v int)  { w.uint(1, v) }
func (w *writer) u16(v int) { w.uint(2, v) }

func (w *writer) vec(lenSize int, data []byte) {
	w.uint(lenSize, len(data))
	w.b = append(w.b, data...)
}

// Handshake message types used by RFC 9261 (RFC 8446 section 4, RFC 9261 section 8.3).
const (
	TypeCertificate              = 11
	TypeCertificateRequest       = 13
	TypeCertificateVerify        = 15
	TypeClientCertificateRequest = 17
	TypeFinished                 = 20
)

// frame puts the 4-byte handshake header (type, uint24 length) before body.
func frame(msgType int, body []byte) ([]byte, error) {
	w := writer{b: make([]byte, 0, 4+len(body))}
	w.u8(msgType)
	w.vec(3, body)
	if w.bad {
		return nil, fail(KindMalformed, "handshake message of type %d too long", msgType)
	}
	return w.b, nil
}

// handshakeMessage is one framed message cut from a byte string.
type handshakeMessage struct {
	Type int
	Body []byte
	Raw  []byte // header and body, exactly as received
}

// splitMessages cuts b into framed handshake messages with nothing left over.
func splitMessages(b []byte) ([]handshakeMessage, error) {
	var out []handshakeMessage
	for len(b) > 0 {
		r := reader{b: b}
		t := r.u8()
		body := r.vec(3, 0)
		if r.bad {
			return nil, fail(KindMalformed, "truncated handshake message")
		}
		n := len(b) - len(r.b)
		out = append(out, handshakeMessage{Type: t, Body: body, Raw: b[:n:n]})
		b = r.b
	}
	return out, nil
}
