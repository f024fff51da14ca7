# bench/lib/limits.sh: what a rate limit costs (issue 6). rev-limit is
# rev-keepalive through a route whose rate limit decides every request
# (50 million a second per client address: it never refuses, so the cost
# measured is the decision), rev-limit-redis the same limit shared through
# a redis-server on CPU 1 (one round trip per request). The anchor is
# janusbase: the same Janus build with no limit, measured alongside.
# Sourced by bench/run after reverse.sh; uses its globals and SC.

limit_scenario() { [[ $1 == rev-limit* ]]; }

# janus_limit_lines: the limits and cluster sections, and the route's
# limits key, for the limit scenarios (nothing for the others).
janus_limit_section() {
	limit_scenario "$SC" || return 0
	cat <<-CONF
		limits:
		  bench: { rate: 50000000/s, burst: 1000000 }
	CONF
	if [[ $SC == rev-limit-redis ]]; then
		cat <<-CONF
			cluster:
			  redis: { addr: "127.0.0.1:$REDIS_PORT", timeout: 50ms }
		CONF
	fi
}
janus_limit_route() { limit_scenario "$SC" && printf ', limits: [bench]'; return 0; }

# start_janusbase PORT: Janus with the reverse config and no limit.
start_janusbase() {
	local d=$TMP/janusbase sc=$SC
	SC=rev-keepalive
	janus_reverse_config "$1" "$d" >"$d/janus.yaml"
	SC=$sc
	spawn janusbase 0 env GOMAXPROCS=1 "$JANUS_BIN" run -c "$d/janus.yaml"
}

# start_redis: redis-server on CPU 1 (with the origin and the load), no
# persistence, for the whole run, when a scenario needs it.
start_redis() {
	local s
	for s in "${SCENARIOS[@]}"; do
		[[ $s == rev-limit-redis ]] || continue
		command -v redis-server >/dev/null || die "redis-server is missing (apt-get install redis-server)"
		free_port
		REDIS_PORT=$FREE_PORT
		mkdir -p "$TMP/redis"
		spawn redis 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/redis"
		wait_port "$REDIS_PORT" || die "redis-server did not start"
		return
	done
}

measure_rev_limit() { wrk_run "$1" "http://$2/small"; }
measure_rev_limit_redis() { wrk_run "$1" "http://$2/small"; }
