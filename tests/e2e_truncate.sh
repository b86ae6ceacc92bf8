#!/usr/bin/env bash
# tests/e2e_truncate.sh: runs tests/e2e_truncate.py on the lpcert binary given by ctest.
exec python3 "$(dirname "$0")/e2e_truncate.py" "$1"
