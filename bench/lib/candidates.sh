# bench/lib/candidates.sh: configs, start and stop for every candidate and
# for the origin (the reverse proxies' configs are in reverse.sh). Sourced
# by bench/run; uses its globals (TMP, ORIGIN_PORT, ORIGIN_TLS_PORT,
# ORIGIN_STATUS_PORT, CERTS, PORT_<cand>, JANUS_BIN, SC). Every config is
# written fresh into $TMP/<cand>/ on each start, so each measurement gets a
# clean process.

# CAND_PID is the pid (and process group) of the candidate started last.
CAND_PID=""
# STARTED lists the process groups to kill on exit.
STARTED=()

# spawn NAME CPU CMD...: run CMD in its own session pinned to CPU, output to
# $TMP/NAME/stdout.log. In a non-interactive script a background child is
# not a group leader, so setsid execs in place and $! is the command's pid
# and its process group.
spawn() {
	local name=$1 cpu=$2
	shift 2
	setsid taskset -c "$cpu" "$@" >"$TMP/$name/stdout.log" 2>&1 </dev/null &
	CAND_PID=$!
	STARTED+=("$CAND_PID")
}

# stop_group PGID: TERM the whole group, KILL it after 5 s, reap it.
stop_group() {
	local pg=$1 i
	kill -TERM -- "-$pg" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 -- "-$pg" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
	wait "$pg" 2>/dev/null || true
	local kept=()
	for p in "${STARTED[@]}"; do [[ $p == "$pg" ]] || kept+=("$p"); done
	STARTED=("${kept[@]}")
}

stop_all() {
	local pg
	for pg in "${STARTED[@]}"; do stop_group "$pg"; done
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most).
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		if timeout 0.5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; then
			return 0
		fi
		kill -0 "$CAND_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# free_port: sets FREE_PORT to a loopback port nobody uses, below the
# ephemeral range so that load generators' outgoing ports never collide
# with it, and never the same twice in one run (a variable, not output:
# a $(...) subshell would lose USED_PORTS).
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000))
		if [[ -z $(ss -Htan "( sport = :$p )") && " ${USED_PORTS[*]:-} " != *" $p "* ]]; then
			USED_PORTS+=("$p")
			FREE_PORT=$p
			return 0
		fi
	done
	die "no free loopback port found"
}

# start_origin: nginx, one worker on CPU 1, no access log, serving the
# bodies the scenarios fetch. keepalive_requests is raised so that the
# proxies' upstream connections are not recycled every 1000 requests (that
# would measure reconnection, not proxying). The same files over TLS
# (HTTP/1.1 and HTTP/2 by ALPN) on ORIGIN_TLS_PORT are the reverse TLS
# scenarios' "direct"; stub_status on ORIGIN_STATUS_PORT counts the
# connections the origin accepted (rev-upstream-conns).
start_origin() {
	local d=$TMP/origin
	mkdir -p "$d/www"
	printf 'hello, world!\n' >"$d/www/small" # 14 bytes
	head -c 1024 /dev/zero | tr '\0' 'a' >"$d/www/1k"
	head -c 102400 /dev/zero | tr '\0' 'b' >"$d/www/100k"
	dd if=/dev/zero of="$d/www/1g" bs=1M count=1024 status=none
	chmod -R a+rX "$d"
	cat >"$d/nginx.conf" <<-CONF
		worker_processes 1;
		daemon off;
		pid $d/nginx.pid;
		error_log $d/error.log warn;
		events { worker_connections 16384; }
		http {
		    access_log off;
		    sendfile on;
		    tcp_nopush on;
		    keepalive_requests 1000000;
		    keepalive_timeout 300s;
		    default_type application/octet-stream;
		    client_body_temp_path $d/tmp;
		    proxy_temp_path $d/tmp;
		    fastcgi_temp_path $d/tmp;
		    uwsgi_temp_path $d/tmp;
		    scgi_temp_path $d/tmp;
		    server {
		        listen 127.0.0.1:$ORIGIN_PORT backlog=4096;
		        root $d/www;
		        location = /1k { add_header Cache-Control "max-age=3600"; }
		    }
		    server {
		        listen 127.0.0.1:$ORIGIN_TLS_PORT ssl http2 backlog=4096;
		        ssl_certificate $CERTS/cert.pem;
		        ssl_certificate_key $CERTS/key.pem;
		        root $d/www;
		    }
		    server {
		        listen 127.0.0.1:$ORIGIN_STATUS_PORT;
		        location / { stub_status; }
		    }
		}
	CONF
	spawn origin 1 nginx -c "$d/nginx.conf"
	ORIGIN_PID=$CAND_PID
	wait_port "$ORIGIN_PORT" || die "nginx origin did not start: $(tail -5 "$d/error.log" "$d/stdout.log" 2>/dev/null)"
}

# start_squid PORT: non-SMP (-N, workers 1) so it is one process like the
# others; no caching (cache deny all) so every request goes to the origin as
# it does through the other proxies; the default logging (access log through
# the log daemon helper); no ICMP pinger, no ICP/HTCP, DNS only to loopback
# (every target is an IP literal, so it never asks).
start_squid() {
	local d=$TMP/squid
	cat >"$d/squid.conf" <<-CONF
		http_port 127.0.0.1:$1
		workers 1
		http_access allow all
		cache deny all
		access_log daemon:$d/access.log squid
		cache_log $d/cache.log
		cache_store_log none
		pid_filename $d/squid.pid
		coredump_dir $d
		pinger_enable off
		icp_port 0
		htcp_port 0
		dns_nameservers 127.0.0.1
		shutdown_lifetime 0 seconds
		max_filedescriptors 16384
		logfile_rotate 0
	CONF
	chown -R proxy:proxy "$d"
	spawn squid 0 squid -N -f "$d/squid.conf"
}

# start_tinyproxy PORT: its defaults (Timeout 600), except MaxClients 2048
# (the default 100 cannot hold the 1000 idle connections of the idle
# scenarios) and no ConnectPort line (the default list allows only 443 and
# 563; without one every port is allowed). LogLevel Connect logs one line
# per connection, its access log.
start_tinyproxy() {
	local d=$TMP/tinyproxy
	cat >"$d/tinyproxy.conf" <<-CONF
		Port $1
		Listen 127.0.0.1
		Timeout 600
		MaxClients 2048
		Allow 127.0.0.1
		LogFile "$d/tinyproxy.log"
		LogLevel Connect
		PidFile "$d/tinyproxy.pid"
	CONF
	spawn tinyproxy 0 tinyproxy -d -c "$d/tinyproxy.conf"
}

# start_dante PORT: one mother process (-N 1) with Dante's own child model
# (it forks negotiate, request and io children on demand; Dante 1.4.2 has no
# knob to turn that off), all pinned to CPU 0 with the mother. No
# authentication; targets restricted to loopback; connect and disconnect
# logged, its access log.
start_dante() {
	local d=$TMP/dante
	cat >"$d/danted.conf" <<-CONF
		logoutput: $d/danted.log
		internal: 127.0.0.1 port = $1
		external: 127.0.0.1
		clientmethod: none
		socksmethod: none
		user.privileged: root
		user.unprivileged: nobody
		client pass {
		    from: 127.0.0.0/8 to: 0.0.0.0/0
		    log: error
		}
		socks pass {
		    from: 127.0.0.0/8 to: 127.0.0.0/8
		    command: connect
		    log: connect disconnect error
		}
	CONF
	spawn dante 0 danted -N 1 -f "$d/danted.conf" -p "$d/danted.pid"
}

# start_janus PORT: the configs the lead specified, GOMAXPROCS=1 on CPU 0:
# for the reverse scenarios (SC rev-*) janus_reverse_config (reverse.sh),
# for the others the forward one below.
start_janus() {
	local d=$TMP/janus
	if [[ $SC == rev-* || $SC == cache-* ]]; then
		janus_reverse_config "$1" "$d" >"$d/janus.yaml"
		spawn janus 0 env GOMAXPROCS=1 "$JANUS_BIN" run -c "$d/janus.yaml"
		return
	fi
	cat >"$d/janus.yaml" <<-CONF
		log:
		  access: { format: json, output: $d/janus-access.log }
		listeners:
		  - name: bench
		    listen: "127.0.0.1:$1"
		    forward:
		      policy: bench
		      connect_ports: ["1-65535"]
		policies:
		  bench:
		    - allow: {}
	CONF
	spawn janus 0 env GOMAXPROCS=1 "$JANUS_BIN" run -c "$d/janus.yaml"
}

# start_candidate CAND: fresh directory, fresh process on a fresh port (set
# in PORT_<cand>), wait for the port. A port found free can be taken by
# someone else's test before the candidate binds it (a shared machine), and
# some candidates do not set SO_REUSEADDR, so a failed start is tried again
# on another port, 3 times at most. Sets CAND_PID; prints why and returns 1
# when it did not come up.
start_candidate() {
	local cand=$1 port try
	for ((try = 1; try <= 3; try++)); do
		free_port
		port=$FREE_PORT
		printf -v "PORT_$cand" '%s' "$port"
		rm -rf "${TMP:?}/$cand"
		mkdir -p "$TMP/$cand"
		chmod 777 "$TMP/$cand"
		"start_$cand" "$port"
		if wait_port "$port"; then
			sleep 0.2 # let forked helpers (Squid's log daemon, Dante's children) settle
			return 0
		fi
		stop_group "$CAND_PID"
		if grep -qis 'in use\|could not create listening\|bind' "$TMP/$cand"/*.log; then
			echo "bench: $cand could not bind 127.0.0.1:$port; another port" >&2
			continue
		fi
		break
	done
	warn "$cand did not start on 127.0.0.1:$port; last log lines: $(tail -q -n 3 "$TMP/$cand"/*.log 2>/dev/null | tr '\n' ' ')"
	return 1
}
