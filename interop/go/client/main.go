// Command go-h2-client is the Go interop client: it connects over HTTP/2,
// validates every SERVER_CERTIFICATE, optionally asks with OPTIONS *, then
// fetches the proven origins on the same connection. It prints one JSON
// object per event on stdout; the exit codes are peer.Exit*.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/peer"
)

func main() {
	fs := flag.NewFlagSet("go-h2-client", flag.ExitOnError)
	rawURL := fs.String("url", "", "https://127.0.0.1:PORT/path to connect to")
	serverName := fs.String("servername", "", "TLS server name (default: the URL host)")
	ca := fs.String("ca", "", "trust anchors, PEM")
	var fetch, options peer.ListFlag
	fs.Var(&fetch, "fetch", "authorities to GET once proven (comma-separated, repeatable)")
	fs.Var(&options, "options-star", "origins to request with OPTIONS * (comma-separated, repeatable)")
	expectInvalid := fs.Bool("expect-invalid", false, "exit 2 unless a certificate is rejected or ignored")
	plain := fs.Bool("plain", false, "do not advertise the setting (a client without the extension)")
	wait := fs.Duration("wait", time.Second, "how long to wait for SERVER_CERTIFICATE frames")
	timeout := fs.Duration("timeout", 15*time.Second, "limit for the whole run")
	profile := peer.ProfileFlags(fs)
	fs.Parse(os.Args[1:])

	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "go-h2-client: "+format+"\n", args...)
		os.Exit(peer.ExitError)
	}
	u, err := url.Parse(*rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		fail("-url must be https://host:port/")
	}
	p, err := profile()
	if err != nil {
		fail("bad profile: %v", err)
	}
	roots, err := ea.LoadRoots(*ca)
	if err != nil {
		fail("-ca: %v", err)
	}
	port := u.Port()
	addr := u.Host
	if port == "" {
		port, addr = "443", u.Host+":443"
	}
	if *serverName == "" {
		*serverName = u.Hostname()
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	os.Exit(peer.RunClient(peer.ClientConfig{
		Addr: addr, Port: port, ServerName: *serverName, Path: path, Roots: roots,
		Fetch: fetch, OptionsStar: options, ExpectInvalid: *expectInvalid, Plain: *plain,
		Profile: p, Wait: *wait, Timeout: *timeout, Out: os.Stdout,
	}))
}
