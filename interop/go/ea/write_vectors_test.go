package ea

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteVectors writes RFC 9261 vectors made by this package into EA_VECTORS_OUT, in the
// project's vector format (test/vectors/FORMAT.md), for the TypeScript runner to check: the
// reverse of TestVectors. Without EA_VECTORS_OUT there is nothing to write.
func TestWriteVectors(t *testing.T) {
	out := os.Getenv("EA_VECTORS_OUT")
	if out == "" {
		t.Skip("EA_VECTORS_OUT not set: this is a generator, run by test/interop/go-ea-vectors.test.ts")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	pki := newTestPKI(t)
	type spec struct {
		name, description string
		hash              crypto.Hash
		creator           Role
		requested         bool
		key               string // "" for an empty authenticator
		scheme            SignatureScheme
		invalid           bool
	}
	specs := []spec{
		{"go-server-spontaneous-ed25519", "Spontaneous server authenticator, Ed25519 leaf.", crypto.SHA256, Server, false, "ed25519", 0, false},
		{"go-server-spontaneous-p384-sha384", "Spontaneous server authenticator on a SHA-384 connection, P-384 leaf.", crypto.SHA384, Server, false, "p384", 0, false},
		{"go-server-requested-p256", "Server authenticator answering a ClientCertificateRequest (type 17), P-256 leaf.", crypto.SHA256, Server, true, "p256", ECDSAWithP256AndSHA256, false},
		{"go-server-requested-rsa-pss-sha384", "Server authenticator on a SHA-384 connection, rsa_pss_rsae_sha384.", crypto.SHA384, Server, true, "rsa", PSSWithSHA384, false},
		{"go-client-requested-ed25519", "Client authenticator answering a CertificateRequest (type 13), Ed25519 leaf.", crypto.SHA256, Client, true, "ed25519", Ed25519, false},
		{"go-client-requested-rsa-pss", "Client authenticator answering a CertificateRequest allowing only rsa_pss_rsae_sha256.", crypto.SHA256, Client, true, "rsa", PSSWithSHA256, false},
		{"go-client-empty-sha384", "Empty client authenticator on a SHA-384 connection.", crypto.SHA384, Client, true, "", 0, false},
		{"go-server-bad-signature", "Server authenticator whose CertificateVerify signature has a flipped byte: must be rejected.", crypto.SHA256, Server, false, "ed25519", 0, true},
	}
	for i, s := range specs {
		secret := make([]byte, s.hash.Size())
		for j := range secret {
			secret[j] = byte(j*11 + i*37 + 3)
		}
		keys, err := DeriveKeys(TLS13Exporter(secret, s.hash), s.hash, s.creator)
		if err != nil {
			t.Fatal(err)
		}
		context := make([]byte, 32)
		for j := range context {
			context[j] = byte(0x50 + i + j)
		}
		var request []byte
		if s.requested {
			schemes := SupportedSchemes
			if s.scheme != 0 {
				schemes = []SignatureScheme{s.scheme}
			}
			maker, serverName := Server, ""
			if s.creator == Server {
				maker, serverName = Client, "vectors.example"
			}
			req, err := NewRequest(maker, context, schemes, serverName)
			if err != nil {
				t.Fatal(err)
			}
			if request, err = req.Marshal(); err != nil {
				t.Fatal(err)
			}
		}
		chain := [][]byte{}
		var auth []byte
		var privateKey *string
		expect := "valid"
		if s.key == "" {
			expect = "empty"
			if auth, err = EmptyAuthenticator(keys, request); err != nil {
				t.Fatal(err)
			}
		} else {
			id := pki.leaf(t, newKey(t, s.key), "vectors.example")
			chain = id.Chain
			if auth, err = Authenticate(keys, id, request, context, nil); err != nil {
				t.Fatal(err)
			}
			if s.key == "ed25519" && !s.invalid {
				der, err := x509.MarshalPKCS8PrivateKey(id.Signer)
				if err != nil {
					t.Fatal(err)
				}
				k := hex.EncodeToString(der)
				privateKey = &k
			}
			if s.invalid {
				// Flip the signature's last byte and recompute Finished over the damaged CertificateVerify,
				// so that the signature check, not the MAC, is what must reject it.
				msgs, err := splitMessages(auth)
				if err != nil || len(msgs) != 3 {
					t.Fatalf("split: %v", err)
				}
				cv := append([]byte(nil), msgs[1].Raw...)
				cv[len(cv)-1] ^= 0x01
				fin := FinishedMessage(keys, request, msgs[0].Raw, cv)
				auth = append(append(append([]byte(nil), msgs[0].Raw...), cv...), fin...)
				expect = "invalid"
			}
		}
		hexChain := []string{}
		for _, c := range chain {
			hexChain = append(hexChain, hex.EncodeToString(c))
		}
		var hexRequest *string
		if request != nil {
			r := hex.EncodeToString(request)
			hexRequest = &r
		}
		v := map[string]any{
			"name":                        s.name,
			"description":                 s.description + " Made by the Go EA package (interop/go/ea).",
			"hash":                        HashName(s.hash),
			"exporter_secret":             hex.EncodeToString(secret),
			"creator":                     s.creator.String(),
			"request":                     hexRequest,
			"certificate_request_context": hex.EncodeToString(context),
			"certificate_chain":           hexChain,
			"private_key":                 privateKey,
			"authenticator":               hex.EncodeToString(auth),
			"expect":                      expect,
		}
		text, _ := json.MarshalIndent(v, "", " ")
		if err := os.WriteFile(filepath.Join(out, s.name+".json"), append(text, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		// Our own validator must agree before the file is handed on.
		t.Run(s.name, func(t *testing.T) {
			rv := vector{Name: s.name, Hash: HashName(s.hash), Secret: hex.EncodeToString(secret), Creator: s.creator.String(),
				Request: hexRequest, Context: hex.EncodeToString(context), Chain: hexChain, PrivateKey: privateKey,
				Authenticator: hex.EncodeToString(auth), Expect: expect}
			runVector(t, rv)
		})
	}
}
