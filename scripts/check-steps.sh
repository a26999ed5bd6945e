#!/usr/bin/env bash
# Checks of the step observers (issue: migration steps), on one throwaway local server:
#   1. lock-wait truth: every wait the server logs (log_lock_waits, deadlock_timeout 100ms) in the
#      contention suite (bench/contention.toml) is in the report, its duration within 10 % and its
#      logged holder among the report's blockers; also how close the sampler alone came;
#   2. rewrites: rewrite yes/no as expected for every step of the suite; the report's own
#      consistency (`rehearse check-report`: waits behind the migration ≤ waits, logged durations
#      kept, phases and steps aligned, counts adding up); and for the cases where the migration
#      holds the lock without waiting, application waits counted behind it;
#   3. sampler overhead: select-only throughput with and without the lock sampler, interleaved
#      (goal: at most 2 % lost).
#
#   scripts/check-steps.sh        # ROUNDS=3; ONLY_OVERHEAD=1 skips parts 1-2, SKIP_OVERHEAD=1 part 3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-3}
cargo build --release -q
REHEARSE=$PWD/target/release/rehearse
work=$(mktemp -d /tmp/rehearse-check-XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ -z "${ONLY_OVERHEAD:-}" ]; then
echo "1-2. contention suite (local backend)"
"$REHEARSE" run bench/contention.toml --backend local --out "$work/suite" >/dev/null 2>"$work/suite.log" || true
python3 - "$work/suite/report.json" "$work/suite/postgres.log" <<'PY'
import json, re, sys
report = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read().splitlines()
waits = [w for s in report["strategies"] for w in s["lock_waits"]]
acquired = []
holders = {}
for i, line in enumerate(log):
    m = re.search(r"process (\d+) still waiting for (\S+) on (.+) after", line)
    if m and i + 1 < len(log):
        h = re.search(r"Process holding the lock: ([\d, ]+)\.", log[i + 1])
        if h:
            holders[(int(m.group(1)), m.group(2))] = {int(p) for p in h.group(1).split(", ")}
    m = re.search(r"process (\d+) acquired (\S+) on (.+) after ([\d.]+) ms", line)
    if m:
        acquired.append((int(m.group(1)), m.group(2), m.group(3), float(m.group(4)) / 1000))
found = within = blocker_ok = blocker_known = 0
sampler_err = []
for pid, mode, obj, secs in acquired:
    match = [w for w in waits if w["waiter"]["pid"] == pid and w["mode"] == mode
             and w["logged_duration_s"] is not None and abs(w["logged_duration_s"] - secs) < 1e-6]
    if not match:
        print(f"   MISSING from the report: pid {pid} {mode} on {obj} after {secs:.3f} s")
        continue
    w = match[0]
    found += 1
    within += abs(w["duration_s"] - secs) <= 0.1 * secs
    if w["sampled_duration_s"] is not None:
        sampler_err.append(abs(w["sampled_duration_s"] - secs) / secs)
    hold = holders.get((pid, mode))
    if hold:
        blocker_known += 1
        # The log names the lock's holder; the report names whom the session queued behind
        # (pg_blocking_pids). A session queued behind a waiting ALTER is attributed to the ALTER,
        # whose own wait names the holder: follow the chain (root blocker → migration → app).
        chain, frontier = set(), {b["pid"] for b in w["blocked_by"]}
        while frontier - chain:
            chain |= frontier
            frontier = {b["pid"] for x in waits if x["waiter"]["pid"] in chain
                        and x["start_s"] <= w["end_s"] and x["end_s"] >= w["start_s"]
                        for b in x["blocked_by"]}
        blocker_ok += bool(hold & chain)
print(f"   logged waits: {len(acquired)}; in the report: {found}; duration within 10 %: {within}; "
      f"logged holder is the report's blocker or the root of its chain: {blocker_ok}/{blocker_known}")
if sampler_err:
    sampler_err.sort()
    print(f"   sampler alone vs log: median error {sampler_err[len(sampler_err)//2]*100:.1f} %, "
          f"max {sampler_err[-1]*100:.1f} % over {len(sampler_err)} waits it saw")
expected = {"add-column": False, "create-index": False, "set-not-null": False, "add-column-retry": False,
            "create-index-concurrently": False, "add-token": True, "vacuum-full": True,
            "add-token-late": True, "add-fk": False, "set-not-null-late": False,
            "create-index-late": False}
no_wait = {"add-token-late", "add-fk", "set-not-null-late", "create-index-late"}
behind_ok = behind_cases = 0
ok = 0
for s in report["strategies"]:
    for st in s["steps"]:
        rewrote = any(r["kind"] == "table" for r in st["rewrites"])
        want = expected.get(st["name"])
        good = want == rewrote
        ok += good
        if st["name"] in no_wait:
            behind_cases += 1
            ls = st["lock_summary"]
            behind_ok += ls["app_waits"] > 0 and ls["app_waits_behind_migration"] == ls["app_waits"]
        print(f"   {st['name']:<28} {st['status']:<10} rewrite {'yes' if rewrote else 'no ':<4} "
              f"(expected {'yes' if want else 'no'}) {'ok' if good else 'WRONG'}; "
              f"{st['duration_s'] or 0:.2f} s; migration waited {st['lock_summary']['migration_wait_s']:.2f} s; "
              f"{st['lock_summary']['app_waits_behind_migration']} app waits behind it")
print(f"   rewrite correct for {ok}/{sum(len(s['steps']) for s in report['strategies'])} steps")
print(f"   migration holding the lock without waiting: every application wait counted behind it "
      f"in {behind_ok}/{behind_cases} cases")
PY
printf '   invariant violations: '
violations=$("$REHEARSE" check-report "$work/suite/report.json" || true)
if [ -z "$violations" ]; then echo 0; else echo; echo "$violations" | sed 's/^/     /'; fi
fi

if [ -n "${SKIP_OVERHEAD:-}" ]; then exit 0; fi
echo
echo "3. sampler overhead: select-only, rate = max, 8 connections, 10 s, with/without sampler"
. scripts/lib-cluster.sh
cluster_start shared_buffers=256MB
with=()
without=()
for round in $(seq "$ROUNDS"); do
	# Alternate the order, so neither side always runs first.
	order="on off"
	[ $((round % 2)) = 0 ] && order="off on"
	for mode in $order; do
		sampler=()
		if [ $mode = off ]; then sampler=(--no-lock-sampler); fi
		"$REHEARSE" run bench/select-only.toml --backend url --database-url "$(cluster_url postgres)" \
			"${sampler[@]}" --out "$work/ab-$mode-$round" >/dev/null 2>&1
		ops=$(python3 -c "
import json; p = json.load(open('$work/ab-$mode-$round/report.json'))['strategies'][0]['traffic']['phases'][0]
print(f'{p[\"all\"][\"count\"] / (p[\"end_s\"] - p[\"start_s\"]):.1f}')")
		if [ $mode = on ]; then with+=("$ops"); else without+=("$ops"); fi
	done
	printf '   round %d: with sampler %10s ops/s   without %10s ops/s\n' "$round" "${with[-1]}" "${without[-1]}"
done
python3 - "${with[*]}" "${without[*]}" <<'PY'
import statistics, sys
a = statistics.median(float(x) for x in sys.argv[1].split())
b = statistics.median(float(x) for x in sys.argv[2].split())
print(f"   median with {a:.1f}, without {b:.1f}: overhead {(1 - a / b) * 100:.2f} % (goal <= 2 %)")
PY
