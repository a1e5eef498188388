#!/usr/bin/env bash
# bench/axfr.sh: do queries keep their latency while the zone is transferred?
# One CoreDNS with the transfer plugin and two mysqlgw zones on one loopback
# port: gateway.mysql.local (the built-in table, 758 records to transfer) and
# sql2026.mysql.local (a table shaped like Azure SQL's 2026 subnets, 25,566
# records). dnsperf sends run.sh's query mix to the built-in zone, first
# alone (quiet), then while a loop of back-to-back `dig AXFR` of each zone
# runs against the same server; runs are interleaved over ROUNDS and the
# medians compared with the quiet runs. See bench/axfr.md.
#
#   bench/axfr.sh           # DURATION=10 ROUNDS=3
#   SHORT=1 bench/axfr.sh   # CI: 3 s a run, one round, under a minute
#
# Environment:
#   DURATION=10   seconds of dnsperf per run
#   ROUNDS=3      rounds of quiet, builtin and sql2026 runs; medians reported
#   SHORT=1       DURATION=3 ROUNDS=1
#   RATE=20000    dnsperf -Q: queries a second, a load the server carries with
#                 room to spare, so that latency is service time, not queueing;
#                 RATE=0 sends as fast as the server answers (run.sh's way:
#                 then the QPS ratio is the figure to read)
#   CLIENTS=8 THREADS=2 OUTSTANDING=100   dnsperf -c, -T and -q (as run.sh)
#   NICE=0        nice level of the server, dnsperf and the transfer loop
#   KEEP=1        keep the work folder (Corefile, regions file, logs)
# Needs dnsperf, dig, go and iproute2's ss. Fails if a transfer fails or none
# completes during a run; never fails on figures.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SHORT=${SHORT:-0}
if [[ $SHORT == 1 ]]; then
	DURATION=${DURATION:-3}
	ROUNDS=${ROUNDS:-1}
fi
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-20000}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
OUTSTANDING=${OUTSTANDING:-100}
NICE=${NICE:-0}
ZONE=gateway.mysql.local.
BIG=sql2026.mysql.local.

for tool in dnsperf dig go; do
	command -v "$tool" >/dev/null || { echo "axfr.sh: $tool is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/mysqlgw-axfr.XXXXXX)
source "$ROOT/bench/lib.sh"
declare -A PORT=()
LOOP_PID=

# The transfer loop ends after the transfer under way.
before_cleanup() { touch "$WORK/stop"; }

# sql2026_regions writes the table of scale_test.go's sql2026Regions: 71
# regions of subnets only, two /27, a /28 and a /29 each, from the
# benchmarking range 198.18.0.0/15 (nothing ever connects to them).
sql2026_regions() {
	local i base=$(((198 << 24) | (18 << 16))) v
	ip4() { v=$((base + $1)); printf '%d.%d.%d.%d' $((v >> 24 & 255)) $((v >> 16 & 255)) $((v >> 8 & 255)) $((v & 255)); }
	for i in $(seq 0 70); do
		printf 'sqlregion%02d subnets %s/27 %s/27 %s/28 %s/29\n' "$i" \
			"$(ip4 $((i * 256)))" "$(ip4 $((i * 256 + 32)))" "$(ip4 $((i * 256 + 64)))" "$(ip4 $((i * 256 + 80)))"
	done
}

# xfr_size prints how many records dig counts in one AXFR of zone $1, and
# fails if the transfer does.
xfr_size() {
	local out
	out=$(dig @127.0.0.1 -p "${PORT[mysqlgw]}" +tcp +time=30 +tries=1 +noall +stats "$1" AXFR 2>&1) || {
		echo "axfr.sh: dig AXFR $1 failed:" >&2
		echo "$out" >&2
		return 1
	}
	sed -n 's/^;; XFR size: \([0-9]*\) records.*/\1/p' <<<"$out" | grep . || {
		echo "axfr.sh: dig AXFR $1 transferred nothing:" >&2
		echo "$out" >&2
		return 1
	}
}

# axfr_loop transfers zone $1 back to back, a line per transfer in $2: its
# record count, or "failed"; it ends after the transfer under way once
# $WORK/stop exists.
axfr_loop() {
	local zone=$1 log=$2
	while [[ ! -e $WORK/stop ]]; do
		xfr_size "$zone" 2>>"$WORK/loop-errors" >>"$log" || echo failed >>"$log"
	done
}

# measure ROUND PHASE: one dnsperf run, with the transfer loop of PHASE's zone
# running (builtin, sql2026) or none (quiet); appends round, phase, QPS, mean
# latency (ms), latency stddev (ms), lost, sent and transfers completed to
# raw.tsv.
measure() {
	local round=$1 phase=$2 zone out xfrs=0 log="$WORK/xfr-$1-$2"
	: >"$log"
	case $phase in
	builtin) zone=$ZONE ;;
	sql2026) zone=$BIG ;;
	esac
	if [[ $phase != quiet ]]; then
		rm -f "$WORK/stop"
		axfr_loop "$zone" "$log" &
		LOOP_PID=$!
		PIDS+=("$LOOP_PID")
		# The loop is running once a first transfer is done.
		for _ in $(seq 300); do
			[[ -s $log ]] && break
			sleep 0.1
		done
	fi
	local rate=()
	((RATE > 0)) && rate=(-Q "$RATE")
	out=$(nice -n "$NICE" dnsperf -s 127.0.0.1 -p "${PORT[mysqlgw]}" -d "$WORK/gen/queries.txt" -l "$DURATION" \
		-c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" -t 1 "${rate[@]}" 2>&1) || {
		echo "axfr.sh: dnsperf failed:" >&2
		echo "$out" >&2
		exit 1
	}
	if [[ -n $LOOP_PID ]]; then
		touch "$WORK/stop"
		reap "$LOOP_PID" || true
		LOOP_PID=
		# Every transfer must have sent the whole zone.
		if grep -qvx "${RECORDS[$phase]}" "$log"; then
			echo "axfr.sh: a transfer of $zone during the $phase run failed or was short (want ${RECORDS[$phase]} records each):" >&2
			sort "$log" | uniq -c >&2
			cat "$WORK/loop-errors" >&2 2>/dev/null || true
			exit 1
		fi
		# The first transfer ended before dnsperf started, and the last
		# may have ended after it.
		xfrs=$(($(wc -l <"$log") - 2))
		if ((xfrs < 1)); then
			echo "axfr.sh: no transfer of $zone completed during the $phase run" >&2
			exit 1
		fi
	fi
	awk -v round="$round" -v phase="$phase" -v xfrs="$xfrs" '
		/Queries sent:/ { sent = $3 }
		/Queries lost:/ { lost = $3 }
		/Queries per second:/ { qps = $4 }
		/Average Latency/ { lat = $4 * 1000 }
		/Latency StdDev/ { sd = $4 * 1000 }
		END { printf "%s\t%s\t%.0f\t%.3f\t%.3f\t%d\t%d\t%d\n", round, phase, qps, lat, sd, lost, sent, xfrs }
	' <<<"$out" >>"$WORK/raw.tsv"
	log "round $round $phase: $(tail -1 "$WORK/raw.tsv" | cut -f3) q/s, $(tail -1 "$WORK/raw.tsv" | cut -f4) ms, $xfrs transfers"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------

build_tools
sql2026_regions >"$WORK/sql2026.regions"
PORT[mysqlgw]=$(free_port)
mkdir -p "$WORK/mysqlgw"
cat >"$WORK/mysqlgw/Corefile" <<EOF
${ZONE%.}:${PORT[mysqlgw]} in-addr.arpa:${PORT[mysqlgw]} {
    bind 127.0.0.1
    transfer {
        to *
    }
    mysqlgw
}
${BIG%.}:${PORT[mysqlgw]} {
    bind 127.0.0.1
    transfer {
        to *
    }
    mysqlgw {
        regions $WORK/sql2026.regions
        reload 0
    }
}
EOF
(cd "$WORK/mysqlgw" && exec nice -n "$NICE" "$WORK/coredns" -conf Corefile -quiet >log 2>&1) &
PIDS+=("$!")
wait_answer mysqlgw "${PORT[mysqlgw]}" "${PIDS[0]}"
log "started mysqlgw on 127.0.0.1:${PORT[mysqlgw]}"
generate

declare -A RECORDS=()
RECORDS[builtin]=$(xfr_size "$ZONE")
RECORDS[sql2026]=$(xfr_size "$BIG")
log "AXFR: $ZONE ${RECORDS[builtin]} records, $BIG ${RECORDS[sql2026]} records"

: >"$WORK/raw.tsv"
for round in $(seq "$ROUNDS"); do
	for phase in quiet builtin sql2026; do
		measure "$round" "$phase"
		sleep 1
	done
done

# ---------------------------------------------------------------------------

col() { awk -v p="$1" -v c="$2" '$2 == p { print $c }' "$WORK/raw.tsv" | median; }
quiet_qps=$(col quiet 3)
quiet_lat=$(col quiet 4)
rate="dnsperf -Q $RATE"
((RATE > 0)) || rate="no rate limit"
echo
echo "# Queries during zone transfers, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores."
echo "dnsperf -c $CLIENTS -T $THREADS -q $OUTSTANDING, $rate, $DURATION s a run, $ROUNDS round(s) interleaved, medians; run.sh's query mix to ${ZONE%.}."
echo "Transfers: one dig AXFR after another, of ${ZONE%.} (${RECORDS[builtin]} records) or ${BIG%.} (${RECORDS[sql2026]} records)."
echo
echo "| run | AXFRs during the run | QPS | mean latency | latency stddev | lost | QPS ÷ quiet | latency ÷ quiet |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for phase in quiet builtin sql2026; do
	qps=$(col "$phase" 3) lat=$(col "$phase" 4) sd=$(col "$phase" 5) lost=$(col "$phase" 6) xfrs=$(col "$phase" 8)
	awk -v p="$phase" -v x="$xfrs" -v q="$qps" -v l="$lat" -v s="$sd" -v lost="$lost" -v q0="$quiet_qps" -v l0="$quiet_lat" 'BEGIN {
		printf "| %s | %d | %d | %.3f ms | %.3f ms | %d | %.2f | %.2f |\n", p, x, q, l, s, lost, q / q0, (l0 > 0 ? l / l0 : 0)
	}'
done
