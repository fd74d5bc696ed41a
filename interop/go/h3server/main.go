// Command go-h3-server is the Go HTTP/3 interop server: it sends each
// -secondary identity in a SERVER_CERTIFICATE frame on its control stream
// once both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH=1, and serves GET for
// its TLS name and every name it proved on the connection.
package main

import (
	quic "github.com/lucas-clemente/quic-go"

	"secondarycerts/interop/h3peer"
	"secondarycerts/interop/peerkit"
)

func main() {
	peerkit.ServerMain[h3peer.Profile, quic.Listener]("go-h3-server", "listen address (UDP, loopback)",
		"misbehave: bad-signature, wrong-exporter, request-stream, unadvertised",
		h3peer.ProfileFlags, h3peer.NewServer)
}
