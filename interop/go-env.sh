# Sourced by the Go scripts here: offline GOPATH mode over Debian's packaged sources, with our own
# GOPATH entry so that the import path secondarycerts/interop/... points at interop/go.
# Expects $here (this directory) and $bin (interop/bin).
gopath="$bin/gopath"
mkdir -p "$gopath/src/secondarycerts"
ln -sfn "$here/go" "$gopath/src/secondarycerts/interop"

export GO111MODULE=off GOFLAGS= GOPROXY=off
export GOPATH="$gopath:/usr/share/gocode"
