# bench/lib/reverse.sh: the reverse-face scenarios: Janus, nginx and
# HAProxy as reverse proxies in front of the nginx origin. The TLS
# certificate, the two reverse candidates' configs, Janus's reverse config
# and the measurements. Sourced by bench/run after candidates.sh and
# measure.sh; uses their globals, and SC (the scenario being measured: the
# TLS scenarios get TLS listeners).

# tls_scenario SC: true for the scenarios whose proxies listen with TLS.
tls_scenario() { [[ $1 == rev-tls-keepalive || $1 == rev-h2 ]]; }

# make_cert: one self-signed ECDSA P-256 certificate for localhost and
# 127.0.0.1, used by every TLS listener (the origin's and each proxy's), so
# that all do the same handshake and record work. site.pem is the
# certificate and key in one file, as HAProxy wants them.
make_cert() {
	CERTS=$TMP/certs
	mkdir -p "$CERTS"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$CERTS/key.pem" -out "$CERTS/cert.pem" >"$CERTS/openssl.log" 2>&1 ||
		die "openssl could not make the bench certificate: $(tail -n 3 "$CERTS/openssl.log")"
	cat "$CERTS/cert.pem" "$CERTS/key.pem" >"$CERTS/site.pem"
	chmod -R a+rX "$CERTS"
}

# start_nginx PORT: nginx as a reverse proxy, one worker, with upstream
# keep-alive as its documentation asks for it (keepalive 64 in the upstream
# block, proxy_http_version 1.1, an empty Connection header). keepalive_requests
# is raised on both sides, as on the origin: nginx's default of 1000 would make
# it alone close client and upstream connections every 1000 requests (neither
# Janus nor HAProxy has such a limit by default), and for HTTP/2 it also caps
# the requests per connection. Access log to a file in nginx's default
# (combined) format, one write per request like the others.
start_nginx() {
	local d=$TMP/nginx listen="listen 127.0.0.1:$1 backlog=4096"
	tls_scenario "$SC" &&
		printf -v listen '%s ssl http2;\n        ssl_certificate %s;\n        ssl_certificate_key %s' \
			"$listen" "$CERTS/cert.pem" "$CERTS/key.pem"
	cat >"$d/nginx.conf" <<-CONF
		worker_processes 1;
		daemon off;
		pid $d/nginx.pid;
		error_log $d/error.log warn;
		events { worker_connections 16384; }
		http {
		    access_log $d/access.log;
		    $(nginx_cache_http "$d")
		    keepalive_requests 1000000;
		    keepalive_timeout 300s;
		    client_body_temp_path $d/tmp;
		    proxy_temp_path $d/tmp;
		    fastcgi_temp_path $d/tmp;
		    uwsgi_temp_path $d/tmp;
		    scgi_temp_path $d/tmp;
		    upstream origin {
		        server 127.0.0.1:$ORIGIN_PORT;
		        keepalive 64;
		        keepalive_requests 1000000;
		        keepalive_timeout 300s;
		    }
		    server {
		        $listen;
		        location / {
		            proxy_pass http://origin;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		            $(nginx_cache_location)
		        }
		    }
		}
	CONF
	spawn nginx 0 nginx -c "$d/nginx.conf"
}

# start_haproxy PORT: HAProxy 2.6 in the foreground (-db), nbthread 1, mode
# http, http-reuse always (idle upstream connections are shared by all
# clients, as Janus's and nginx's pools are). HAProxy cannot write a log
# file itself (syslog, a socket or a file descriptor only), so it logs
# each request (option httplog) to its stdout, which spawn sends to a file
# in its directory: one write per request to a file on the same tmpfs, as
# nginx and Janus do, so no candidate is spared its logging. maxconn keeps
# within the descriptor limit (HAProxy refuses to start when 2 × maxconn
# does not fit).
start_haproxy() {
	local d=$TMP/haproxy bind="bind 127.0.0.1:$1" maxconn
	maxconn=$((($(ulimit -n) - 200) / 2))
	((maxconn > 8192)) && maxconn=8192
	tls_scenario "$SC" && bind+=" ssl crt $CERTS/site.pem alpn h2,http/1.1"
	cat >"$d/haproxy.cfg" <<-CONF
		global
		    nbthread 1
		    maxconn $maxconn
		    log stdout format raw local0
		defaults
		    mode http
		    log global
		    option httplog
		    http-reuse always
		    timeout connect 5s
		    timeout client 300s
		    timeout server 300s
		    timeout http-keep-alive 300s
		frontend bench
		    $bind
		    default_backend origin
		backend origin
		    server origin 127.0.0.1:$ORIGIN_PORT
	CONF
	spawn haproxy 0 haproxy -db -f "$d/haproxy.cfg"
}

# janus_reverse_config PORT DIR: the lead's reverse bench config, written
# exactly as specified; for the TLS scenarios with a tls: block on the
# listener.
#
# TLS: the TLS scenarios use the listener key
#     tls: {certificates: [{cert: CERT.pem, key: KEY.pem}]}
# with ALPN h2 on it for rev-h2 (Janus serves both since 351719e). A Janus
# built without them, or one that stops serving them, does not start with
# this config or does not answer https (or h2): preflight_janus then marks
# its cells "n/s" with the reason in the notes instead of failing them.
janus_reverse_config() {
	local tls=""
	tls_scenario "$SC" && tls="
    tls: {certificates: [{cert: $CERTS/cert.pem, key: $CERTS/key.pem}]}"
	local cache=""
	if cache_scenario "$SC"; then
		cache=", cache: on"
		janus_cache_section
	fi
	janus_limit_section
	cache+=$(janus_limit_route)
	cat <<-CONF
		log: {access: {format: json, output: $2/janus-access.log}}
		listeners:
		  - name: bench
		    listen: "127.0.0.1:$1"$tls
		    reverse:
		      routes:
		        - {name: app, match: {path_prefix: /}, upstream: origin$cache}
		upstreams:
		  origin:
		    targets: ["127.0.0.1:$ORIGIN_PORT"]
	CONF
}

# janus_probe SC ADDR: does the Janus just started serve SC's kind of
# request? For the TLS scenarios: an https GET (and for rev-h2 one over
# HTTP/2, negotiated by ALPN) of the 14-byte body. Prints why not.
janus_probe() {
	local out
	case $1 in
	rev-tls-keepalive)
		out=$(curl -sS -k --max-time 5 "https://$2/small" 2>&1) && [[ $out == "hello, world!" ]] && return 0
		echo "no https answer: $out"
		;;
	rev-h2)
		out=$(curl -sS -k --http2 --max-time 5 -o /dev/null -w '%{http_version}' "https://$2/small" 2>&1) &&
			[[ $out == 2 ]] && return 0
		echo "no HTTP/2 over TLS (ALPN h2): got HTTP version '$out'"
		;;
	*) return 0 ;;
	esac
	return 1
}

# rev_url CAND ADDR: where the load goes: through the proxy at ADDR, or to
# the origin itself for direct (its TLS port for the TLS scenarios).
rev_url() {
	local scheme=http addr=$2
	if tls_scenario "$SC"; then
		scheme=https
		[[ $1 == direct ]] && addr=127.0.0.1:$ORIGIN_TLS_PORT
	elif [[ $1 == direct ]]; then
		addr=127.0.0.1:$ORIGIN_PORT
	fi
	echo "$scheme://$addr/small"
}

# HTTP/1.1 keep-alive and TLS keep-alive: wrk -t1 -c64 (wrk offers no
# ALPN, so TLS stays HTTP/1.1); a new connection per request: the same with
# "Connection: close", which every candidate honours by closing after the
# response, and wrk by reconnecting.
measure_rev_keepalive() { wrk_run "$1" "$(rev_url "$@")"; }
measure_rev_newconn() { wrk_run "$1" -H "Connection: close" "$(rev_url "$@")"; }
measure_rev_tls_keepalive() { wrk_run "$1" "$(rev_url "$@")"; }

# origin_accepts: connections the origin has accepted since it started
# (nginx stub_status on a port of its own, so that reading it does not
# touch the measured server; the read itself counts one).
origin_accepts() {
	local n
	n=$(curl -sS --max-time 5 "http://127.0.0.1:$ORIGIN_STATUS_PORT/" | awk 'NR == 3 {print $1}')
	[[ $n =~ ^[0-9]+$ ]] || return 1
	echo "$n"
}

# measure_rev_upstream_conns CAND ADDR: the keep-alive load of
# rev-keepalive, with the origin's accepted connections read during it.
# "value" is the number of connections the proxy opened to the origin in
# the steady middle half of the measured DUR s: a proxy that reuses its
# upstream connections opens none there, one without reuse one per request.
# "total" counts the whole measured run, its start included: a proxy that
# dropped upstream connections when the warm-up's clients went away (nginx
# closes those with a request in flight) opens them again there, once.
# "held" is the proxy's established connections to the origin halfway
# through, "requests" the requests of the measured run.
measure_rev_upstream_conns() {
	local url a0 a1 a2 a3 held out pid quarter
	url=$(rev_url "$@")
	quarter=$(awk -v d="$DUR" 'BEGIN { print d / 4 }')
	wrk_warm "$url"
	a0=$(origin_accepts) || {
		echo "fail"
		warn "rev-upstream-conns: cannot read the origin's stub_status"
		return
	}
	wrk_measure "$1" "$url" >"$TMP/upstream-wrk.out" &
	pid=$!
	sleep "$quarter"
	a1=$(origin_accepts) || a1=""
	sleep "$quarter"
	held=$(ss -Htn state established "( dport = :$ORIGIN_PORT )" | wc -l)
	sleep "$quarter"
	a2=$(origin_accepts) || a2=""
	wait "$pid" || true
	a3=$(origin_accepts) || a3=""
	out=$(<"$TMP/upstream-wrk.out")
	if [[ $out != value=* || -z $a1 || -z $a2 || -z $a3 ]]; then
		echo "fail"
		[[ $out == value=* ]] && warn "rev-upstream-conns: cannot read the origin's stub_status"
		return
	fi
	local requests=${out#*requests=}
	# Each stub_status read is a connection of its own: a2's falls between
	# a1 and a2, those of a1, a2 and a3 between a0 and a3.
	echo "value=$((a2 - a1 - 1)) total=$((a3 - a0 - 3)) held=$held requests=${requests%% *}"
}

# measure_rev_h2 CAND ADDR: h2load, one thread, 64 connections, 10 streams
# each, WARM s warm-up and DUR s measured (h2load's req/s counts the
# measured part only). The protocol must be h2 by ALPN; over 1% failed,
# errored or timed-out requests, or non-2xx replies, make it "fail".
measure_rev_h2() {
	local url out
	url=$(rev_url "$@")
	out=$(load timeout $((WARM + DUR + 30)) h2load -t1 -c64 -m10 --warm-up-time="$WARM" -D "$DUR" "$url" 2>&1) || {
		echo "fail"
		warn "h2load through $1 failed: $(grep -v '^progress' <<<"$out" | tail -n 3 | tr '\n' ' ')"
		return
	}
	if ! grep -q '^Application protocol: h2$' <<<"$out"; then
		echo "fail"
		warn "h2load through $1: HTTP/2 not negotiated: $(grep -m1 -i 'protocol' <<<"$out")"
		return
	fi
	local res
	res=$(awk '
		function ms(v) { return v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000 }
		/^finished in/ { rps = $4 }
		/^requests:/ { total = $2; bad = $10 + $12 + $14 }
		/^status codes:/ { ok = $3 }
		/^time for request:/ { mean = ms($6) }
		END {
			if (rps == "" || total == 0 || bad * 100 > total || (total - ok) * 100 > total)
				printf "fail %d requests, %d failed, errored or timed out, %d 2xx\n", total, bad, ok
			else
				printf "value=%s requests=%d mean_ms=%.2f\n", rps, total, mean
		}' <<<"$out")
	if [[ $res == fail* ]]; then
		echo "fail"
		warn "h2load through $1: ${res#fail }"
		return
	fi
	echo "$res"
}
