// Command go-h2-server is the Go interop server: HTTP/2 over TLS 1.3 that
// sends each -secondary identity in a SERVER_CERTIFICATE frame once both
// sides sent SETTINGS_HTTP_SERVER_CERT_AUTH=1, and answers OPTIONS *.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"secondarycerts/interop/peer"
)

// secondaryFlag collects repeated "-secondary chain.pem,key.pem" pairs.
type secondaryFlag []tls.Certificate

func (s *secondaryFlag) String() string { return fmt.Sprintf("%d identities", len(*s)) }

func (s *secondaryFlag) Set(v string) error {
	var chain, key string
	if n, _ := fmt.Sscanf(replaceComma(v), "%s %s", &chain, &key); n != 2 {
		return fmt.Errorf("want chain.pem,key.pem, got %q", v)
	}
	c, err := tls.LoadX509KeyPair(chain, key)
	if err != nil {
		return err
	}
	*s = append(*s, c)
	return nil
}

func replaceComma(v string) string {
	b := []byte(v)
	for i := range b {
		if b[i] == ',' {
			b[i] = ' '
		}
	}
	return string(b)
}

func main() {
	fs := flag.NewFlagSet("go-h2-server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	cert := fs.String("cert", "", "primary (TLS) certificate chain, PEM")
	key := fs.String("key", "", "primary private key, PEM")
	var secondaries secondaryFlag
	fs.Var(&secondaries, "secondary", "chain.pem,key.pem of a secondary identity (repeatable)")
	broken := fs.String("broken", "", "misbehave: bad-signature, wrong-exporter, nonzero-stream, before-settings")
	plain := fs.Bool("plain", false, "do not advertise the setting (a server without the extension)")
	quiet := fs.Bool("quiet", false, "no log lines on stderr")
	genCerts := fs.String("gen-certs", "", "write a test CA and a/b/c.example certificates into this directory, then exit")
	profile := peer.ProfileFlags(fs)
	fs.Parse(os.Args[1:])

	if *genCerts != "" {
		files, err := peer.GenerateCerts(*genCerts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go-h2-server:", err)
			os.Exit(1)
		}
		for _, f := range files {
			fmt.Println(f)
		}
		return
	}
	p, err := profile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-h2-server: bad profile:", err)
		os.Exit(2)
	}
	primary, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-h2-server: -cert/-key:", err)
		os.Exit(2)
	}
	cfg := peer.ServerConfig{Primary: primary, Secondaries: secondaries, Profile: p, Broken: *broken, Plain: *plain}
	if !*quiet {
		cfg.Log = os.Stderr
	}
	srv, err := peer.NewServer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-h2-server:", err)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-h2-server:", err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING %d\n", l.Addr().(*net.TCPAddr).Port)
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		<-stop
		l.Close()
		os.Exit(0)
	}()
	srv.Serve(l)
}
