// Command go-h2-server is the Go interop server: HTTP/2 over TLS 1.3 that
// sends each -secondary identity in a SERVER_CERTIFICATE frame once both
// sides sent SETTINGS_HTTP_SERVER_CERT_AUTH=1, and answers OPTIONS *.
package main

import (
	"net"

	"secondarycerts/interop/h2ext"
	"secondarycerts/interop/peer"
	"secondarycerts/interop/peerkit"
)

func main() {
	peerkit.ServerMain[h2ext.Profile, net.Listener]("go-h2-server", "listen address (loopback)",
		"misbehave: bad-signature, wrong-exporter, nonzero-stream, before-settings",
		peer.ProfileFlags, peer.NewServer)
}
