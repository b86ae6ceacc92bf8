#!/usr/bin/env bash
# tests/e2e_check.sh: runs tests/e2e_check.py on the lpcert binary given by ctest.
exec python3 "$(dirname "$0")/e2e_check.py" "$1"
