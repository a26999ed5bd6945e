#!/usr/bin/env bash
# Runs every shipped scenario (scenarios/*.toml) with `compare` and writes docs/scenarios.md:
# per scenario, its strategies side by side (duration, longest stall, p99 during the migration
# and in the baseline, operations delayed, errors, WAL, rewrites) and the verdict, with the
# machine, the backend and the scale they were measured on. Full scale by default; a run takes
# about a minute per scenario on 2 cores.
#
#   scripts/run-library.sh [--scale F] [--backend auto|docker|local] [SCENARIO…]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scale=1
backend=auto
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--scale) scale="$2"; shift 2 ;;
	--backend) backend="$2"; shift 2 ;;
	*) names+=("$1"); shift ;;
	esac
done
if [ ${#names[@]} -eq 0 ]; then
	for f in scenarios/*.toml; do names+=("$(basename "$f" .toml)"); done
fi
cargo build -q --release
bin=target/release/rehearse
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
doc=docs/scenarios.md
{
	echo "# The scenario library, measured"
	echo
	echo "Every shipped scenario rehearsed with \`rehearse compare\` at scale $scale (backend $backend),"
	echo "by \`scripts/run-library.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) of memory."
	echo "Each strategy ran on an identical copy of the same seeded data under the same traffic"
	echo "schedule. Columns: the strategy's status and steps' duration, the longest time one"
	echo "application operation was held up, the application's p99 while steps ran and in the"
	echo "baseline, operations delayed beyond twice the baseline p99, application errors, WAL"
	echo "written and relations rewritten. Strategies marked \`expect = \"breach\"\` are the naive"
	echo "ways, shown for contrast. Timings are this machine's; the shapes (who queues, what"
	echo "rewrites, what fails) are what carries over."
	echo
} > "$doc.new"
for name in "${names[@]}"; do
	echo "rehearsing $name…" >&2
	"$bin" compare "scenarios/$name.toml" --scale "$scale" --backend "$backend" --out "$out/$name" \
		> "$out/$name.txt" 2> "$out/$name.err" || true
	description=$(sed -n 's/^description = "\(.*\)"$/\1/p' "scenarios/$name.toml" | head -1)
	{
		echo "## $name"
		echo
		echo "$description. \`rehearse compare scenarios/$name.toml\`"
		echo
		echo '```text'
		grep -E '^  (server|seed) ' "$out/$name.txt" || true
		sed -n '/side by side/,/^  report/p' "$out/$name.txt" | grep -v '^  report' || true
		grep -E '^    connections: ' "$out/$name.txt" || true
		grep -E '^  (expected|breach|note|verdict) ' "$out/$name.txt" || true
		echo '```'
		echo
	} >> "$doc.new"
	if ! grep -q 'side by side' "$out/$name.txt"; then
		echo "  $name did not finish: $(tail -1 "$out/$name.err")" >&2
	fi
done
mv "$doc.new" "$doc"
echo "wrote $doc" >&2
