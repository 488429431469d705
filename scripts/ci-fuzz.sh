#!/usr/bin/env bash
# Builds the CSV parser's libFuzzer target with clang and runs it for a bounded time (default 60 s),
# seeded with the CSV test corpus. Exits non-zero when the fuzzer finds a crash, a leak or UB.
#   scripts/ci-fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
bash scripts/install-deps.sh fuzz
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOB_FUZZ=ON -DOB_BUILD_TESTS=OFF \
  -DOB_BUILD_BENCH=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build/fuzz --target csv_parser_fuzz -j "$(nproc)"
work=build/fuzz/corpus
mkdir -p "$work" build/fuzz/artifacts
build/fuzz/tests/fuzz/csv_parser_fuzz -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ "$work" tests/data/csv 2>build/fuzz/fuzz.log \
  || { tail -50 build/fuzz/fuzz.log; echo "fuzz: the CSV parser failed; the input is in build/fuzz/artifacts/" >&2; exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" build/fuzz/fuzz.log || true
echo "fuzz: csv_parser_fuzz ran ${seconds} s without a finding"
