#!/usr/bin/env bash
# Where rehearse's traffic throughput goes (issue 11, item 7). On one fresh throwaway server and
# the same pgbench table (scale 10), CONNECTIONS connections, SECONDS_PER_RUN each, interleaved
# rounds (the order rotates every round), pgbench's select-only statement through:
#   pgbench          `pgbench -M prepared -S -j 2` (libpq), the traffic benchmark's reference
#   pgbench-j        the same with a thread per connection (`-j CONNECTIONS`)
#   protocol         a bare Bind/Execute/Sync loop on postgres-protocol (bench/driver-overhead)
#   tokio-postgres   `Client::execute_raw` (bench/driver-overhead)
#   rehearse         `rehearse run bench/select-only.toml` (rate = "max"), its own 1 M-row table
# The last three run a thread per connection, as rehearse's traffic pool does; pgbench-j does
# too, so pgbench against pgbench-j shows what the thread layout alone is worth.
# Prints each round and, per client, the median ops/s, its ratio to pgbench's median and the
# round-to-round spread. protocol and tokio-postgres split rehearse's gap to pgbench-j into the
# driver's share and the rest.
#
#   scripts/bench-driver.sh         # ROUNDS=6 CONNECTIONS=8 SECONDS_PER_RUN=10
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-6}
CONNECTIONS=${CONNECTIONS:-8}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

cargo build --release -q
CARGO_TARGET_DIR=$PWD/target/driver-overhead cargo build --release -q \
	--manifest-path bench/driver-overhead/Cargo.toml
DRIVER=$PWD/target/driver-overhead/release/driver-overhead
REHEARSE=$PWD/target/release/rehearse
. scripts/lib-cluster.sh
select_only_bench

run_client() {
	case $1 in
	pgbench | pgbench-j)
		local jobs=2
		[ "$1" = pgbench ] || jobs=$CONNECTIONS
		"$PG_BIN/pgbench" -M prepared -S -c "$CONNECTIONS" -j "$jobs" -T "$SECONDS_PER_RUN" -n bench 2>&1 |
			awk '/^tps/ {print $3}'
		;;
	protocol | tokio-postgres)
		"$DRIVER" "$1" "$PGPORT" bench "$CONNECTIONS" "$SECONDS_PER_RUN" | awk '{print $2}'
		;;
	rehearse)
		"$REHEARSE" run "$work/select-only.toml" --backend url --database-url "$(cluster_url postgres)" \
			--out "$work/rehearse" >/dev/null 2>"$work/rehearse.log" || {
			echo "rehearse failed: $(tail -3 "$work/rehearse.log")" >&2
			exit 1
		}
		python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["strategies"][0]["traffic"]["phases"][0]
print(round(p["all"]["count"] / (p["end_s"] - p["start_s"]), 1))' "$work/rehearse/report.json"
		;;
	esac
}

clients=(pgbench pgbench-j protocol tokio-postgres rehearse)
: >"$work/rounds"
for round in $(seq "$ROUNDS"); do
	line="round $round:"
	for i in 0 1 2 3 4; do
		client=${clients[$(((i + round) % 5))]}
		ops=$(run_client "$client")
		echo "$client $ops" >>"$work/rounds"
		line="$line $client $ops"
	done
	echo "$line"
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    client, ops = line.split()
    runs.setdefault(client, []).append(float(ops))
base = statistics.median(runs["pgbench"])
for client in ["pgbench", "pgbench-j", "protocol", "tokio-postgres", "rehearse"]:
    xs = runs[client]
    m = statistics.median(xs)
    print(f"   {client:15} median {m:9.1f} ops/s  ratio to pgbench {m / base:.3f}  "
          f"spread (max - min) / median {(max(xs) - min(xs)) / m * 100:5.1f} %")
PY
