package h3peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peer"
)

// pki is one CA with a primary a.example (P-256) and secondaries
// b.example (Ed25519) and c.example (P-256), made once for all tests.
type pki struct {
	ca      *peer.TestCA
	a, b, c tls.Certificate
}

var (
	pkiOnce sync.Once
	shared  pki
)

func testPKI(t *testing.T) pki {
	t.Helper()
	pkiOnce.Do(func() {
		ca, err := peer.NewTestCA("test CA")
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
	if cfg.Profile == (Profile{}) {
		cfg.Profile = DefaultProfile()
	}
	log := &syncBuffer{}
	cfg.Log = log
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := srv.Listen("127.0.0.1:0")
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
	cfg.Addr, cfg.ServerName, cfg.Out = addr, "a.example", &out
	if cfg.Roots == nil {
		cfg.Roots = testPKI(t).ca.Pool()
	}
	if cfg.Profile == (Profile{}) {
		cfg.Profile = DefaultProfile()
	}
	cfg.Wait, cfg.Timeout = 500*time.Millisecond, 10*time.Second
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
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example", "c.example"}})
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if c := find(events, "connected"); len(c) != 1 || c[0]["alpn"] != "h3" {
		t.Fatalf("connected: %v", c)
	}
	if s := find(events, "settings"); len(s) != 1 || s[0]["negotiated"] != true {
		t.Fatalf("settings: %v", s)
	}
	certs := find(events, "certificate")
	if len(certs) != 2 || certs[0]["valid"] != true || certs[1]["valid"] != true {
		t.Fatalf("certificate events: %v", certs)
	}
	if certs[0]["scheme"] != "ed25519" || certs[1]["scheme"] != "ecdsa_secp256r1_sha256" {
		t.Fatalf("schemes: %v", certs)
	}
	if o, _ := certs[0]["origins"].([]any); len(o) != 1 || o[0] != "b.example" {
		t.Fatalf("origins: %v", certs[0])
	}
	for _, host := range []string{"a.example", "b.example", "c.example"} {
		r := responseFor(t, events, host)
		if r["status"] != 200.0 || r["body"] != "hello from "+host+" over go-h3\n" || r["sameConnection"] != true {
			t.Fatalf("response: %v", r)
		}
	}
	// All three requests arrived on the one connection the server saw, and
	// the spontaneous authenticators used a scheme from its ClientHello.
	log.waitFor(t, ": closed")
	if n := strings.Count(log.String(), ": closed"); n != 1 {
		t.Fatalf("%d connections:\n%s", n, log.String())
	}
	if strings.Contains(log.String(), " 0 signature schemes") {
		t.Fatalf("the ClientHello's schemes were not recorded:\n%s", log.String())
	}
}

func TestBrokenServersAreDetected(t *testing.T) {
	p := testPKI(t)
	cases := []struct {
		mode   string
		exit   int
		reason string // in the certificate event's error
		close  string // what the server log shows it received
	}{
		{BrokenSignature, ExitInvalid, "bad_signature", "close received code=0x5ec2"},
		{BrokenExporter, ExitInvalid, "bad_finished", "close received code=0x5ec2"},
		{BrokenRequestStream, ExitProtocol, "", "close received code=0x105"},
		{BrokenUnadvertised, ExitIgnored, "not_negotiated", "close received code=0x100"},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}, Broken: tc.mode})
			code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}, ExpectInvalid: true})
			if code != tc.exit {
				t.Fatalf("exit %d, want %d", code, tc.exit)
			}
			if responseFor := find(events, "response"); len(responseFor) > 0 && tc.mode != BrokenUnadvertised {
				t.Fatalf("responses from a broken server: %v", responseFor)
			}
			for _, r := range find(events, "response") {
				if r["authority"] == "b.example" {
					t.Fatal("fetched an origin a broken server claimed")
				}
			}
			if tc.reason != "" {
				certs := find(events, "certificate")
				if len(certs) != 1 || certs[0]["valid"] != false || certs[0]["error"] != tc.reason {
					t.Fatalf("certificate events: %v", certs)
				}
			}
			log.waitFor(t, tc.close)
		})
	}
}

func TestInvalidAuthenticatorClosesWithTheProfileCode(t *testing.T) {
	p := testPKI(t)
	prof := Profile{Setting: 0xf5ec, Frame: 0xf5, Invalid: 0x1234}
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}, Broken: BrokenSignature, Profile: prof})
	code, events := runClient(t, addr, ClientConfig{Profile: prof})
	if code != ExitInvalid {
		t.Fatalf("exit %d", code)
	}
	if c := find(events, "close"); len(c) != 1 || c[0]["code"] != float64(0x1234) || c[0]["from"] != "client" {
		t.Fatalf("close events: %v", c)
	}
	log.waitFor(t, "close received code=0x1234")
}

func TestProfileMismatchMeansNoExtension(t *testing.T) {
	p := testPKI(t)
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b},
		Profile: Profile{Setting: 0xf5ec, Frame: 0xf5, Invalid: 0x1234}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}})
	if code != ExitUnproven || len(find(events, "certificate")) != 0 {
		t.Fatalf("exit %d, events %v", code, events)
	}
	log.waitFor(t, "not negotiated")
}

func TestPlainPeersNeverUseTheFrame(t *testing.T) {
	p := testPKI(t)
	t.Run("plain server", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}, Plain: true})
		code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}})
		if code != ExitUnproven || len(find(events, "certificate")) != 0 || len(find(events, "unproven")) != 1 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		if r := responseFor(t, events, "a.example"); r["status"] != 200.0 {
			t.Fatalf("response %v", r)
		}
		if s := find(events, "settings"); len(s) != 1 || s[0]["peerCertAuth"] != false {
			t.Fatalf("settings %v", s)
		}
		log.waitFor(t, ": closed")
		if strings.Contains(log.String(), "SERVER_CERTIFICATE") {
			t.Fatalf("server sent the frame:\n%s", log.String())
		}
	})
	t.Run("plain client", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}})
		code, events := runClient(t, addr, ClientConfig{Plain: true})
		if code != ExitOK || len(find(events, "certificate")) != 0 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		log.waitFor(t, ": closed")
		if strings.Contains(log.String(), "sent SERVER_CERTIFICATE") {
			t.Fatalf("server sent the frame:\n%s", log.String())
		}
	})
}

func TestUntrustedSecondaryIsNotUsedButNotAnError(t *testing.T) {
	other, err := peer.NewTestCA("other CA")
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
	if len(certs) != 1 || certs[0]["error"] != string(ea.KindUntrusted) || len(find(events, "close")) != 0 {
		t.Fatalf("events: %v", events)
	}
}

// rawClient is an HTTP/3 connection to the server driven by the test.
func rawClient(t *testing.T, addr string, advertise bool, setup func(*Conn)) *Conn {
	t.Helper()
	tlsConf := &tls.Config{ServerName: "a.example", RootCAs: testPKI(t).ca.Pool(), NextProtos: []string{ALPN}}
	q, err := quic.DialAddr(addr, tlsConf, QUICConfig())
	if err != nil {
		t.Fatal(err)
	}
	h := NewConn(q, false, DefaultProfile(), advertise)
	if setup != nil {
		setup(h)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func get(t *testing.T, h *Conn, authority string, extra []byte) (*Message, error) {
	t.Helper()
	st, err := h.Q.OpenStreamSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st.SetDeadline(time.Now().Add(3 * time.Second))
	req := Fields{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", "/"}}
	if err := writeMessage(st, req, nil, extra); err != nil {
		return nil, err
	}
	return h.readMessage(newFrameReader(st), false)
}

// closedBy waits for the server to close h and returns its code.
func closedBy(t *testing.T, h *Conn) uint64 {
	t.Helper()
	select {
	case <-h.Ended():
	case <-time.After(3 * time.Second):
		t.Fatal("the server did not close the connection")
	}
	ae, ok := RemoteClose(h.EndError())
	if !ok {
		t.Fatalf("ended by %v", h.EndError())
	}
	return uint64(ae.ErrorCode)
}

func TestMisdirectedAndUnprovenRequestsGet421(t *testing.T) {
	p := testPKI(t)
	addr, _ := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.b}})
	// Without the setting the server proves nothing, so b.example is not its to serve here.
	h := rawClient(t, addr, false, nil)
	for _, host := range []string{"z.example", "b.example"} {
		resp, err := get(t, h, host, nil)
		if err != nil || resp.Fields.Get(":status") != "421" {
			t.Fatalf("%s: got %v, %v", host, resp, err)
		}
	}
	if resp, err := get(t, h, "a.example:443", nil); err != nil || resp.Fields.Get(":status") != "200" {
		t.Fatalf("a.example: got %v, %v", resp, err)
	}
}

func TestServerRefusesServerCertificateFromClient(t *testing.T) {
	t.Run("control stream", func(t *testing.T) {
		addr, _ := startServer(t, ServerConfig{})
		h := rawClient(t, addr, true, func(h *Conn) {
			h.AfterSettings = appendFrame(nil, DefaultProfile().Frame, []byte{0x14, 0, 0, 0})
		})
		if code := closedBy(t, h); code != ErrFrameUnexpected {
			t.Fatalf("closed with 0x%x", code)
		}
	})
	t.Run("request stream", func(t *testing.T) {
		addr, _ := startServer(t, ServerConfig{})
		h := rawClient(t, addr, true, nil)
		get(t, h, "a.example", appendFrame(nil, DefaultProfile().Frame, []byte{0x14, 0, 0, 0}))
		if code := closedBy(t, h); code != ErrFrameUnexpected {
			t.Fatalf("closed with 0x%x", code)
		}
	})
}

func TestControlStreamRules(t *testing.T) {
	cases := map[string]struct {
		setup func(*Conn)
		code  uint64
	}{
		"setting value 2": {func(h *Conn) { h.ExtraSettings = []Setting{{DefaultProfile().Setting, 2}} }, ErrSettings},
		"second SETTINGS": {func(h *Conn) { h.AfterSettings = appendFrame(nil, FrameSettings, nil) }, ErrFrameUnexpected},
		"DATA on control": {func(h *Conn) { h.AfterSettings = appendFrame(nil, FrameData, []byte("x")) }, ErrFrameUnexpected},
		"truncated frame": {func(h *Conn) { h.AfterSettings = []byte{0x21, 0x10, 1} }, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr, _ := startServer(t, ServerConfig{})
			h := rawClient(t, addr, false, tc.setup)
			if tc.code == 0 {
				// A frame cut short is only an error once the stream ends: close it.
				h.ctrlMu.Lock()
				h.ctrl.Close()
				h.ctrlMu.Unlock()
				tc.code = ErrFrame
			}
			if code := closedBy(t, h); code != tc.code {
				t.Fatalf("closed with 0x%x, want 0x%x", code, tc.code)
			}
		})
	}
}

func TestControlStreamMustStartWithSettings(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{})
	tlsConf := &tls.Config{ServerName: "a.example", RootCAs: testPKI(t).ca.Pool(), NextProtos: []string{ALPN}}
	q, err := quic.DialAddr(addr, tlsConf, QUICConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer q.CloseWithError(0, "")
	s, _ := q.OpenUniStream()
	s.Write(appendFrame([]byte{StreamControl}, FrameGoAway, []byte{0}))
	select {
	case <-q.Context().Done():
	case <-time.After(3 * time.Second):
		t.Fatal("not closed")
	}
	_, err = q.AcceptUniStream(context.Background())
	if ae, ok := RemoteClose(err); !ok || ae.ErrorCode != ErrMissingSettings {
		t.Fatalf("ended by %v", err)
	}
}

func TestExporterLengthIsTheSuiteHash(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{})
	h := rawClient(t, addr, true, nil)
	keys, err := h.Keys(ea.Server)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ea.HashForSuite(h.Q.ConnectionState().TLS.CipherSuite)
	if keys.Hash != want || len(keys.HandshakeContext) != want.Size() || len(keys.FinishedKey) != want.Size() {
		t.Fatalf("hash %v, lengths %d/%d", keys.Hash, len(keys.HandshakeContext), len(keys.FinishedKey))
	}
}
