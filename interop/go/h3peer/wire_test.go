package h3peer

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/marten-seemann/qpack"
	"golang.org/x/net/http2/hpack"
)

func TestVarintsFromRFC9000Examples(t *testing.T) {
	cases := []struct {
		hex string
		v   uint64
	}{
		{"c2197c5eff14e88c", 151288809941952652}, {"9d7f3e7d", 494878333},
		{"7bbd", 15293}, {"25", 37}, {"4025", 37},
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.hex)
		v, rest, ok := parseVarint(b)
		if !ok || v != c.v || len(rest) != 0 {
			t.Fatalf("%s: %d %v", c.hex, v, ok)
		}
		got, err := readVarint(bytes.NewReader(b))
		if err != nil || got != c.v {
			t.Fatalf("%s: readVarint %d %v", c.hex, got, err)
		}
		if c.hex != "4025" { // the only non-minimal example
			if enc := hex.EncodeToString(appendVarint(nil, c.v)); enc != c.hex {
				t.Fatalf("%d encoded as %s", c.v, enc)
			}
		}
	}
}

func TestReservedValues(t *testing.T) {
	for _, v := range []uint64{0x21, 0x40, 0x21 + 0x1f*1000} {
		if !isReserved(v) {
			t.Fatalf("0x%x should be reserved", v)
		}
	}
	for _, v := range []uint64{0x00, 0x20, 0x22, 0x5ec0, 0x5ec1} {
		if isReserved(v) {
			t.Fatalf("0x%x should not be reserved", v)
		}
	}
}

func TestSettingsRules(t *testing.T) {
	good := settingsPayload([]Setting{{0x5ec0, 1}, {0x21, 7}, {SettingQPACKMaxCap, 0}})
	m, err := parseSettings(good)
	if err != nil || m[0x5ec0] != 1 || m[0x21] != 7 || len(m) != 3 {
		t.Fatalf("%v %v", m, err)
	}
	for name, p := range map[string][]byte{
		"repeated":  settingsPayload([]Setting{{0x5ec0, 1}, {0x5ec0, 1}}),
		"http2 id":  settingsPayload([]Setting{{0x04, 100}}),
		"truncated": good[:len(good)-1],
	} {
		if _, err := parseSettings(p); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
}

// Every static entry, sent as an indexed line, must decode to the same pair
// in an independent QPACK decoder: that checks our table position by position.
func TestStaticTableAgreesWithAnotherDecoder(t *testing.T) {
	for i, f := range staticTable {
		section := appendPrefixInt([]byte{0, 0}, 0xc0, 6, uint64(i))
		got, err := qpack.NewDecoder(nil).DecodeFull(section)
		if err != nil || len(got) != 1 || got[0].Name != f.Name || got[0].Value != f.Value {
			t.Fatalf("index %d: ours %v, theirs %v %v", i, f, got, err)
		}
	}
	if len(staticTable) != 99 {
		t.Fatalf("%d entries", len(staticTable))
	}
}

func TestOurFieldSectionsDecodeElsewhereAndBack(t *testing.T) {
	fields := Fields{{":method", "GET"}, {":scheme", "https"}, {":authority", "b.example:4433"},
		{":path", "/x?y=1"}, {"user-agent", "go-h3-client"}, {"x-long", strings.Repeat("v", 300)},
		{"content-type", "text/plain"}, {":status", "421"}}
	enc := EncodeFields(fields)
	theirs, err := qpack.NewDecoder(nil).DecodeFull(enc)
	if err != nil || len(theirs) != len(fields) {
		t.Fatalf("%v %v", theirs, err)
	}
	for i, f := range theirs {
		if f.Name != fields[i].Name || f.Value != fields[i].Value {
			t.Fatalf("field %d: %v", i, f)
		}
	}
	ours, err := DecodeFields(enc)
	if err != nil || len(ours) != len(fields) {
		t.Fatalf("%v %v", ours, err)
	}
	for i := range fields {
		if ours[i] != fields[i] {
			t.Fatalf("field %d: %v", i, ours[i])
		}
	}
}

func TestWeDecodeAnotherEncoder(t *testing.T) {
	var buf bytes.Buffer
	e := qpack.NewEncoder(&buf)
	fields := []qpack.HeaderField{{Name: ":status", Value: "200"}, {Name: ":status", Value: "599"},
		{Name: "content-type", Value: "text/plain"}, {Name: "x-custom", Value: "value"}, {Name: "server", Value: "z"}}
	for _, f := range fields {
		e.WriteField(f)
	}
	e.Close()
	got, err := DecodeFields(buf.Bytes())
	if err != nil || len(got) != len(fields) {
		t.Fatalf("%v %v", got, err)
	}
	for i, f := range fields {
		if got[i] != (Field{f.Name, f.Value}) {
			t.Fatalf("field %d: %v", i, got[i])
		}
	}
}

func TestHuffmanStringsInEveryLiteralForm(t *testing.T) {
	huff := func(first byte, n uint, s string) []byte {
		h := hpack.AppendHuffmanString(nil, s)
		return append(appendPrefixInt(nil, first|1<<n, n, uint64(len(h))), h...)
	}
	// RFC 7541 C.4.1: "www.example.com" Huffman-encoded.
	if h := hex.EncodeToString(hpack.AppendHuffmanString(nil, "www.example.com")); h != "f1e3c2e5f23a6ba0ab90f4ff" {
		t.Fatalf("huffman %s", h)
	}
	section := []byte{0, 0}
	section = appendPrefixInt(section, 0x50, 4, 0) // literal, static name :authority
	section = append(section, huff(0, 7, "www.example.com")...)
	section = append(section, huff(0x20, 3, "x-name")...) // literal name, Huffman
	section = append(section, huff(0, 7, "custom-value")...)
	got, err := DecodeFields(section)
	want := Fields{{":authority", "www.example.com"}, {"x-name", "custom-value"}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("%v %v", got, err)
	}
}

func TestDynamicReferencesAreRefused(t *testing.T) {
	for name, section := range map[string][]byte{
		"insert count":   {0x01, 0x00},
		"dynamic index":  {0x00, 0x00, 0x80},
		"dynamic name":   {0x00, 0x00, 0x40, 0x00},
		"post-base":      {0x00, 0x00, 0x10},
		"static too big": {0x00, 0x00, 0xff, 0x30},
		"truncated":      {0x00, 0x00, 0x2f},
	} {
		if _, err := DecodeFields(section); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
}

func TestFieldRules(t *testing.T) {
	ok := Fields{{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"accept", "*/*"}}
	if err := checkFields(ok, true); err != nil {
		t.Fatal(err)
	}
	for name, fs := range map[string]Fields{
		"upper case":      {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"Accept", "*"}},
		"pseudo after":    {{":method", "GET"}, {"accept", "*"}, {":scheme", "https"}, {":path", "/"}},
		"no path":         {{":method", "GET"}, {":scheme", "https"}},
		"status in req":   {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":status", "200"}},
		"repeated pseudo": {{":method", "GET"}, {":method", "GET"}, {":scheme", "https"}, {":path", "/"}},
	} {
		if err := checkFields(fs, true); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
}
