#!/bin/sh
# Runs the Go EA package against RFC 9261 vectors: validates (and where possible rebuilds) every file
# in EA_VECTORS (default test/vectors), and with EA_VECTORS_OUT also writes its own vectors there.
# Exit 3 when Go is not installed (the caller decides whether that is a skip or a failure).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin="$here/bin"
command -v go >/dev/null 2>&1 || { echo "go-ea-vectors.sh: 'go' not found" >&2; exit 3; }
. "$here/go-env.sh"
export EA_VECTORS="${EA_VECTORS:-$here/../test/vectors}"
go test -count=1 -v -run 'TestVectors|TestWriteVectors' secondarycerts/interop/ea
