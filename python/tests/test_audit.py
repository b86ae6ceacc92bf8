"""lpcert.audit (SPEC A9): the same figures as `lpcert audit --json` on the same inputs (the one
library entry, lp_audit_run, behind both), arrays and file specs alike; input errors as the CLI's
one-line ValueError. The figures themselves are held to an independent evaluation by
tests/e2e_audit.py."""
import json
import os
import subprocess

import numpy as np
import pytest

import lpcert


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    d = tmp_path_factory.mktemp("audit")
    rng = np.random.default_rng(7)
    B, T, V = 3, 12, 32
    La = rng.standard_normal((B, T, V)).astype(np.float32)
    Lb = (La + rng.standard_normal((B, T, V)).astype(np.float32) * 0.01).astype(np.float32)
    y = np.zeros((B, T), np.int64)
    y[:, 1:] = La[:, :-1].argmax(-1)          # the top token: kept by any filter
    m = np.ones((B, T), np.uint8)
    m[0, :3] = 0
    z = La[:, :-1].astype(np.float64) / 0.8
    lse = np.log(np.exp(z).sum(-1))
    ex = np.take_along_axis(z, y[:, 1:, None], -1)[..., 0] - lse
    a = (ex + rng.standard_normal((B, T - 1)) * 0.02).astype(np.float32)
    b = ex.astype(np.float64)
    files = {"a": a, "b": b, "y": y, "m": m, "La": La, "Lb": Lb}
    for k, v in files.items():
        np.save(str(d / (k + ".npy")), v)
    return d, files


def test_same_as_cli(pipes, lpcert_bin):
    d, f = pipes
    j = str(d / "cli.json")
    subprocess.run([os.path.abspath(lpcert_bin), "audit", "--a", "a.npy", "--b", "b.npy", "--labels", "y.npy", "--mask",
                    "m.npy", "--logits-a", "La.npy", "--a-temperature", "0.8", "--a-top-k", "4",
                    "--logits-b", "Lb.npy", "--b-temperature", "0.8", "--band", "0.98,1.02",
                    "--json", j], cwd=str(d), check=True, capture_output=True)
    cli = json.load(open(j))
    for a, b in ((f["a"], f["b"]), (str(d / "a.npy"), str(d / "b.npy"))):
        r = lpcert.audit(a, b, f["y"], mask=f["m"], logits_a=f["La"], logits_b=str(d / "Lb.npy"),
                         a_semantics={"temperature": 0.8, "top_k": 4}, b_semantics={"temperature": 0.8},
                         bands=[(0.98, 1.02)])
        for k in ("tokens", "sequences", "split"):
            assert r[k] == cli[k], k
        assert r["split"]["dominant"] in r["report"]
        assert "0.98,1.02" in r["tokens"]["out_of_band"]


def test_no_logits(pipes):
    _, f = pipes
    r = lpcert.audit(f["a"], f["b"], f["y"], mask=f["m"])
    assert "split" not in r and r["tokens"]["count"] == 3 * 11 - 2   # m[0, 1:3] = 0 (m[0, 0] scores nothing)
    assert "No logits given" in r["report"]


def test_errors(pipes):
    _, f = pipes
    with pytest.raises(ValueError, match=r"^lpcert audit: a: shape \[3, 10\], expected \[3, 11\]"):
        lpcert.audit(f["a"][:, 1:], f["b"], f["y"])
    bad = f["b"].copy()
    bad[1, 4] = np.inf
    with pytest.raises(ValueError, match=r"^lpcert audit: b: logp\[b=1,t=4\] is .*inf.* at a counted token"):
        lpcert.audit(f["a"], bad, f["y"])
    bad[0, 0] = np.nan     # masked (m[0, 1] = 0): not counted
    bad[1, 4] = 0
    lpcert.audit(f["a"], bad, f["y"], mask=f["m"])
    with pytest.raises(ValueError, match=r"give logits_a"):
        lpcert.audit(f["a"], f["b"], f["y"], a_semantics={"top_p": 0.9})
    # the semantics' types and ranges as ref's keywords (the CLI rejects --a-top-k 2.5): int()
    # truncated 2.5 to 2, True was 1, 2^64 + 1 kept its low 64 bits
    for sem, name in (({"top_k": 2.5}, "top_k"), ({"top_k": True}, "top_k"),
                      ({"top_k": 2**64 + 1}, "top_k"), ({"top_p": "0.9"}, "top_p"),
                      ({"min_p": 1.5}, "min_p")):
        with pytest.raises(ValueError, match=name):
            lpcert.audit(f["a"], f["b"], f["y"], mask=f["m"], logits_a=f["La"], a_semantics=sem)
    # a negative label other than ignore_index (labels padded with -1, ignore_index left at -100)
    y = f["y"].copy()
    y[2, 5] = -1
    with pytest.raises(ValueError, match=r"label -1 is negative and not ignore_index -100"):
        lpcert.audit(f["a"], f["b"], y)
