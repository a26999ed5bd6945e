#!/usr/bin/env bash
# Traffic benchmarks (issue: traffic). On one fresh throwaway server, prints:
#   1. throughput: rehearse (rate = "max") vs `pgbench -M prepared -S`, same connections and
#      table size, interleaved rounds (which tool goes first alternates), medians, the ratio
#      (goal ≥ 0.95) and each tool's round-to-round spread (goal: rehearse's no wider);
#   2. stall check: 2.5 s ACCESS EXCLUSIVE in a 10 s run at 800 ops/s: p99 (goal ≥ 2 s) and
#      recorded vs scheduled operations (goal: equal ±0.1 %);
#   3. schedule lateness at 1,000 ops/s with no stall (goal: p99 < 1 ms).
#
#   scripts/bench-traffic.sh            # ROUNDS=6 CONNECTIONS=8 SECONDS_PER_RUN=10
#   ONLY_THROUGHPUT=1 scripts/bench-traffic.sh   # part 1 only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-6}
CONNECTIONS=${CONNECTIONS:-8}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}

cargo build --release -q
REHEARSE=$PWD/target/release/rehearse
. scripts/lib-cluster.sh
select_only_bench

rehearse() {
	"$REHEARSE" run "$1" --backend url --database-url "$(cluster_url postgres)" --out "$2" ${REHEARSE_ARGS:-} >/dev/null 2>"$2.log" || {
		echo "rehearse failed: $(tail -3 "$2.log")" >&2
		exit 1
	}
}

echo
echo "1. throughput, select-only, prepared statements (rounds alternate which tool goes first)"
: >"$work/rounds"
pgbench_round() {
	"$PG_BIN/pgbench" -M prepared -S -c "$CONNECTIONS" -j 2 -T "$SECONDS_PER_RUN" -P 1 -n bench >"$work/pgbench-$1.out" 2>&1
	python3 - "$work/pgbench-$1.out" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
per_s = [float(x) for x in re.findall(r"^progress: [0-9.]+ s, ([0-9.]+) tps", text, re.M)]
tps = float(re.search(r"^tps = ([0-9.]+)", text, re.M).group(1))
print(f"{tps:.1f} {statistics.pstdev(per_s) / statistics.mean(per_s) * 100:.1f}")
PY
}
rehearse_round() {
	rehearse "$work/select-only.toml" "$work/select-$1"
	python3 - "$work/select-$1/report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["strategies"][0]
p = s["traffic"]["phases"][0]
st = s["figures"]["baseline_stability"]
print(f'{p["all"]["count"] / (p["end_s"] - p["start_s"]):.1f} {st["ops_per_s_cv_pct"]:.1f}')
PY
}
for round in $(seq "$ROUNDS"); do
	if [ $((round % 2)) = 1 ]; then
		a=$(pgbench_round "$round")
		b=$(rehearse_round "$round")
	else
		b=$(rehearse_round "$round")
		a=$(pgbench_round "$round")
	fi
	read -r tps pcv <<<"$a"
	read -r ops rcv <<<"$b"
	echo "$tps $ops $pcv $rcv" >>"$work/rounds"
	printf '   round %d: pgbench %8.1f tps (per-second cv %4.1f %%)   rehearse %8.1f ops/s (per-second cv %4.1f %%)   ratio %.3f\n' \
		"$round" "$tps" "$pcv" "$ops" "$rcv" "$(python3 -c "print($ops / $tps)")"
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
rows = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
pg, rh = [r[0] for r in rows], [r[1] for r in rows]
ratios = sorted(b / a for a, b in zip(pg, rh))
spread = lambda xs: (max(xs) - min(xs)) / statistics.median(xs) * 100
print(f"   median: pgbench {statistics.median(pg):.1f} tps, rehearse {statistics.median(rh):.1f} ops/s; "
      f"ratio of medians {statistics.median(rh) / statistics.median(pg):.3f}, "
      f"median of round ratios {statistics.median(ratios):.3f} (range {ratios[0]:.3f}-{ratios[-1]:.3f}; goal >= 0.95)")
print(f"   round-to-round spread (max - min) / median: pgbench {spread(pg):.1f} %, rehearse {spread(rh):.1f} % "
      f"(goal: rehearse no wider than pgbench)")
def iqr(xs):
    q = statistics.quantiles(xs, n=4)
    return (q[2] - q[0]) / statistics.median(xs) * 100
if len(rows) >= 2:
    print(f"   interquartile spread / median: pgbench {iqr(pg):.1f} %, rehearse {iqr(rh):.1f} %")
print(f"   per-second cv, median over rounds: pgbench {statistics.median(r[2] for r in rows):.1f} %, "
      f"rehearse {statistics.median(r[3] for r in rows):.1f} %")
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
