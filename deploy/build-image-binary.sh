#!/bin/sh
# build-image-binary.sh OUTPUT builds the binary the container image ships:
# cmd/coredns, static (no cgo) and stripped. deploy/Dockerfile runs exactly
# this, and so does CI (the manifest test in deploy/kubernetes), so the image's
# build cannot drift from the one that is tested.
set -eu
out=${1:?usage: deploy/build-image-binary.sh OUTPUT}
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out" ./cmd/coredns
