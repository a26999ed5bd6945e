#!/usr/bin/env bash
# The project's test command (README quickstart): builds the Postgres image the docker tests
# need, then checks formatting and lints and runs every test against real Postgres.
#
# Needs: cargo; Postgres server binaries (Debian: apt-get install postgresql) for the local
# backend; a Docker engine for the docker tests (they skip without one, except under CI=true).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if docker info >/dev/null 2>&1; then
	scripts/build-postgres-image.sh "${REHEARSE_TEST_MAJOR:-17}"
elif [ -n "${CI:-}" ]; then
	echo "test.sh: CI is set but no Docker engine answers; the docker tests must run in CI" >&2
	exit 1
else
	echo "test.sh: no Docker engine answers; the docker tests will be skipped" >&2
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
	echo "test.sh: no Postgres server binaries found; install them (apt-get install postgresql)" >&2
	exit 1
fi

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
