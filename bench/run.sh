#!/usr/bin/env bash
# bench/run.sh [BUILD] [lp_bench_fast args...]: builds lp_bench_fast in BUILD (default build,
# configured by scripts/setup when missing) and prints, in one run, the README's performance table:
# tier 1, tier 2, the default `ref` route and `check` of an f32 candidate against the plain f32
# anchor for V = 32000, 128256, 256000, the 2-thread scaling, then the tier-2 retries and MPFR
# fallbacks per random family (about 2 minutes on a free core; --no-fallback skips the latter).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
[ -f "$BUILD/CMakeCache.txt" ] || scripts/setup "$BUILD"
cmake --build "$BUILD" --target lp_bench_fast -j2 >/dev/null
lscpu | sed -n 's/^Model name: *//p' | head -1
"$BUILD/bench/lp_bench_fast" "$@"
