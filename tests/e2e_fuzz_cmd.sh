#!/usr/bin/env bash
# tests/e2e_fuzz_cmd.sh: runs tests/e2e_fuzz_cmd.py on the lpcert binary given by ctest.
exec python3 "$(dirname "$0")/e2e_fuzz_cmd.py" "$1"
