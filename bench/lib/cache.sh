# bench/lib/cache.sh: the cache scenarios (issue 4): Janus, nginx
# (proxy_cache) and Varnish as caching reverse proxies in front of the nginx
# origin's /1k, which says Cache-Control: max-age=3600. Sourced by bench/run
# after reverse.sh; uses its globals and SC.
#
# cache-hit: wrk -t1 -c64 keep-alive on /1k once it is stored: every
#   request is a hit; req/s and p99.
# cache-mem: bench/cmd/cachefill stores 10000 distinct objects (/1k?n=I)
#   and reads the candidate's process tree before and after: bytes of RSS
#   and Pss per object. nginx keeps bodies in files (on the bench's tmpfs,
#   not counted in its RSS) and keys in a shared zone; Varnish and Janus
#   keep them in memory.

cache_scenario() { [[ $1 == cache-* ]]; }

# nginx_cache_http DIR / nginx_cache_location: the lines start_nginx adds
# for the cache scenarios: a cache on the bench's tmpfs, keys in a 64 MiB
# zone, and proxy_cache on the location. Responses are stored as the
# origin's Cache-Control says.
nginx_cache_http() {
	cache_scenario "$SC" || return 0
	printf 'proxy_cache_path %s/cache levels=1:2 keys_zone=bench:64m max_size=1g inactive=1h use_temp_path=off;' "$1"
}
nginx_cache_location() {
	cache_scenario "$SC" || return 0
	printf 'proxy_cache bench; proxy_cache_lock on;'
}

# start_varnish PORT: varnishd in the foreground (-F), malloc storage of
# 1 GiB, one thread pool, on CPU 0. Its default VCL (-b) caches as the
# origin says. Varnish logs every request to its shared-memory log
# (varnishncsa would read it): that is its logging, so no file log is added.
start_varnish() {
	local d=$TMP/varnish
	mkdir -p "$d/work"
	chmod -R 777 "$d"
	spawn varnish 0 varnishd -F -a "127.0.0.1:$1" -b "127.0.0.1:$ORIGIN_PORT" -n "$d/work" \
		-s malloc,1g -p thread_pools=1 -p thread_pool_min=50
}

# janus_cache_lines: the cache section of Janus's config for the cache
# scenarios: a memory tier only (the figure per object is memory), and the
# route opted in (cache_route).
janus_cache_section() {
	cat <<-CONF
		cache:
		  memory: 1GiB
	CONF
}

# warm_cache ADDR: one request, so that /1k is stored before the load.
warm_cache() {
	load curl -s -o /dev/null --max-time 5 "http://$1/1k" || true
	load curl -s -o /dev/null --max-time 5 "http://$1/1k" || true
}

measure_cache_hit() {
	warm_cache "$2"
	wrk_run "$1" "http://$2/1k"
}

measure_cache_mem() {
	local out
	out=$(load "$BIN/cachefill" -addr "$2" -pid "$CAND_PID" -n 10000 2>"$TMP/cachefill.err") || {
		echo "fail"
		warn "cachefill ($1): $(tail -n 3 "$TMP/cachefill.err")"
		return
	}
	echo "$out"
}
