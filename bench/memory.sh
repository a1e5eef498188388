#!/usr/bin/env bash
# bench/memory.sh: what a table costs the server in memory, by shape. For
# each shape, bench/memgen writes a regions file that max_records counts at
# about RECORDS (the larger of its records and its bytes at 100 a record, as
# the server counts them: started with max_records 1, it refuses the table
# and names its count), CoreDNS serves it with the HTTP
# lists, prometheus and pprof on loopback ports, and the script reads
# VmRSS at steady state, then rewrites the file with a table of the same
# shape and size but other addresses and reads VmHWM, the peak, over the
# reload. See bench/README.md.
#
#   bench/memory.sh                                # RECORDS=1000000, every shape
#   SHORT=1 bench/memory.sh                        # CI: RECORDS=100000, about a minute
#   RECORDS=2000000 SHAPES=ipv4-24 bench/memory.sh
#
# Environment:
#   RECORDS=1000000   max_records count to aim each table at (within about 0.5%)
#   SHORT=1           RECORDS=100000 SETTLE=3
#   SHAPES="ipv4-24 gateways ipv6-64 redirect" which shapes, in this order (bench/memgen)
#   SETTLE=5          seconds to wait after start-up and after the reload
#                     before VmRSS counts as steady (then until it stops
#                     growing by more than 1% a second, at most 60 s more)
#   TOP=12            allocation sites listed from each heap profile
#   KEEP=1            keep the work folder (Corefiles, tables, logs, heap profiles)
# The server inherits GOGC and GOMEMLIMIT. Needs go, dig, curl and
# iproute2's ss. Fails if the server does not start, refuses a table, or
# does not apply the reload within 3 minutes; never on figures.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SHORT=${SHORT:-0}
if [[ $SHORT == 1 ]]; then
	RECORDS=${RECORDS:-100000}
	SETTLE=${SETTLE:-3}
fi
RECORDS=${RECORDS:-1000000}
SETTLE=${SETTLE:-5}
SHAPES=${SHAPES:-ipv4-24 gateways ipv6-64 redirect}
TOP=${TOP:-12}
ZONE=gateway.mysql.local.

for tool in go dig curl; do
	command -v "$tool" >/dev/null || { echo "memory.sh: $tool is not installed" >&2; exit 1; }
done
for shape in $SHAPES; do
	case $shape in
	ipv4-24 | gateways | ipv6-64 | redirect) ;;
	*) echo "memory.sh: unknown shape $shape (ipv4-24, gateways, ipv6-64, redirect)" >&2; exit 1 ;;
	esac
done
if ! [[ $RECORDS =~ ^[0-9]+$ ]] || ((RECORDS < 1000)); then
	echo "memory.sh: RECORDS must be a number of at least 1000" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/mysqlgw-memory.XXXXXX)
# shellcheck source=SCRIPTDIR/lib.sh
source "$ROOT/bench/lib.sh"
declare -A PORT=()

# status PID FIELD: FIELD of /proc/PID/status (VmRSS, VmHWM) in kB.
status() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# metric NAME: the value of an unlabelled metric of the running server.
metric() {
	curl -sf "http://127.0.0.1:${PORT[metrics]}/metrics" | awk -v n="$1" '$1 == n { printf "%.0f\n", $2 }'
}

# mib KB, mib_bytes BYTES, size_text BYTES, per_record KB RECORDS: the
# figures of the tables.
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
mib_bytes() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
size_text() { awk -v b="$1" 'BEGIN { if (b < 1048576) printf "%.1f KiB", b / 1024; else printf "%.1f MiB", b / 1048576 }'; }
per_record() { awk -v k="$1" -v n="$2" 'BEGIN { printf "%.0f", k * 1024 / n }'; }
commas() { awk -v n="$1" 'BEGIN { s = sprintf("%d", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); print s }'; }

# start NAME CONFIG: CoreDNS for the zone with mysqlgw { CONFIG }, the HTTP
# lists, prometheus and pprof, each on a free loopback port. Leaves its PID
# in SERVER (not printed: a command substitution would lose it from PIDS).
start() {
	local name=$1 config=$2 dir="$WORK/$1" p
	for p in dns http metrics pprof; do
		PORT[$p]=$(free_port)
	done
	mkdir -p "$dir"
	cat >"$dir/Corefile" <<COREFILE
${ZONE%.}:${PORT[dns]} {
    bind 127.0.0.1
    prometheus 127.0.0.1:${PORT[metrics]}
    pprof 127.0.0.1:${PORT[pprof]}
    mysqlgw {
$config
        max_records 100000000
        http 127.0.0.1:${PORT[http]}
    }
}
COREFILE
	(cd "$dir" && exec "$WORK/coredns" -conf Corefile -quiet >log 2>&1) &
	SERVER=$!
	PIDS+=("$SERVER")
	# A table of a million records takes seconds to build, more on a busy
	# machine, before the server listens: wait_answer's 30 s start then.
	for _ in $(seq 1500); do
		if grep -q 'plugin/mysqlgw: Serving' "$dir/log" 2>/dev/null || ! kill -0 "$SERVER" 2>/dev/null; then
			break
		fi
		sleep 0.2
	done
	wait_answer "$name" "${PORT[dns]}" "$SERVER"
}

stop() {
	kill -TERM "$SERVER"
	reap "$SERVER" || true
}

# count FILE: what max_records counts for FILE ("" for the built-in table)
# into COUNT, and the records it would build into RECS, from the server's
# refusal at max_records 1, with the HTTP lists on as in start.
count() {
	local file=$1 dir="$WORK/count" pid
	mkdir -p "$dir"
	{
		echo "${ZONE%.}:$(free_port) {"
		echo "    bind 127.0.0.1"
		echo "    mysqlgw {"
		[[ -z $file ]] || echo "        regions $file"
		echo "        max_records 1"
		echo "        http 127.0.0.1:$(free_port)"
		echo "    }"
		echo "}"
	} >"$dir/Corefile"
	(cd "$dir" && exec "$WORK/coredns" -conf Corefile -quiet >log 2>&1) &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
	reap "$pid" || true
	RECS=$(sed -n 's/.*the table would build \([0-9][0-9]*\) records.*/\1/p' "$dir/log")
	COUNT=$(sed -n 's/.*take the memory of \([0-9][0-9]*\) .*/\1/p' "$dir/log")
	COUNT=${COUNT:-$RECS}
	if [[ -z $COUNT ]]; then
		echo "memory.sh: the server did not refuse ${file:-the built-in table} at max_records 1 with a count:" >&2
		cat "$dir/log" >&2
		exit 1
	fi
}

# memgen_table SHAPE REGIONS VARIANT FILE: bench/memgen's table, its figures in
# GEN (regions addresses prefixes bytes).
memgen_table() {
	GEN=$("$WORK/memgen" -shape "$1" -regions "$2" -variant "$3" -o "$4")
}

# size SHAPE FILE: writes the table of SHAPE whose count is nearest RECORDS
# to FILE, its figures in GEN and its count in COUNT: the count of a small table, then
# the secant through the last two counts, until one is within 0.5% or a
# region count comes up again.
size() {
	local shape=$1 file=$2 r0 c0 r1 c1 best_r best_c
	local -A tried=()
	r0=$((RECORDS > 200000 ? 100 : 20))
	memgen_table "$shape" "$r0" 0 "$file"
	count "$file"
	c0=$COUNT best_r=$r0 best_c=$COUNT tried[$r0]=1
	r1=$(((RECORDS * r0 + c0 / 2) / c0))
	for _ in $(seq 8); do
		((r1 >= 1)) || r1=1
		[[ -z ${tried[$r1]:-} ]] || break
		tried[$r1]=1
		memgen_table "$shape" "$r1" 0 "$file"
		count "$file"
		c1=$COUNT
		log "$shape: $r1 regions count $c1 for max_records"
		if (((c1 - RECORDS) ** 2 < (best_c - RECORDS) ** 2)); then
			best_r=$r1 best_c=$c1
		fi
		((200 * (c1 - RECORDS) > RECORDS || 200 * (RECORDS - c1) > RECORDS)) || break
		((c1 != c0)) || break
		read -r r0 c0 r1 <<<"$r1 $c1 $((r1 + (RECORDS - c1) * (r1 - r0) / (c1 - c0)))"
	done
	memgen_table "$shape" "$best_r" 0 "$file"
	count "$file"
}

# settle PID: waits SETTLE seconds, then until VmRSS grows by less than 1%
# in a second (at most 60 s more).
settle() {
	local pid=$1 before now
	sleep "$SETTLE"
	now=$(status "$pid" VmRSS)
	for _ in $(seq 60); do
		before=$now
		sleep 1
		now=$(status "$pid" VmRSS)
		((100 * (now - before) > before)) || return 0
	done
}

# heap NAME: a heap profile after a collection (gc=1) into $WORK/NAME.pb.gz,
# and the heap then (its live bytes) into LIVE.
heap() {
	curl -sf -o "$WORK/$1.pb.gz" "http://127.0.0.1:${PORT[pprof]}/debug/pprof/heap?gc=1"
	LIVE=$(metric go_memstats_heap_alloc_bytes)
}

# top NAME: the largest in-use allocation sites of $WORK/NAME.pb.gz, each
# charged to the first function outside Go's standard library on its stack
# (the frames of packages without a dot in their path are hidden), so that
# bytes.growSlice counts for the body it grows.
top() {
	go tool pprof -top -sample_index=inuse_space -nodecount="$TOP" -hide='^[a-z0-9_]+(/[a-z0-9_]+)*\.[^/]*$' \
		"$WORK/coredns" "$WORK/$1.pb.gz" 2>/dev/null | sed -n '/^Showing nodes/,$p'
}

# ---------------------------------------------------------------------------

log "building cmd/coredns and bench/memgen into $WORK"
go build -o "$WORK/coredns" ./cmd/coredns
go build -o "$WORK/memgen" ./bench/memgen
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# The floor: the same Corefile with the built-in table.
count ""
BASE_RECORDS=$COUNT
start builtin ""
settle "$SERVER"
BASE_RSS=$(status "$SERVER" VmRSS)
heap builtin
BASE_LIVE=$LIVE
stop
log "built-in table: counted $BASE_RECORDS, VmRSS $(mib "$BASE_RSS") MiB, heap live $(mib_bytes "$BASE_LIVE") MiB"

: >"$WORK/rows.tsv"
for shape in $SHAPES; do
	dir="$WORK/$shape"
	mkdir -p "$dir"
	size "$shape" "$dir/regions"
	read -r regions addrs prefixes bytes <<<"$GEN"
	units=$COUNT records=$RECS
	memgen_table "$shape" "$regions" 1 "$dir/regions.next"
	count "$dir/regions.next"
	log "$shape: $regions regions, $records records counted as $units, $bytes bytes; the reload's table $RECS counted as $COUNT"

	start "$shape" "        regions $dir/regions
        reload 1s"
	pid=$SERVER
	startup_hwm=$(status "$pid" VmHWM)
	settle "$pid"
	rss=$(status "$pid" VmRSS)
	inuse=$(metric go_memstats_heap_inuse_bytes)
	all_bytes=$(curl -sf -o /dev/null -w '%{size_download}' "http://127.0.0.1:${PORT[http]}/all")
	heap "$shape-steady"
	live=$LIVE
	log "$shape: VmRSS $(mib "$rss") MiB steady (start-up peak $(mib "$startup_hwm") MiB), heap in use $(mib_bytes "$inuse") MiB, live $(mib_bytes "$live") MiB; /all $all_bytes bytes"

	# The reload's own peak: VmHWM starts again from VmRSS (clear_refs 5).
	if echo 5 >"/proc/$pid/clear_refs" 2>/dev/null; then
		hwm_note=""
	else
		hwm_note=" (VmHWM could not be reset: the larger of the start-up and reload peaks)"
	fi
	lines=$(wc -l <"$dir/log")
	began=$(date +%s.%N)
	mv "$dir/regions.next" "$dir/regions"
	applied=
	for _ in $(seq 900); do
		if tail -n +"$((lines + 1))" "$dir/log" | grep -q "Reloaded $dir/regions:"; then
			applied=$(date +%s.%N)
			break
		fi
		if tail -n +"$((lines + 1))" "$dir/log" | grep -q "Keeping the last good table"; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if [[ -z $applied ]]; then
		echo "memory.sh: $shape: the reload was not applied:" >&2
		tail -n +"$((lines + 1))" "$dir/log" >&2
		exit 1
	fi
	took=$(awk -v a="$began" -v b="$applied" 'BEGIN { printf "%.1f", b - a }')
	settle "$pid"
	peak=$(status "$pid" VmHWM)
	rss_after=$(status "$pid" VmRSS)
	inuse_after=$(metric go_memstats_heap_inuse_bytes)
	heap "$shape-reloaded"
	live_after=$LIVE
	stop
	log "$shape: reload applied ${took} s after the rename; peak $(mib "$peak") MiB$hwm_note, VmRSS $(mib "$rss_after") MiB after"
	printf '%s\t' "$shape" "$regions" "$addrs" "$prefixes" "$records" "$units" "$bytes" "$rss" "$startup_hwm" "$peak" \
		"$rss_after" "$took" "$inuse" "$live" "$inuse_after" "$live_after" "$all_bytes" >>"$WORK/rows.tsv"
	echo >>"$WORK/rows.tsv"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || COMMIT="$COMMIT+dirty"
CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
echo "# mysqlgw memory by table shape, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Commit $COMMIT; $(go env GOVERSION); $CPU, $(nproc) cores, $MEM; $(uname -sr); GOGC=${GOGC:-default} GOMEMLIMIT=${GOMEMLIMIT:-default}."
echo "Tables that max_records counts at about $(commas "$RECORDS") (bench/memgen; the larger of their records and their bytes at 100 a record, as the server counts them), served with \`http\`, \`prometheus\` and \`pprof\`, \`reload 1s\`."
echo "Steady: VmRSS $SETTLE s or more after start-up, once it grows by less than 1% a second. Reload peak: VmHWM from a reset (clear_refs) to the same wait after the reload to a table of the same shape and size with other addresses.$hwm_note"
echo "Floor: the same Corefile with the built-in table (counted $(commas "$BASE_RECORDS")): VmRSS $(mib "$BASE_RSS") MiB, heap live $(mib_bytes "$BASE_LIVE") MiB. Bytes a unit (of max_records) below are the whole process's, floor included."
echo "Load average before/after: $LOAD_BEFORE / $LOAD_AFTER."
echo
echo "| shape | regions | addresses | prefixes | records | max_records count | file | VmRSS steady | B/unit | start-up peak | reload peak | B/unit at peak | VmRSS after reload | reload applied after |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
while IFS=$'\t' read -r shape regions addrs prefixes records units bytes rss startup_hwm peak rss_after took _; do
	printf '| %s | %s | %s | %s | %s | %s | %s | %s MiB | %s | %s MiB | %s MiB | %s | %s MiB | %s s |\n' \
		"$shape" "$(commas "$regions")" "$(commas "$addrs")" "$(commas "$prefixes")" "$(commas "$records")" "$(commas "$units")" \
		"$(size_text "$bytes")" "$(mib "$rss")" "$(per_record "$rss" "$units")" \
		"$(mib "$startup_hwm")" "$(mib "$peak")" "$(per_record "$peak" "$units")" "$(mib "$rss_after")" "$took"
done <"$WORK/rows.tsv"
echo
echo "Go heap (prometheus \`go_memstats_heap_inuse_bytes\`, and \`go_memstats_heap_alloc_bytes\` right after a collection, \`/debug/pprof/heap?gc=1\`: what is live):"
echo
echo "| shape | max_records count | heap in use, steady | heap live, steady | live B/unit | heap in use, after reload | heap live, after reload | /all body |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
while IFS=$'\t' read -r shape _ _ _ _ units _ _ _ _ _ _ inuse live inuse_after live_after all_bytes _; do
	printf '| %s | %s | %s MiB | %s MiB | %s | %s MiB | %s MiB | %s |\n' \
		"$shape" "$(commas "$units")" "$(mib_bytes "$inuse")" "$(mib_bytes "$live")" \
		"$(awk -v b="$live" -v n="$units" 'BEGIN { printf "%.0f", b / n }')" \
		"$(mib_bytes "$inuse_after")" "$(mib_bytes "$live_after")" \
		"$(size_text "$all_bytes")"
done <"$WORK/rows.tsv"
echo
echo "Largest in-use allocation sites at steady state, after a collection (\`go tool pprof -top -sample_index=inuse_space\`, each allocation charged to the first function outside the standard library on its stack):"
for shape in $SHAPES; do
	echo
	echo "$shape:"
	echo
	echo '~~~ txt'
	top "$shape-steady"
	echo '~~~'
done
[[ ${KEEP:-0} != 1 ]] || log "heap profiles: $WORK/*-steady.pb.gz and $WORK/*-reloaded.pb.gz"
