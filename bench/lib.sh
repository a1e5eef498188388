# bench/lib.sh: what bench/run.sh, bench/profile.sh, bench/axfr.sh,
# bench/http.sh, bench/secondary.sh, bench/memory.sh and robust/run.sh
# share. Sourced, not run, right after the script has made its
# work folder $WORK: from then on every process the script starts in the
# background goes into PIDS, and all of them stop on every way out (the end,
# a failure, Ctrl-C or a TERM).

NAME=$(basename "$(dirname "$0")")/$(basename "$0")
PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# cleanup stops every process in PIDS (TERM, then KILL after 5 s) and removes
# $WORK unless KEEP=1. A script with more to undo first defines before_cleanup.
cleanup() {
	local pid
	if declare -F before_cleanup >/dev/null; then
		before_cleanup || true
	fi
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	# A worktree build_base left behind (an interrupted build).
	if [[ -d $WORK/base-src ]]; then
		git -C "$ROOT" worktree remove --force "$WORK/base-src" 2>/dev/null || true
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "$NAME: work folder kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# reap PID waits for PID and forgets it (its number may be reused once
# reaped), returning its exit status.
reap() {
	local rc=0 pid kept=()
	wait "$1" || rc=$?
	for pid in "${PIDS[@]}"; do
		[[ $pid == "$1" ]] || kept+=("$pid")
	done
	PIDS=("${kept[@]}")
	return "$rc"
}

# free_port prints a loopback port free for both UDP and TCP, below the
# kernel's ephemeral range so that no client socket takes it meanwhile, and
# not among the ports already handed out in PORT. It needs iproute2's ss:
# without it every port would look free.
free_port() {
	local p used
	if ! ss -V 2>/dev/null | grep -q iproute2; then
		echo "$NAME: needs iproute2's ss to find free ports (Debian: apt-get install iproute2)" >&2
		exit 1
	fi
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		if ! used=$(ss -Hantu "sport = :$p"); then
			echo "$NAME: ss -Hantu failed" >&2
			exit 1
		fi
		if [[ -z $used ]] && [[ " ${PORT[*]:-} " != *" $p "* ]]; then
			echo "$p"
			return
		fi
	done
	echo "$NAME: no free port" >&2
	exit 1
}

# wait_answer NAME PORT PID waits until the server on PORT answers a query
# for the zone, and fails with its log ($WORK/NAME/log) if it exits first or
# does not answer within 30 s.
wait_answer() {
	local name=$1 port=$2 pid=$3
	for _ in $(seq 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$NAME: $name exited at start-up:" >&2
			cat "$WORK/$name/log" >&2
			exit 1
		fi
		if dig @127.0.0.1 -p "$port" +time=1 +tries=1 +norec "$ZONE" SOA 2>/dev/null | grep -q 'status:'; then
			return
		fi
		sleep 0.2
	done
	echo "$NAME: $name did not answer on 127.0.0.1:$port within 30 s" >&2
	cat "$WORK/$name/log" >&2
	exit 1
}

# build_tools builds cmd/coredns and bench/gen into $WORK.
build_tools() {
	log "building cmd/coredns and bench/gen into $WORK"
	go build -o "$WORK/coredns" ./cmd/coredns
	go build -o "$WORK/gen-bin" ./bench/gen
}

# generate writes the peers' data and the query file into $WORK/gen, from an
# AXFR of the zone from a mysqlgw with the built-in table that it starts for
# this and stops (the servers measured have no transfer plugin).
generate() {
	local port pid dir="$WORK/gen-source"
	port=$(free_port) && [[ -n $port ]] || exit 1
	mkdir -p "$dir" "$WORK/gen"
	printf '%s:%s {\n    bind 127.0.0.1\n    transfer {\n        to *\n    }\n    mysqlgw\n}\n' "${ZONE%.}" "$port" >"$dir/Corefile"
	(cd "$dir" && exec "$WORK/coredns" -conf Corefile -quiet >log 2>&1) &
	pid=$!
	PIDS+=("$pid")
	wait_answer gen-source "$port" "$pid"
	"$WORK/gen-bin" -server "127.0.0.1:$port" -zone "$ZONE" -out "$WORK/gen" >&2
	kill -TERM "$pid"
	reap "$pid" || true
}

# build_base COMMIT: builds cmd/coredns as it was at COMMIT into
# $WORK/coredns-base, from a git worktree that is removed afterwards, for
# the scripts that compare a build with an earlier one (BASE=).
build_base() {
	local commit
	commit=$(git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}") || {
		echo "$NAME: BASE=$1 is not a commit" >&2
		exit 1
	}
	log "building cmd/coredns at $(git -C "$ROOT" rev-parse --short "$commit") (BASE)"
	git -C "$ROOT" worktree add --detach --quiet "$WORK/base-src" "$commit"
	(cd "$WORK/base-src" && go build -o "$WORK/coredns-base" ./cmd/coredns)
	git -C "$ROOT" worktree remove --force "$WORK/base-src"
}
