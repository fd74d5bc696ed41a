// Package peertest holds the test helpers the HTTP/2 and HTTP/3 peer tests
// share: one test PKI, a server log to wait on, and the client's events.
package peertest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peerkit"
)

// PKI is one CA with a primary a.example (P-256) and secondaries
// b.example (Ed25519) and c.example (P-256).
type PKI struct {
	CA      *peerkit.TestCA
	A, B, C tls.Certificate
}

var (
	pkiOnce sync.Once
	shared  PKI
)

// Certs returns the PKI, made once for all tests.
func Certs() PKI {
	pkiOnce.Do(func() {
		ca, err := peerkit.NewTestCA("test CA")
		if err != nil {
			panic(err)
		}
		shared.CA = ca
		shared.A, _ = ca.Issue("p256", "a.example")
		shared.B, _ = ca.Issue("ed25519", "b.example")
		shared.C, _ = ca.Issue("p256", "c.example")
	})
	return shared
}

// Log is a log the server writes from several goroutines.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Log) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Log) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor polls the log, as the server writes it after the client has gone.
func (b *Log) WaitFor(t *testing.T, want string) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(b.String(), want) {
			return
		}
	}
	t.Fatalf("server log lacks %q:\n%s", want, b.String())
}

// WantAbsent waits for after in the log, then fails if unwanted is in it.
func (b *Log) WantAbsent(t *testing.T, after, unwanted string) {
	t.Helper()
	b.WaitFor(t, after)
	if strings.Contains(b.String(), unwanted) {
		t.Fatalf("server sent the frame:\n%s", b.String())
	}
}

// StartServer starts a server of either protocol on a loopback port and
// returns its address and log. cfg defaults to a.example as the TLS
// identity and to profile def; the server stops with the test.
func StartServer[P comparable, L peerkit.Listener, S peerkit.Server[L]](t *testing.T, cfg peerkit.ServerConfig[P], def P,
	newServer func(peerkit.ServerConfig[P]) (S, error)) (string, *Log) {
	t.Helper()
	if cfg.Primary.Certificate == nil {
		cfg.Primary = Certs().A
	}
	var zero P
	if cfg.Profile == zero {
		cfg.Profile = def
	}
	log := &Log{}
	cfg.Log = log
	srv, err := newServer(cfg)
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

// Stranger is a certificate for name from a CA the tests do not trust.
func Stranger(t *testing.T, name string) tls.Certificate {
	t.Helper()
	other, err := peerkit.NewTestCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Issue("p256", name)
	if err != nil {
		t.Fatal(err)
	}
	return stranger
}

// WantUntrusted checks a run against a server whose one secondary is a
// Stranger: the origin stayed unproven, the certificate event says
// untrusted, and the connection did not end in error (no event named ended).
func WantUntrusted(t *testing.T, code int, events []Event, ended string) {
	t.Helper()
	if code != peerkit.ExitUnproven {
		t.Fatalf("exit %d", code)
	}
	certs := Find(events, "certificate")
	if len(certs) != 1 || certs[0]["error"] != string(ea.KindUntrusted) || len(Find(events, ended)) != 0 {
		t.Fatalf("events: %v", events)
	}
}

// WantValid checks that the certificate events are valid ones with these schemes, in order.
func WantValid(t *testing.T, events []Event, schemes ...string) []Event {
	t.Helper()
	certs := Find(events, "certificate")
	if len(certs) != len(schemes) {
		t.Fatalf("certificate events: %v", certs)
	}
	for _, c := range certs {
		if c["valid"] != true {
			t.Fatalf("certificate events: %v", certs)
		}
	}
	for i, c := range certs {
		if c["scheme"] != schemes[i] {
			t.Fatalf("schemes: %v", certs)
		}
	}
	return certs
}

// WantRejected checks for one certificate event, invalid for reason.
func WantRejected(t *testing.T, events []Event, reason string) {
	t.Helper()
	certs := Find(events, "certificate")
	if len(certs) != 1 || certs[0]["valid"] != false || certs[0]["error"] != reason {
		t.Fatalf("certificate events: %v", certs)
	}
}

// BrokenCase is a server broken on purpose and what a client must see.
type BrokenCase struct {
	Mode   string
	Exit   int
	Reason string // in the certificate event's error; "" for no check
	Log    string // what the server log shows it received; "" for no check
}

// Broken runs each case as a subtest. run starts a server in that broken
// mode with b.example as its secondary and runs a client that fetches
// b.example with -expect-invalid. The client must exit with Exit, not fetch
// b.example and print Reason in its one certificate event, and the server
// log must show Log; responses checks the response events further.
func Broken(t *testing.T, cases []BrokenCase, run func(t *testing.T, mode string) (int, []Event, *Log),
	responses func(t *testing.T, mode string, r []Event)) {
	for _, tc := range cases {
		t.Run(tc.Mode, func(t *testing.T) {
			code, events, log := run(t, tc.Mode)
			if code != tc.Exit {
				t.Fatalf("exit %d, want %d", code, tc.Exit)
			}
			responses(t, tc.Mode, Find(events, "response"))
			for _, r := range Find(events, "response") {
				if r["authority"] == "b.example" {
					t.Fatal("fetched an origin a broken server claimed")
				}
			}
			if tc.Reason != "" {
				WantRejected(t, events, tc.Reason)
			}
			if tc.Log != "" {
				log.WaitFor(t, tc.Log)
			}
		})
	}
}

// Event is one line of a client's output.
type Event map[string]any

// RunClient calls run with the writer for the client's events and returns
// its exit code and the events, each line checked to be JSON.
func RunClient(t *testing.T, run func(out io.Writer) int) (int, []Event) {
	t.Helper()
	var out bytes.Buffer
	code := run(&out)
	var events []Event
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		events = append(events, e)
	}
	t.Logf("client exit %d:\n%s", code, out.String())
	return code, events
}

// Find returns the events named name.
func Find(events []Event, name string) []Event {
	var out []Event
	for _, e := range events {
		if e["event"] == name {
			out = append(out, e)
		}
	}
	return out
}

// ResponseFor returns the response event for authority, failing without one.
func ResponseFor(t *testing.T, events []Event, authority string) Event {
	t.Helper()
	for _, e := range Find(events, "response") {
		if e["authority"] == authority {
			return e
		}
	}
	t.Fatalf("no response for %s", authority)
	return nil
}
