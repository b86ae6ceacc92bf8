#!/usr/bin/env bash
# bench/ref_big.sh [BUILD] [DIR] [FORMATS]: end-to-end time and peak memory of `lpcert ref` on a
# generated B=8, T=4096, V=128256 bf16 safetensors file (8.4 GB), FORMATS wanted (default
# f32,f16,bf16; f64 takes tier 2), 2 threads; the file is deleted afterwards. Needs 9 GB free in
# DIR (default /tmp) and /usr/bin/time. On a shared machine read "User time + System time" as well
# as "Elapsed": the wall time is the CPU time over the cores actually granted.
set -euo pipefail
BUILD=${1:-build}
DIR=${2:-/tmp}
FORMATS=${3:-f32,f16,bf16}
F="$DIR/lpcert_big_bf16.safetensors"
O="$DIR/lpcert_big_out.safetensors"
trap 'rm -f "$F" "$O"' EXIT
"$BUILD/bench/lp_bench_fast" --write-big "$F"
ls -l "$F"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true   # cold cache when permitted
/usr/bin/time -v "$BUILD/cli/lpcert" ref --logits "$F:logits" --labels "$F:labels" \
  --formats "$FORMATS" --threads 2 --out "$O" 2>&1 |
  grep -E "lpcert ref:|Elapsed|Maximum resident|User time|System time|Percent of CPU"
