#!/usr/bin/env bash
# Regenerates the server-log fixtures of the lock-wait parser (tests/fixtures/serverlog/): the
# scenario tests/fixtures/scenarios/log-forms.toml makes the server log every form of lock-wait
# line (relations, "at character N", transaction ids, tuples, virtual transactions, advisory
# locks, objects, waits ended by lock_timeout and statement_timeout), on each major the project
# supports, from the offline images (scripts/build-postgres-image.sh 13 15 17 18). The lines
# about lock waits and errors are kept.
#
#   scripts/make-log-fixtures.sh            # 13 15 17 18
#   scripts/make-log-fixtures.sh 17
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(13 15 17 18)
cargo build -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for major in "${majors[@]}"; do
	scripts/build-postgres-image.sh "$major" >/dev/null
	target/debug/rehearse run tests/fixtures/scenarios/log-forms.toml --backend docker \
		--image "rehearse/postgres:$major" --no-cache --out "$out/$major" >/dev/null 2>&1 || true
	grep -E "still waiting|acquired|failed to acquire|deadlock|holding the lock|ERROR:" \
		"$out/$major/postgres.log" >"tests/fixtures/serverlog/pg$major.log"
	echo "pg$major: $(wc -l <"tests/fixtures/serverlog/pg$major.log") lines"
done
