#!/usr/bin/env bash
# Estimate check (issue 15): `rehearse estimate --measure-target` on bench/estimate.toml (a table
# rewrite, an index build, a batched backfill, a VALIDATE CONSTRAINT) at SCALES (default
# 0.025,0.05,0.1 of 4 M rows), REPEAT rehearsals each (default 2; more, up to the estimate's
# --max-repeat, for a strategy whose prediction the noise leaves uncertain), memory settings
# scaled with the data, predicting scale 1 — 10× the largest rehearsed — and measuring scale 1 itself with the
# full settings in each of the estimate's first REPEAT rounds, right after that round's small scales (so the
# machine's drift over the minutes of a check reaches both sides alike); prints each step's
# prediction, range, the measured durations, the error against their median and whether the
# range held every one of them. Goal: every growing step within 25 %, every measured value
# inside its range.
#
#   scripts/check-estimate.sh                   # ROUNDS=1; ROUNDS=2 repeats the whole check
#   EXTRA=--no-memory-scaling scripts/check-estimate.sh   # the same without memory scaling
#   KEEP=/tmp/est scripts/check-estimate.sh     # keep each round's estimate and reports there
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCALES=${SCALES:-0.025,0.05,0.1}
ROUNDS=${ROUNDS:-1}
REPEAT=${REPEAT:-2}
EXTRA=${EXTRA:-}
cargo build --release -q
work=$(mktemp -d /tmp/rehearse-estimate-XXXXXX)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT
KEEP=${KEEP:-}
export REHEARSE_CACHE_DIR="$work/cache"
for round in $(seq 1 "$ROUNDS"); do
	echo "round $round: estimating from scales $SCALES, $REPEAT rehearsals each, measuring scale 1 in the first $REPEAT"
	rm -rf "$work/estimate"
	# shellcheck disable=SC2086
	target/release/rehearse estimate bench/estimate.toml --scales "$SCALES" --target 1 \
		--repeat "$REPEAT" --measure-target $EXTRA --backend local --out "$work/estimate" \
		>"$work/estimate.log" 2>&1 || { cat "$work/estimate.log" >&2; exit 1; }
	sed -n '/^estimate for/,$p' "$work/estimate.log"
	if [ -n "$KEEP" ]; then
		mkdir -p "$KEEP/round-$round"
		cp -r "$work/estimate" "$KEEP/round-$round/"
	fi
	python3 - "$work/estimate/estimate.json" <<'PY'
import json, statistics, sys
est = json.load(open(sys.argv[1]))
runs = {(e["strategy"], e["step"]): e["measured_s"] for e in est["steps"] if e.get("measured_s")}
checked = {("rewrite", "widen-score"), ("index", "index-email"), ("backfill", "backfill"),
           ("validate", "validate-fk")}
within = inside = True
print(f'\n{"step":26} {"model":11} {"predicted":>10} {"range":>20} {"measured (median)":>26} {"error":>7}  in range')
for e in est["steps"]:
    key = (e["strategy"], e["step"])
    p = e.get("predicted_s")
    if p is None or key not in runs:
        continue
    got = statistics.median(runs[key])
    err = (p - got) / got
    model = (e.get("fit") or {}).get("model", "-")
    lo, hi = e.get("low_s"), e.get("high_s")
    rng = f'{lo:.2f}–{hi:.2f} s' if lo is not None else "-"
    # Every run's value, not only the median, must lie in the range.
    held = lo is not None and all(lo <= x <= hi for x in runs[key])
    got_text = " ".join(f"{x:.2f}" for x in runs[key]) + f" ({got:.3f}s)"
    mark = ""
    if key in checked:
        mark = ("ok" if abs(err) <= 0.25 else "MISS") + (" yes" if held else " NO")
        within &= abs(err) <= 0.25
        inside &= held
    print(f'{e["strategy"] + " / " + e["step"]:26} {model:11} {p:9.3f}s {rng:>20} {got_text:>26} {err:+7.1%}  {mark}')
print("goal: median within 25 %:", "met" if within else "NOT met", "· every measured value in its range:",
      "met" if inside else "NOT met")
PY
done
