package peer

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/h2ext"
	"secondarycerts/interop/peerkit"
	"secondarycerts/interop/peerkit/peertest"
)

func startServer(t *testing.T, cfg ServerConfig) (string, *peertest.Log) {
	t.Helper()
	return peertest.StartServer[h2ext.Profile, net.Listener](t, cfg, h2ext.DefaultProfile(), NewServer)
}

func runClient(t *testing.T, addr string, cfg ClientConfig) (int, []peertest.Event) {
	t.Helper()
	cfg.Addr, cfg.ServerName, cfg.Path = addr, "a.example", "/"
	_, cfg.Port, _ = net.SplitHostPort(addr)
	if cfg.Roots == nil {
		cfg.Roots = peertest.Certs().CA.Pool()
	}
	if cfg.Profile == (h2ext.Profile{}) {
		cfg.Profile = h2ext.DefaultProfile()
	}
	cfg.Wait, cfg.Timeout = 300*time.Millisecond, 10*time.Second
	return peertest.RunClient(t, func(out io.Writer) int { cfg.Out = out; return RunClient(cfg) })
}

func TestSecondaryCertificatesThenFetchOnSameConnection(t *testing.T) {
	p := peertest.Certs()
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B, p.C}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example", "c.example", "a.example"}})
	if code != peerkit.ExitOK {
		t.Fatalf("exit %d", code)
	}
	peertest.WantValid(t, events, "ed25519", "ecdsa_secp256r1_sha256")
	for _, host := range []string{"b.example", "c.example", "a.example"} {
		r := peertest.ResponseFor(t, events, host)
		if r["status"] != 200.0 || r["body"] != "hello from "+host || r["sameConnection"] != true {
			t.Fatalf("response: %v", r)
		}
	}
	// All three requests arrived on the one connection the server saw.
	log.WaitFor(t, "closed")
	if n := strings.Count(log.String(), "closed"); n != 1 {
		t.Fatalf("%d connections:\n%s", n, log.String())
	}
}

func TestOptionsStarProvesAnOriginOrIsRefused(t *testing.T) {
	p := peertest.Certs()
	addr, _ := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}})
	// A plain client gets no SERVER_CERTIFICATE, so only OPTIONS * can prove b.example.
	code, events := runClient(t, addr, ClientConfig{Plain: true, OptionsStar: []string{"b.example", "d.example"},
		Fetch: []string{"b.example"}})
	if code != peerkit.ExitOK {
		t.Fatalf("exit %d", code)
	}
	if n := len(peertest.Find(events, "certificate")); n != 0 {
		t.Fatalf("a plain client got %d SERVER_CERTIFICATE frames", n)
	}
	opts := peertest.Find(events, "options")
	if len(opts) != 2 {
		t.Fatalf("options events: %v", opts)
	}
	if opts[0]["authority"] != "b.example" || opts[0]["valid"] != true || opts[0]["status"] != 200.0 {
		t.Fatalf("OPTIONS * for b.example: %v", opts[0])
	}
	if opts[1]["authority"] != "d.example" || opts[1]["refused"] != true || opts[1]["valid"] != false {
		t.Fatalf("OPTIONS * for d.example: %v", opts[1])
	}
	if r := peertest.ResponseFor(t, events, "b.example"); r["status"] != 200.0 || r["body"] != "hello from b.example" {
		t.Fatalf("response: %v", r)
	}
}

func TestBrokenServersAreDetected(t *testing.T) {
	peertest.Broken(t, []peertest.BrokenCase{
		{Mode: BrokenSignature, Exit: peerkit.ExitInvalid, Reason: "bad_signature", Log: "goaway received code=0x5ec0"},
		{Mode: BrokenExporter, Exit: peerkit.ExitInvalid, Reason: "bad_finished", Log: "goaway received code=0x5ec0"},
		{Mode: BrokenNonzeroStream, Exit: peerkit.ExitProtocol, Log: "goaway received code=0x1 "},
		{Mode: BrokenBeforeSettings, Exit: peerkit.ExitIgnored, Reason: "not_negotiated"},
	}, func(t *testing.T, mode string) (int, []peertest.Event, *peertest.Log) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{peertest.Certs().B}, Broken: mode})
		code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}, ExpectInvalid: true})
		return code, events, log
	}, func(t *testing.T, _ string, responses []peertest.Event) {
		if len(responses) != 0 {
			t.Fatal("fetched an origin a broken server claimed")
		}
	})
}

func TestBrokenOptionsAnswerIsInvalid(t *testing.T) {
	p := peertest.Certs()
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}, Broken: BrokenSignature})
	code, events := runClient(t, addr, ClientConfig{Plain: true, OptionsStar: []string{"b.example"}})
	if code != peerkit.ExitInvalid {
		t.Fatalf("exit %d", code)
	}
	if o := peertest.Find(events, "options"); len(o) != 1 || o[0]["error"] != "bad_signature" {
		t.Fatalf("options events: %v", o)
	}
	log.WaitFor(t, "goaway received code=0x5ec0")
}

func TestPlainPeersNeverUseTheFrame(t *testing.T) {
	p := peertest.Certs()
	t.Run("plain server", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}, Plain: true})
		code, events := runClient(t, addr, ClientConfig{Fetch: []string{"a.example", "b.example"}})
		if code != peerkit.ExitUnproven || len(peertest.Find(events, "certificate")) != 0 || len(peertest.Find(events, "unproven")) != 1 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		log.WantAbsent(t, "closed", "SERVER_CERTIFICATE")
	})
	t.Run("plain client", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}})
		code, events := runClient(t, addr, ClientConfig{Plain: true, Fetch: []string{"a.example"}})
		if code != peerkit.ExitOK || len(peertest.Find(events, "certificate")) != 0 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		log.WantAbsent(t, "closed", "SERVER_CERTIFICATE")
	})
}

func TestUntrustedSecondaryIsNotUsedButNotAnError(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{Secondaries: []tls.Certificate{peertest.Stranger(t, "b.example")}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}})
	peertest.WantUntrusted(t, code, events, "goaway")
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
	cfg := h2ext.TLSConfig(&tls.Config{ServerName: "a.example", RootCAs: peertest.Certs().CA.Pool()})
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
