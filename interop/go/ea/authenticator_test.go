package ea

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"testing"
	"time"
)

// Round trips for every key kind, both directions, both hashes.
func TestAuthenticateThenValidate(t *testing.T) {
	pki := newTestPKI(t)
	for _, kind := range []string{"ed25519", "p256", "p384", "rsa"} {
		id := pki.leaf(t, newKey(t, kind), "b.example")
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			keys, _ := DeriveKeys(TLS13Exporter(bytes.Repeat([]byte{7}, h.Size()), h), h, Server)
			auth, err := Authenticate(keys, id, nil, NewContext(), nil)
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			v := NewValidator()
			res, err := v.Validate(keys, auth, Options{})
			if err != nil {
				t.Fatalf("%s/%v spontaneous: %v", kind, h, err)
			}
			if err := VerifyChain(res.Chain, pki.roots(), x509.ExtKeyUsageServerAuth, time.Now()); err != nil {
				t.Fatalf("%s chain: %v", kind, err)
			}
			if _, err := v.Validate(keys, auth, Options{}); KindOf(err) != KindContext {
				t.Fatalf("%s: replay gave %v", kind, err)
			}

			// A client answers a server's CertificateRequest (type 13).
			ck, _ := DeriveKeys(TLS13Exporter(bytes.Repeat([]byte{9}, h.Size()), h), h, Client)
			q, _ := NewRequest(Server, NewContext(), SupportedSchemes, "")
			req, _ := q.Marshal()
			auth, err = Authenticate(ck, id, req, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewValidator().Validate(ck, auth, Options{Request: req}); err != nil {
				t.Fatalf("%s/%v requested: %v", kind, h, err)
			}
		}
	}
}

func TestEmptyAuthenticatorIsARefusal(t *testing.T) {
	keys := fixedKeys(t, Server)
	q, _ := NewRequest(Client, NewContext(), []SignatureScheme{Ed25519}, "d.example")
	req, _ := q.Marshal()
	empty, err := EmptyAuthenticator(keys, req)
	if err != nil || len(empty) != 4+32 || empty[0] != TypeFinished {
		t.Fatalf("%x, %v", empty, err)
	}
	if _, err := NewValidator().Validate(keys, empty, Options{Request: req}); KindOf(err) != KindEmpty {
		t.Fatalf("got %v", err)
	}
	// Without a request a lone Finished means nothing: invalid, not a refusal.
	if _, err := NewValidator().Validate(keys, empty, Options{}); KindOf(err) != KindMalformed {
		t.Fatalf("got %v", err)
	}
}

func TestRolesAndSchemes(t *testing.T) {
	pki := newTestPKI(t)
	id := pki.leaf(t, newKey(t, "p256"), "b.example")
	if _, err := Authenticate(fixedKeys(t, Client), id, nil, NewContext(), nil); KindOf(err) != KindRole {
		t.Fatalf("spontaneous client authenticator: %v", err)
	}
	q, _ := NewRequest(Client, NewContext(), []SignatureScheme{Ed25519}, "b.example")
	req, _ := q.Marshal()
	if _, err := Authenticate(fixedKeys(t, Server), id, req, nil, nil); KindOf(err) != KindNoCertificate {
		t.Fatalf("P-256 key, only Ed25519 offered: %v", err)
	}
	keys := fixedKeys(t, Server)
	auth, _ := Authenticate(keys, id, nil, NewContext(), nil)
	if _, err := NewValidator().Validate(keys, auth, Options{OfferedSchemes: []SignatureScheme{Ed25519}}); KindOf(err) != KindScheme {
		t.Fatalf("scheme not in the ClientHello: %v", err)
	}
	// Keys of the other role (wrong labels) fail the Finished check.
	other := fixedKeys(t, Client)
	other.Creator = Server
	if _, err := NewValidator().Validate(other, auth, Options{}); KindOf(err) != KindFinished {
		t.Fatalf("other labels: %v", err)
	}
}

// Every truncation, every extension and every single-bit flip of a valid
// authenticator is refused with a typed error, never a panic.
func TestMutationsAreRefused(t *testing.T) {
	pki := newTestPKI(t)
	keys := fixedKeys(t, Server)
	auth, _ := Authenticate(keys, pki.leaf(t, newKey(t, "ed25519"), "b.example"), nil, NewContext(), nil)
	check := func(what string, b []byte) {
		_, err := NewValidator().Validate(keys, b, Options{})
		if err == nil || KindOf(err) == "" {
			t.Fatalf("%s: got %v", what, err)
		}
	}
	for n := 0; n < len(auth); n++ {
		check("truncated", auth[:n])
	}
	check("trailing byte", append(append([]byte(nil), auth...), 0))
	for i := 0; i < len(auth); i++ {
		b := append([]byte(nil), auth...)
		b[i] ^= 0x40
		check("flipped", b)
	}
}
