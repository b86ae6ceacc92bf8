#!/bin/bash -eu
# .clusterfuzzlite/build.sh: builds every libFuzzer harness of fuzz/ for ClusterFuzzLite / OSS-Fuzz.
#
# Runs in the builder container (Dockerfile) with the engine's environment: $CC, $CFLAGS (sanitizer
# and coverage flags), $LIB_FUZZING_ENGINE (the engine to link), $OUT (what is shipped to the
# fuzzing runs), $WORK (scratch), $SRC. tests/cfl_build.sh runs it outside any container with the
# same variables, so the layout cannot rot unnoticed.
#
# The harness list is fuzz/CMakeLists.txt's LP_FZ_TARGETS (written to fuzz/harnesses.txt in the
# build tree): a harness added there is built and shipped here with no change to this file. Into
# $OUT, per target t: fz_t (the harness), fz_t_seed_corpus.zip (fuzz/corpus/t/), fz_t.dict (from
# fuzz/t.dict when there is one) and fz_t.options (libFuzzer options: fuzz/run's max_len, the
# dictionary). MPFR, GMP, cJSON and libcrypto are shared libraries of the builder image, absent from
# the runner image: they are copied to $OUT/lib, which the harnesses find through RUNPATH
# $ORIGIN/lib. The example plugin that fz_plugin judges goes next to the harness.
set -euo pipefail   # also when run as `bash build.sh` (the shebang's -eu is then not read)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD="$WORK/lpcert-build"
JOBS=$(nproc 2>/dev/null || echo 2)

# build type None: the compile flags are $CFLAGS alone (no -O3 -DNDEBUG over the engine's -O1)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=None \
      -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" \
      -DLP_FUZZ=ON -DLP_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" \
      -DCMAKE_BUILD_RPATH='$ORIGIN/lib' >"$WORK/lpcert-configure.log" 2>&1 ||
  { tail -40 "$WORK/lpcert-configure.log" >&2; exit 1; }
mapfile -t TARGETS < <(grep -v '^$' "$BUILD/fuzz/harnesses.txt")
BINS=()
for t in "${TARGETS[@]}"; do BINS+=("fz_$t"); done
cmake --build "$BUILD" -j"$JOBS" --target "${BINS[@]}"

# zip_dir DIR ZIP: the files of DIR, flat, into ZIP
zip_dir() {
  rm -f "$2"
  if command -v zip >/dev/null; then
    (cd "$1" && zip -q -X "$2" ./*)
  else
    python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
d, z = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
    for n in sorted(os.listdir(d)):
        f.write(os.path.join(d, n), n)
PY
  fi
}

mkdir -p "$OUT/lib"
for t in "${TARGETS[@]}"; do
  b="fz_$t"
  cp "$BUILD/fuzz/$b" "$OUT/$b"
  if [ -d "fuzz/corpus/$t" ]; then
    zip_dir "$PWD/fuzz/corpus/$t" "$OUT/${b}_seed_corpus.zip"
  else
    echo "build.sh: warning: no seed corpus fuzz/corpus/$t" >&2
  fi
  {
    echo "[libfuzzer]"
    echo "max_len = 4096"
    echo "timeout = 30"
    if [ -f "fuzz/$t.dict" ]; then
      cp "fuzz/$t.dict" "$OUT/$b.dict"
      echo "dict = $b.dict"
    fi
  } >"$OUT/$b.options"
  # the non-system shared libraries the harness needs, for the runner image
  ldd "$OUT/$b" | awk '/=> \// {print $3}' | grep -E 'lib(mpfr|gmp|cjson|crypto)\.so' |
    while read -r so; do cp -L "$so" "$OUT/lib/"; done || true
done
# fz_plugin judges the example plugin: shipped next to it (fz_plugin looks there when the path it
# was built with is gone, as on the runner)
for so in "$BUILD"/examples/*.so "$BUILD"/examples/*/*.so; do
  [ -f "$so" ] && cp "$so" "$OUT/"
done
echo "build.sh: ${#TARGETS[@]} harnesses in $OUT: ${BINS[*]}"
