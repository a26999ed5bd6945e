#!/bin/bash
# Entrypoint of the offline-built rehearse/postgres:<major> images.
#
# It mimics the official `postgres` image for what rehearse (and docker-compose users) rely on:
#   - POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default: the user),
#     POSTGRES_HOST_AUTH_METHOD (default scram-sha-256, or trust when no password is set);
#   - a first start runs initdb into $PGDATA, creates the database, runs
#     /docker-entrypoint-initdb.d/*.sql and *.sh, then starts the real server;
#   - arguments starting with '-' are passed to `postgres` (`docker run IMAGE -c key=value`);
#   - the server logs "database system is ready to accept connections" on stderr.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
	exec "$@"
fi

if [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown -R postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
if [ -z "${POSTGRES_HOST_AUTH_METHOD:-}" ]; then
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then
		POSTGRES_HOST_AUTH_METHOD=scram-sha-256
	else
		echo 'WARNING: no POSTGRES_PASSWORD set; host connections are trusted' >&2
		POSTGRES_HOST_AUTH_METHOD=trust
	fi
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" >"$pwfile"
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" -D "$PGDATA" >&2
	rm -f "$pwfile"
	{
		echo "listen_addresses = '*'"
	} >>"$PGDATA/postgresql.conf"
	echo "host all all all $POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

	# A temporary server on the Unix socket only, to create the database and run init scripts.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >&2
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
			-c "CREATE DATABASE \"$POSTGRES_DB\"" >&2
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sql) psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
		*.sh) . "$f" ;;
		*) ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >&2
	echo 'PostgreSQL init process complete; ready for start up.' >&2
fi

exec "$@"
