#!/usr/bin/env bash
# tests/e2e_ref_grad.sh: runs tests/e2e_ref_grad.py on the lpcert binary given by ctest.
exec python3 "$(dirname "$0")/e2e_ref_grad.py" "$1"
