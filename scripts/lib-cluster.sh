# Sourced by the benchmark scripts: a throwaway Postgres cluster from local binaries, on a free
# port of 127.0.0.1, owned by the `postgres` OS user when run as root, removed on exit.
#
#   . scripts/lib-cluster.sh
#   cluster_start [postgres -c settings…]   # sets PGPORT, PGHOST, PGUSER, CLUSTER_DIR, PG_BIN
#   cluster_url DB                          # postgresql://postgres@127.0.0.1:PORT/DB
#   select_only_bench                       # the throughput benchmarks' server (see below)

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PG_BIN/initdb" ] || { echo "no Postgres binaries (set PG_BIN)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_stop() {
	if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ]; then
		as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
		rm -rf "$CLUSTER_DIR"
	fi
}

cluster_start() {
	CLUSTER_DIR=$(mktemp -d /tmp/rehearse-bench-XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	[ "$(id -u)" != 0 ] || chown postgres: "$CLUSTER_DIR"
	trap cluster_stop EXIT
	as_owner "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
	PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	local opts="-c port=$PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$CLUSTER_DIR"
	for setting in "$@"; do opts="$opts -c $setting"; done
	as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -o "$opts" -w start >/dev/null
	export PGPORT PGHOST=127.0.0.1 PGUSER=postgres
}

cluster_url() {
	echo "postgresql://postgres@127.0.0.1:$PGPORT/$1"
}

# The throughput benchmarks' server: a cluster whose shared buffers hold both tools' tables
# (about 150 MB each with the index, so no round starts by re-reading pages another evicted),
# pgbench's table (scale 10) in database `bench`, and bench/select-only.toml with CONNECTIONS
# and SECONDS_PER_RUN in $work/select-only.toml. Sets `work`; prints the server line.
select_only_bench() {
	cluster_start shared_buffers=1GB
	work=$CLUSTER_DIR/work
	mkdir -p "$work"
	sed -e "s/^connections = .*/connections = $CONNECTIONS/" \
		-e "s/^baseline = .*/baseline = \"${SECONDS_PER_RUN}s\"/" bench/select-only.toml >"$work/select-only.toml"
	"$PG_BIN/createdb" bench
	"$PG_BIN/pgbench" -i -s 10 -q bench >/dev/null 2>&1
	echo "server: $("$PG_BIN/postgres" --version); $(nproc) cores; $CONNECTIONS connections; ${SECONDS_PER_RUN} s per run"
}
