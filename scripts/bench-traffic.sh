#!/usr/bin/env bash
# Traffic benchmarks (issue: traffic). On one fresh throwaway server, prints:
#   1. throughput: rehearse (rate = "max") vs `pgbench -M prepared -S`, same connections and
#      table size, interleaved rounds, medians and the ratio (goal ≥ 0.90);
#   2. stall check: 2.5 s ACCESS EXCLUSIVE in a 10 s run at 800 ops/s: p99 (goal ≥ 2 s) and
#      recorded vs scheduled operations (goal: equal ±0.1 %);
#   3. schedule lateness at 1,000 ops/s with no stall (goal: p99 < 1 ms).
#
#   scripts/bench-traffic.sh            # ROUNDS=3 CONNECTIONS=8 SECONDS_PER_RUN=10
#   ONLY_THROUGHPUT=1 scripts/bench-traffic.sh   # part 1 only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-8}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

cargo build --release -q
REHEARSE=$PWD/target/release/rehearse
. scripts/lib-cluster.sh
cluster_start shared_buffers=256MB
work=$CLUSTER_DIR/work
mkdir -p "$work"
sed -e "s/^connections = .*/connections = $CONNECTIONS/" \
	-e "s/^baseline = .*/baseline = \"${SECONDS_PER_RUN}s\"/" bench/select-only.toml >"$work/select-only.toml"

"$PG_BIN/createdb" bench
"$PG_BIN/pgbench" -i -s 10 -q bench >/dev/null 2>&1
echo "server: $("$PG_BIN/postgres" --version); $(nproc) cores; $CONNECTIONS connections; ${SECONDS_PER_RUN} s per run"

rehearse() {
	"$REHEARSE" run "$1" --backend url --database-url "$(cluster_url postgres)" --out "$2" ${REHEARSE_ARGS:-} >/dev/null 2>"$2.log" || {
		echo "rehearse failed: $(tail -3 "$2.log")" >&2
		exit 1
	}
}

echo
echo "1. throughput, select-only, prepared statements"
pg=()
rh=()
for round in $(seq "$ROUNDS"); do
	tps=$("$PG_BIN/pgbench" -M prepared -S -c "$CONNECTIONS" -j 2 -T "$SECONDS_PER_RUN" -n bench 2>/dev/null |
		awk '/^tps = / {print $3}')
	pg+=("$tps")
	rehearse "$work/select-only.toml" "$work/select-$round"
	ops=$(python3 - "$work/select-$round/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["strategies"][0]["traffic"]["phases"][0]
print(f'{p["all"]["count"] / (p["end_s"] - p["start_s"]):.1f}')
PY
	)
	rh+=("$ops")
	python3 - "$work/select-$round/report.json" >>"$work/intervals" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["strategies"][0]["traffic"]
print(" ".join(f'{i["completed"] / t["interval_s"]:.0f}' for i in t["series"]))
PY
	printf '   round %d: pgbench %10.1f tps   rehearse %10.1f ops/s\n' "$round" "$tps" "$ops"
done
python3 - "${pg[*]}" "${rh[*]}" <<'PY'
import statistics, sys
pg = [float(x) for x in sys.argv[1].split()]
rh = [float(x) for x in sys.argv[2].split()]
a, b = statistics.median(pg), statistics.median(rh)
print(f"   median: pgbench {a:.1f} tps, rehearse {b:.1f} ops/s, ratio {b / a:.3f} (goal >= 0.90)")
PY

[ -z "${ONLY_THROUGHPUT:-}" ] || exit 0

echo
echo "2. stall check: 2.5 s ACCESS EXCLUSIVE at 800 ops/s in a 10 s run"
rehearse bench/stall.toml "$work/stall"
python3 - "$work/stall/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["strategies"][0]["traffic"]
step = t["phases"][1]
run_s = t["phases"][-1]["end_s"] - t["phases"][0]["start_s"]
print(f'   run {run_s:.2f} s; scheduled {t["scheduled"]} (800/s x {run_s:.2f} s = {800 * run_s:.0f}); recorded {t["recorded"]}; '
      f'difference {abs(t["scheduled"] - t["recorded"]) / t["scheduled"] * 100:.3f} % (goal <= 0.1 %)')
print(f'   p99 whole run {t["overall"]["latency"]["p99_ms"]:.1f} ms (goal >= 2000 ms); '
      f'p99 during the stall step {step["all"]["latency"]["p99_ms"]:.1f} ms; max {t["overall"]["latency"]["max_ms"]:.1f} ms')
print(f'   service-time p99 (what a closed-loop tool reports) {t["overall"]["service"]["p99_ms"]:.1f} ms')
PY

echo
echo "3. schedule lateness at 1,000 ops/s, no stall"
rehearse bench/lateness.toml "$work/lateness"
python3 - "$work/lateness/report.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["strategies"][0]["traffic"]
l = t["lateness"]
print(f'   {t["recorded"]} operations; lateness p50 {l["p50_ms"]:.3f} ms, p99 {l["p99_ms"]:.3f} ms (goal < 1 ms), max {l["max_ms"]:.3f} ms')
PY
