#!/usr/bin/env bash
# tests/cfl_build.sh: .clusterfuzzlite/build.sh in a simulated ClusterFuzzLite build, no container:
# the variables as the engine sets them for libFuzzer + AddressSanitizer ($CC clang, $CFLAGS with
# -fsanitize=address,fuzzer-no-link, $LIB_FUZZING_ENGINE -fsanitize=fuzzer, $SANITIZER,
# $FUZZING_ENGINE, $ARCHITECTURE), $OUT and $WORK temporary folders. Checks that every harness of
# fuzz/ (every fuzz/fz_*.c that defines LLVMFuzzerTestOneInput) lands in $OUT as an executable with
# its seed corpus zip (not empty), its .options, its dictionary when fuzz/ has one, and that the
# shared libraries it needs outside the system resolve from $OUT/lib; then runs each for a few
# executions on its seed corpus, as the runner would. Skipped (77) when clang is missing.
# usage: tests/cfl_build.sh SOURCE_ROOT
set -u
SRC_ROOT=$(cd "${1:-.}" && pwd)
if ! command -v clang >/dev/null; then
  echo "cfl_build: skipped: clang is missing (ClusterFuzzLite builds with clang and libFuzzer)"
  exit 77
fi
T=$(mktemp -d /tmp/lpcert_cfl_XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/out" "$T/work"
export CC=clang CXX=clang++ SANITIZER=address FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
export LIB_FUZZING_ENGINE="-fsanitize=fuzzer"
export OUT="$T/out" WORK="$T/work" SRC="$SRC_ROOT/.."
fails=0
fail() { echo "cfl_build: FAIL: $*"; fails=$((fails + 1)); }

if ! nice bash "$SRC_ROOT/.clusterfuzzlite/build.sh" >"$T/build.log" 2>&1; then
  tail -40 "$T/build.log"
  echo "cfl_build: FAIL: build.sh exited non-zero (the log's tail above)"
  exit 1
fi
tail -1 "$T/build.log"
# the runner has $OUT only: the build tree goes out of reach before the harnesses run
mv "$WORK" "$T/work.gone"
n=0
for src in "$SRC_ROOT"/fuzz/fz_*.c; do
  grep -q LLVMFuzzerTestOneInput "$src" || continue
  b=$(basename "$src" .c)
  t=${b#fz_}
  n=$((n + 1))
  [ -x "$OUT/$b" ] || { fail "$b: no harness in \$OUT (is $t in fuzz/CMakeLists.txt's LP_FZ_TARGETS?)"; continue; }
  z="$OUT/${b}_seed_corpus.zip"
  if [ ! -s "$z" ]; then
    fail "$b: no seed corpus $z (fuzz/corpus/$t/)"
  else
    want=$(find "$SRC_ROOT/fuzz/corpus/$t" -maxdepth 1 -type f | wc -l)
    got=$(python3 -c 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))' "$z")
    [ "$want" = "$got" ] || fail "$b: seed corpus holds $got files, fuzz/corpus/$t $want"
  fi
  grep -q '^\[libfuzzer\]' "$OUT/$b.options" 2>/dev/null || fail "$b: no $b.options"
  if [ -f "$SRC_ROOT/fuzz/$t.dict" ]; then
    cmp -s "$SRC_ROOT/fuzz/$t.dict" "$OUT/$b.dict" || fail "$b: dictionary not shipped as $b.dict"
    grep -q "^dict = $b.dict" "$OUT/$b.options" || fail "$b: $b.options does not name $b.dict"
  fi
  missing=$(ldd "$OUT/$b" | grep 'not found')
  [ -z "$missing" ] || fail "$b: unresolved libraries: $missing"
  for so in $(ldd "$OUT/$b" | awk '/lib(mpfr|gmp|cjson|crypto)\.so/ {print $3}'); do
    case "$so" in "$OUT"/lib/*) ;; *) fail "$b: $so not taken from \$OUT/lib (RUNPATH)";; esac
  done
  # a short run on the seed corpus, from a copy of $OUT elsewhere (no build tree to lean on)
  rm -rf "$T/run" && mkdir -p "$T/run/corpus" && cp -r "$OUT"/. "$T/run/"
  (cd "$T/run/corpus" && python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(".")' "$T/run/${b}_seed_corpus.zip")
  if ! (cd "$T/run" && timeout 300 "./$b" -runs=50 -max_len=4096 corpus >"$T/run.log" 2>&1); then
    tail -15 "$T/run.log"
    fail "$b: the shipped harness does not run on its seed corpus"
  fi
done
[ "$n" -gt 0 ] || fail "no harness found in fuzz/"
echo "cfl_build: $n harnesses checked, $fails failures"
[ "$fails" -eq 0 ]
