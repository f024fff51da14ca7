# bench/lib/measure.sh: one measurement per function. Each takes a candidate
# and its proxy address (empty for direct), runs the load generator pinned to
# CPU 1 for WARM seconds of warm-up and DUR seconds measured, and prints
# metric=value pairs ("value=" is the figure of the table; idle scenarios
# print rss=, pss=, fds=), or "fail" (reason in the notes) or "n/s" (the
# candidate cannot do it). Sourced by bench/run.

load() { taskset -c 1 "$@"; }

# note_once KEY MSG: a note that would repeat every round is written once.
note_once() {
	grep -qxF "$1" "$TMP/noted" 2>/dev/null && return 0
	echo "$1" >>"$TMP/noted"
	warn "${*:2}"
}

# measure_http_fwd CAND ADDR: wrk, keep-alive, 64 connections, the 14-byte
# body. Through a proxy the request line is absolute-form (RFC 9112 §3.2.2),
# set by a Lua script; Host matches the URI as real clients send it.
measure_http_fwd() {
	local url script=""
	if [[ $1 == direct ]]; then
		url=http://127.0.0.1:$ORIGIN_PORT/small
	else
		url=http://$2/
		script=$TMP/fwd.lua
		cat >"$script" <<-LUA
			wrk.path = "http://127.0.0.1:$ORIGIN_PORT/small"
			wrk.headers["Host"] = "127.0.0.1:$ORIGIN_PORT"
		LUA
	fi
	wrk_run "$1" ${script:+-s "$script"} "$url"
}

# wrk_run CAND WRK_ARGS...: WARM s of warm-up, then wrk_measure.
wrk_run() {
	wrk_warm "${@:2}"
	wrk_measure "$@"
}

# wrk_warm WRK_ARGS...: the warm-up run, its figures thrown away.
wrk_warm() {
	load wrk -t1 -c64 "$@" -d"${WARM}s" >/dev/null 2>&1 || true
}

# wrk_measure CAND WRK_ARGS...: one measured wrk run (-t1 -c64, DUR s);
# prints "value=<req/s> p50_ms= p99_ms= requests=" or "fail" (over 1% of
# replies not 2xx or 3xx: refusals must not count as work).
wrk_measure() {
	local cand=$1 out
	shift
	out=$(load timeout $((DUR + 30)) wrk -t1 -c64 --latency "$@" -d"${DUR}s" 2>&1) || {
		echo "fail"
		warn "wrk failed: $(tail -n 3 <<<"$out")"
		return
	}
	local rps total bad
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	total=$(awk '/requests in/ {print $1}' <<<"$out")
	bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
	if [[ -z $rps || -z $total || $total -eq 0 ]] || ((${bad:-0} * 100 > total)); then
		echo "fail"
		warn "wrk: ${total:-0} requests, ${bad:-0} not 2xx: $(grep -E 'errors|Non-2xx' <<<"$out" | tr '\n' ' ')"
		return
	fi
	# tinyproxy closes after each response: wrk counts a read error each time.
	if grep -q 'Socket errors' <<<"$out"; then
		note_once "wrk-errors-$cand-$SC" "wrk through $cand ($SC): $(grep 'Socket errors' <<<"$out" | xargs) (noted once)"
	fi
	echo "value=$rps requests=$total $(awk '
		function ms(v) { return v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000 }
		$1 == "50%" { printf "p50_ms=%.2f ", ms($2) }
		$1 == "99%" { printf "p99_ms=%.2f", ms($2) }' <<<"$out")"
}

# bulk CURL_PROXY_ARGS...: repeated 1 GiB downloads for DUR seconds (at
# least one, at most 100); prints MiB/s over all of them.
bulk() {
	local url=http://127.0.0.1:$ORIGIN_PORT/1g out size t
	local bytes=0 secs=0 i start=$SECONDS
	load curl -s -o /dev/null --max-time "$WARM" "$@" "$url" || true
	for ((i = 0; i < 100; i++)); do
		out=$(load curl -s -S -o /dev/null --max-time 60 -w '%{size_download} %{time_total}' "$@" "$url" 2>&1) || {
			echo "fail"
			warn "curl $*: $out"
			return
		}
		read -r size t <<<"$out"
		if [[ $size != 1073741824 ]]; then
			echo "fail"
			warn "curl $*: got $size bytes, want 1073741824"
			return
		fi
		bytes=$((bytes + size))
		secs=$(awk -v a="$secs" -v b="$t" 'BEGIN {print a + b}')
		((SECONDS - start >= DUR)) && break
	done
	awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "value=%.1f\n", b / s / 1048576}'
}

measure_connect_bulk() {
	if [[ $1 == direct ]]; then bulk; else bulk -p -x "http://$2"; fi
}

measure_socks_bulk() {
	if [[ $1 == direct ]]; then bulk; else bulk --socks5-hostname "$2"; fi
}

# rate MODE CAND ADDR: new tunnels per second with tunnelrate, 64 workers.
rate() {
	local mode=$1 out
	[[ $2 == direct ]] && mode=direct
	out=$(load "$BIN/tunnelrate" -mode "$mode" -proxy "$3" -target "127.0.0.1:$ORIGIN_PORT" \
		-c 64 -warmup "${WARM}s" -d "${DUR}s" 2>"$TMP/tunnelrate.err") || {
		echo "fail"
		warn "tunnelrate: $out $(tail -n 3 "$TMP/tunnelrate.err")"
		return
	}
	grep -q 'level=WARN' "$TMP/tunnelrate.err" && warn "tunnelrate: $(grep -m1 'level=WARN' "$TMP/tunnelrate.err")"
	sed -n 's/^rate=\([0-9.]*\) .*\(p50_ms=[0-9.]*\) \(p99_ms=[0-9.]*\).*/value=\1 \2 \3/p' <<<"$out"
}

measure_connect_rate() { rate connect "$@"; }
measure_socks_rate() { rate socks5 "$@"; }

# idle MODE CAND ADDR: IDLE_N idle connections; prints "rss pss fds" per
# connection, or "n/s" when the candidate closes them instead of holding
# them. For direct (idle-http only) the origin nginx holds them.
idle() {
	local mode=$1 pid=$CAND_PID out rc=0
	if [[ $2 == direct ]]; then
		mode=origin
		pid=$ORIGIN_PID
	fi
	out=$(load "$BIN/idleconns" -mode "$mode" -proxy "$3" -target "127.0.0.1:$ORIGIN_PORT" \
		-pid "$pid" -n "$IDLE_N" 2>"$TMP/idleconns.err") || rc=$?
	if ((rc == 3)); then
		echo "n/s"
		note_once "noidle-$2-$mode" "idleconns: $2 closed the idle $mode connections instead of holding them: $out"
		return
	elif ((rc != 0)); then
		echo "fail"
		warn "idleconns: $out $(tail -n 3 "$TMP/idleconns.err")"
		return
	fi
	local kv
	kv=$(tr ' ' '\n' <<<"$out")
	field() { sed -n "s/^$1=//p" <<<"$kv"; }
	if (($(field fds_left) > 2 || $(field procs_added) > 0)); then
		note_once "left-$2-$mode" "idleconns: $2 with $IDLE_N idle $mode connections added $(field procs_added) processes;" \
			"1 s after they closed it held $(field fds_left) more descriptors (pooled upstream connections or idle children; noted once)"
	fi
	echo "rss=$(field rss_per_conn) pss=$(field pss_per_conn) fds=$(field fds_per_conn)"
}

measure_idle_connect() { idle connect "$@"; }
measure_idle_socks() { idle socks5 "$@"; }
measure_idle_http() { idle http "$@"; }

# cpu_sample [PID]: "total busy ours cand" in clock ticks: total and busy
# (user, nice, system, steal) from /proc/stat; ours the CPU time of this
# script's process tree, cand that of PID's tree (utime+stime+cutime+cstime:
# reaped children land in their parent's cutime). Interrupt time is left
# out, so loopback softirq work is not taken for someone else's.
cpu_sample() {
	{
		head -n1 /proc/stat
		cat /proc/[0-9]*/stat 2>/dev/null
	} | awk -v root="$$" -v cand="${1:-0}" '
		NR == 1 { for (i = 2; i <= NF; i++) total += $i; busy = $2 + $3 + $4 + $9; next }
		{
			i = length($0); while (i > 0 && substr($0, i, 1) != ")") i--
			split(substr($0, i + 2), f, " ")
			pid = $1; ppid[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15]
		}
		END {
			for (p in t) {
				q = p
				for (d = 0; d < 64 && q > 1 && q != root && q != cand; d++) q = ppid[q]
				if (cand > 0 && q == cand) c += t[p]
				for (; d < 64 && q > 1 && q != root; d++) q = ppid[q]
				if (q == root) ours += t[p]
			}
			printf "%d %d %d %d\n", total, busy, ours, c
		}'
}

# foreign_cpu BEFORE AFTER: percent of one CPU that processes not ours used
# between two cpu_sample readings.
foreign_cpu() {
	awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		secs = (y[1] - x[1]) / n
		f = (y[2] - x[2]) - (y[3] - x[3])
		printf "%d\n", (secs > 0 && f > 0) ? 100 * f / secs : 0 }'
}

# cand_cpu BEFORE AFTER: percent of one CPU the candidate used meanwhile.
cand_cpu() {
	awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		secs = (y[1] - x[1]) / n
		printf "%d\n", (secs > 0) ? 100 * (y[4] - x[4]) / secs : 0 }'
}

# cpu_busy: percent of all CPUs busy over half a second.
cpu_busy() {
	local a b
	a=$(cpu_sample)
	sleep 0.5
	b=$(cpu_sample)
	awk -v a="$a" -v b="$b" 'BEGIN {
		split(a, x, " "); split(b, y, " "); t = y[1] - x[1]
		printf "%d\n", (t > 0) ? 100 * (y[2] - x[2]) / t : 0 }'
}

# wait_quiet LABEL: between measurements nothing of ours runs but an idle
# origin, so CPU use above 15% is someone else's (a build, a test). Wait up
# to 120 s for it to pass; then measure anyway (the foreign-CPU check after
# the measurement decides whether the figure stands).
wait_quiet() {
	local i busy
	for ((i = 0; i < 60; i++)); do
		busy=$(cpu_busy)
		((busy <= 15)) && return 0
		sleep 1.5
	done
	warn "$1: the machine stayed ${busy}% busy with other work for 120 s before the measurement"
}
