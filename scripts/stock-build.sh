#!/usr/bin/env bash
# stock-build.sh builds the official CoreDNS v1.15.0 source, from the Go
# module cache, with mysqlgw added through plugin.cfg, the way CoreDNS
# documents external plugins, and checks that the binary answers a query on
# loopback. It is what docs/development.md's "Build into CoreDNS" section describes.
#
#   scripts/stock-build.sh            # build, run, query, clean up
#   KEEP=/some/dir scripts/stock-build.sh   # also copy the binary there
set -euo pipefail

version=v1.15.0
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# The CoreDNS source, writable: the module cache is read-only.
go mod download github.com/coredns/coredns@$version
cp -r "$(go env GOMODCACHE)/github.com/coredns/coredns@$version" "$work/coredns"
chmod -R u+w "$work/coredns"
cd "$work/coredns"

# 1. plugin.cfg: mysqlgw before hosts, so that it can fall through to hosts,
#    file and forward.
sed -i 's|^hosts:hosts$|mysqlgw:github.com/mysqlgw/mysqlgw\n&|' plugin.cfg
grep -q '^mysqlgw:github.com/mysqlgw/mysqlgw$' plugin.cfg

# 2. The module: this checkout, until mysqlgw is published.
go mod edit -replace "github.com/mysqlgw/mysqlgw=$repo"
go get github.com/mysqlgw/mysqlgw@v0.0.0

# 3. Generate the plugin list and build. -trimpath and CGO_ENABLED=0 are the
#    flags of deploy/build-image-binary.sh, so the two builds share Go's build
#    cache for every package they have in common.
go generate coredns.go
grep -A1 '"mysqlgw",' core/dnsserver/zdirectives.go | grep -q '"hosts",'
start=$SECONDS
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/coredns-mysqlgw" .
echo "stock-build: go build took $((SECONDS - start))s" >&2
"$work/coredns-mysqlgw" -plugins | grep -qx mysqlgw

# 4. Run it on a loopback port and ask it one question.
cd "$work"
for attempt in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	cat >Corefile <<CORE
gateway.mysql.local:$port {
    bind 127.0.0.1
    mysqlgw
}
CORE
	./coredns-mysqlgw -conf Corefile >coredns.log 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		if answer=$(dig @127.0.0.1 -p "$port" +short +time=1 +tries=1 primary.eastus2.gateway.mysql.local A 2>/dev/null) && [ -n "$answer" ]; then
			break 2
		fi
		if ! kill -0 "$pid" 2>/dev/null; then break; fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
	if ! grep -q 'address already in use' coredns.log; then
		cat coredns.log >&2
		echo "stock-build: the binary did not answer on 127.0.0.1:$port" >&2
		exit 1
	fi
done
if [ -z "$pid" ]; then
	echo "stock-build: no free port after 5 tries" >&2
	exit 1
fi
if [ "$answer" != "191.239.224.107" ]; then
	echo "stock-build: primary.eastus2.gateway.mysql.local A: got '$answer', want 191.239.224.107" >&2
	exit 1
fi
if [ -n "${KEEP:-}" ]; then cp coredns-mysqlgw "$KEEP/"; fi
echo "stock-build: CoreDNS $version with mysqlgw answered primary.eastus2.gateway.mysql.local A $answer"
