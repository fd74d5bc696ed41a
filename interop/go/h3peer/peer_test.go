package h3peer

import (
	"context"
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peerkit"
	"secondarycerts/interop/peerkit/peertest"
)

func startServer(t *testing.T, cfg ServerConfig) (string, *peertest.Log) {
	t.Helper()
	return peertest.StartServer[Profile, quic.Listener](t, cfg, DefaultProfile(), NewServer)
}

func runClient(t *testing.T, addr string, cfg ClientConfig) (int, []peertest.Event) {
	t.Helper()
	cfg.Addr, cfg.ServerName = addr, "a.example"
	if cfg.Roots == nil {
		cfg.Roots = peertest.Certs().CA.Pool()
	}
	if cfg.Profile == (Profile{}) {
		cfg.Profile = DefaultProfile()
	}
	cfg.Wait, cfg.Timeout = 500*time.Millisecond, 10*time.Second
	return peertest.RunClient(t, func(out io.Writer) int { cfg.Out = out; return RunClient(cfg) })
}

func TestSecondaryCertificatesThenFetchOnSameConnection(t *testing.T) {
	p := peertest.Certs()
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B, p.C}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example", "c.example"}})
	if code != peerkit.ExitOK {
		t.Fatalf("exit %d", code)
	}
	if c := peertest.Find(events, "connected"); len(c) != 1 || c[0]["alpn"] != "h3" {
		t.Fatalf("connected: %v", c)
	}
	if s := peertest.Find(events, "settings"); len(s) != 1 || s[0]["negotiated"] != true {
		t.Fatalf("settings: %v", s)
	}
	certs := peertest.WantValid(t, events, "ed25519", "ecdsa_secp256r1_sha256")
	if o, _ := certs[0]["origins"].([]any); len(o) != 1 || o[0] != "b.example" {
		t.Fatalf("origins: %v", certs[0])
	}
	for _, host := range []string{"a.example", "b.example", "c.example"} {
		r := peertest.ResponseFor(t, events, host)
		if r["status"] != 200.0 || r["body"] != "hello from "+host+" over go-h3\n" || r["sameConnection"] != true {
			t.Fatalf("response: %v", r)
		}
	}
	// All three requests arrived on the one connection the server saw, and
	// the spontaneous authenticators used a scheme from its ClientHello.
	log.WaitFor(t, ": closed")
	if n := strings.Count(log.String(), ": closed"); n != 1 {
		t.Fatalf("%d connections:\n%s", n, log.String())
	}
	if strings.Contains(log.String(), " 0 signature schemes") {
		t.Fatalf("the ClientHello's schemes were not recorded:\n%s", log.String())
	}
}

func TestBrokenServersAreDetected(t *testing.T) {
	peertest.Broken(t, []peertest.BrokenCase{
		{Mode: BrokenSignature, Exit: peerkit.ExitInvalid, Reason: "bad_signature", Log: "close received code=0x5ec2"},
		{Mode: BrokenExporter, Exit: peerkit.ExitInvalid, Reason: "bad_finished", Log: "close received code=0x5ec2"},
		{Mode: BrokenRequestStream, Exit: peerkit.ExitProtocol, Log: "close received code=0x105"},
		{Mode: BrokenUnadvertised, Exit: peerkit.ExitIgnored, Reason: "not_negotiated", Log: "close received code=0x100"},
	}, func(t *testing.T, mode string) (int, []peertest.Event, *peertest.Log) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{peertest.Certs().B}, Broken: mode})
		code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}, ExpectInvalid: true})
		return code, events, log
	}, func(t *testing.T, mode string, responses []peertest.Event) {
		// Without our value the server's TLS name is still fetched.
		if len(responses) > 0 && mode != BrokenUnadvertised {
			t.Fatalf("responses from a broken server: %v", responses)
		}
	})
}

func TestInvalidAuthenticatorClosesWithTheProfileCode(t *testing.T) {
	p := peertest.Certs()
	prof := Profile{Setting: 0xf5ec, Frame: 0xf5, Invalid: 0x1234}
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}, Broken: BrokenSignature, Profile: prof})
	code, events := runClient(t, addr, ClientConfig{Profile: prof})
	if code != peerkit.ExitInvalid {
		t.Fatalf("exit %d", code)
	}
	if c := peertest.Find(events, "close"); len(c) != 1 || c[0]["code"] != float64(0x1234) || c[0]["from"] != "client" {
		t.Fatalf("close events: %v", c)
	}
	log.WaitFor(t, "close received code=0x1234")
}

func TestProfileMismatchMeansNoExtension(t *testing.T) {
	p := peertest.Certs()
	addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B},
		Profile: Profile{Setting: 0xf5ec, Frame: 0xf5, Invalid: 0x1234}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}})
	if code != peerkit.ExitUnproven || len(peertest.Find(events, "certificate")) != 0 {
		t.Fatalf("exit %d, events %v", code, events)
	}
	log.WaitFor(t, "not negotiated")
}

func TestPlainPeersNeverUseTheFrame(t *testing.T) {
	p := peertest.Certs()
	t.Run("plain server", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}, Plain: true})
		code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}})
		if code != peerkit.ExitUnproven || len(peertest.Find(events, "certificate")) != 0 || len(peertest.Find(events, "unproven")) != 1 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		if r := peertest.ResponseFor(t, events, "a.example"); r["status"] != 200.0 {
			t.Fatalf("response %v", r)
		}
		if s := peertest.Find(events, "settings"); len(s) != 1 || s[0]["peerCertAuth"] != false {
			t.Fatalf("settings %v", s)
		}
		log.WantAbsent(t, ": closed", "SERVER_CERTIFICATE")
	})
	t.Run("plain client", func(t *testing.T) {
		addr, log := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}})
		code, events := runClient(t, addr, ClientConfig{Plain: true})
		if code != peerkit.ExitOK || len(peertest.Find(events, "certificate")) != 0 {
			t.Fatalf("exit %d, events %v", code, events)
		}
		log.WantAbsent(t, ": closed", "sent SERVER_CERTIFICATE")
	})
}

func TestUntrustedSecondaryIsNotUsedButNotAnError(t *testing.T) {
	addr, _ := startServer(t, ServerConfig{Secondaries: []tls.Certificate{peertest.Stranger(t, "b.example")}})
	code, events := runClient(t, addr, ClientConfig{Fetch: []string{"b.example"}})
	peertest.WantUntrusted(t, code, events, "close")
}

// rawClient is an HTTP/3 connection to the server driven by the test.
func rawClient(t *testing.T, addr string, advertise bool, setup func(*Conn)) *Conn {
	t.Helper()
	tlsConf := &tls.Config{ServerName: "a.example", RootCAs: peertest.Certs().CA.Pool(), NextProtos: []string{ALPN}}
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
	p := peertest.Certs()
	addr, _ := startServer(t, ServerConfig{Secondaries: []tls.Certificate{p.B}})
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
	tlsConf := &tls.Config{ServerName: "a.example", RootCAs: peertest.Certs().CA.Pool(), NextProtos: []string{ALPN}}
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
