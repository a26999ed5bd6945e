#!/usr/bin/env bash
# Report check (issue: reports): a run of about ten minutes (bench/report-10min.toml: two
# strategies, each with 150 s of baseline and 145 s of recovery traffic at 300 ops/s, lock
# waits), then report.html's size and how long headless chromium takes to open and render it,
# minus the time it takes for an empty page (median of 5 each).
# Goals: under 2 MB, opens in under a second.
#
#   scripts/check-report.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v chromium >/dev/null || { echo "chromium is needed (apt-get install chromium)" >&2; exit 1; }
cargo build --release -q
work=$(mktemp -d /tmp/rehearse-report-XXXXXX)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT
echo "rehearsing bench/report-10min.toml (about 10 minutes)…"
target/release/rehearse run bench/report-10min.toml --backend local --no-cache --out "$work/out" \
	>"$work/run.log" 2>&1 || [ $? = 1 ] || { cat "$work/run.log" >&2; exit 1; }
echo '<!DOCTYPE html><html><body></body></html>' >"$work/empty.html"
open_ms() {
	local start end
	start=$(date +%s%N)
	chromium --headless=new --no-sandbox --disable-gpu --window-size=1100,3000 \
		--screenshot="$work/shot.png" "file://$1" >/dev/null 2>&1
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}
python3 - "$work/out/report.json" "$work/out/report.html" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
series = sum(len(s["traffic"]["series"]) for s in r["strategies"] if s.get("traffic"))
waits = sum(len(s["lock_waits"]) for s in r["strategies"])
print(f'run: {r["duration_s"]:.0f} s, {series} time-series intervals, {waits} lock waits')
print(f'report.html: {os.path.getsize(sys.argv[2]) / 1e6:.2f} MB (goal < 2 MB); report.json {os.path.getsize(sys.argv[1]) / 1e6:.2f} MB')
PY
empty=(); full=()
for _ in 1 2 3 4 5; do
	empty+=("$(open_ms "$work/empty.html")")
	full+=("$(open_ms "$work/out/report.html")")
done
python3 - "${empty[*]}" "${full[*]}" <<'PY'
import statistics, sys
empty = [int(x) for x in sys.argv[1].split()]
full = [int(x) for x in sys.argv[2].split()]
e, f = statistics.median(empty), statistics.median(full)
print(f'chromium: empty page {e:.0f} ms, report.html {f:.0f} ms (medians of 5, browser start included)')
print(f'report.html costs {f - e:.0f} ms to open and render (goal < 1000 ms)')
PY
