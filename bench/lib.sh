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
