# Shared by scripts/ci-distros.sh and scripts/ci-systemd.sh: cached Debian roots (source this file).
# A root is debootstrapped once into /var/cache/opescare-ci/roots/<key>, the key naming the suite, the
# variant, a hash of the package set and the ISO week: a root is rebuilt weekly, so security updates
# reach it, and never reused for another package set. Each run works on a copy, so the cache stays clean.
OB_ROOTS_CACHE="${OB_ROOTS_CACHE:-/var/cache/opescare-ci/roots}"
OB_MIRROR="${OB_MIRROR:-http://deb.debian.org/debian}"

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
  local dir="$OB_ROOTS_CACHE/$key"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir.tmp"
    mkdir -p "$OB_ROOTS_CACHE"
    echo "debootstrap $suite ($variant, +$include) into $dir" >&2
    debootstrap --variant="$variant" ${include:+--include="$include"} "$suite" "$dir.tmp" "$OB_MIRROR" >"$dir.log" 2>&1 \
      || { echo "debootstrap $suite failed; see $dir.log" >&2; tail -5 "$dir.log" >&2; return 1; }
    rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.complete"
  fi
  echo "$dir"
}

# ob_copy_root CACHED WORK: a throwaway copy of a cached root (reflinked where the file system can).
ob_copy_root() {
  rm -rf "$2" && mkdir -p "$(dirname "$2")" && cp -a --reflink=auto "$1" "$2"
}
