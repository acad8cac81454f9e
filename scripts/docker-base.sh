#!/usr/bin/env bash
# docker-base.sh: makes sure the base image every image of the project starts from is there,
# and prints its name (the BASE_IMAGE to build with) on stdout.
#
#   scripts/docker-base.sh            BASE_IMAGE if the engine has it or can pull it; otherwise
#                                     the local one (below), made if it is missing
#   scripts/docker-base.sh --local    the local one, whatever Docker Hub says
#
# The local base, seatmap-base:bookworm (or SEATMAP_LOCAL_BASE), is what debootstrap --variant=minbase makes of Debian
# bookworm from the Debian mirror (about 30 s), trimmed like debian:bookworm-slim (no package
# cache or lists, no docs) and imported with `docker import`. Its root file system is kept as a
# tarball in SEATMAP_DOCKER_CACHE (default ~/.cache/seatmap/docker) so the next machine-wide
# build skips debootstrap; DEBIAN_MIRROR (default http://deb.debian.org/debian) is where it
# comes from. Needs root (debootstrap) and installs debootstrap with apt-get when missing.
# Messages go to stderr.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
say() { printf '[docker-base] %s\n' "$*" >&2; }
die() { printf '[docker-base] error: %s\n' "$*" >&2; exit 1; }

BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
LOCAL_BASE=${SEATMAP_LOCAL_BASE:-seatmap-base:bookworm}
CACHE=${SEATMAP_DOCKER_CACHE:-${HOME:-/root}/.cache/seatmap/docker}
TARBALL="$CACHE/bookworm-minbase.tar"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The trimmed root file system of bookworm as a tarball: TARBALL, made unless it is there.
make_tarball() {
  [[ -s $TARBALL ]] && { say "using the cached root file system $TARBALL"; return 0; }
  (( EUID == 0 )) || die "debootstrap needs root (run as root, or set BASE_IMAGE to an image the engine has)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
      die "could not install debootstrap"
  fi
  local dir t0=$SECONDS
  mkdir -p "$CACHE"
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  # shellcheck disable=SC2064  # the directory is known now
  trap "rm -rf '$dir'" EXIT
  say "debootstrap --variant=minbase $SUITE from $MIRROR (about 30 s)"
  debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1 ||
    { tail -n 20 "$dir.log" >&2; die "debootstrap failed (log above)"; }
  rm -f "$dir.log"
  # What debian:bookworm-slim leaves out: the downloaded packages, the package lists, docs.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
         "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/*
  cat >"$dir/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SOURCES
  # As in the official image: apt in a container keeps no package cache.
  printf 'APT::Install-Recommends "false";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
    >"$dir/etc/apt/apt.conf.d/docker-clean"
  tar -C "$dir" -cf "$TARBALL.part" . && mv "$TARBALL.part" "$TARBALL"
  rm -rf "$dir"
  trap - EXIT
  say "made $TARBALL ($(du -h "$TARBALL" | cut -f1), $(( SECONDS - t0 )) s)"
}

make_local_base() {
  have_image "$LOCAL_BASE" && { say "using $LOCAL_BASE (already imported)"; return 0; }
  make_tarball
  docker import -c 'CMD ["bash"]' "$TARBALL" "$LOCAL_BASE" >/dev/null || die "docker import of $TARBALL failed"
  say "imported $TARBALL as $LOCAL_BASE"
}

docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/docker-engine.sh start starts one)"
case ${1:-} in
  --local) make_local_base; echo "$LOCAL_BASE"; exit 0 ;;
  '') ;;
  *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
if have_image "$BASE_IMAGE"; then echo "$BASE_IMAGE"; exit 0; fi
say "pulling $BASE_IMAGE"
if timeout "${PULL_TIMEOUT:-30}" docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then echo "$BASE_IMAGE"; exit 0; fi
say "cannot pull $BASE_IMAGE (no Docker Hub?): building the local base $LOCAL_BASE from the Debian mirror"
make_local_base
echo "$LOCAL_BASE"
