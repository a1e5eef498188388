# bench/lib.sh: what bench/run.sh and bench/profile.sh share. Sourced, not run.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# free_port prints a loopback port free for both UDP and TCP, below the
# kernel's ephemeral range so that no client socket takes it meanwhile, and
# not among the ports already handed out in PORT.
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		if [[ -z $(ss -Hantu "sport = :$p" 2>/dev/null) ]] && [[ " ${PORT[*]:-} " != *" $p "* ]]; then
			echo "$p"
			return
		fi
	done
	echo "$(basename "$0"): no free port" >&2
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
