#!/bin/sh
# Builds the Go interop peers (go-h2-server, go-h2-client, and when quic-go
# is available go-h3-server, go-h3-client) into interop/bin/.
# Offline on purpose: GOPATH mode over Debian's packaged sources
# (/usr/share/gocode holds golang.org/x/net and quic-go), never the module proxy.
# With GO_TEST=1 it also runs the Go tests (RFC 9261 vectors and the
# in-process server/client interop tests).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin="$here/bin"

if ! command -v go >/dev/null 2>&1; then
  echo "build-go.sh: 'go' not found; skipping the Go interop peers" >&2
  exit 0
fi

. "$here/go-env.sh"

# Patterns with ... do not follow the symlink, so the packages are listed.
pkgs="ea h2ext peerkit peerkit/peertest peer server client"
# The HTTP/3 peers need quic-go (Debian: golang-github-lucas-clemente-quic-go-dev)
# and, for their tests, marten-seemann/qpack (a dependency of that package).
h3=0
if go list github.com/lucas-clemente/quic-go github.com/marten-seemann/qpack >/dev/null 2>&1; then
  h3=1
  pkgs="$pkgs h3peer h3server h3client"
else
  echo "build-go.sh: quic-go sources not found; skipping go-h3-server and go-h3-client" >&2
fi
full=""
for p in $pkgs; do full="$full secondarycerts/interop/$p"; done

# shellcheck disable=SC2086
go vet $full
go build -o "$bin/go-h2-server" secondarycerts/interop/server
go build -o "$bin/go-h2-client" secondarycerts/interop/client
echo "build-go.sh: built $bin/go-h2-server and $bin/go-h2-client"
if [ "$h3" = 1 ]; then
  go build -o "$bin/go-h3-server" secondarycerts/interop/h3server
  go build -o "$bin/go-h3-client" secondarycerts/interop/h3client
  echo "build-go.sh: built $bin/go-h3-server and $bin/go-h3-client"
fi

if [ "${GO_TEST:-0}" = 1 ]; then
  # shellcheck disable=SC2086
  EA_VECTORS="${EA_VECTORS:-$here/../test/vectors}" go test -count=1 $full
fi
