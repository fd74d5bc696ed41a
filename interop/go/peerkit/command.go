package peerkit

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"secondarycerts/interop/ea"
)

// Command is a program's name, for its stderr messages.
type Command string

// Fail prints "NAME: message" on stderr and exits with code.
func (c Command) Fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, string(c)+": "+format+"\n", args...)
	os.Exit(code)
}

// ListFlag is a repeatable flag whose values may also be comma-separated.
type ListFlag []string

func (l *ListFlag) String() string { return strings.Join(*l, ",") }

func (l *ListFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// Codepoints are a profile's three numbers, whatever their protocol's widths.
type Codepoints struct{ Setting, Frame, Invalid uint64 }

// ProfileFlags registers -profile-setting, -profile-frame and -error-code
// with defaults d, and returns a function that reads them with parse, given
// each one's width in bits from widths, once flags are parsed.
func ProfileFlags(fs *flag.FlagSet, d, widths Codepoints, parse func(value string, bits int) (uint64, error)) func() (Codepoints, error) {
	setting := fs.String("profile-setting", fmt.Sprintf("0x%x", d.Setting), "SETTINGS_HTTP_SERVER_CERT_AUTH identifier")
	frame := fs.String("profile-frame", fmt.Sprintf("0x%x", d.Frame), "SERVER_CERTIFICATE frame type")
	code := fs.String("error-code", fmt.Sprintf("0x%x", d.Invalid), "SERVER_CERTIFICATE_INVALID error code")
	return func() (Codepoints, error) {
		s, err1 := parse(*setting, int(widths.Setting))
		f, err2 := parse(*frame, int(widths.Frame))
		e, err3 := parse(*code, int(widths.Invalid))
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				return Codepoints{}, err
			}
		}
		return Codepoints{Setting: s, Frame: f, Invalid: e}, nil
	}
}

// ServerConfig configures a server of either protocol; P is its profile.
type ServerConfig[P any] struct {
	Primary     tls.Certificate   // the TLS certificate
	Secondaries []tls.Certificate // each sent in its own SERVER_CERTIFICATE
	Profile     P
	Broken      string
	Plain       bool      // never advertise the setting (so never send the frame): a peer without the extension
	Log         io.Writer // one line per notable event; nil discards
	// ClientCA, a PEM file, turns on client certificates at the HTTP layer (rosomakho-00; HTTP/3 only):
	// GET /protected asks the client for an authenticator and checks its chain against these roots.
	ClientCA string
}

// Listener is what a server listens with: TCP or QUIC.
type Listener interface {
	Addr() net.Addr
	Close() error
}

// Server is a server of either protocol.
type Server[L Listener] interface {
	Listen(addr string) (L, error)
	Serve(l L) error
}

// ServerMain is the whole of a server command: its flags are the shared
// ones, with the usage of -addr and -broken given here, and the protocol's
// profile flags. It handles -gen-certs, builds the server with newServer,
// prints "LISTENING <port>" and serves until SIGINT or SIGTERM. Usage
// errors exit 2, a failure to generate or to listen 1.
func ServerMain[P any, L Listener, S Server[L]](name, addrUsage, brokenUsage string,
	profileFlags func(*flag.FlagSet) func() (P, error), newServer func(ServerConfig[P]) (S, error)) {
	cmd := Command(name)
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", addrUsage)
	cert := fs.String("cert", "", "primary (TLS) certificate chain, PEM")
	key := fs.String("key", "", "primary private key, PEM")
	var secondaries SecondaryFlag
	fs.Var(&secondaries, "secondary", "chain.pem,key.pem of a secondary identity (repeatable)")
	broken := fs.String("broken", "", brokenUsage)
	plain := fs.Bool("plain", false, "do not advertise the setting (a server without the extension)")
	quiet := fs.Bool("quiet", false, "no log lines on stderr")
	genCerts := fs.String("gen-certs", "", "write a test CA and a/b/c.example certificates into this directory, then exit")
	clientCA := fs.String("client-ca", "", "PEM roots for client certificates at the HTTP layer: GET /protected asks for one (HTTP/3 only)")
	profile := profileFlags(fs)
	fs.Parse(os.Args[1:])

	if *genCerts != "" {
		files, err := GenerateCerts(*genCerts)
		if err != nil {
			cmd.Fail(1, "%v", err)
		}
		for _, f := range files {
			fmt.Println(f)
		}
		return
	}
	p, err := profile()
	if err != nil {
		cmd.Fail(2, "bad profile: %v", err)
	}
	primary, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		cmd.Fail(2, "-cert/-key: %v", err)
	}
	cfg := ServerConfig[P]{Primary: primary, Secondaries: secondaries, Profile: p, Broken: *broken, Plain: *plain, ClientCA: *clientCA}
	if !*quiet {
		cfg.Log = os.Stderr
	}
	srv, err := newServer(cfg)
	if err != nil {
		cmd.Fail(2, "%v", err)
	}
	l, err := srv.Listen(*addr)
	if err != nil {
		cmd.Fail(1, "%v", err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	fmt.Printf("LISTENING %s\n", port)
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		<-stop
		l.Close()
		os.Exit(0)
	}()
	srv.Serve(l)
}

// ClientFlags are the flags both clients take besides their target and
// profile, and the flag set they are in.
type ClientFlags struct {
	Cmd                  Command
	FS                   *flag.FlagSet
	ServerName, CA       *string
	Fetch                ListFlag
	ExpectInvalid, Plain *bool
	Wait, Timeout        *time.Duration
}

// NewClientFlags makes the flag set of the client command name with the
// shared flags; the usage of -servername is the protocol's.
func NewClientFlags(name, serverNameUsage string) *ClientFlags {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	f := &ClientFlags{Cmd: Command(name), FS: fs}
	f.ServerName = fs.String("servername", "", serverNameUsage)
	f.CA = fs.String("ca", "", "trust anchors, PEM")
	fs.Var(&f.Fetch, "fetch", "authorities to GET once proven (comma-separated, repeatable)")
	f.ExpectInvalid = fs.Bool("expect-invalid", false, "exit 2 unless a certificate is rejected or ignored")
	f.Plain = fs.Bool("plain", false, "do not advertise the setting (a client without the extension)")
	f.Wait = fs.Duration("wait", time.Second, "how long to wait for SERVER_CERTIFICATE frames")
	f.Timeout = fs.Duration("timeout", 15*time.Second, "limit for the whole run")
	return f
}

// ParseClient parses the command line of f, whose profile flags profile
// reads. It calls target first, which checks the protocol's target flags
// (exiting on a bad one) and returns the host -servername defaults to; then
// it reads the profile and loads -ca, exiting with ExitError on failure.
func ParseClient[P any](f *ClientFlags, profile func() (P, error), target func() (host string)) (P, *x509.CertPool) {
	f.FS.Parse(os.Args[1:])
	host := target()
	p, err := profile()
	if err != nil {
		f.Cmd.Fail(ExitError, "bad profile: %v", err)
	}
	roots, err := ea.LoadRoots(*f.CA)
	if err != nil {
		f.Cmd.Fail(ExitError, "-ca: %v", err)
	}
	if *f.ServerName == "" {
		*f.ServerName = host
	}
	return p, roots
}
