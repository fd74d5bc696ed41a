// Command go-h3-server is the Go HTTP/3 interop server: it sends each
// -secondary identity in a SERVER_CERTIFICATE frame on its control stream
// once both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH=1, and serves GET for
// its TLS name and every name it proved on the connection.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"secondarycerts/interop/h3peer"
	"secondarycerts/interop/peer"
)

func main() {
	fs := flag.NewFlagSet("go-h3-server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (UDP, loopback)")
	cert := fs.String("cert", "", "primary (TLS) certificate chain, PEM")
	key := fs.String("key", "", "primary private key, PEM")
	var secondaries h3peer.SecondaryFlag
	fs.Var(&secondaries, "secondary", "chain.pem,key.pem of a secondary identity (repeatable)")
	broken := fs.String("broken", "", "misbehave: bad-signature, wrong-exporter, request-stream, unadvertised")
	plain := fs.Bool("plain", false, "do not advertise the setting (a server without the extension)")
	quiet := fs.Bool("quiet", false, "no log lines on stderr")
	genCerts := fs.String("gen-certs", "", "write a test CA and a/b/c.example certificates into this directory, then exit")
	profile := h3peer.ProfileFlags(fs)
	fs.Parse(os.Args[1:])

	fail := func(code int, format string, args ...any) {
		fmt.Fprintf(os.Stderr, "go-h3-server: "+format+"\n", args...)
		os.Exit(code)
	}
	if *genCerts != "" {
		files, err := peer.GenerateCerts(*genCerts)
		if err != nil {
			fail(1, "%v", err)
		}
		for _, f := range files {
			fmt.Println(f)
		}
		return
	}
	p, err := profile()
	if err != nil {
		fail(2, "bad profile: %v", err)
	}
	primary, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fail(2, "-cert/-key: %v", err)
	}
	cfg := h3peer.ServerConfig{Primary: primary, Secondaries: secondaries, Profile: p, Broken: *broken, Plain: *plain}
	if !*quiet {
		cfg.Log = os.Stderr
	}
	srv, err := h3peer.NewServer(cfg)
	if err != nil {
		fail(2, "%v", err)
	}
	l, err := srv.Listen(*addr)
	if err != nil {
		fail(1, "%v", err)
	}
	fmt.Printf("LISTENING %d\n", l.Addr().(*net.UDPAddr).Port)
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		<-stop
		l.Close()
		os.Exit(0)
	}()
	srv.Serve(l)
}
