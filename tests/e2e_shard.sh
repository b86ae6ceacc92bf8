#!/usr/bin/env bash
# tests/e2e_shard.sh: runs tests/e2e_shard.py on the lpcert binary given by ctest.
exec python3 "$(dirname "$0")/e2e_shard.py" "$1"
