#!/usr/bin/env bash
# Builds the Windows (mingw-w64 x86_64, static) dependencies of the agent from Debian's source
# packages into a prefix outside the clone, keyed by the source versions and this script, and reuses
# that prefix when nothing changed.
#   scripts/build-windows-deps.sh               build or reuse; the last line printed is the prefix
#   scripts/build-windows-deps.sh --print-key   print the key and what it is made of, build nothing
#   scripts/build-windows-deps.sh --rebuild     build again even if the prefix is complete
# Environment: OB_WIN_DEPS_ROOT (default /var/cache/opescare-ci/win-deps) holds one prefix per key,
# <root>/<key>/, and a `current` link to the last one built or reused.
# Needs root the first time (packages, a deb-src entry); later runs only read apt's lists.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
root="${OB_WIN_DEPS_ROOT:-/var/cache/opescare-ci/win-deps}"
mode="${1:-build}"
triple=x86_64-w64-mingw32
cc="$triple-gcc-posix"
cxx="$triple-g++-posix"
toolchain="$repo/cmake/windows-mingw64.cmake"
jobs=2  # a shared 2-core machine: two jobs, at low priority
run() { nice -n 15 "$@"; }
say() { echo "win-deps: $*" >&2; }

# Source packages built here (googletest for the cross-built unit tests).
sources=(sqlite3 openssl yaml-cpp fmtlib spdlog cli11 googletest libdeflate)
# Binary packages whose files go into the prefix or compile it.
binaries=(libz-mingw-w64-dev libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
          g++-mingw-w64-x86-64-posix mingw-w64-x86-64-dev)

# The deb-src twin of the Debian archive that apt already uses (deb822 files or the one-line list).
ensure_deb_src() {
  if apt-get source --print-uris sqlite3 >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" -eq 0 ] || { say "no deb-src entry and not root: add one for the Debian archive"; exit 1; }
  local list=/etc/apt/sources.list.d/opescare-deb-src.sources
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -n 's/^Types:.*\bdeb\b.*/Types: deb-src/;p' /etc/apt/sources.list.d/debian.sources >"$list"
  elif [ -f /etc/apt/sources.list ]; then
    list=/etc/apt/sources.list.d/opescare-deb-src.list
    sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' /etc/apt/sources.list >"$list"
  fi
  say "added $list; apt-get update"
  apt-get update -qq
  apt-get source --print-uris sqlite3 >/dev/null
}

# The version that `apt-get source` would fetch (openssl from bookworm itself: the security
# suite's newest source may be missing from the archive).
source_args() { if [ "$1" = openssl ]; then echo "-t bookworm $1"; else echo "$1"; fi; }
source_version() {
  # shellcheck disable=SC2046
  apt-get source --print-uris $(source_args "$1") 2>/dev/null |
    sed -n "s/^'[^']*' $1_\([^ ]*\)\.dsc .*/\1/p" | head -1
}

key_inputs() {
  local s v
  for s in "${sources[@]}"; do
    v="$(source_version "$s")"
    [ -n "$v" ] || { say "apt-get source has no '$s'"; exit 1; }
    echo "source $s $v"
  done
  for s in "${binaries[@]}"; do
    echo "binary $s $(dpkg-query -W -f='${Version}' "$s")"
  done
  for f in scripts/build-windows-deps.sh cmake/windows-mingw64.cmake cmake/windows-BoostConfig.cmake \
           cmake/windows-BoostConfigVersion.cmake cmake/FindLibdeflate.cmake; do
    echo "file $f $(sha256sum "$f" | cut -c1-16)"
  done
}

# apt-get source into $work; echoes the unpacked folder.
fetch() {
  local pkg="$1" dir
  # shellcheck disable=SC2046
  (cd "$work" && run apt-get source -qq $(source_args "$pkg") >"$work/$pkg.fetch.log" 2>&1) ||
    { say "apt-get source $pkg failed:"; tail -5 "$work/$pkg.fetch.log" >&2; exit 1; }
  dir="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" | head -1)"
  [ -n "$dir" ] || { say "no source folder for $pkg"; exit 1; }
  echo "$dir"
}

# A CMake project of a source package, configured with our toolchain, installed into the prefix.
cmake_dep() {
  local pkg="$1"; shift
  local src; src="$(fetch "$pkg")"
  say "building $pkg ($(basename "$src"))"
  run cmake -S "$src" -B "$src/_win" -G Ninja --toolchain "$toolchain" -DOB_WIN_DEPS_PREFIX="$prefix" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_SHARED_LIBS=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=OFF "$@" >"$work/$pkg.log" 2>&1 &&
    run cmake --build "$src/_win" -j"$jobs" >>"$work/$pkg.log" 2>&1 &&
    run cmake --install "$src/_win" >>"$work/$pkg.log" 2>&1 ||
    { say "$pkg failed (log: $work/$pkg.log):"; tail -20 "$work/$pkg.log" >&2; exit 1; }
}

build_zlib() {
  say "zlib from libz-mingw-w64-dev"
  cp /usr/$triple/include/zlib.h /usr/$triple/include/zconf.h "$prefix/include/"
  cp /usr/$triple/lib/libz.a "$prefix/lib/"  # the static library only, not libz.dll.a
}

build_sqlite() {
  local src; src="$(fetch sqlite3)"
  say "building sqlite3 ($(basename "$src")): amalgamation, then mingw"
  (cd "$src" && run ./configure --disable-tcl >"$work/sqlite3.log" 2>&1 && run make sqlite3.c >>"$work/sqlite3.log" 2>&1) ||
    { say "sqlite3 amalgamation failed (log: $work/sqlite3.log)"; tail -20 "$work/sqlite3.log" >&2; exit 1; }
  run "$cc" -O2 -D_WIN32_WINNT=0x0A00 -DSQLITE_THREADSAFE=1 -DSQLITE_ENABLE_COLUMN_METADATA \
    -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_FTS5 -c "$src/sqlite3.c" -o "$src/sqlite3.o"
  $triple-ar rcs "$prefix/lib/libsqlite3.a" "$src/sqlite3.o"
  cp "$src/sqlite3.h" "$src/sqlite3ext.h" "$prefix/include/"
}

# Debian's libdeflate 1.14 builds with its Makefile (CMake came with 1.15). For MinGW the Makefile names
# the static library libdeflatestatic.lib (an ordinary ar archive): installed as lib/libdeflate.a, which
# cmake/FindLibdeflate.cmake finds. Static, so LIBDEFLATE_DLL stays undefined.
build_libdeflate() {
  local src; src="$(fetch libdeflate)"
  say "building libdeflate ($(basename "$src")): the static library with its Makefile"
  (cd "$src" && run make -j"$jobs" CC="$cc" AR="$triple-ar" CFLAGS="-D_WIN32_WINNT=0x0A00" libdeflatestatic.lib \
      >"$work/libdeflate.log" 2>&1) ||
    { say "libdeflate failed (log: $work/libdeflate.log)"; tail -20 "$work/libdeflate.log" >&2; exit 1; }
  cp "$src/libdeflatestatic.lib" "$prefix/lib/libdeflate.a"
  cp "$src/libdeflate.h" "$prefix/include/"
}

build_openssl() {
  local src; src="$(fetch openssl)"
  say "building openssl ($(basename "$src")), the longest step"
  # OPENSSLDIR (openssl.cnf, the default CA paths) and MODULESDIR under C:/Program Files, which users
  # cannot write; the default (/usr/local/ssl) would be C:\usr\local\ssl on Windows, a folder any user
  # can create. Configure runs on Linux, where "C:/..." is not absolute: an absolute --openssldir is
  # appended to --prefix (C:/.../openssl/C:/.../openssl). So --prefix carries the Windows path and
  # --openssldir is relative to it.
  local ossl_prefix="C:/Program Files/OpesCare/Bridge" ossl_dir="C:/Program Files/OpesCare/Bridge/openssl"
  (cd "$src" && run ./Configure mingw64 --cross-compile-prefix=$triple- no-shared no-tests no-engine no-module \
      "--prefix=$ossl_prefix" --openssldir=openssl -D_WIN32_WINNT=0x0A00 >"$work/openssl.log" 2>&1 &&
    run make -j"$jobs" build_libs >>"$work/openssl.log" 2>&1) ||
    { say "openssl failed (log: $work/openssl.log)"; tail -20 "$work/openssl.log" >&2; exit 1; }
  # OpenSSL_version(OPENSSL_DIR) reads back this string: it must be the folder above, once.
  local built; built="$(strings "$src/libcrypto.a" | sed -n 's/^OPENSSLDIR: "\(.*\)"$/\1/p' | head -1)"
  [ "$built" = "$ossl_dir" ] ||
    { say "openssl: OPENSSLDIR is '$built', expected '$ossl_dir' (see $src/Makefile)"; exit 1; }
  # The libraries and headers only, copied: `make install` would want the Windows paths above.
  mkdir -p "$prefix/include/openssl"
  cp "$src"/include/openssl/*.h "$prefix/include/openssl/"
  cp "$src/libssl.a" "$src/libcrypto.a" "$prefix/lib/"
}

build_boost() {
  say "boost: Debian's headers through $prefix/boost-include, json and url from src.hpp"
  mkdir -p "$prefix/boost-include" "$work/boost"
  ln -sfn /usr/include/boost "$prefix/boost-include/boost"
  local lib
  for lib in json url; do
    echo "#include <boost/$lib/src.hpp>" >"$work/boost/$lib.cpp"
    run "$cxx" -std=c++20 -O2 -D_WIN32_WINNT=0x0A00 -isystem "$prefix/boost-include" \
      -c "$work/boost/$lib.cpp" -o "$work/boost/$lib.o"
    $triple-ar rcs "$prefix/lib/libboost_$lib.a" "$work/boost/$lib.o"
  done
  local n; n="$(sed -n 's/^#define BOOST_VERSION \([0-9]*\)/\1/p' /usr/include/boost/version.hpp)"
  local version="$((n / 100000)).$((n / 100 % 1000)).$((n % 100))"
  local dir="$prefix/lib/cmake/Boost-$version"
  mkdir -p "$dir"
  cp cmake/windows-BoostConfig.cmake "$dir/BoostConfig.cmake"
  sed "s/@OB_BOOST_VERSION@/$version/" cmake/windows-BoostConfigVersion.cmake >"$dir/BoostConfigVersion.cmake"
}

build_all() {
  rm -rf "$prefix" "$work"
  mkdir -p "$prefix/include" "$prefix/lib" "$work"
  local t0=$SECONDS
  build_zlib
  build_boost
  build_sqlite
  cmake_dep fmtlib -DFMT_DOC=OFF -DFMT_TEST=OFF
  cmake_dep spdlog -DSPDLOG_FMT_EXTERNAL=ON -DSPDLOG_BUILD_EXAMPLE=OFF -DSPDLOG_BUILD_TESTS=OFF \
    -DSPDLOG_BUILD_SHARED=OFF -DSPDLOG_WCHAR_FILENAMES=OFF
  cmake_dep yaml-cpp -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF \
    -DYAML_BUILD_SHARED_LIBS=OFF
  cmake_dep cli11 -DCLI11_BUILD_TESTS=OFF -DCLI11_BUILD_EXAMPLES=OFF -DCLI11_BUILD_DOCS=OFF -DCLI11_PRECOMPILED=OFF
  cmake_dep googletest -DBUILD_GMOCK=ON -DINSTALL_GTEST=ON
  build_libdeflate
  build_openssl
  echo "$inputs" >"$prefix/KEY.txt"
  rm -rf "$work"
  say "built in $((SECONDS - t0)) s"
  touch "$prefix/.complete"  # last: a prefix without it is half-built and is built again
}

bash scripts/install-deps.sh windows
ensure_deb_src
mkdir -p "$root"
inputs="$(key_inputs)"
key="$(echo "$inputs" | sha256sum | cut -c1-16)"
if [ "$mode" = --print-key ]; then
  echo "$inputs"
  echo "$key"
  exit 0
fi
prefix="$root/$key"
work="$root/work-$key"
# One builder at a time per root: a second CI run waits here, then finds the prefix complete.
exec 9>"$root/.lock"
flock 9
if [ "$mode" = --rebuild ] || [ ! -f "$prefix/.complete" ]; then
  say "building the prefix $prefix"
  build_all
else
  say "reusing the prefix $prefix"
fi
ln -sfn "$key" "$root/current.tmp" && mv -T "$root/current.tmp" "$root/current"
echo "$prefix"
