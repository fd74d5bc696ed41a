// Command go-h3-client is the Go HTTP/3 interop client: it connects,
// validates every SERVER_CERTIFICATE on the server's control stream, then
// fetches the TLS name and the proven -fetch origins on the same
// connection. One JSON object per event on stdout; exit codes are h3peer.Exit*.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"secondarycerts/interop/ea"
	"secondarycerts/interop/h3peer"
	"secondarycerts/interop/peer"
)

func main() {
	fs := flag.NewFlagSet("go-h3-client", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port (UDP) of the server")
	serverName := fs.String("servername", "", "TLS server name (default: the -addr host)")
	ca := fs.String("ca", "", "trust anchors, PEM")
	path := fs.String("path", "/", "request path")
	var fetch peer.ListFlag
	fs.Var(&fetch, "fetch", "authorities to GET once proven (comma-separated, repeatable)")
	expectInvalid := fs.Bool("expect-invalid", false, "exit 2 unless a certificate is rejected or ignored")
	plain := fs.Bool("plain", false, "do not advertise the setting (a client without the extension)")
	wait := fs.Duration("wait", time.Second, "how long to wait for SERVER_CERTIFICATE frames")
	timeout := fs.Duration("timeout", 15*time.Second, "limit for the whole run")
	profile := h3peer.ProfileFlags(fs)
	fs.Parse(os.Args[1:])

	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "go-h3-client: "+format+"\n", args...)
		os.Exit(h3peer.ExitError)
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fail("-addr must be host:port")
	}
	p, err := profile()
	if err != nil {
		fail("bad profile: %v", err)
	}
	roots, err := ea.LoadRoots(*ca)
	if err != nil {
		fail("-ca: %v", err)
	}
	if *serverName == "" {
		*serverName = host
	}
	os.Exit(h3peer.RunClient(h3peer.ClientConfig{
		Addr: *addr, ServerName: *serverName, Path: *path, Roots: roots, Fetch: fetch,
		ExpectInvalid: *expectInvalid, Plain: *plain, Profile: p, Wait: *wait, Timeout: *timeout, Out: os.Stdout,
	}))
}
