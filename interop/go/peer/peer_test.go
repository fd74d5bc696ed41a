package peer

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/h2ext"
)

// pki is one CA with a primary a.example (P-256) and secondaries
// b.example (Ed25519) and c.example (P-256), made once for all tests.
type pki struct {
	ca      *TestCA
	a, b, c tls.Certificate
}

var (
	pkiOnce sync.Once
	shared  pki
)

func testPKI(t *testing.T) pki {
	t.Helper()
	pkiOnce.Do(func() {
		ca, err := NewTestCA("test CA")
		if err != nil {
			panic(err)
		}
		shared.ca = ca
		shared.a, _ = ca.Issue("p256", "a.example")
		shared.b, _ = ca.Issue("ed25519", "b.example")
		shared.c, _ = ca.Issue("p256", "c.example")
	})
	return shared
}

// syncBuffer is a log the server writes from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls the log, as the server writes it after the client has gone.
func (b *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(b.String(), want) {
			return
		}
	}
	t.Fatalf("server log lacks %q:\n%s", want, b.String())
}

func startServer(t *testing.T, cfg ServerConfig) (string, *syncBuffer) {
	t.Helper()
	p := testPKI(t)
	if cfg.Primary.Certificate == nil {
		cfg.Primary = p.a
	}
	if cfg.Profile == (h2ext.Profile{}) {
		cfg.Profile = h2ext.DefaultProfile()
	}
	log := &syncBuffer{}
	cfg.Log = log
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go srv.Serve(l)
	return l.Addr().String(), log
}

type event map[string]any

func runClient(t *testing.T, addr string, cfg ClientConfig) (int, []event) {
	t.Helper()
	var out bytes.Buffer
	cfg.Addr, cfg.ServerName, cfg.Path, cfg.Out = addr, "a.example", "/", &out
	_, cfg.Port, _ = net.SplitHostPort(addr)
	if cfg.Roots == nil {
		cfg.Roots = testPKI(t).ca.Pool()
	}
	if cfg.Profile == (h2ext.Profile{}) {
		cfg.Profile = h2ext.DefaultProfile()
	}
	cfg.Wait, cfg.Timeout = 300*time.Millisecond, 10*time.Second
	code := RunClient(cfg)
	var events []event
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		events = append(events, e)
	}
	t.Logf("client exit %d:\n%s", code, out.String())
	return code, events
}

func find(events []event, name string) []event {
	var out []event
	for _, e := range events {
		if e["event"] == name {
			out = append(out, e)
		}
	}
	return out
}

func responseFor(t *testing.T, events []event, authority string) event {
	t.Helper()
	for _, e := range find(events, "response") {
		if e["authority"] == authority {
			return e
		}
	}
	t.Fatalf("no response for %s", authority)
	return nil
}

func TestSecondaryCertificatesThenFetchOnSameConnection(t *testing.T) {
	p := testPKI(t)
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b, p.c}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example", "c.example", "a.example"}})
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	certs := find(events, "certificate")
	if len(certs) != 2 || certs[0]["valid"] != true || certs[1]["valid"] != true {
		t.Fatalf("certificate events: %v", certs)
	}
	if certs[0]["scheme"] != "ed25519" || certs[1]["scheme"] != "ecdsa_secp256r1_sha256" {
		t.Fatalf("schemes: %v", certs)
	}
	for _, host := range []string{"b.example", "c.example", "a.example"} {
		r := responseFor(t, events, host)
		if r["status"] != 200.0 || r["body"] != "hello from "+host || r["sameConnection"] != true {
			t.Fatalf("response: %v", r)
		}
	}
	// All three requests arrived on the one connection the server saw.
	log.waitFor(t, "closed")
	if n := strings.Count(log.String(), "closed"); n != 1 {
		t.Fatalf("%d connections:\n%s", n, log.String())
	}
}

func TestOptionsStarProvesAnOriginOrIsRefused(t *testing.T) {
	p := testPKI(t)
	addr, _ := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}})
	// A plain client gets no SERVER_CERTIFICATE, so only OPTIONS * can prove b.example.
	code, events := runClient(t, addr, ClientConfig{Plain: true, OptionsStar: []string{"b.example", "d.example"},
		Fetch: []string{"b.example"}})
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if n := len(find(events, "certificate")); n != 0 {
		t.Fatalf("a plain client got %d SERVER_CERTIFICATE frames", n)
	}
	opts := find(events, "options")
	if len(opts) != 2 {
		t.Fatalf("options events: %v", opts)
	}
	if opts[0]["authority"] != "b.example" || opts[0]["valid"] != true || opts[0]["status"] != 200.0 {
		t.Fatalf("OPTIONS * for b.example: %v", opts[0])
	}
	if opts[1]["authority"] != "d.example" || opts[1]["refused"] != true || opts[1]["valid"] != false {
		t.Fatalf("OPTIONS * for d.example: %v", opts[1])
	}
	if r := responseFor(t, events, "b.example"); r["status"] != 200.0 || r["body"] != "hello from b.example" {
		t.Fatalf("response: %v", r)
	}
}

func TestBrokenServersAreDetected(t *testing.T) {
	p := testPKI(t)
	cases := []struct {
		mode   string
		exit   int
		reason string // in the certificate event's error
		goaway string // what the server log shows it received; "" for none
	}{
		{BrokenSignature, ExitInvalid, "bad_signature", "goaway received code=0x5ec0"},
		{BrokenExporter, ExitInvalid, "bad_finished", "goaway received code=0x5ec0"},
		{BrokenNonzeroStream, ExitProtocol, "", "goaway received code=0x1 "},
		{BrokenBeforeSettings, ExitIgnored, "not_negotiated", ""},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}, Broken: tc.mode})
			code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}, ExpectInvalid: true})
			if code != tc.exit {
				t.Fatalf("exit %d, want %d", code, tc.exit)
			}
			if len(find(events, "response")) != 0 {
				t.Fatal("fetched an origin a broken server claimed")
			}
			if tc.reason != "" {
				certs := find(events, "certificate")
				if len(certs) != 1 || certs[0]["valid"] != false || certs[0]["error"] != tc.reason {
					t.Fatalf("certificate events: %v", certs)
				}
			}
			if tc.goaway != "" {
				log.waitFor(t, tc.goaway)
			}
		})
	}
}

func TestBrokenOptionsAnswerIsInvalid(t *testing.T) {
	p := testPKI(t)
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}, Broken: BrokenSignature})
	code, events := runClient(t, addr, ClientConfig{Plain: true, OptionsStar: []string{"b.example"}})
	if code != ExitInvalid {
		t.Fatalf("exit %d", code)
	}
	if o := find(events, "options"); len(o) != 1 || o[0]["error"] != "bad_signature" {
		t.Fatalf("options events: %v", o)
	}
	log.waitFor(t, "goaway received code=0x5ec0")
}

func TestPlainPeersNeverUseTheFrame(t *testing.T) {
	p := testPKI(t)
	t.Run("plain server", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}, Plain: true})
		code, events := runClient(t, addr, ClientConfig{Fetch: []string{"a.example", "b.example"}})
		if code != ExitUnproven || len(find(events, "certificate")) != 0 || len(find(events, "unproven")) != 1 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		log.waitFor(t, "closed")
		if strings.Contains(log.String(), "SERVER_CERTIFICATE") {
			t.Fatalf("server sent the frame:\n%s", log.String())
		}
	})
	t.Run("plain client", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}})
		code, events := runClient(t, addr, ClientConfig{Plain: true, Fetch: []string{"a.example"}})
		if code != ExitOK || len(find(events, "certificate")) != 0 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		log.waitFor(t, "closed")
		if strings.Contains(log.String(), "SERVER_CERTIFICATE") {
			t.Fatalf("server sent the frame:\n%s", log.String())
		}
	})
}

func TestUntrustedSecondaryIsNotUsedButNotAnError(t *testing.T) {
	other, err := NewTestCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Issue("p256", "b.example")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startServer(t, ServerConfig{Secondaries: []tls.Certificate{stranger}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}})
	if code != ExitUnproven {
		t.Fatalf("exit %d", code)
	}
	certs := find(events, "certificate")
	if len(certs) != 1 || certs[0]["error"] != string(ea.KindUntrusted) || len(find(events, "goaway")) != 0 {
		t.Fatalf("events: %v", events)
	}
}

func TestMisdirectedRequestGets421(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{})
	conn := dialRaw(t, addr, true)
	go conn.Run()
	resp, err := conn.RoundTrip(getRequest("z.example"), nil, 5*time.Second)
	if err != nil || resp.Get(":status") != "421" {
		t.Fatalf("got %v, %v", resp, err)
	}
}

// dialRaw opens an h2ext connection as a client, trusting the test CA.
func dialRaw(t *testing.T, addr string, advertise bool) *h2ext.Conn {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := h2ext.TLSConfig(&tls.Config{ServerName: "a.example", RootCAs: testPKI(t).ca.Pool()})
	conn, err := h2ext.Client(tls.Client(raw, cfg), h2ext.DefaultProfile(), advertise)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func getRequest(authority string) []hpack.HeaderField {
	return []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: authority}, {Name: ":path", Value: "/"}}
}

// goAwayFrom runs conn and returns the code of the GOAWAY the server sends.
func goAwayFrom(t *testing.T, conn *h2ext.Conn) http2.ErrCode {
	t.Helper()
	got := make(chan http2.ErrCode, 1)
	conn.OnGoAway = func(code http2.ErrCode, _ string) { got <- code }
	go conn.Run()
	select {
	case code := <-got:
		return code
	case <-time.After(3 * time.Second):
		t.Fatal("no GOAWAY")
	}
	return 0
}

func TestServerRefusesServerCertificateFromClient(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{})
	conn := dialRaw(t, addr, true)
	if err := conn.WriteServerCertificate(0, []byte{0x14, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if code := goAwayFrom(t, conn); code != http2.ErrCodeProtocol {
		t.Fatalf("GOAWAY %v", code)
	}
}

func TestSettingValueOtherThanZeroOrOneIsAProtocolError(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{})
	conn := dialRaw(t, addr, false)
	if err := conn.WriteRawSettings(http2.Setting{ID: h2ext.DefaultProfile().Setting, Val: 2}); err != nil {
		t.Fatal(err)
	}
	if code := goAwayFrom(t, conn); code != http2.ErrCodeProtocol {
		t.Fatalf("GOAWAY %v", code)
	}
}

func TestExporterLengthIsTheSuiteHash(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{})
	conn := dialRaw(t, addr, true)
	keys, err := conn.Keys(ea.Server)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ea.HashForSuite(conn.TLS.ConnectionState().CipherSuite)
	if keys.Hash != want || len(keys.HandshakeContext) != want.Size() || len(keys.FinishedKey) != want.Size() {
		t.Fatalf("hash %v, lengths %d/%d", keys.Hash, len(keys.HandshakeContext), len(keys.FinishedKey))
	}
}

func TestGenerateCertsWritesAUsableSet(t *testing.T) {
	dir := t.TempDir()
	if _, err := GenerateCerts(dir); err != nil {
		t.Fatal(err)
	}
	roots, err := ea.LoadRoots(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range GeneratedLeaves {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, l.Name+".pem"), filepath.Join(dir, l.Name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: l.Name}); err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
	}
}
