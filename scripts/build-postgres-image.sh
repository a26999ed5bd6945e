#!/usr/bin/env bash
# Builds a Postgres container image offline, from Debian packages, as `rehearse/postgres:<major>`.
#
#   scripts/build-postgres-image.sh 17            # → rehearse/postgres:17 (Debian trixie)
#   scripts/build-postgres-image.sh 13 15 17 18   # several majors
#   FORCE=1 scripts/build-postgres-image.sh 17    # rebuild even if the image exists
#
# No container registry is needed: a Debian root filesystem is made with debootstrap, the
# `postgresql-<major>` package is installed into it, and the tree is imported with `docker import`.
# The image's entrypoint (postgres-image/docker-entrypoint.sh) behaves like the official image's
# for what rehearse uses. On a machine that reaches Docker Hub, the official `postgres:<major>`
# images work just as well and need no build.
#
# The Debian mirror is the one this machine's apt uses; set DEBIAN_MIRROR to choose another.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
	echo "build-postgres-image: $*" >&2
	exit 1
}

suite_for() {
	case "$1" in
	13) echo bullseye ;;
	15) echo bookworm ;;
	17) echo trixie ;;
	18) echo sid ;;
	*) return 1 ;;
	esac
}

# The first Debian mirror this machine's apt is configured with.
default_mirror() {
	local uri=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
	fi
	[ -n "$uri" ] || die "cannot find a Debian mirror in the apt configuration; set DEBIAN_MIRROR"
	echo "$uri"
}

[ $# -ge 1 ] || die "usage: $0 MAJOR [MAJOR…]   (majors: 13 15 17 18)"
command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "no Docker engine answers (is the daemon running?)"
if ! command -v debootstrap >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing debootstrap…" >&2
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	else
		die "debootstrap is missing: apt-get install debootstrap (as root)"
	fi
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root"

mirror=${DEBIAN_MIRROR:-$(default_mirror)}

# Work trees are removed however the script ends.
cleanup_dirs=()
cleanup() {
	local d
	for d in "${cleanup_dirs[@]}"; do
		! mountpoint -q "$d/rootfs/proc" || umount -l "$d/rootfs/proc"
		rm -rf "$d"
	done
}
trap cleanup EXIT

build_one() {
	local major=$1 suite tag work rootfs
	suite=$(suite_for "$major") || die "unsupported major '$major' (supported: 13 15 17 18)"
	tag="rehearse/postgres:$major"
	if [ -z "${FORCE:-}" ] && docker image inspect "$tag" >/dev/null 2>&1; then
		echo "$tag already exists (FORCE=1 to rebuild)"
		return 0
	fi
	work=$(mktemp -d /var/tmp/rehearse-image-XXXXXX)
	rootfs="$work/rootfs"
	cleanup_dirs+=("$work")
	echo "building $tag from Debian $suite (mirror from apt config)…" >&2

	debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log" >&2; die "debootstrap $suite failed"; }

	# Don't let the package create and start a 'main' cluster: the entrypoint makes its own.
	mkdir -p "$rootfs/etc/postgresql-common"
	echo "create_main_cluster = false" >"$rootfs/etc/postgresql-common/createcluster.conf"
	printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
	chmod +x "$rootfs/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$rootfs/etc/resolv.conf"

	# Newer postgresql-common runs systemd-tmpfiles, which needs /proc.
	mount -t proc proc "$rootfs/proc"
	chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
		apt-get install -y -q --no-install-recommends "postgresql-$major" >"$work/apt.log" 2>&1 ||
		{ tail -20 "$work/apt.log" >&2; die "installing postgresql-$major in $suite failed"; }
	chroot "$rootfs" apt-get clean
	umount "$rootfs/proc"
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/resolv.conf" \
		"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
	install -m 0755 "$here/postgres-image/docker-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
	mkdir -p "$rootfs/docker-entrypoint-initdb.d"

	tar -C "$rootfs" -c . | docker import \
		--change "ENV PG_MAJOR=$major" \
		--change "ENV PGDATA=/var/lib/postgresql/data" \
		--change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		--change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
		--change 'CMD ["postgres"]' \
		--change 'EXPOSE 5432' \
		--change "LABEL org.rehearse.postgres-major=$major org.rehearse.debian-suite=$suite" \
		- "$tag" >/dev/null
	echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

for major in "$@"; do
	build_one "$major"
done
