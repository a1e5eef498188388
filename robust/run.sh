#!/usr/bin/env bash
# Robustness run for mysqlgw: starts the real binary on loopback, floods it
# with hostile datagrams, then holds a dnsperf load while the regions file is
# rewritten every second. See robust/README.md.
#
#   robust/run.sh            # full run: DURATION=60 (seconds) by default
#   robust/run.sh --short    # CI: DURATION=10, fewer hostile datagrams
#
# Environment: DURATION (s), RATE (dnsperf queries/s), HOSTILE_COUNT, KEEP=1
# to keep the work folder. Exits non-zero when any target is missed.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--short" ]]; then
	DURATION="${DURATION:-10}"
	HOSTILE_COUNT="${HOSTILE_COUNT:-20000}"
fi
DURATION="${DURATION:-60}"
RATE="${RATE:-4000}"
HOSTILE_COUNT="${HOSTILE_COUNT:-50000}"

for tool in dnsperf; do
	if ! command -v "$tool" >/dev/null; then
		echo "robust: $tool is not installed (apt-get install dnsperf)" >&2
		exit 2
	fi
done

WORK="$(mktemp -d /tmp/mysqlgw-robust.XXXXXX)"
# bench/lib.sh: PIDS, reap, and cleanup on every way out
source bench/lib.sh
server_pid=""

# background CMD...: starts CMD and records its PID in $last_pid. Long steps
# run in the background and are waited for with reap, so that a signal stops
# the script at once rather than when the step ends.
background() {
	"$@" &
	last_pid=$!
	PIDS+=("$last_pid")
}

# in_background CMD...: runs CMD to the end, interruptibly, with its status.
in_background() {
	background "$@"
	reap "$last_pid"
}

echo "robust: building cmd/coredns and the tools into $WORK"
go build -o "$WORK/coredns" ./cmd/coredns
go build -o "$WORK/hostile" ./robust/hostile
go build -o "$WORK/reloadcheck" ./robust/reloadcheck

port="$("$WORK/reloadcheck" freeport)"
mport="$("$WORK/reloadcheck" freeport)"
"$WORK/reloadcheck" init -dir "$WORK"

cat >"$WORK/Corefile" <<EOF
gateway.mysql.local:$port {
    bind 127.0.0.1
    prometheus 127.0.0.1:$mport
    mysqlgw {
        regions regions.txt
        reload 250ms
    }
}
EOF

# The hostile phase runs against the built-in table, the load phase against
# the file: two servers one after the other, same binary.
cat >"$WORK/Corefile.hostile" <<EOF
gateway.mysql.local:$port {
    bind 127.0.0.1
    mysqlgw
}
EOF

start_server() {
	(cd "$WORK" && exec ./coredns -conf "$1" >"$WORK/server.log" 2>&1) &
	server_pid=$!
	PIDS+=("$server_pid")
	if ! in_background "$WORK/reloadcheck" wait -server "127.0.0.1:$port" -within 30s; then
		cat "$WORK/server.log"
		exit 1
	fi
}

stop_server() {
	kill -TERM "$server_pid"
	reap "$server_pid" 2>/dev/null || true
	server_pid=""
}

status=0

echo "== robust: hostile datagrams ($HOSTILE_COUNT) =="
start_server Corefile.hostile
in_background "$WORK/hostile" -server "127.0.0.1:$port" -count "$HOSTILE_COUNT" -rate 5000 -limit 60s || status=1
kill -0 "$server_pid" 2>/dev/null || { echo "FAIL: the server died during the flood"; status=1; }
stop_server

echo "== robust: ${DURATION}s of dnsperf at $RATE q/s with the regions file rewritten every second =="
start_server Corefile
sleep 1
background "$WORK/reloadcheck" run -server "127.0.0.1:$port" -file "$WORK/regions.txt" \
	-metrics "http://127.0.0.1:$mport/metrics" -duration "${DURATION}s" -settle 5s >"$WORK/reloadcheck.out" 2>&1
check_pid=$last_pid
background dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries.txt" -l "$DURATION" -Q "$RATE" -c 4 -t 2 -S 10 >"$WORK/dnsperf.out" 2>&1
dnsperf_pid=$last_pid
reap "$dnsperf_pid" || status=1
reap "$check_pid" || status=1
kill -0 "$server_pid" 2>/dev/null || { echo "FAIL: the server died under load"; status=1; }

sed -n '/Statistics:/,$p' "$WORK/dnsperf.out"
cat "$WORK/reloadcheck.out"

sent=$(awk '/Queries sent:/ {print $3}' "$WORK/dnsperf.out")
lost=$(awk '/Queries lost:/ {print $3}' "$WORK/dnsperf.out")
servfail=$(grep -o 'SERVFAIL [0-9]*' "$WORK/dnsperf.out" | awk '{print $2}' | head -1 || true)
servfail=${servfail:-0}
echo "robust: dnsperf sent ${sent:-?}, lost ${lost:-?}, SERVFAIL $servfail"
if [[ -z "$sent" || -z "$lost" ]]; then
	echo "FAIL: no dnsperf statistics"
	status=1
elif awk -v l="$lost" -v s="$sent" 'BEGIN { exit !(s == 0 || l * 1000 >= s) }'; then
	echo "FAIL: dnsperf lost $lost of $sent queries (target under 0.1%)"
	status=1
fi
if [[ "$servfail" != 0 ]]; then
	echo "FAIL: $servfail SERVFAIL answers to dnsperf"
	status=1
fi
if grep -q "panic" "$WORK/server.log"; then
	echo "FAIL: the server log has a panic"
	status=1
fi
echo "robust: server log: $(grep -c "Reloaded" "$WORK/server.log" || true) reloads, $(grep -c "ERROR" "$WORK/server.log" || true) errors logged"

if [[ $status == 0 ]]; then
	echo "robust: PASS"
else
	echo "robust: FAIL"
fi
exit $status
