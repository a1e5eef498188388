#!/usr/bin/env bash
# bench/http.sh: how fast does the HTTP listener serve /all, next to nginx
# serving the same bytes from a file, and what does a client fetching /all as
# fast as it can cost DNS? One CoreDNS with three server blocks: the built-in
# table (DNS and HTTP) and Azure SQL's 2026 table imported from
# testdata/import/sql-2026-include.md (HTTP), both with `http_rate 0` so wrk
# measures the listener itself next to nginx; and the 2026 table again with
# the default pace, which is what a client fetching flat out meets. wrk
# fetches each /all from mysqlgw and from nginx in turn; then dnsperf runs
# alone and beside a one-connection wrk on the paced /all, and beside one on
# the unpaced /all.
#
#   bench/http.sh           # DURATION=10
#   SHORT=1 bench/http.sh   # CI: 3 s a run, under a minute
#
# Environment:
#   DURATION=10              seconds of each wrk and dnsperf run
#   SHORT=1                  DURATION=3
#   CONNECTIONS=32 THREADS=2 wrk -c and -t for the req/s runs
#   KEEP=1                   keep the work folder
# Needs wrk, nginx, dnsperf, dig, curl, go and iproute2's ss. Fails if a body
# differs between mysqlgw and nginx or a run serves errors; never on figures.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SHORT=${SHORT:-0}
[[ $SHORT == 1 ]] && DURATION=${DURATION:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
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
PORT[dns]=$(free_port)
PORT[builtin]=$(free_port)
PORT[sql2026]=$(free_port)
PORT[paced]=$(free_port)
PORT[nginx]=$(free_port)
mkdir -p "$WORK/mysqlgw" "$WORK/www/builtin" "$WORK/www/sql2026" "$WORK/nginx/logs"
cat >"$WORK/mysqlgw/Corefile" <<EOF
${ZONE%.}:${PORT[dns]} {
    bind 127.0.0.1
    mysqlgw {
        http 127.0.0.1:${PORT[builtin]}
        http_rate 0
    }
}
sql2026.mysql.local:${PORT[dns]} {
    bind 127.0.0.1
    mysqlgw {
        regions $WORK/sql2026.regions
        reload 0
        http 127.0.0.1:${PORT[sql2026]}
        http_rate 0
    }
}
paced.mysql.local:${PORT[dns]} {
    bind 127.0.0.1
    mysqlgw {
        regions $WORK/sql2026.regions
        reload 0
        http 127.0.0.1:${PORT[paced]}
    }
}
EOF
(cd "$WORK/mysqlgw" && exec "$WORK/coredns" -conf Corefile -quiet >log 2>&1) &
PIDS+=("$!")
wait_answer mysqlgw "${PORT[dns]}" "${PIDS[0]}"
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

declare -A MYSQLGW=() NGINXRPS=()
for table in builtin sql2026; do
	MYSQLGW[$table]=$(reqs "http://127.0.0.1:${PORT[$table]}/all" -t "$THREADS" -c "$CONNECTIONS")
	log "mysqlgw /all of $table: ${MYSQLGW[$table]} req/s"
	NGINXRPS[$table]=$(reqs "http://127.0.0.1:${PORT[nginx]}/$table/all" -t "$THREADS" -c "$CONNECTIONS")
	log "nginx /$table/all: ${NGINXRPS[$table]} req/s"
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

quiet=$(dns_qps)
log "DNS alone: $quiet q/s"
beside paced
paced=$LOADED paced_fetched=$FETCHED
log "DNS beside a client fetching the paced /all: $paced q/s (the client: $paced_fetched req/s)"
beside sql2026
unpaced=$LOADED unpaced_fetched=$FETCHED
log "DNS beside a client fetching the unpaced /all: $unpaced q/s (the client: $unpaced_fetched req/s)"

# ---------------------------------------------------------------------------

echo
echo "# HTTP lists, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores."
echo "wrk -t $THREADS -c $CONNECTIONS, $DURATION s a run; nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), worker_processes 2, serving the bytes of mysqlgw's /all from a file."
echo
echo "| /all of | lines | bytes | mysqlgw req/s | nginx req/s | mysqlgw ÷ nginx |"
echo "|---|---:|---:|---:|---:|---:|"
for table in builtin sql2026; do
	awk -v t="$table" -v l="$(wc -l <"$WORK/www/$table/all")" -v b="$(wc -c <"$WORK/www/$table/all")" \
		-v m="${MYSQLGW[$table]}" -v n="${NGINXRPS[$table]}" 'BEGIN { printf "| %s | %d | %d | %d | %d | %.2f |\n", t, l, b, m, n, m / n }'
done
echo
echo "DNS (dnsperf -c 8 -T 2 -q 100, as fast as it answers, A and TXT of four regions):"
echo
echo "| run | q/s | ÷ alone |"
echo "|---|---:|---:|"
echo "| alone | $quiet | 1.00 |"
awk -v q="$paced" -v q0="$quiet" -v f="$paced_fetched" 'BEGIN { printf "| beside one client fetching the 2026 /all, default http_rate (%d req/s) | %d | %.2f |\n", f, q, q / q0 }'
awk -v q="$unpaced" -v q0="$quiet" -v f="$unpaced_fetched" 'BEGIN { printf "| beside one client fetching the 2026 /all, http_rate 0 (%d req/s) | %d | %.2f |\n", f, q, q / q0 }'
