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

work="$(mktemp -d /tmp/mysqlgw-robust.XXXXXX)"
# Every process started here is in pids, and stops on every way out: the
# end, a failure, Ctrl-C or a TERM.
pids=()
server_pid=""
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ "${KEEP:-}" == 1 ]]; then
		echo "robust: work folder kept at $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# background CMD...: starts CMD and records its PID in $last_pid. Long steps
# run in the background and are waited for with reap, so that a signal stops
# the script at once rather than when the step ends.
background() {
	"$@" &
	last_pid=$!
	pids+=("$last_pid")
}

# reap PID: waits for PID and forgets it (its number may be reused once
# reaped), returning its exit status.
reap() {
	local rc=0 pid kept=()
	wait "$1" || rc=$?
	for pid in "${pids[@]}"; do
		[[ $pid == "$1" ]] || kept+=("$pid")
	done
	pids=("${kept[@]}")
	return "$rc"
}

# in_background CMD...: runs CMD to the end, interruptibly, with its status.
in_background() {
	background "$@"
	reap "$last_pid"
}

echo "robust: building cmd/coredns and the tools into $work"
go build -o "$work/coredns" ./cmd/coredns
go build -o "$work/hostile" ./robust/hostile
go build -o "$work/reloadcheck" ./robust/reloadcheck

port="$("$work/reloadcheck" freeport)"
mport="$("$work/reloadcheck" freeport)"
"$work/reloadcheck" init -dir "$work"

cat >"$work/Corefile" <<EOF
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
cat >"$work/Corefile.hostile" <<EOF
gateway.mysql.local:$port {
    bind 127.0.0.1
    mysqlgw
}
EOF

start_server() {
	(cd "$work" && exec ./coredns -conf "$1" >"$work/server.log" 2>&1) &
	server_pid=$!
	pids+=("$server_pid")
	if ! in_background "$work/reloadcheck" wait -server "127.0.0.1:$port" -within 30s; then
		cat "$work/server.log"
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
in_background "$work/hostile" -server "127.0.0.1:$port" -count "$HOSTILE_COUNT" -rate 5000 -limit 60s || status=1
kill -0 "$server_pid" 2>/dev/null || { echo "FAIL: the server died during the flood"; status=1; }
stop_server

echo "== robust: ${DURATION}s of dnsperf at $RATE q/s with the regions file rewritten every second =="
start_server Corefile
sleep 1
background "$work/reloadcheck" run -server "127.0.0.1:$port" -file "$work/regions.txt" \
	-metrics "http://127.0.0.1:$mport/metrics" -duration "${DURATION}s" -settle 5s >"$work/reloadcheck.out" 2>&1
check_pid=$last_pid
background dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$DURATION" -Q "$RATE" -c 4 -t 2 -S 10 >"$work/dnsperf.out" 2>&1
dnsperf_pid=$last_pid
reap "$dnsperf_pid" || status=1
reap "$check_pid" || status=1
kill -0 "$server_pid" 2>/dev/null || { echo "FAIL: the server died under load"; status=1; }

sed -n '/Statistics:/,$p' "$work/dnsperf.out"
cat "$work/reloadcheck.out"

sent=$(awk '/Queries sent:/ {print $3}' "$work/dnsperf.out")
lost=$(awk '/Queries lost:/ {print $3}' "$work/dnsperf.out")
servfail=$(grep -o 'SERVFAIL [0-9]*' "$work/dnsperf.out" | awk '{print $2}' | head -1 || true)
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
if grep -q "panic" "$work/server.log"; then
	echo "FAIL: the server log has a panic"
	status=1
fi
echo "robust: server log: $(grep -c "Reloaded" "$work/server.log" || true) reloads, $(grep -c "ERROR" "$work/server.log" || true) errors logged"

if [[ $status == 0 ]]; then
	echo "robust: PASS"
else
	echo "robust: FAIL"
fi
exit $status
