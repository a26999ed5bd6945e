#!/usr/bin/env bash
# Estimate check (issue: reports): `rehearse estimate` on bench/estimate.toml (a table rewrite,
# an index build, a batched backfill) at SCALES (default 0.025,0.05,0.1 of 4 M rows), predicting
# scale 1 — 10× the largest rehearsed — then a real run at scale 1; prints predicted vs measured
# per step. Goal: within 25 % for the rewrite, the index build and the backfill.
#
#   scripts/check-estimate.sh            # ROUNDS=1; ROUNDS=3 repeats the whole check
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCALES=${SCALES:-0.025,0.05,0.1}
ROUNDS=${ROUNDS:-1}
cargo build --release -q
work=$(mktemp -d /tmp/rehearse-estimate-XXXXXX)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT
for round in $(seq 1 "$ROUNDS"); do
	echo "round $round: estimating from scales $SCALES"
	target/release/rehearse estimate bench/estimate.toml --scales "$SCALES" --target 1 \
		--backend local --no-cache --out "$work/estimate" >"$work/estimate.log" 2>&1 ||
		{ cat "$work/estimate.log" >&2; exit 1; }
	echo "round $round: measuring at scale 1"
	target/release/rehearse run bench/estimate.toml --backend local --no-cache \
		--out "$work/actual" >"$work/actual.log" 2>&1 || { cat "$work/actual.log" >&2; exit 1; }
	sed -n '/^estimate for/,$p' "$work/estimate.log"
	python3 - "$work/estimate/estimate.json" "$work/actual/report.json" <<'PY'
import json, sys
est = json.load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
actual = {(s["name"], st["name"]): st["duration_s"] for s in rep["strategies"] for st in s["steps"]}
checked = {("rewrite", "widen-score"), ("index", "index-email"), ("backfill", "backfill")}
ok = True
print(f'{"step":28} {"model":10} {"predicted":>10} {"range":>19} {"measured":>9} {"error":>7}')
for e in est["steps"]:
    key = (e["strategy"], e["step"])
    got = actual.get(key)
    p = e.get("predicted_s")
    if p is None or got is None:
        continue
    err = (p - got) / got
    model = (e.get("fit") or {}).get("model", "-")
    rng = f'{e["low_s"]:.3f}–{e["high_s"]:.3f} s' if e.get("low_s") is not None else "-"
    mark = ""
    if key in checked:
        mark = "ok" if abs(err) <= 0.25 else "MISS"
        ok &= abs(err) <= 0.25
    print(f'{e["strategy"] + " / " + e["step"]:28} {model:10} {p:9.3f}s {rng:>19} {got:8.3f}s {err:+7.1%} {mark}')
print("goal (within 25 % for rewrite, index build, backfill):", "met" if ok else "NOT met")
PY
done
