#!/usr/bin/env bash
# bench/run.sh: end-to-end throughput of mysqlgw beside its peers, measured
# interleaved (A B C ... A B C ...) with dnsperf over 127.0.0.1, medians of
# ROUNDS runs. See bench/README.md.
#
#   bench/run.sh                  # DURATION=10 ROUNDS=3, results in bench/results/
#   SHORT=1 bench/run.sh          # CI: 2 s a run, 1 round, results in bench/results/tmp/
#
# Environment:
#   DURATION=10       seconds of dnsperf per server and round
#   ROUNDS=3          rounds; the table shows the median of each server's runs
#   SHORT=1           DURATION=2 ROUNDS=1, written to bench/results/tmp/
#   SERVERS="..."     which servers to measure, in this order (default: all below)
#   CLIENTS=8 THREADS=2 OUTSTANDING=100   dnsperf -c, -T and -q
#   NICE=0            run the servers and dnsperf at this nice level (as root,
#                     e.g. -5, on a machine busy with other work)
#   WAIT_IDLE=0       wait up to this many seconds for the 1-minute load
#                     average to drop below IDLE_LOAD (default 1.0) first
#   OUT=dir           where latest.md, latest.svg and latest.tsv go
#   KEEP=1            keep the work folder (Corefiles, zone, logs)
#   BASE=<commit>     also build cmd/coredns at that commit (a git worktree in
#                     the work folder) and measure it as mysqlgw-base in the
#                     same interleaved rounds: before and after in one run
#
# Servers: mysqlgw (built-in table), mysqlgw-redirect (the same beside the
# whole Sql service tag as Redirect sets: 60 regions, 381,000 records more),
# mysqlgw-multisocket, whoami, file, hosts,
# template, knot, chain-mysqlgw and chain-whoami (errors and prometheus in
# front); mysqlgw-base with BASE. Needs dnsperf, dig, knotd and iproute2's ss
# (Debian: dnsperf bind9-dnsutils knot iproute2).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

SHORT=${SHORT:-0}
if [[ $SHORT == 1 ]]; then
	DURATION=${DURATION:-2}
	ROUNDS=${ROUNDS:-1}
	OUT=${OUT:-$ROOT/bench/results/tmp}
fi
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$ROOT/bench/results}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
OUTSTANDING=${OUTSTANDING:-100}
NICE=${NICE:-0}
WAIT_IDLE=${WAIT_IDLE:-0}
IDLE_LOAD=${IDLE_LOAD:-1.0}
ALL_SERVERS="mysqlgw mysqlgw-redirect mysqlgw-multisocket whoami file hosts template knot chain-mysqlgw chain-whoami"
SERVERS=${SERVERS:-$ALL_SERVERS}
ZONE=gateway.mysql.local.
BASE=${BASE:-}
if [[ -n $BASE ]]; then
	BASE_COMMIT=$(git rev-parse --verify --quiet "$BASE^{commit}") || {
		echo "run.sh: BASE=$BASE is not a commit" >&2
		exit 1
	}
	BASE_SHORT=$(git rev-parse --short "$BASE_COMMIT")
	# mysqlgw-base runs right after mysqlgw in every round.
	if [[ " $SERVERS " != *" mysqlgw-base "* ]]; then
		if [[ " $SERVERS " == *" mysqlgw "* ]]; then
			SERVERS=$(sed 's/\(^\| \)mysqlgw\( \|$\)/\1mysqlgw mysqlgw-base\2/' <<<"$SERVERS")
		else
			SERVERS="$SERVERS mysqlgw-base"
		fi
	fi
elif [[ " $SERVERS " == *" mysqlgw-base "* ]]; then
	echo "run.sh: mysqlgw-base needs BASE=<commit>" >&2
	exit 1
fi

for tool in dnsperf dig go; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done
if [[ " $SERVERS " == *" knot "* ]] && ! command -v knotd >/dev/null; then
	echo "run.sh: knotd is not installed (Debian package knot)" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/mysqlgw-bench.XXXXXX)
source "$ROOT/bench/lib.sh"
declare -A PORT=()



# start_coredns NAME BODY: a server block for the zone on its own port, with
# BODY as its plugins; mysqlgw-base runs the binary built at BASE.
start_coredns() {
	local name=$1 body=$2 dir="$WORK/$1" port pid bin="$WORK/coredns"
	[[ $name == mysqlgw-base ]] && bin="$WORK/coredns-base"
	port=$(free_port) && [[ -n $port ]] || exit 1
	PORT[$name]=$port
	mkdir -p "$dir"
	{
		if [[ $name == mysqlgw* || $name == chain-mysqlgw ]]; then
			echo "${ZONE%.}:$port in-addr.arpa:$port {"
		else
			echo "${ZONE%.}:$port {"
		fi
		echo "    bind 127.0.0.1"
		echo "$body"
		echo "}"
	} >"$dir/Corefile"
	(cd "$dir" && exec nice -n "$NICE" "$bin" -conf Corefile -quiet >log 2>&1) &
	pid=$!
	PIDS+=("$pid")
	wait_answer "$name" "$port" "$pid"
	log "started $name on 127.0.0.1:$port"
}

start_knot() {
	local dir="$WORK/knot" port pid
	port=$(free_port) && [[ -n $port ]] || exit 1
	PORT[knot]=$port
	mkdir -p "$dir/run" "$dir/storage"
	cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir/run"
    listen: 127.0.0.1@$port
database:
    storage: "$dir/storage"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: ${ZONE%.}
    file: "$WORK/gen/db.zone"
EOF
	nice -n "$NICE" knotd -c "$dir/knot.conf" >"$dir/log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_answer knot "$port" "$pid"
	log "started knot on 127.0.0.1:$port"
}

# ask prints "STATUS|sorted answer rdata" for one question.
ask() {
	local port=$1 name=$2 type=$3 out status
	out=$(dig @127.0.0.1 -p "$port" +norec +time=2 +tries=2 +noall +comments +answer "$name" "$type" 2>&1) || true
	status=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out")
	printf '%s|%s' "${status:-NONE}" "$(grep -v '^;' <<<"$out" | awk 'NF { $1 = $2 = ""; print }' | sort | tr '\n' ';')"
}

# check compares a server's answers with mysqlgw's for the questions of
# checks.txt: every question for servers with the whole table, A questions
# for names that exist for hosts, and only NOERROR for whoami.
check() {
	local name=$1 port=${PORT[$1]} q type want got n=0
	while read -r q type want; do
		got=$(ask "$port" "$q" "$type")
		case $name in
		whoami | chain-whoami)
			[[ $type == A ]] || continue
			want=NOERROR got=${got%%|*}
			;;
		hosts)
			[[ $type == A && $want == NOERROR* ]] || continue
			;;
		esac
		if [[ $got != "$want" ]]; then
			echo "run.sh: $name answers $q $type with" >&2
			echo "    $got" >&2
			echo "  but mysqlgw with" >&2
			echo "    $want" >&2
			exit 1
		fi
		n=$((n + 1))
	done <"$WORK/reference.txt"
	log "checked $name: $n answers agree with mysqlgw"
}

# measure runs dnsperf once against a server and appends a line to the raw
# results: round, server, QPS, mean latency (ms), lost, sent.
measure() {
	local round=$1 name=$2 out
	out=$(nice -n "$NICE" dnsperf -s 127.0.0.1 -p "${PORT[$name]}" -d "$WORK/gen/queries.txt" -l "$DURATION" \
		-c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" -t 1 2>&1) || {
		echo "run.sh: dnsperf against $name failed:" >&2
		echo "$out" >&2
		exit 1
	}
	awk -v round="$round" -v name="$name" '
		/Queries sent:/ { sent = $3 }
		/Queries lost:/ { lost = $3 }
		/Queries per second:/ { qps = $4 }
		/Average Latency/ { lat = $4 * 1000 }
		END { printf "%s\t%s\t%.0f\t%.3f\t%d\t%d\n", round, name, qps, lat, lost, sent }
	' <<<"$out" >>"$WORK/raw.tsv"
	log "round $round $name: $(tail -1 "$WORK/raw.tsv" | cut -f3) q/s"
}

describe() {
	case $1 in
	mysqlgw) echo "CoreDNS + mysqlgw, built-in table" ;;
	mysqlgw-base) echo "the same at BASE $BASE_SHORT" ;;
	mysqlgw-redirect) echo "the same beside 60 regions of Redirect sets" ;;
	mysqlgw-multisocket) echo "CoreDNS + multisocket + mysqlgw" ;;
	whoami) echo "CoreDNS + whoami (the framework's floor)" ;;
	file) echo "CoreDNS + file, same records" ;;
	hosts) echo "CoreDNS + hosts, same A records" ;;
	template) echo "CoreDNS + template, one per name and type" ;;
	knot) echo "Knot DNS $(knotd --version 2>/dev/null | awk '{ print $NF }'), same zone file" ;;
	chain-mysqlgw) echo "errors + prometheus + mysqlgw" ;;
	chain-whoami) echo "errors + prometheus + whoami" ;;
	esac
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------------------

build_tools
if [[ -n $BASE ]]; then
	build_base "$BASE_COMMIT"
fi
start_coredns mysqlgw "    mysqlgw"
generate

for name in $SERVERS; do
	case $name in
	mysqlgw) ;;
	mysqlgw-base) start_coredns "$name" "    mysqlgw" ;;
	mysqlgw-redirect)
		# bench/memgen's redirect shape, its Redirect sets alone as Corefile
		# region lines: new regions beside the built-in ones, which answer
		# as before (a Redirect set adds nothing to all).
		go build -o "$WORK/memgen" ./bench/memgen
		"$WORK/memgen" -shape redirect -regions 60 -o "$WORK/redirect.regions" >/dev/null
		start_coredns "$name" "    mysqlgw {
$(awk '/^region/ { sub(/ subnets .* redirect /, " redirect "); print "        region " $0 }' "$WORK/redirect.regions")
    }"
		;;
	mysqlgw-multisocket) start_coredns "$name" "    multisocket
    mysqlgw" ;;
	whoami) start_coredns "$name" "    whoami" ;;
	file) start_coredns "$name" "    file $WORK/gen/db.zone" ;;
	hosts) start_coredns "$name" "    hosts $WORK/gen/hosts {
        no_reverse
    }" ;;
	template) start_coredns "$name" "$(cat "$WORK/gen/template")" ;;
	knot) start_knot ;;
	chain-mysqlgw | chain-whoami)
		PORT[$name-metrics]=$(free_port)
		start_coredns "$name" "    prometheus 127.0.0.1:${PORT[$name-metrics]}
    errors
    ${name#chain-}"
		;;
	*)
		echo "run.sh: unknown server $name (known: $ALL_SERVERS, and mysqlgw-base with BASE)" >&2
		exit 1
		;;
	esac
done
# mysqlgw's own answers are the reference every server is checked against.
while read -r q type; do
	printf '%s %s %s\n' "$q" "$type" "$(ask "${PORT[mysqlgw]}" "$q" "$type")"
done <"$WORK/gen/checks.txt" >"$WORK/reference.txt"
for name in $SERVERS; do
	check "$name"
done

if ((WAIT_IDLE > 0)); then
	deadline=$((SECONDS + WAIT_IDLE))
	while awk -v max="$IDLE_LOAD" '{ exit !($1 >= max) }' /proc/loadavg && ((SECONDS < deadline)); do
		log "load average $(loadavg); waiting for it to drop below $IDLE_LOAD"
		sleep 10
	done
fi
LOAD_BEFORE=$(loadavg)
: >"$WORK/raw.tsv"
for round in $(seq "$ROUNDS"); do
	for name in $SERVERS; do
		measure "$round" "$name"
		sleep 1
	done
done
LOAD_AFTER=$(loadavg)

# ---------------------------------------------------------------------------
# Medians, the table, the targets (bench/README.md) and the chart.

mkdir -p "$OUT"
: >"$WORK/median.tsv"
for name in $SERVERS; do
	qps=$(awk -v n="$name" '$2 == n { print $3 }' "$WORK/raw.tsv" | median)
	lat=$(awk -v n="$name" '$2 == n { print $4 }' "$WORK/raw.tsv" | median)
	lost=$(awk -v n="$name" '$2 == n { print $5 }' "$WORK/raw.tsv" | median)
	runs=$(awk -v n="$name" '$2 == n { printf "%s%s", sep, $3; sep = " / " }' "$WORK/raw.tsv")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$qps" "$lat" "$lost" "$runs" "$(describe "$name")" >>"$WORK/median.tsv"
done
cp "$WORK/raw.tsv" "$OUT/latest.tsv"

qps_of() { awk -v n="$1" '$1 == n { print $2 }' "$WORK/median.tsv"; }
ratio() { # ratio A B: A's median QPS over B's, or "n/a"
	local a b
	a=$(qps_of "$1") b=$(qps_of "$2")
	if [[ -n $a && -n $b ]]; then awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'; else echo n/a; fi
}
verdict() { # verdict VALUE OP LIMIT
	[[ $1 == n/a ]] && { echo "not measured"; return; }
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { ok = (op == ">=") ? v >= l : v > l; print ok ? "met" : "**not met**" }'
}

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || COMMIT="$COMMIT+dirty"
CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
DATE=$(date -u +%Y-%m-%dT%H:%MZ)
{
	echo "# mysqlgw end to end, $DATE"
	echo
	echo "Commit $COMMIT${BASE:+, mysqlgw-base at $BASE_SHORT (BASE=$BASE)}; $(go env GOVERSION); $CPU, $(nproc) cores; $(uname -sr)."
	echo "dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }') -c $CLIENTS -T $THREADS -q $OUTSTANDING, $DURATION s a run, $ROUNDS round(s) interleaved, medians; servers and dnsperf at nice $NICE."
	echo "Query mix: 70% A over region and role names, 20% TXT, 10% NXDOMAIN ($(wc -l <"$WORK/gen/queries.txt") lines, bench/gen)."
	echo "Load average before/after measuring: $LOAD_BEFORE / $LOAD_AFTER."
	echo
	echo "| server | what | QPS (median) | mean latency | lost | mysqlgw ÷ server | QPS per round |"
	echo "|---|---|---:|---:|---:|---:|---|"
	while IFS=$'\t' read -r name qps lat lost runs what; do
		r=$(ratio mysqlgw "$name")
		printf '| %s | %s | %s | %.3f ms | %s | %s | %s |\n' "$name" "$what" "$qps" "$lat" "$lost" "$r" "$runs"
	done <"$WORK/median.tsv"
	echo
	echo "Targets (end to end; bench/README.md):"
	echo
	echo "| target | measured | |"
	echo "|---|---:|---|"
	r=$(ratio mysqlgw whoami)
	echo "| mysqlgw ÷ whoami ≥ 1.0 | $r | $(verdict "$r" ">=" 1.0) |"
	r=$(ratio mysqlgw file)
	echo "| mysqlgw ÷ file ≥ 1.4 | $r | $(verdict "$r" ">=" 1.4) |"
	r=$(ratio mysqlgw template)
	echo "| mysqlgw ÷ template > 1 (far ahead) | $r | $(verdict "$r" ">" 1.0) |"
	r=$(ratio chain-mysqlgw chain-whoami)
	echo "| chain: mysqlgw ÷ whoami ≥ 0.97 (metrics cost ≤ 3%) | $r | $(verdict "$r" ">=" 0.97) |"
	if [[ -n $BASE ]]; then
		r=$(ratio mysqlgw mysqlgw-base)
		change=$(awk -v r="$r" -v base="$BASE_SHORT" 'BEGIN {
			if (r == "n/a") print "not measured"
			else if (r > 1.02 || r < 0.98) printf "%+.0f%% against %s\n", (r - 1) * 100, base
			else print "no difference beyond 2%"
		}')
		echo "| mysqlgw ÷ mysqlgw-base (this commit ÷ BASE) | $r | $change |"
	fi
	r=$(ratio mysqlgw-redirect mysqlgw)
	if [[ $r != n/a ]]; then
		echo "| mysqlgw-redirect ÷ mysqlgw ≥ 0.97 (Redirect sets cost DNS nothing) | $r | $(verdict "$r" ">=" 0.97) |"
	fi
	r=$(ratio mysqlgw-multisocket mysqlgw)
	if [[ $r != n/a ]]; then
		better=$(awk -v r="$r" 'BEGIN { print (r > 1.02) ? "multisocket is better here" : (r < 0.98) ? "one socket is better here" : "no difference beyond 2%" }')
		echo "| multisocket ÷ one socket | $r | $better |"
	fi
} >"$OUT/latest.md"

# The chart: one horizontal bar per server, mysqlgw's in blue.
awk -F'\t' -v title="mysqlgw end to end: median queries/s ($DATE, $COMMIT)" \
	-v subtitle="dnsperf -c $CLIENTS -T $THREADS, $DURATION s x $ROUNDS rounds, 127.0.0.1, $(nproc) cores, load average ${LOAD_BEFORE%% *} before" '
	{ name[NR] = $1; qps[NR] = $2; if ($2 > max) max = $2 }
	END {
		left = 170; barw = 460; row = 30; top = 62
		h = top + NR * row + 20; w = left + barw + 110
		printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n", w, h, w, h
		printf "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
		printf "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", title
		printf "<text x=\"10\" y=\"42\" fill=\"#555555\">%s</text>\n", subtitle
		for (i = 1; i <= NR; i++) {
			y = top + (i - 1) * row
			bw = (max > 0) ? qps[i] / max * barw : 0
			color = (name[i] ~ /mysqlgw/) ? "#1f6fb4" : (name[i] == "knot" ? "#6a9f58" : "#9a9a9a")
			printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 8, y + 17, name[i]
			printf "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"22\" fill=\"%s\"/>\n", left, y + 2, bw, color
			printf "<text x=\"%.1f\" y=\"%d\">%d</text>\n", left + bw + 6, y + 17, qps[i]
		}
		printf "</svg>\n"
	}' "$WORK/median.tsv" >"$OUT/latest.svg"

cat "$OUT/latest.md"
log "wrote $OUT/latest.md, $OUT/latest.svg and $OUT/latest.tsv"
