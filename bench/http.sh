#!/usr/bin/env bash
# bench/http.sh: how fast does the HTTP listener serve /all, next to nginx
# serving the same bytes from a file (and, with BASE=, next to the listener
# of an earlier commit), and what do HTTP clients cost DNS? One CoreDNS with
# four server blocks: the built-in table and Azure SQL's 2026 table imported
# from testdata/import/sql-2026-include.md, both with `http_rate 0` so wrk
# measures the listener itself; and the 2026 table again at the default pace
# and at `http_rate 10`, which are what greedy clients meet. wrk fetches each
# /all from mysqlgw, nginx (and the base build) in turn; then dnsperf runs
# alone, beside a one-connection wrk on the paced and on the unpaced /all,
# and beside a flood of 200 connections at the default pace and at 10
# requests a second.
#
#   bench/http.sh                 # DURATION=10
#   SHORT=1 bench/http.sh         # CI: 3 s a run, about a minute
#   BASE=HEAD~1 bench/http.sh     # also the listener as it was at that commit
#
# Environment:
#   DURATION=10              seconds of each wrk and dnsperf run
#   SHORT=1                  DURATION=3
#   CONNECTIONS=32 THREADS=2 wrk -c and -t for the req/s runs
#   FLOOD=200                wrk -c of the flooding client
#   BASE=<commit>            also build cmd/coredns at that commit and serve the same lists from it
#   KEEP=1                   keep the work folder
# Needs wrk, nginx, dnsperf, dig, curl, go and iproute2's ss. Fails if a body
# differs between mysqlgw and nginx (or the base build) or a run serves
# errors; never on figures.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SHORT=${SHORT:-0}
[[ $SHORT == 1 ]] && DURATION=${DURATION:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
FLOOD=${FLOOD:-200}
BASE=${BASE:-}
ZONE=gateway.mysql.local.

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in wrk "$NGINX" dnsperf dig curl go; do
	command -v "$tool" >/dev/null || { echo "http.sh: $tool is not installed" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/mysqlgw-http.XXXXXX)
chmod 755 "$WORK" # nginx's workers read the files as another user
source "$ROOT/bench/lib.sh"
declare -A PORT=()
LOAD_PID=
# The fetching client runs outside PIDS (it is waited for by itself).
before_cleanup() { [[ -z $LOAD_PID ]] || kill "$LOAD_PID" 2>/dev/null; }

# reqs URL [WRK ARGS...]: requests a second wrk gets from URL; fails on any
# non-2xx answer or socket error.
reqs() {
	local url=$1 out
	shift
	out=$(wrk -d "${DURATION}s" "$@" "$url" 2>&1)
	if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
		echo "http.sh: wrk $url had errors:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' <<<"$out"
}

# dns_qps: queries a second dnsperf gets from mysqlgw's DNS side, as fast
# as it answers.
dns_qps() {
	local out
	out=$(dnsperf -s 127.0.0.1 -p "${PORT[dns]}" -d "$WORK/queries.txt" -l "$DURATION" -c 8 -T 2 -q 100 -t 1 2>&1) || {
		echo "http.sh: dnsperf failed:" >&2
		echo "$out" >&2
		exit 1
	}
	awk '/Queries per second:/ { printf "%.0f\n", $4 }' <<<"$out"
}

# ---------------------------------------------------------------------------

log "building cmd/coredns and cmd/mysqlgw-regions into $WORK"
go build -o "$WORK/coredns" ./cmd/coredns
go build -o "$WORK/mysqlgw-regions" ./cmd/mysqlgw-regions
"$WORK/mysqlgw-regions" import testdata/import/sql-2026-include.md >"$WORK/sql2026.regions" 2>/dev/null
[[ -z $BASE ]] || build_base "$BASE"
mkdir -p "$WORK/www/builtin" "$WORK/www/sql2026" "$WORK/nginx/logs"

# serve NAME BINARY: a CoreDNS with the four server blocks, on ports of its
# own: PORT[NAME-dns], PORT[NAME-builtin], PORT[NAME-sql2026],
# PORT[NAME-paced], PORT[NAME-slow].
serve() {
	local name=$1 bin=$2 dir="$WORK/$1" block
	for block in dns builtin sql2026 paced slow; do
		PORT[$name-$block]=$(free_port)
	done
	mkdir -p "$dir"
	cat >"$dir/Corefile" <<COREFILE
${ZONE%.}:${PORT[$name-dns]} {
    bind 127.0.0.1
    mysqlgw {
        http 127.0.0.1:${PORT[$name-builtin]}
        http_rate 0
    }
}
sql2026.mysql.local:${PORT[$name-dns]} {
    bind 127.0.0.1
    mysqlgw {
        regions $WORK/sql2026.regions
        reload 0
        http 127.0.0.1:${PORT[$name-sql2026]}
        http_rate 0
    }
}
paced.mysql.local:${PORT[$name-dns]} {
    bind 127.0.0.1
    mysqlgw {
        regions $WORK/sql2026.regions
        reload 0
        http 127.0.0.1:${PORT[$name-paced]}
    }
}
slow.mysql.local:${PORT[$name-dns]} {
    bind 127.0.0.1
    mysqlgw {
        regions $WORK/sql2026.regions
        reload 0
        http 127.0.0.1:${PORT[$name-slow]}
        http_rate 10
    }
}
COREFILE
	(cd "$dir" && exec "$bin" -conf Corefile -quiet >log 2>&1) &
	PIDS+=("$!")
	wait_answer "$name" "${PORT[$name-dns]}" "$!"
}
serve mysqlgw "$WORK/coredns"
for block in dns builtin sql2026 paced slow; do
	PORT[$block]=${PORT[mysqlgw-$block]}
done
[[ -z $BASE ]] || serve base "$WORK/coredns-base"
PORT[nginx]=$(free_port)
# fetch_to FILE URL: GET URL into FILE, retrying for up to 10 s while the
# server starts.
fetch_to() {
	for _ in $(seq 50); do
		curl -fsS -o "$1" "$2" 2>/dev/null && return
		sleep 0.2
	done
}

for table in builtin sql2026; do
	fetch_to "$WORK/www/$table/all" "http://127.0.0.1:${PORT[$table]}/all"
	[[ -s $WORK/www/$table/all ]] || { echo "http.sh: no /all from the $table table" >&2; exit 1; }
	if [[ -n $BASE ]]; then
		fetch_to "$WORK/base-$table" "http://127.0.0.1:${PORT[base-$table]}/all"
		cmp -s "$WORK/base-$table" "$WORK/www/$table/all" || { echo "http.sh: the base build's /all of $table differs" >&2; exit 1; }
	fi
done
log "started mysqlgw: DNS on ${PORT[dns]}, /all $(wc -l <"$WORK/www/builtin/all") lines ($(wc -c <"$WORK/www/builtin/all") bytes) and $(wc -l <"$WORK/www/sql2026/all") lines ($(wc -c <"$WORK/www/sql2026/all") bytes)"

# nginx as Debian ships it serves static files: the same bytes, with ETag and
# keep-alive, from a minimal configuration of its own.
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/plain;
    server {
        listen 127.0.0.1:${PORT[nginx]};
        root $WORK/www;
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>>"$WORK/nginx/logs/error.log" &
PIDS+=("$!")
for table in builtin sql2026; do
	fetch_to "$WORK/nginx-$table" "http://127.0.0.1:${PORT[nginx]}/$table/all"
	cmp -s "$WORK/nginx-$table" "$WORK/www/$table/all" || { echo "http.sh: nginx does not serve mysqlgw's /all of $table" >&2; cat "$WORK/nginx/logs/error.log" >&2; exit 1; }
done

for name in eastus2 westus2 eastasia northeurope; do
	printf '%s.%s A\nallow.%s.%s TXT\n' "$name" "$ZONE" "$name" "$ZONE"
done >"$WORK/queries.txt"

declare -A MYSQLGW=() NGINXRPS=() BASERPS=()
for table in builtin sql2026; do
	MYSQLGW[$table]=$(reqs "http://127.0.0.1:${PORT[$table]}/all" -t "$THREADS" -c "$CONNECTIONS")
	log "mysqlgw /all of $table: ${MYSQLGW[$table]} req/s"
	NGINXRPS[$table]=$(reqs "http://127.0.0.1:${PORT[nginx]}/$table/all" -t "$THREADS" -c "$CONNECTIONS")
	log "nginx /$table/all: ${NGINXRPS[$table]} req/s"
	if [[ -n $BASE ]]; then
		BASERPS[$table]=$(reqs "http://127.0.0.1:${PORT[base-$table]}/all" -t "$THREADS" -c "$CONNECTIONS")
		log "the base build's /all of $table: ${BASERPS[$table]} req/s"
	fi
done

# beside TABLE: DNS q/s while one wrk connection fetches TABLE's /all as
# fast as it is answered; sets LOADED and FETCHED.
beside() {
	wrk -d "$((DURATION + 5))s" -t 1 -c 1 "http://127.0.0.1:${PORT[$1]}/all" >"$WORK/load.out" 2>&1 &
	LOAD_PID=$!
	sleep 1 # the fetching client is under way before dnsperf starts
	LOADED=$(dns_qps)
	wait "$LOAD_PID" || true
	LOAD_PID=
	FETCHED=$(awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$WORK/load.out")
}

# flooded BLOCK: DNS q/s while FLOOD connections ask BLOCK's
# /allow/eastus2 as fast as they are answered, refusals (503) included;
# sets LOADED, FETCHED (answers a second), REFUSED (503s in all) and CLOSED
# (wrk's socket errors: from one address the listener keeps 32 connections
# and closes the others as they come, so the rest of the flood reconnects).
flooded() {
	wrk -d "$((DURATION + 5))s" -t 2 -c "$FLOOD" --timeout 10s "http://127.0.0.1:${PORT[$1]}/allow/eastus2" >"$WORK/flood.out" 2>&1 &
	LOAD_PID=$!
	sleep 1
	LOADED=$(dns_qps)
	wait "$LOAD_PID" || true
	LOAD_PID=
	FETCHED=$(awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$WORK/flood.out")
	REFUSED=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$WORK/flood.out")
	REFUSED=${REFUSED:-0}
	CLOSED=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 }' "$WORK/flood.out")
	CLOSED=${CLOSED:-0}
}

quiet=$(dns_qps)
log "DNS alone: $quiet q/s"
beside paced
paced=$LOADED paced_fetched=$FETCHED
log "DNS beside a client fetching the paced /all: $paced q/s (the client: $paced_fetched req/s)"
beside sql2026
unpaced=$LOADED unpaced_fetched=$FETCHED
log "DNS beside a client fetching the unpaced /all: $unpaced q/s (the client: $unpaced_fetched req/s)"
flooded paced
flood_paced=$LOADED flood_paced_fetched=$FETCHED flood_paced_refused=$REFUSED flood_paced_closed=$CLOSED
log "DNS beside $FLOOD connections flooding at the default pace: $flood_paced q/s (answers $flood_paced_fetched/s, $flood_paced_refused refused, $flood_paced_closed closed)"
flooded slow
flood_slow=$LOADED flood_slow_fetched=$FETCHED flood_slow_refused=$REFUSED flood_slow_closed=$CLOSED
log "DNS beside $FLOOD connections flooding at http_rate 10: $flood_slow q/s (answers $flood_slow_fetched/s, $flood_slow_refused refused, $flood_slow_closed closed)"

# ---------------------------------------------------------------------------

echo
echo "# HTTP lists, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores."
echo "wrk -t $THREADS -c $CONNECTIONS, $DURATION s a run; nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), worker_processes 2, serving the bytes of mysqlgw's /all from a file."
echo
if [[ -n $BASE ]]; then
	echo "The base build is cmd/coredns at $(git rev-parse --short "$BASE") (BASE=$BASE), serving the same Corefile."
	echo
	echo "| /all of | lines | bytes | mysqlgw req/s | nginx req/s | mysqlgw ÷ nginx | base req/s | mysqlgw ÷ base |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
else
	echo "| /all of | lines | bytes | mysqlgw req/s | nginx req/s | mysqlgw ÷ nginx |"
	echo "|---|---:|---:|---:|---:|---:|"
fi
for table in builtin sql2026; do
	awk -v t="$table" -v l="$(wc -l <"$WORK/www/$table/all")" -v b="$(wc -c <"$WORK/www/$table/all")" \
		-v m="${MYSQLGW[$table]}" -v n="${NGINXRPS[$table]}" -v base="${BASERPS[$table]:-}" 'BEGIN {
			printf "| %s | %d | %d | %d | %d | %.2f |", t, l, b, m, n, m / n
			if (base != "") printf " %d | %.2f |", base, m / base
			printf "\n"
		}'
done
echo
echo "DNS (dnsperf -c 8 -T 2 -q 100, as fast as it answers, A and TXT of four regions):"
echo
echo "| run | q/s | ÷ alone |"
echo "|---|---:|---:|"
echo "| alone | $quiet | 1.00 |"
awk -v q="$paced" -v q0="$quiet" -v f="$paced_fetched" 'BEGIN { printf "| beside one client fetching the 2026 /all, default http_rate (%d req/s) | %d | %.2f |\n", f, q, q / q0 }'
awk -v q="$unpaced" -v q0="$quiet" -v f="$unpaced_fetched" 'BEGIN { printf "| beside one client fetching the 2026 /all, http_rate 0 (%d req/s) | %d | %.2f |\n", f, q, q / q0 }'
awk -v q="$flood_paced" -v q0="$quiet" -v f="$flood_paced_fetched" -v r="$flood_paced_refused" -v x="$flood_paced_closed" -v c="$FLOOD" 'BEGIN { printf "| beside %d connections from one address flooding /allow/eastus2, default http_rate (%d answers/s; 503s: %d; closed at the per-address limit: %d) | %d | %.2f |\n", c, f, r, x, q, q / q0 }'
awk -v q="$flood_slow" -v q0="$quiet" -v f="$flood_slow_fetched" -v r="$flood_slow_refused" -v x="$flood_slow_closed" -v c="$FLOOD" 'BEGIN { printf "| beside %d connections from one address flooding /allow/eastus2, http_rate 10 (%d answers/s; 503s: %d; closed at the per-address limit: %d) | %d | %.2f |\n", c, f, r, x, q, q / q0 }'
