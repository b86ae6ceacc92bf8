#!/usr/bin/env bash
# tests/python_api.sh LIBLPCERT_SO LPCERT_BIN: the ctest test python_api: python/tests (pytest) on the
# Python package as checked out, over this build's liblpcert.so and lpcert binary. Runs with the
# first python3 that has numpy and pytest (Debian's python3-numpy, python3-pytest are for
# /usr/bin/python3, which another python3 earlier on PATH would not see); 77 (skipped) without one.
# The PyTorch tests (python/tests/test_torch.py) run when that python3 has torch (LPCERT_TORCH=1
# ./test installs python3-torch), and are skipped otherwise.
set -u
lib=$1 bin=$2
cd "$(dirname "$0")/.."
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c "import numpy, pytest" 2>/dev/null; then
    LPCERT_LIBRARY=$lib LPCERT_BIN=$bin PYTHONDONTWRITEBYTECODE=1 \
      exec "$py" -m pytest -q -p no:cacheprovider python/tests
  fi
done
echo "python_api: skipped: no python3 with numpy and pytest (Debian: python3-numpy python3-pytest)"
exit 77
