// Command go-h3-client is the Go HTTP/3 interop client: it connects,
// validates every SERVER_CERTIFICATE on the server's control stream, then
// fetches the TLS name and the proven -fetch origins on the same
// connection. One JSON object per event on stdout; exit codes are peerkit.Exit*.
package main

import (
	"net"
	"os"

	"secondarycerts/interop/h3peer"
	"secondarycerts/interop/peerkit"
)

func main() {
	f := peerkit.NewClientFlags("go-h3-client", "TLS server name (default: the -addr host)")
	addr := f.FS.String("addr", "", "host:port (UDP) of the server")
	path := f.FS.String("path", "/", "request path")
	p, roots := peerkit.ParseClient(f, h3peer.ProfileFlags(f.FS), func() string {
		host, _, err := net.SplitHostPort(*addr)
		if err != nil {
			f.Cmd.Fail(peerkit.ExitError, "-addr must be host:port")
		}
		return host
	})
	os.Exit(h3peer.RunClient(h3peer.ClientConfig{
		Addr: *addr, ServerName: *f.ServerName, Path: *path, Roots: roots, Fetch: f.Fetch,
		ExpectInvalid: *f.ExpectInvalid, Plain: *f.Plain, Profile: p, Wait: *f.Wait, Timeout: *f.Timeout, Out: os.Stdout,
	}))
}
