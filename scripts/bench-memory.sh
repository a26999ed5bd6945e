#!/usr/bin/env bash
# Memory benchmark (issue: traffic): runs the select-only mix back to back (rate = "max") for
# DURATION seconds (default 200, about 10^7 operations on 2 cores) and samples rehearse's RSS every 5 s.
# Goal: RSS < 100 MB after 10^7 operations, flat in run length.
#
#   scripts/bench-memory.sh          # DURATION=200
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_TO_RUN=${DURATION:-200}
cargo build --release -q
. scripts/lib-cluster.sh
cluster_start shared_buffers=256MB
work=$CLUSTER_DIR/work
mkdir -p "$work"
sed -e "s/^baseline = .*/baseline = \"${SECONDS_TO_RUN}s\"/" bench/select-only.toml >"$work/memory.toml"
target/release/rehearse run "$work/memory.toml" --backend url --database-url "$(cluster_url postgres)" \
	--out "$work/out" >/dev/null 2>"$work/log" &
pid=$!
until grep -q "traffic running" "$work/log" 2>/dev/null; do
	kill -0 $pid 2>/dev/null || { cat "$work/log" >&2; exit 1; }
	sleep 0.5
done
echo "traffic started; sampling RSS of pid $pid every 5 s"
t=0
while kill -0 $pid 2>/dev/null; do
	rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)
	[ -n "$rss" ] && awk -v t="$t" -v r="$rss" 'BEGIN { printf "   t=%4ds  RSS %6.1f MB\n", t, r / 1024 }'
	sleep 5
	t=$((t + 5))
done
wait $pid || true
python3 - "$work/out/report.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["strategies"][0]["traffic"]
print(f'operations recorded: {t["recorded"]:,} (scheduled {t["scheduled"]:,}); time-series intervals: {len(t["series"])}')
PY
