package ea

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// vectorDir is where the RFC 9261 vectors are: EA_VECTORS when set, else the project's own copy
// (test/vectors, from this package's directory interop/go/ea). Go runs a package's tests in its
// source directory, so the relative path holds in any clone.
func vectorDir() string {
	if d := os.Getenv("EA_VECTORS"); d != "" {
		return d
	}
	for _, d := range []string{"../../../test/vectors"} {
		if d == "" {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(d, "*.json")); len(m) > 0 {
			return d
		}
	}
	return ""
}

type vector struct {
	Name          string   `json:"name"`
	Hash          string   `json:"hash"`
	Secret        string   `json:"exporter_secret"`
	Creator       string   `json:"creator"`
	Request       *string  `json:"request"`
	Context       string   `json:"certificate_request_context"`
	Chain         []string `json:"certificate_chain"`
	PrivateKey    *string  `json:"private_key"`
	Authenticator string   `json:"authenticator"`
	Expect        string   `json:"expect"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectors(t *testing.T) {
	dir := vectorDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		// A missing directory must fail, not skip: a skipped vector run reads as a passed one.
		t.Fatalf("no vector files found (dir %q; set EA_VECTORS)", dir)
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var v vector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		t.Run(v.Name, func(t *testing.T) { runVector(t, v) })
	}
}

func runVector(t *testing.T, v vector) {
	h := map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384}[v.Hash]
	creator := map[string]Role{"server": Server, "client": Client}[v.Creator]
	keys, err := DeriveKeys(TLS13Exporter(unhex(t, v.Secret), h), h, creator)
	if err != nil {
		t.Fatal(err)
	}
	var request []byte
	if v.Request != nil {
		request = unhex(t, *v.Request)
	}
	want := unhex(t, v.Authenticator)
	var chain [][]byte
	for _, c := range v.Chain {
		chain = append(chain, unhex(t, c))
	}
	if v.PrivateKey != nil && v.Expect != "invalid" {
		var got []byte
		if v.Expect == "empty" {
			got, err = EmptyAuthenticator(keys, request)
		} else {
			key, perr := x509.ParsePKCS8PrivateKey(unhex(t, *v.PrivateKey))
			if perr != nil {
				t.Fatal(perr)
			}
			got, err = Authenticate(keys, Identity{Chain: chain, Signer: key.(crypto.Signer)}, request, unhex(t, v.Context), nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("built authenticator differs:\n got %x\nwant %x", got, want)
		}
	}
	res, err := NewValidator().Validate(keys, want, Options{Request: request})
	switch v.Expect {
	case "valid":
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Chain) != len(chain) || !bytes.Equal(res.Chain[0].Raw, chain[0]) {
			t.Fatal("returned chain differs")
		}
	case "empty":
		if KindOf(err) != KindEmpty {
			t.Fatalf("want empty, got %v", err)
		}
	default:
		if err == nil || KindOf(err) == KindEmpty {
			t.Fatalf("want invalid, got %v", err)
		}
	}
}
