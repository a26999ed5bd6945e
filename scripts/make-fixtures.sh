#!/usr/bin/env bash
# Regenerates the fixture reports the format snapshot tests render (tests/fixtures/reports/):
# real runs on local Postgres binaries, so the fixtures hold what rehearse really reports. Run
# it after a change to the report's data (not needed for a change to a template: the snapshots
# show that). Then `cargo insta review` (or INSTA_UPDATE=always cargo test) to accept the new
# snapshots.
#
#   scripts/make-fixtures.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build -q
bin=target/debug/rehearse
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fixtures=tests/fixtures/reports
common=(--backend local --no-cache)

# A compare with traffic, lock waits behind the migration and breached budgets.
"$bin" compare scenarios/lock-queue.toml --scale 0.1 "${common[@]}" --out "$out/lock-queue" >/dev/null || true
cp "$out/lock-queue/report.json" "$fixtures/lock-queue.json"

# No traffic: a failed concurrent unique index (an INVALID index left behind), a failed step and
# a skipped one, latency budgets unchecked.
"$bin" run tests/fixtures/scenarios/failing.toml "${common[@]}" --out "$out/failing" >/dev/null || true
cp "$out/failing/report.json" "$fixtures/failing.json"

# A deploy that opens its connections beside the pool past max_connections (refused, 53300)
# vs one instance at a time: the connections line, the refused attempts in the errors.
"$bin" run scenarios/connection-headroom.toml --postgres 15 --scale 0.05 "${common[@]}" \
	--out "$out/connection-headroom" >/dev/null || true
cp "$out/connection-headroom/report.json" "$fixtures/connection-headroom.json"

# Three scales of one scenario, for the estimate.
"$bin" estimate tests/fixtures/scenarios/estimate.toml --scales 0.1,0.2,0.4 "${common[@]}" \
	--out "$out/estimate" >/dev/null
for s in 0.1 0.2 0.4; do
	cp "$out/estimate/scale-$s/report.json" "$fixtures/estimate-$s.json"
done
echo "fixtures written to $fixtures"
