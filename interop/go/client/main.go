// Command go-h2-client is the Go interop client: it connects over HTTP/2,
// validates every SERVER_CERTIFICATE, optionally asks with OPTIONS *, then
// fetches the proven origins on the same connection. It prints one JSON
// object per event on stdout; the exit codes are peerkit.Exit*.
package main

import (
	"net/url"
	"os"

	"secondarycerts/interop/peer"
	"secondarycerts/interop/peerkit"
)

func main() {
	f := peerkit.NewClientFlags("go-h2-client", "TLS server name (default: the URL host)")
	rawURL := f.FS.String("url", "", "https://127.0.0.1:PORT/path to connect to")
	var options peerkit.ListFlag
	f.FS.Var(&options, "options-star", "origins to request with OPTIONS * (comma-separated, repeatable)")
	var u *url.URL
	p, roots := peerkit.ParseClient(f, peer.ProfileFlags(f.FS), func() string {
		var err error
		if u, err = url.Parse(*rawURL); err != nil || u.Scheme != "https" || u.Host == "" {
			f.Cmd.Fail(peerkit.ExitError, "-url must be https://host:port/")
		}
		return u.Hostname()
	})
	port, addr := u.Port(), u.Host
	if port == "" {
		port, addr = "443", u.Host+":443"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	os.Exit(peer.RunClient(peer.ClientConfig{
		Addr: addr, Port: port, ServerName: *f.ServerName, Path: path, Roots: roots,
		Fetch: f.Fetch, OptionsStar: options, ExpectInvalid: *f.ExpectInvalid, Plain: *f.Plain,
		Profile: p, Wait: *f.Wait, Timeout: *f.Timeout, Out: os.Stdout,
	}))
}
