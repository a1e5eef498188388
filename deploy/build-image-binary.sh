#!/bin/sh
# build-image-binary.sh DIR builds the binaries the container image ships into
# DIR: DIR/coredns (the server) and DIR/mysqlgw-regions (seed and fetch, for
# the init container and the sidecar), static (no cgo) and stripped.
# deploy/Dockerfile runs exactly this, and so does CI (the manifest test in
# deploy/kubernetes), so the image's build cannot drift from the one that is
# tested.
set -eu
out=${1:?usage: deploy/build-image-binary.sh DIR}
cd "$(dirname "$0")/.."
for cmd in coredns mysqlgw-regions; do
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/$cmd" "./cmd/$cmd"
done
