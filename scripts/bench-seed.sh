#!/usr/bin/env bash
# Seeding benchmark (issue: seeding). On one fresh server, in ROUNDS interleaved rounds:
#   rehearse   seeds bench/seed-users.toml (users: email, name, status, 2 timestamps, ~200-byte
#              jsonb; PK + unique email + created_at index) at SCALE (default 0.33: 3.3 M rows,
#              about 1.5 GB); MB/s = pg_total_relation_size / the report's seed seconds;
#   pgbench    `pgbench -i -q` at the scale writing the same on-disk size; MB/s = size of the
#              pgbench tables / (done in − drop tables);
#   ceiling    the server's own COPY of the same rows rehearse generated, from a binary file:
#              BEGIN; CREATE; COPY … FREEZE; COMMIT, then the same three indexes and ANALYZE.
# Every timed load is preceded by CHECKPOINT and sync. Prints MB/s and rows/s for each, then the
# medians and the two ratios. Then (unless SKIP_GOAL=1) the 10 M-row goal: the same scenario at
# scale 1 through the local backend, with rehearse's peak RSS.
#
#   scripts/bench-seed.sh                 # ROUNDS=3 SCALE=0.33
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-0.33}
cargo build --release -q
. scripts/lib-cluster.sh
cluster_start shared_buffers=256MB max_wal_size=4GB
work=$CLUSTER_DIR/work
mkdir -p "$work"
chmod 777 "$work"
export REHEARSE_BENCH_EXPORT=$work/users.bin
psql -qAt -d postgres -c "CREATE DATABASE bench" >/dev/null
settle() { psql -qAt -d postgres -c CHECKPOINT >/dev/null; sync; }
results=$work/results
: >"$results"

run_rehearse() {
	settle
	target/release/rehearse run bench/seed-users.toml --backend url --database-url "$(cluster_url postgres)" \
		--scale "$SCALE" --out "$work/out" >"$work/rehearse.log" 2>&1 || { cat "$work/rehearse.log" >&2; exit 1; }
	python3 - "$work/out/report.json" <<'PY' | tee -a "$results"
import json, sys
s = json.load(open(sys.argv[1]))["seed"]
print(f'rehearse {s["bytes"]} {s["rows"]} {s["seconds"]:.3f}')
PY
}

run_pgbench() {
	local scale=$1
	psql -qAt -d bench -c "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history" >/dev/null
	settle
	local out
	out=$(pgbench -i -q -s "$scale" bench 2>&1)
	local bytes rows
	bytes=$(psql -qAt -d bench -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE relname IN ('pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history')")
	rows=$((scale * 100000))
	python3 - "$bytes" "$rows" "$out" <<'PY' | tee -a "$results"
import re, sys
bytes_, rows, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
done = float(re.search(r"done in ([\d.]+) s", out).group(1))
drop = re.search(r"drop tables ([\d.]+) s", out)
print(f'pgbench {bytes_} {rows} {done - (float(drop.group(1)) if drop else 0):.3f}')
PY
}

run_ceiling() {
	psql -qAt -d bench -c "DROP TABLE IF EXISTS users_copy" >/dev/null
	settle
	local start end
	start=$(date +%s.%N)
	psql -qAt -d bench -v ON_ERROR_STOP=1 >/dev/null <<SQL
BEGIN;
CREATE TABLE users_copy (id bigint NOT NULL, email text NOT NULL, full_name text NOT NULL,
  status text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, payload jsonb NOT NULL);
COPY users_copy FROM '$REHEARSE_BENCH_EXPORT' (FORMAT binary, FREEZE);
COMMIT;
ALTER TABLE users_copy ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON users_copy (email);
CREATE INDEX ON users_copy (created_at);
ANALYZE users_copy;
SQL
	end=$(date +%s.%N)
	local bytes rows
	bytes=$(psql -qAt -d bench -c "SELECT pg_total_relation_size('users_copy')")
	rows=$(psql -qAt -d bench -c "SELECT count(*) FROM users_copy")
	echo "ceiling $bytes $rows $(python3 -c "print(round($end - $start, 3))")" | tee -a "$results"
}

echo "round 0: rehearse once to learn the size and export its rows"
run_rehearse
size=$(awk '/^rehearse/ {print $2; exit}' "$results")
pgbench_scale=$(python3 -c "print(max(1, round($size / 15_690_000)))")
echo "pgbench scale for the same size: $pgbench_scale"
: >"$results"
for round in $(seq 1 "$ROUNDS"); do
	echo "round $round"
	run_rehearse
	run_pgbench "$pgbench_scale"
	run_ceiling
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for tool in ("rehearse", "pgbench", "ceiling"):
    runs = [(int(b), int(r), float(s)) for t, b, r, s in rows if t == tool]
    mbs = statistics.median(b / s / 1e6 for b, r, s in runs)
    rps = statistics.median(r / s for b, r, s in runs)
    med[tool] = mbs
    print(f"{tool:9} median {mbs:7.1f} MB/s  {rps:11,.0f} rows/s  ({runs[0][0] / 1e6:,.0f} MB, {runs[0][1]:,} rows; {len(runs)} runs)")
print(f"rehearse / pgbench -i : {med['rehearse'] / med['pgbench']:.2f}  (goal >= 0.8)")
print(f"rehearse / COPY file  : {med['rehearse'] / med['ceiling']:.2f}  (goal >= 0.8)")
PY

if [ "${SKIP_GOAL:-0}" != 1 ]; then
	echo "goal: 10 M users rows through the local backend"
	rm -f "$REHEARSE_BENCH_EXPORT"
	unset REHEARSE_BENCH_EXPORT
	settle
	/usr/bin/time -f "%M" -o "$work/rss" target/release/rehearse run bench/seed-users.toml --backend local --no-cache \
		--out "$work/goal" >"$work/goal.log" 2>&1 || { cat "$work/goal.log" >&2; exit 1; }
	python3 - "$work/goal/report.json" "$(cat "$work/rss")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["seed"]
print(f'{s["rows"]:,} rows, {s["bytes"] / 1e9:.2f} GB seeded in {s["seconds"]:.1f} s (goal < 60 s); '
      f'rehearse peak RSS {int(sys.argv[2]) / 1024:.0f} MB')
for b in s["builds"]:
    print(f'   {b["kind"]:12} {b["name"]:28} {b["seconds"]:6.1f} s')
PY
fi
