#!/usr/bin/env bash
# tests/e2e_report.sh: runs tests/e2e_report.py (report --quick) on the lpcert binary given by ctest.
exec python3 "$(dirname "$0")/e2e_report.py" "$1"
