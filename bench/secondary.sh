#!/usr/bin/env bash
# bench/secondary.sh: health-aware answers at a secondary's speed. One
# CoreDNS with mysqlgw and transfer_health (the hidden primary) probes two
# stand-in gateways (cmd/fakegw) on loopback; a Knot DNS secondary pulls the
# zone from it and follows by NOTIFY and IXFR. dnsperf asks active.lab A of
# mysqlgw and of Knot in interleaved rounds, as fast as each answers; then
# the primary stand-in is stopped and started again FAILOVERS times, and
# bench/follow measures, each time, how long Knot's answer trails mysqlgw's.
#
#   bench/secondary.sh           # DURATION=10 ROUNDS=5 FAILOVERS=20
#   SHORT=1 bench/secondary.sh   # CI: 3 s a run, 2 rounds, 6 failovers
#
# Environment:
#   DURATION=10 ROUNDS=5 FAILOVERS=20
#   SHORT=1       DURATION=3 ROUNDS=2 FAILOVERS=6
#   CLIENTS=8 THREADS=2 OUTSTANDING=100   dnsperf -c, -T and -q (as run.sh)
#   SETTLE=0.5    seconds between one change being followed and the next
#   KEEP=1        keep the work folder (configurations, logs)
# Needs knotd, dnsperf, dig, go and iproute2's ss. Fails if a server errs or
# Knot does not follow a failover within 30 s; never fails on figures.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SHORT=${SHORT:-0}
if [[ $SHORT == 1 ]]; then
	DURATION=${DURATION:-3}
	ROUNDS=${ROUNDS:-2}
	FAILOVERS=${FAILOVERS:-6}
fi
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
FAILOVERS=${FAILOVERS:-20}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
OUTSTANDING=${OUTSTANDING:-100}
ZONE=gw.bench.
PRIMARY=127.0.0.41
SECONDARY=127.0.0.42

KNOTD=$(command -v knotd || echo /usr/sbin/knotd)
for tool in "$KNOTD" dnsperf dig go; do
	command -v "$tool" >/dev/null || { echo "secondary.sh: $tool is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/mysqlgw-secondary.XXXXXX)
source "$ROOT/bench/lib.sh"
declare -A PORT=()
GW_PID=

log "building cmd/coredns, cmd/fakegw and bench/follow into $WORK"
go build -o "$WORK/coredns" ./cmd/coredns
go build -o "$WORK/fakegw" ./cmd/fakegw
go build -o "$WORK/follow" ./bench/follow
PORT[mysqlgw]=$(free_port)
PORT[knot]=$(free_port)
PORT[gateway]=$(free_port)

# start_primary starts the primary gateway's stand-in; stop_primary stops it.
start_primary() {
	"$WORK/fakegw" "$PRIMARY:${PORT[gateway]}" >>"$WORK/fakegw-primary.log" 2>&1 &
	GW_PID=$!
	PIDS+=("$GW_PID")
}
stop_primary() {
	kill -TERM "$GW_PID"
	reap "$GW_PID" || true
	GW_PID=
}
"$WORK/fakegw" "$SECONDARY:${PORT[gateway]}" >"$WORK/fakegw-secondary.log" 2>&1 &
PIDS+=("$!")
start_primary

mkdir -p "$WORK/mysqlgw" "$WORK/knot"
printf '$SERIAL 1\nlab %s %s\n' "$PRIMARY" "$SECONDARY" >"$WORK/mysqlgw/regions"
cat >"$WORK/mysqlgw/Corefile" <<EOF
${ZONE%.}:${PORT[mysqlgw]} {
    bind 127.0.0.1
    transfer {
        to 127.0.0.1:${PORT[knot]}
    }
    mysqlgw {
        regions regions
        reload 0
        port ${PORT[gateway]}
        healthcheck 100ms
        rise 1
        fall 1
        transfer_health
    }
}
EOF
(cd "$WORK/mysqlgw" && exec "$WORK/coredns" -conf Corefile >log 2>&1) &
PIDS+=("$!")
wait_answer mysqlgw "${PORT[mysqlgw]}" "$!"

cat >"$WORK/knot/knot.conf" <<EOF
server:
    rundir: "$WORK/knot"
    listen: 127.0.0.1@${PORT[knot]}
log:
  - target: stderr
    any: info
database:
    storage: "$WORK/knot"
template:
  - id: default
    storage: "$WORK/knot"
remote:
  - id: mysqlgw
    address: 127.0.0.1@${PORT[mysqlgw]}
acl:
  - id: notify-from-mysqlgw
    address: 127.0.0.1
    action: notify
zone:
  - domain: ${ZONE%.}
    master: mysqlgw
    acl: notify-from-mysqlgw
EOF
"$KNOTD" -c "$WORK/knot/knot.conf" >"$WORK/knot/log" 2>&1 &
PIDS+=("$!")
wait_answer knot "${PORT[knot]}" "$!"
"$WORK/follow" -name "active.lab.$ZONE" -want "$PRIMARY" -primary "127.0.0.1:${PORT[mysqlgw]}" -secondary "127.0.0.1:${PORT[knot]}" >/dev/null ||
	{ echo "secondary.sh: Knot does not answer active.lab as mysqlgw does" >&2; cat "$WORK/knot/log" >&2; exit 1; }
log "mysqlgw on ${PORT[mysqlgw]}, Knot $("$KNOTD" -V | awk '{ print $NF }') on ${PORT[knot]}, stand-in gateways on $PRIMARY and $SECONDARY port ${PORT[gateway]}"

# qps PORT: queries a second dnsperf gets for active.lab A, as fast as the
# server on PORT answers.
echo "active.lab.$ZONE A" >"$WORK/queries.txt"
qps() {
	local out
	out=$(dnsperf -s 127.0.0.1 -p "$1" -d "$WORK/queries.txt" -l "$DURATION" -c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" -t 1 2>&1) || {
		echo "secondary.sh: dnsperf failed:" >&2
		echo "$out" >&2
		exit 1
	}
	grep -qE 'Response codes: +NOERROR [0-9]+ \(100\.00%\)' <<<"$out" || {
		echo "secondary.sh: answers other than NOERROR:" >&2
		echo "$out" >&2
		exit 1
	}
	awk '/Queries per second:/ { printf "%.0f\n", $4 }' <<<"$out"
}

# median of the arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -a GW=() KNOT=()
for round in $(seq "$ROUNDS"); do
	GW+=("$(qps "${PORT[mysqlgw]}")")
	KNOT+=("$(qps "${PORT[knot]}")")
	log "round $round: mysqlgw ${GW[-1]} q/s, Knot ${KNOT[-1]} q/s"
done

declare -a DELAYS=()
up=1
for i in $(seq "$FAILOVERS"); do
	if [[ $up == 1 ]]; then
		stop_primary
		want=$SECONDARY what=failover up=0
	else
		start_primary
		want=$PRIMARY what=failback up=1
	fi
	delay=$("$WORK/follow" -name "active.lab.$ZONE" -want "$want" -primary "127.0.0.1:${PORT[mysqlgw]}" -secondary "127.0.0.1:${PORT[knot]}") || {
		echo "secondary.sh: $what $i was not followed:" >&2
		tail -20 "$WORK/knot/log" >&2
		exit 1
	}
	DELAYS+=("$delay")
	log "$what $i: Knot answered $want $delay ms after mysqlgw"
	sleep "${SETTLE:-0.5}" # both settle before the next change
done
serial=$(dig @127.0.0.1 -p "${PORT[knot]}" +short "$ZONE" SOA | awk '{ print $3 }')
ixfrs=$(grep -c 'IXFR, incoming.*finished' "$WORK/knot/log" || true)
axfrs=$(grep -c 'AXFR, incoming.*finished' "$WORK/knot/log" || true)

echo
echo "# Secondaries, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores; Knot $("$KNOTD" -V | awk '{ print $NF }')."
echo "dnsperf -c $CLIENTS -T $THREADS -q $OUTSTANDING, $DURATION s a run, $ROUNDS interleaved rounds, active.lab A only."
echo
echo "| server | median q/s | ÷ mysqlgw |"
echo "|---|---:|---:|"
gw=$(median "${GW[@]}")
knot=$(median "${KNOT[@]}")
awk -v g="$gw" -v k="$knot" 'BEGIN { printf "| mysqlgw | %d | 1.00 |\n| Knot, fed by it | %d | %.2f |\n", g, k, k / g }'
echo
echo "Knot behind mysqlgw over $FAILOVERS changes (failovers and failbacks in turn, ${SETTLE:-0.5} s apart; healthcheck 100ms, fall 1, rise 1): median $(median "${DELAYS[@]}") ms, worst $(printf '%s\n' "${DELAYS[@]}" | sort -n | tail -1) ms. Knot ended at serial $serial after $ixfrs IXFRs and $axfrs AXFRs."
