#!/usr/bin/env bash
# bench/profile.sh: a CPU profile of the running mysqlgw server under dnsperf
# load, taken with CoreDNS's pprof plugin on a loopback port, and sorted into
# the stages a query goes through (bench/stages.awk). See bench/README.md.
#
#   bench/profile.sh                    # 10 s profile, results in bench/results/
#   PLUGIN=whoami bench/profile.sh      # the same for CoreDNS with whoami alone
#
# Environment:
#   SECONDS_PROFILED=10   length of the profile; dnsperf runs 4 s longer
#   PLUGIN=mysqlgw        the plugin behind the server (mysqlgw or whoami)
#   CLIENTS=8 THREADS=2 OUTSTANDING=100   dnsperf -c, -T and -q
#   NICE=0                nice level of the server and dnsperf (see run.sh)
#   OUT=dir               where profile-PLUGIN.md and profile-PLUGIN.pb.gz go
# Needs dnsperf, dig, curl and go.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PROFILED=${SECONDS_PROFILED:-10}
PLUGIN=${PLUGIN:-mysqlgw}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
OUTSTANDING=${OUTSTANDING:-100}
NICE=${NICE:-0}
OUT=${OUT:-$ROOT/bench/results}
ZONE=gateway.mysql.local.

for tool in dnsperf dig curl go; do
	command -v "$tool" >/dev/null || { echo "profile.sh: $tool is not installed" >&2; exit 1; }
done
case $PLUGIN in
mysqlgw | whoami) ;;
*) echo "profile.sh: PLUGIN must be mysqlgw or whoami" >&2; exit 1 ;;
esac

WORK=$(mktemp -d /tmp/mysqlgw-profile.XXXXXX)
source "$ROOT/bench/lib.sh"

# start NAME BODY: CoreDNS with BODY for the zone (and in-addr.arpa) on a
# free loopback port, left in $STARTED_PORT (not printed: a command
# substitution would lose the PID from PIDS, and the server with it).
start() {
	local name=$1 body=$2 port pid
	port=$(free_port) && [[ -n $port ]] || exit 1
	mkdir -p "$WORK/$name"
	printf '%s:%s in-addr.arpa:%s {\n    bind 127.0.0.1\n%s\n}\n' "${ZONE%.}" "$port" "$port" "$body" >"$WORK/$name/Corefile"
	(cd "$WORK/$name" && exec nice -n "$NICE" "$WORK/coredns" -conf Corefile -quiet >log 2>&1) &
	pid=$!
	PIDS+=("$pid")
	wait_answer "$name" "$port" "$pid"
	STARTED_PORT=$port
}

build_tools
generate

PPROF_PORT=$(free_port)
start profiled "    pprof 127.0.0.1:$PPROF_PORT
    $PLUGIN"
PORT=$STARTED_PORT
log "profiling $PLUGIN on 127.0.0.1:$PORT (pprof on 127.0.0.1:$PPROF_PORT)"

nice -n "$NICE" dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/gen/queries.txt" -l $((SECONDS_PROFILED + 4)) \
	-c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" -t 1 >"$WORK/dnsperf.txt" 2>&1 &
DNSPERF=$!
PIDS+=("$DNSPERF")
sleep 2
mkdir -p "$OUT"
curl -sf -o "$OUT/profile-$PLUGIN.pb.gz" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$SECONDS_PROFILED"
wait "$DNSPERF"

QPS=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$WORK/dnsperf.txt")
TOTAL=$(go tool pprof -traces "$OUT/profile-$PLUGIN.pb.gz" 2>/dev/null | awk -f bench/stages.awk | awk -F'|' '/^\| total/ { print $3 + 0 }')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "# CPU profile of CoreDNS + $PLUGIN under dnsperf, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "Commit $COMMIT; $(go env GOVERSION); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "dnsperf -c $CLIENTS -T $THREADS -q $OUTSTANDING, same query mix as run.sh: $QPS queries/s while profiling $SECONDS_PROFILED s."
	awk -v t="$TOTAL" -v q="$QPS" -v s="$SECONDS_PROFILED" 'BEGIN { if (q > 0) printf "Server CPU: %.2f s in %d s, %.1f µs per query.\n", t, s, t / (q * s) * 1e6 }'
	echo
	go tool pprof -traces "$OUT/profile-$PLUGIN.pb.gz" 2>/dev/null | awk -f bench/stages.awk
	echo
	echo "Top functions by cumulative CPU:"
	echo
	echo '```'
	go tool pprof -top -cum -nodecount=30 "$OUT/profile-$PLUGIN.pb.gz" 2>/dev/null | sed -n '/flat%/,$p'
	echo '```'
} >"$OUT/profile-$PLUGIN.md"
cat "$OUT/profile-$PLUGIN.md"
log "wrote $OUT/profile-$PLUGIN.md and $OUT/profile-$PLUGIN.pb.gz (go tool pprof -http=127.0.0.1:8080 $OUT/profile-$PLUGIN.pb.gz)"
