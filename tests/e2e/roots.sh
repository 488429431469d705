# Shared by scripts/ci-distros.sh and scripts/ci-systemd.sh: cached Debian roots (source this file).
# A root is debootstrapped once into /var/cache/opescare-ci/roots/<key>, the key naming the suite, the
# variant, a hash of the package set and the ISO week: a root is rebuilt weekly, so security updates
# reach it, and never reused for another package set. Each run works on a copy, so the cache stays clean.
OB_ROOTS_CACHE="${OB_ROOTS_CACHE:-/var/cache/opescare-ci/roots}"
OB_MIRROR="${OB_MIRROR:-http://deb.debian.org/debian}"
# The package sets of the two kinds of root (one key each): scripts/ci-distros.sh installs the .deb into
# the first, scripts/ci-systemd.sh boots the second; scripts/ci-prefetch.sh builds both ahead of time.
OB_DISTRO_ROOT_PACKAGES=ca-certificates,systemd
OB_SYSTEMD_ROOT_PACKAGES=systemd,dbus,ca-certificates
OB_DISTRO_SUITES="${OB_DISTRO_SUITES:-bullseye bookworm trixie}"
OB_SYSTEMD_SUITES="${OB_SYSTEMD_SUITES:-bookworm trixie}"

# ob_skip_unless_root WHAT: prints a clear SKIP line and exits 0 when this is not root or lacks tools.
ob_skip_unless_root() {
  local what="$1" tool
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP $what: needs root (debootstrap, chroot, systemd-nspawn)"; exit 0; fi
  for tool in debootstrap chroot "${@:2}"; do
    if ! command -v "$tool" >/dev/null; then echo "SKIP $what: $tool is not installed (scripts/install-deps.sh distros)"; exit 0; fi
  done
}

# ob_root SUITE PACKAGES: prints the cached root's path, debootstrapping it first when missing.
ob_root() {
  local suite="$1" include="$2" variant=minbase
  local key; key="$suite-$variant-$(printf %s "$include" | sha256sum | cut -c1-12)-$(date +%G-W%V)"
  local dir="$OB_ROOTS_CACHE/$key" lock
  mkdir -p "$OB_ROOTS_CACHE"
  # One builder per root: a second caller (the prefetch and a check at once) waits, then reuses it.
  exec {lock}>"$dir.lock"
  flock "$lock"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir.tmp"
    echo "debootstrap $suite ($variant, +$include) into $dir" >&2
    debootstrap --variant="$variant" ${include:+--include="$include"} "$suite" "$dir.tmp" "$OB_MIRROR" >"$dir.log" 2>&1 \
      || { echo "debootstrap $suite failed; see $dir.log" >&2; tail -5 "$dir.log" >&2; return 1; }
    rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.complete"
    # Last week's root of the same suite and package set is superseded.
    find "$OB_ROOTS_CACHE" -maxdepth 1 -name "${key%-*-W*}-*" ! -name "$key" ! -name "$key.log" ! -name "$key.lock" \
      -exec rm -rf {} +
  fi
  exec {lock}>&-
  echo "$dir"
}

# ob_copy_root CACHED WORK: a throwaway view of a cached root: an overlay whose writes land in WORK.upper
# (the cache is the read-only lower layer), or a full copy where overlayfs is refused.
ob_copy_root() {
  rm -rf "$2" "$2.upper" "$2.work" && mkdir -p "$2" "$2.upper" "$2.work"
  if mount -t overlay overlay -o "lowerdir=$1,upperdir=$2.upper,workdir=$2.work" "$2" 2>/dev/null; then
    return 0
  fi
  rmdir "$2" && cp -a --reflink=auto "$1" "$2"
}

# ob_release_root WORK: unmounts what ob_copy_root and the checks mounted under WORK, then removes it.
ob_release_root() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$1" | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$1" "$1.upper" "$1.work"
}

# ob_work_folder NAME: sets OB_WORK to a throwaway folder for this run's root copies, released on exit
# (every mount under it unmounted, then removed), however the script ends.
ob_work_folder() {
  OB_WORK="$(mktemp -d "/var/tmp/opescare-$1.XXXXXX")"
  trap 'ob_release_root "$OB_WORK"' EXIT
}
