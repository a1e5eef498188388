# stages.awk sorts the samples of a CPU profile into the stages a query goes
# through, reading the output of `go tool pprof -traces`. Each sample's stack
# is read from the leaf up and belongs to the first stage one of its frames
# names, so allocation and syscalls count for the stage that caused them and
# garbage collection done as an assist counts as GC. Prints a Markdown table.

function stage(f) {
	if (f ~ /^runtime\.(gcBgMarkWorker|gcAssistAlloc|gcDrain|gcMarkDone|gcMarkTermination|gcStart|bgsweep|bgscavenge|sweepone|markroot|scanobject|scanblock|gcFlushBgCredit|gcWriteBarrier|wbBufFlush)/)
		return "GC (mark, sweep, assists, write barriers)"
	if (f ~ /WriteToSessionUDP|\(\*UDPConn\)\.(WriteMsgUDP|WriteTo|writeMsg)|^syscall\.sendmsg/)
		return "socket write (sendmsg, incl. kernel loopback delivery)"
	if (f ~ /ReadFromSessionUDP|parseDstFromOOB|\(\*Server\)\.readUDP|\(\*UDPConn\)\.(ReadMsgUDP|readMsg)|^syscall\.recvmsg/)
		return "socket read (recvmsg)"
	if (f ~ /miekg\/dns\.(\(\*Msg\)\.([Pp]ack|PackBuffer)|[Pp]ackDomainName|PackRR|packRR)/)
		return "pack (miekg/dns)"
	if (f ~ /coredns\/request\.\(\*Request\)\.Scrub|miekg\/dns\.\(\*Msg\)\.(Len|Truncate)$/)
		return "reply sizing (ScrubWriter: Len, Truncate)"
	if (f ~ /miekg\/dns\.(\(\*Msg\)\.[Uu]npack|[Uu]npackDomainName|unpackMsgHdr|unpackQuestion|UnpackRR)/)
		return "unpack (miekg/dns)"
	if (f ~ /mysqlgw\/mysqlgw\.(count$|\(\*requestCounters\)\.)/)
		return "mysqlgw: requests_total counter"
	if (f ~ /mysqlgw\/mysqlgw\./)
		return "mysqlgw ServeDNS (lookup, copy, reply)"
	if (f ~ /coredns\/plugin\/whoami\./)
		return "whoami ServeDNS"
	if (f ~ /coredns\/core\/dnsserver\.|coredns\/coredns\/plugin\/|coredns\/coredns\/request\./)
		return "CoreDNS server and plugin chain"
	if (f ~ /miekg\/dns\./)
		return "miekg/dns server loop (goroutine per query, buffers)"
	return ""
}

function unit(s) {
	if (s ~ /ms$/) return substr(s, 1, length(s) - 2) / 1000
	if (s ~ /us$/ || s ~ /µs$/) return substr(s, 1, length(s) - 2) / 1e6
	if (s ~ /ns$/) return substr(s, 1, length(s) - 2) / 1e9
	if (s ~ /s$/) return substr(s, 1, length(s) - 1) + 0
	return s + 0
}

function flush() {
	if (value > 0) {
		if (found == "") found = "Go runtime (scheduler, netpoll, other)"
		sum[found] += value
		total += value
	}
	value = 0
	found = ""
}

/^-+\+-+$/ { flush(); intrace = 1; next }
# A sample's first line is its value and leaf frame; the frames above it
# follow one a line. Inlined frames end in "(inline)".
intrace && NF >= 2 && $1 ~ /^[0-9.]+(ns|us|µs|ms|s)$/ {
	value = unit($1)
	if (found == "") found = stage($2)
	next
}
intrace && NF >= 1 {
	if (found == "") found = stage($1)
	next
}
END {
	flush()
	printf "| stage | CPU s | share |\n|---|---:|---:|\n"
	n = 0
	for (s in sum) order[++n] = s
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (sum[order[j]] > sum[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
	for (i = 1; i <= n; i++)
		printf "| %s | %.2f | %.1f%% |\n", order[i], sum[order[i]], 100 * sum[order[i]] / total
	printf "| total | %.2f | 100%% |\n", total
}
