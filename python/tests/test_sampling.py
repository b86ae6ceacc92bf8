"""python/tests/test_sampling.py: lpcert.ref and lpcert.check with the sampling parameters of
SPEC A7 (softcap, top_k, top_p, min_p) against `lpcert ref` with the same options, bit for bit,
and the argument errors. On failure each assertion prints the case and the values in hex."""
import os
import subprocess

import numpy as np
import pytest

import lpcert
from lpcert._inputs import read_safetensors


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view({8: np.uint64, 4: np.uint32, 2: np.uint16, 1: np.uint8}[a.dtype.itemsize])


def problem():
    rng = np.random.default_rng(15)
    x = (rng.standard_normal((2, 5, 40)) * 3).astype(np.float32)
    x[0, 1, :6] = x[0, 1, 6]            # ties
    y = rng.integers(0, 40, (2, 5)).astype(np.int64)
    y[1, 2] = int(np.argmax(x[1, 1]))   # shift next: row 1 scores labels[:, 2]
    return x, y


CASES = [dict(top_k=3), dict(top_p=0.9), dict(min_p=0.05), dict(softcap=30.0),
         dict(softcap=5.0, top_k=10, top_p=0.8, min_p=0.01), dict(top_p=1.0), dict(top_k=1)]


@pytest.mark.parametrize("kw", CASES, ids=lambda k: ",".join("%s=%s" % i for i in k.items()))
def test_ref_matches_cli(tmp_path, kw):
    x, y = problem()
    lp, yp, out = tmp_path / "l.npy", tmp_path / "y.npy", tmp_path / "r.safetensors"
    np.save(lp, x)
    np.save(yp, y)
    args = [os.environ["LPCERT_BIN"], "ref", "--logits", str(lp), "--labels", str(yp), "--out", str(out)]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-"), repr(v)]
    subprocess.run(args, check=True, capture_output=True)
    py = lpcert.ref(x, y, **kw)
    for k in ("logp.f64", "logp.f32", "logp.lo", "sum.f64", "mean.f32", "token_mean.f64"):
        cli, _ = read_safetensors(str(out), k)
        g, w = bits(np.asarray(py[k])).reshape(-1), bits(np.asarray(cli)).reshape(-1)
        bad = np.flatnonzero(g != w)
        assert bad.size == 0, "%s %s: first difference at %d: 0x%x vs CLI 0x%x" % (kw, k, bad[0], g[bad[0]], w[bad[0]])


def test_none_is_plain():
    x, y = problem()
    a, b = lpcert.ref(x, y), lpcert.ref(x, y, softcap=None, top_k=0, top_p=None, min_p=0)
    for k in a:
        assert (bits(np.asarray(a[k])) == bits(np.asarray(b[k]))).all(), k


def test_filtered_label_is_neginf():
    x, y = problem()
    r = lpcert.ref(x, y, top_k=1)
    top = np.argmax(x[:, :-1], axis=2)
    lab = y[:, 1:]
    want_kept = lab == top
    ties = (x[:, :-1] == x[:, :-1].max(axis=2, keepdims=True)).sum(axis=2) > 1
    got = r["logp.f64"]
    assert (np.isneginf(got) | ties)[~want_kept].all()
    assert np.isneginf(r["sum.f64"]).any()


def test_check_with_sampling():
    x, y = problem()
    r = lpcert.ref(x, y, top_p=0.9, formats="f32")
    rep = lpcert.check(x, y, logp=r["logp.f32"], top_p=0.9, max_ulp=0.5)
    assert rep.passed, str(rep)
    rep = lpcert.check(x, y, logp=r["logp.f32"], max_ulp=0.5)
    assert not rep.passed


@pytest.mark.parametrize("kw,name", [(dict(top_p=1.5), "top_p"), (dict(min_p=-1.0), "min_p"),
                                     (dict(top_k=-2), "top_k"), (dict(softcap=float("inf")), "softcap"),
                                     (dict(top_k=2.5), "top_k"), (dict(top_p="x"), "top_p"),
                                     # beyond int64: ctypes kept the low 64 bits (2^64 + 1 was top_k 1)
                                     (dict(top_k=2**64 + 1), "top_k"), (dict(top_k=2**63), "top_k")])
def test_bad_parameters(kw, name):
    x, y = problem()
    with pytest.raises(ValueError, match=name):
        lpcert.ref(x, y, **kw)
