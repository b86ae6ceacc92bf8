"""Fixtures of the lpcert Python tests: the lpcert binary (LPCERT_BIN, else build/cli/lpcert) and a
small standard suite written once by `lpcert gen`."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))   # python/: the package as checked out

if "LPCERT_LIBRARY" not in os.environ and os.path.exists(os.path.join(ROOT, "build/lib/liblpcert.so")):
    os.environ["LPCERT_LIBRARY"] = os.path.join(ROOT, "build/lib/liblpcert.so")


@pytest.fixture(scope="session")
def lpcert_bin():
    b = os.environ.get("LPCERT_BIN") or os.path.join(ROOT, "build/cli/lpcert")
    if not os.path.exists(b):
        pytest.skip("no lpcert binary (set LPCERT_BIN)")
    return b


@pytest.fixture(scope="session")
def suite(lpcert_bin, tmp_path_factory):
    """The standard suite (seed 24301), every family and format: `lpcert gen`."""
    p = str(tmp_path_factory.mktemp("suite") / "suite.safetensors")
    subprocess.run([lpcert_bin, "gen", "--out", p], check=True, capture_output=True)
    return p
