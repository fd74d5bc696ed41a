package h3peer

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// Field is one header or pseudo-header field.
type Field struct{ Name, Value string }

// Fields is a decoded field section.
type Fields []Field

// Get returns the first value of name, or "".
func (fs Fields) Get(name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// staticTable is the QPACK static table, RFC 9204 Appendix A (index = position).
var staticTable = [...]Field{
	{":authority", ""}, {":path", "/"}, {"age", "0"}, {"content-disposition", ""},
	{"content-length", "0"}, {"cookie", ""}, {"date", ""}, {"etag", ""},
	{"if-modified-since", ""}, {"if-none-match", ""}, {"last-modified", ""}, {"link", ""},
	{"location", ""}, {"referer", ""}, {"set-cookie", ""},
	{":method", "CONNECT"}, {":method", "DELETE"}, {":method", "GET"}, {":method", "HEAD"},
	{":method", "OPTIONS"}, {":method", "POST"}, {":method", "PUT"},
	{":scheme", "http"}, {":scheme", "https"},
	{":status", "103"}, {":status", "200"}, {":status", "304"}, {":status", "404"}, {":status", "503"},
	{"accept", "*/*"}, {"accept", "application/dns-message"},
	{"accept-encoding", "gzip, deflate, br"}, {"accept-ranges", "bytes"},
	{"access-control-allow-headers", "cache-control"}, {"access-control-allow-headers", "content-type"},
	{"access-control-allow-origin", "*"},
	{"cache-control", "max-age=0"}, {"cache-control", "max-age=2592000"}, {"cache-control", "max-age=604800"},
	{"cache-control", "no-cache"}, {"cache-control", "no-store"}, {"cache-control", "public, max-age=31536000"},
	{"content-encoding", "br"}, {"content-encoding", "gzip"},
	{"content-type", "application/dns-message"}, {"content-type", "application/javascript"},
	{"content-type", "application/json"}, {"content-type", "application/x-www-form-urlencoded"},
	{"content-type", "image/gif"}, {"content-type", "image/jpeg"}, {"content-type", "image/png"},
	{"content-type", "text/css"}, {"content-type", "text/html; charset=utf-8"},
	{"content-type", "text/plain"}, {"content-type", "text/plain;charset=utf-8"},
	{"range", "bytes=0-"},
	{"strict-transport-security", "max-age=31536000"},
	{"strict-transport-security", "max-age=31536000; includesubdomains"},
	{"strict-transport-security", "max-age=31536000; includesubdomains; preload"},
	{"vary", "accept-encoding"}, {"vary", "origin"},
	{"x-content-type-options", "nosniff"}, {"x-xss-protection", "1; mode=block"},
	{":status", "100"}, {":status", "204"}, {":status", "206"}, {":status", "302"},
	{":status", "400"}, {":status", "403"}, {":status", "421"}, {":status", "425"}, {":status", "500"},
	{"accept-language", ""},
	{"access-control-allow-credentials", "FALSE"}, {"access-control-allow-credentials", "TRUE"},
	{"access-control-allow-headers", "*"},
	{"access-control-allow-methods", "get"}, {"access-control-allow-methods", "get, post, options"},
	{"access-control-allow-methods", "options"},
	{"access-control-expose-headers", "content-length"},
	{"access-control-request-headers", "content-type"},
	{"access-control-request-method", "get"}, {"access-control-request-method", "post"},
	{"alt-svc", "clear"}, {"authorization", ""},
	{"content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"},
	{"early-data", "1"}, {"expect-ct", ""}, {"forwarded", ""}, {"if-range", ""}, {"origin", ""},
	{"purpose", "prefetch"}, {"server", ""}, {"timing-allow-origin", "*"},
	{"upgrade-insecure-requests", "1"}, {"user-agent", ""}, {"x-forwarded-for", ""},
	{"x-frame-options", "deny"}, {"x-frame-options", "sameorigin"},
}

// appendPrefixInt encodes v with an n-bit prefix (RFC 7541 section 5.1);
// first holds the bits above the prefix.
func appendPrefixInt(b []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	v -= max
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

var errQPACK = errors.New("malformed field section")

// parsePrefixInt decodes an n-bit-prefix integer at the front of b.
func parsePrefixInt(b []byte, n uint) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errQPACK
	}
	max := uint64(1)<<n - 1
	v := uint64(b[0]) & max
	b = b[1:]
	if v < max {
		return v, b, nil
	}
	for shift := uint(0); ; shift += 7 {
		if len(b) == 0 || shift > 56 {
			return 0, nil, errQPACK
		}
		c := b[0]
		b = b[1:]
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, b, nil
		}
	}
}

// parseString decodes a string literal whose length has an n-bit prefix
// and whose Huffman flag is the bit just above it.
func parseString(b []byte, n uint) (string, []byte, error) {
	if len(b) == 0 {
		return "", nil, errQPACK
	}
	huffman := b[0]&(1<<n) != 0
	length, rest, err := parsePrefixInt(b, n)
	if err != nil || uint64(len(rest)) < length {
		return "", nil, errQPACK
	}
	raw := rest[:length]
	rest = rest[length:]
	if !huffman {
		return string(raw), rest, nil
	}
	s, err := hpack.HuffmanDecodeToString(raw)
	if err != nil {
		return "", nil, fmt.Errorf("%w: huffman: %v", errQPACK, err)
	}
	return s, rest, nil
}

// EncodeFields makes a QPACK field section that uses no dynamic table:
// prefix 0x00 0x00, then each field as an indexed static line when the
// table has the exact pair, else a literal with a literal name (no Huffman).
func EncodeFields(fields Fields) []byte {
	out := []byte{0x00, 0x00}
	for _, f := range fields {
		if i := staticIndex(f); i >= 0 {
			out = appendPrefixInt(out, 0xc0, 6, uint64(i)) // 11xxxxxx: indexed, static
			continue
		}
		out = appendPrefixInt(out, 0x20, 3, uint64(len(f.Name))) // 001NH: literal name, N=0, H=0
		out = append(out, f.Name...)
		out = appendPrefixInt(out, 0x00, 7, uint64(len(f.Value))) // H=0
		out = append(out, f.Value...)
	}
	return out
}

func staticIndex(f Field) int {
	for i, s := range staticTable {
		if s == f {
			return i
		}
	}
	return -1
}

// DecodeFields decodes a field section. We announce a dynamic table
// capacity of 0, so any dynamic reference (or non-zero Required Insert
// Count) is a decompression failure (RFC 9204 section 4.5.1.1).
func DecodeFields(b []byte) (Fields, error) {
	ric, b, err := parsePrefixInt(b, 8)
	if err != nil {
		return nil, err
	}
	if ric != 0 {
		return nil, fmt.Errorf("%w: Required Insert Count %d with no dynamic table", errQPACK, ric)
	}
	if _, b, err = parsePrefixInt(b, 7); err != nil { // sign bit and Delta Base: meaningless here
		return nil, err
	}
	var out Fields
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // 1Txxxxxx indexed field line
			if c&0x40 == 0 {
				return nil, fmt.Errorf("%w: dynamic table reference", errQPACK)
			}
			var i uint64
			if i, b, err = parsePrefixInt(b, 6); err != nil {
				return nil, err
			}
			if i >= uint64(len(staticTable)) {
				return nil, fmt.Errorf("%w: static index %d", errQPACK, i)
			}
			out = append(out, staticTable[i])
		case c&0xc0 == 0x40: // 01NTxxxx literal with name reference
			if c&0x10 == 0 {
				return nil, fmt.Errorf("%w: dynamic name reference", errQPACK)
			}
			var i uint64
			if i, b, err = parsePrefixInt(b, 4); err != nil {
				return nil, err
			}
			if i >= uint64(len(staticTable)) {
				return nil, fmt.Errorf("%w: static index %d", errQPACK, i)
			}
			var v string
			if v, b, err = parseString(b, 7); err != nil {
				return nil, err
			}
			out = append(out, Field{staticTable[i].Name, v})
		case c&0xe0 == 0x20: // 001NHxxx literal with literal name
			var name, v string
			if name, b, err = parseString(b, 3); err != nil {
				return nil, err
			}
			if v, b, err = parseString(b, 7); err != nil {
				return nil, err
			}
			out = append(out, Field{name, v})
		default: // 0001xxxx and 0000xxxx: post-base references, dynamic only
			return nil, fmt.Errorf("%w: post-base reference", errQPACK)
		}
	}
	return out, nil
}

// checkRequest applies the RFC 9114 section 4.3.1 rules we rely on:
// lower-case names, pseudo-headers first and known, one each, and
// :method, :scheme, :path present (CONNECT is not served).
func checkFields(fs Fields, request bool) error {
	allowed := map[string]bool{":status": !request, ":method": request, ":scheme": request,
		":authority": request, ":path": request}
	seen := map[string]bool{}
	regular := false
	for _, f := range fs {
		if f.Name == "" || strings.ToLower(f.Name) != f.Name {
			return fmt.Errorf("field name %q is not lower case", f.Name)
		}
		if strings.HasPrefix(f.Name, ":") {
			if regular || !allowed[f.Name] || seen[f.Name] {
				return fmt.Errorf("pseudo-header %s misplaced, unknown or repeated", f.Name)
			}
			seen[f.Name] = true
		} else {
			regular = true
		}
	}
	if request && !(seen[":method"] && seen[":scheme"] && seen[":path"]) {
		return errors.New("request lacks :method, :scheme or :path")
	}
	if !request && !seen[":status"] {
		return errors.New("response lacks :status")
	}
	return nil
}
