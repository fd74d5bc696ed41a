// Command go-h3-client is the Go HTTP/3 interop client: it connects,
// validates every SERVER_CERTIFICATE on the server's control stream, then
// fetches the TLS name and the proven -fetch origins on the same
// connection. One JSON object per event on stdout; exit codes are peerkit.Exit*.
package main

import (
	"crypto/tls"
	"net"
	"os"
	"strings"

	"secondarycerts/interop/h3peer"
	"secondarycerts/interop/peerkit"
)

func main() {
	f := peerkit.NewClientFlags("go-h3-client", "TLS server name (default: the -addr host)")
	addr := f.FS.String("addr", "", "host:port (UDP) of the server")
	path := f.FS.String("path", "/", "request path")
	clientCert := f.FS.String("client-cert", "", "chain.pem,key.pem: answer the server's AUTHENTICATOR_REQUESTS with this identity")
	p, roots := peerkit.ParseClient(f, h3peer.ProfileFlags(f.FS), func() string {
		host, _, err := net.SplitHostPort(*addr)
		if err != nil {
			f.Cmd.Fail(peerkit.ExitError, "-addr must be host:port")
		}
		return host
	})
	var id *peerkit.Identity
	if *clientCert != "" {
		files := strings.SplitN(*clientCert, ",", 2)
		if len(files) != 2 {
			f.Cmd.Fail(peerkit.ExitError, "-client-cert must be chain.pem,key.pem")
		}
		pair, err := tls.LoadX509KeyPair(files[0], files[1])
		if err != nil {
			f.Cmd.Fail(peerkit.ExitError, "-client-cert: %v", err)
		}
		loaded, err := peerkit.NewIdentity(pair)
		if err != nil {
			f.Cmd.Fail(peerkit.ExitError, "-client-cert: %v", err)
		}
		id = &loaded
	}
	os.Exit(h3peer.RunClient(h3peer.ClientConfig{
		Addr: *addr, ServerName: *f.ServerName, Path: *path, Roots: roots, Fetch: f.Fetch,
		ExpectInvalid: *f.ExpectInvalid, Plain: *f.Plain, Profile: p, Wait: *f.Wait, Timeout: *f.Timeout, Out: os.Stdout,
		ClientCert: id,
	}))
}
