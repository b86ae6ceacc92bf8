#!/usr/bin/env bash
# tests/e2e_check_kernels.sh: runs tests/e2e_check_kernels.py on the lpcert binary given by ctest.
exec python3 "$(dirname "$0")/e2e_check_kernels.py" "$1"
