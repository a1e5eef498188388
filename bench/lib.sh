# bench/lib.sh: what bench/run.sh and bench/profile.sh share. Sourced, not run.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# SS is iproute2's ss, found once: without it every port would look free.
SS=$(command -v ss || true)
if [[ -z $SS ]] || ! "$SS" -V 2>/dev/null | grep -q iproute2; then
	echo "$(basename "$0"): needs iproute2's ss to find free ports (Debian: apt-get install iproute2)" >&2
	exit 1
fi

# free_port prints a loopback port free for both UDP and TCP, below the
# kernel's ephemeral range so that no client socket takes it meanwhile, and
# not among the ports already handed out in PORT. It fails when ss does.
free_port() {
	local p used
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		if ! used=$("$SS" -Hantu "sport = :$p"); then
			echo "$(basename "$0"): $SS -Hantu failed" >&2
			exit 1
		fi
		if [[ -z $used ]] && [[ " ${PORT[*]:-} " != *" $p "* ]]; then
			echo "$p"
			return
		fi
	done
	echo "$(basename "$0"): no free port" >&2
	exit 1
}

# wait_answer NAME PORT PID waits until the server on PORT answers a query
# for the zone, and fails with its log ($WORK/NAME/log) if it exits first or
# does not answer within 30 s.
wait_answer() {
	local name=$1 port=$2 pid=$3
	for _ in $(seq 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$(basename "$0"): $name exited at start-up:" >&2
			cat "$WORK/$name/log" >&2
			exit 1
		fi
		if dig @127.0.0.1 -p "$port" +time=1 +tries=1 +norec "$ZONE" SOA 2>/dev/null | grep -q 'status:'; then
			return
		fi
		sleep 0.2
	done
	echo "$(basename "$0"): $name did not answer on 127.0.0.1:$port within 30 s" >&2
	cat "$WORK/$name/log" >&2
	exit 1
}

# build_tools builds cmd/coredns and bench/gen into $WORK.
build_tools() {
	log "building cmd/coredns and bench/gen into $WORK"
	go build -o "$WORK/coredns" ./cmd/coredns
	go build -o "$WORK/gen-bin" ./bench/gen
}

# generate writes the peers' data and the query file into $WORK/gen, read
# back over DNS from the plain mysqlgw on port $1.
generate() {
	mkdir -p "$WORK/gen"
	"$WORK/gen-bin" -server "127.0.0.1:$1" -zone "$ZONE" -out "$WORK/gen" >&2
}
