#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the demo need, only those missing.
# Runs as root on a fresh machine; a no-op when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libsqlite3-dev sqlite3 libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev zlib1g-dev libdeflate-dev libgtest-dev libgmock-dev
  python3 tinyproxy libfiu-dev fiu-utils
)
# Extra groups, asked for by name: scripts/install-deps.sh [packaging] [windows] [browser] [fuzz] [distros]
for group in "$@"; do
  case "$group" in
    packaging) packages+=(dpkg-dev fakeroot lintian rpm systemd file) ;;
    # windows: the toolchain, wine, what scripts/build-windows-deps.sh needs (dpkg-source, tclsh), wixl for the MSI.
    windows) packages+=(mingw-w64 wine libz-mingw-w64-dev tcl dpkg-dev wixl msitools) ;;
    browser) packages+=(chromium prometheus) ;;
    fuzz) packages+=(clang libclang-rt-14-dev) ;;
    # distros: Debian roots (scripts/ci-distros.sh) and booting them (scripts/ci-systemd.sh).
    distros) packages+=(debootstrap systemd-container util-linux rpm dpkg-dev) ;;
    *) echo "install-deps: unknown group '$group' (known: packaging windows browser fuzz distros)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
