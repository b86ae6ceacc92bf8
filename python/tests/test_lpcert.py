"""python/tests/test_lpcert.py: the Python API against the CLI. NumPy only here; the PyTorch part is
test_torch.py. On failure each assertion prints the case, the key and the values in hex."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import lpcert
from lpcert._inputs import read_safetensors


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view({8: np.uint64, 4: np.uint32, 2: np.uint16, 1: np.uint8}[a.dtype.itemsize])


def assert_same_bits(got, want, what):
    assert got.shape == want.shape, "%s: shape %s, want %s" % (what, got.shape, want.shape)
    assert got.dtype.itemsize == want.dtype.itemsize, "%s: dtype %s, want %s" % (what, got.dtype, want.dtype)
    g, w = bits(got).reshape(-1), bits(want).reshape(-1)
    bad = np.flatnonzero(g != w)
    assert bad.size == 0, "%s: %d values differ; first at %d: got 0x%x (%r), want 0x%x (%r)" % (
        what, bad.size, bad[0], g[bad[0]], got.reshape(-1)[bad[0]], w[bad[0]], want.reshape(-1)[bad[0]])


def suite_cases(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    meta = header["__metadata__"]
    names = sorted(k[5:-7] for k in header if k.startswith("case/") and k.endswith("/logits"))
    return header, meta, names


def case_args(path, header, meta, name):
    p = "case/%s/" % name
    kw = dict(shift=meta[p + "shift"], ignore_index=int(meta[p + "ignore_index"]),
              temperature=float.fromhex(meta[p + "temperature"]), empty_mean=meta[p + "empty_mean"])
    if p + "mask" in header:
        kw["mask"] = "%s:%smask" % (path, p)
    return "%s:%slogits" % (path, p), "%s:%slabels" % (path, p), kw


def cli_args(kw):
    a = ["--shift", kw["shift"], "--ignore-index", str(kw["ignore_index"]), "--temperature",
         kw["temperature"].hex(), "--empty-mean", kw["empty_mean"]]
    if "mask" in kw:
        a += ["--mask", kw["mask"]]
    return a


# ---- ref ----------------------------------------------------------------------------------------

def test_ref_matches_suite_expected(suite):
    """lpcert.ref on every case of the standard suite (read through "F:tensor" specs) equals the
    suite's expected tensors, which `lpcert ref` names and computes, bit for bit (the double-double,
    from the MPFR loop alone, on every tenth case: the others take the fast path's formats)."""
    header, meta, names = suite_cases(suite)
    assert len(names) == 140
    for i, name in enumerate(names):
        x, y, kw = case_args(suite, header, meta, name)
        dd = i % 10 == 0
        r = lpcert.ref(x, y, formats=None if dd else "f64,f32,f16,bf16", **kw)
        p = "case/%s/expected/" % name
        keys = [k[len(p):] for k in header if k.startswith(p) and (dd or not k.endswith((".hi", ".lo")))]
        assert keys, name
        for k in keys:
            want, _ = read_safetensors(suite, p + k)
            assert_same_bits(r[k], np.asarray(want), "%s %s" % (name, k))


@pytest.mark.parametrize("pick", [0, 7, 33, 61, 100, 139])
def test_ref_equals_cli_file(suite, lpcert_bin, tmp_path, pick):
    """Every tensor of `lpcert ref --out` (dd included) equals lpcert.ref's, same keys, shapes, bits."""
    header, meta, names = suite_cases(suite)
    name = names[pick]
    x, y, kw = case_args(suite, header, meta, name)
    out = str(tmp_path / "exact.safetensors")
    subprocess.run([lpcert_bin, "ref", "--logits", x, "--labels", y, "--out", out] + cli_args(kw),
                   check=True, capture_output=True)
    with open(out, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        keys = [k for k in json.loads(f.read(n)) if k != "__metadata__"]
    r = lpcert.ref(x, y, **kw)
    assert sorted(r) == sorted(keys)
    for k in keys:
        want, _ = read_safetensors(out, k)
        assert_same_bits(r[k], np.asarray(want), "%s %s" % (name, k))


def test_ref_numpy_inputs_and_bf16_bits(lpcert_bin, tmp_path):
    """NumPy arrays in every format (bf16 as '<u2' with dtype='bf16', as --dtype bf16), 2-D logits,
    int32 labels, a bool mask, shift none, temperature, ignore_index: equal to the CLI on .npy files."""
    rng = np.random.default_rng(3)
    x32 = (rng.standard_normal((3, 6, 11)) * 4).astype(np.float32)
    y = rng.integers(0, 11, (3, 6)).astype(np.int32)
    y[1, 2] = -7
    m = rng.random((3, 6)) < 0.8
    xs = {"f64": x32.astype(np.float64), "f32": x32, "f16": x32.astype(np.float16),
          "bf16": (x32.view(np.uint32) >> 16).astype(np.uint16)}
    for fmt, x in xs.items():
        for two_d in (False, True):
            xx, yy, mm = (x[1], y[1], m[1]) if two_d else (x, y, m)
            np.save(tmp_path / "x.npy", xx)
            np.save(tmp_path / "y.npy", yy)
            np.save(tmp_path / "m.npy", mm)
            out = str(tmp_path / "o.safetensors")
            subprocess.run([lpcert_bin, "ref", "--logits", str(tmp_path / "x.npy"), "--labels",
                            str(tmp_path / "y.npy"), "--mask", str(tmp_path / "m.npy"), "--dtype", fmt,
                            "--shift", "none", "--ignore-index", "-7", "--temperature", "0.7",
                            "--out", out], check=True, capture_output=True)
            r = lpcert.ref(xx, yy, mask=mm, shift="none", ignore_index=-7, temperature=0.7,
                           dtype=fmt if fmt == "bf16" else None)
            for k in r:
                want, _ = read_safetensors(out, k)
                assert_same_bits(r[k], np.asarray(want), "%s 2d=%s %s" % (fmt, two_d, k))


# ---- errors: the CLI's one-line message, with the argument's name for the file's ----------------

def cli_error(lpcert_bin, tmp_path, x, y, extra=()):
    np.save(tmp_path / "X.npy", x)
    np.save(tmp_path / "Y.npy", y)
    p = subprocess.run([lpcert_bin, "ref", "--logits", str(tmp_path / "X.npy"), "--labels",
                        str(tmp_path / "Y.npy"), "--out", str(tmp_path / "o.safetensors")] + list(extra),
                       capture_output=True, text=True)
    assert p.returncode == 2 and not os.path.exists(tmp_path / "o.safetensors")
    line = p.stderr.strip()
    assert "\n" not in line
    return line.replace(str(tmp_path / "X.npy"), "logits").replace(str(tmp_path / "Y.npy"), "labels") \
        .replace("--dtype bf16", "dtype='bf16'")


@pytest.mark.parametrize("bad", ["dtype", "labels_dtype", "shape", "ndim", "label_range", "u2"])
def test_bad_input_messages_are_the_cli_s(lpcert_bin, tmp_path, bad):
    x = np.zeros((2, 3, 4), np.float32)
    y = np.zeros((2, 3), np.int64)
    if bad == "dtype":
        x = x.astype(np.int32)
    elif bad == "labels_dtype":
        y = y.astype(np.float32)
    elif bad == "shape":
        y = np.zeros((2, 4), np.int64)
    elif bad == "ndim":
        x = np.zeros((4,), np.float32)
    elif bad == "label_range":
        y[1, 2] = 4
    elif bad == "u2":
        x = x.astype(np.uint16)
    want = cli_error(lpcert_bin, tmp_path, x, y)
    with pytest.raises(ValueError) as e:
        lpcert.ref(x, y)
    assert str(e.value) == want


def test_bad_input_other():
    x = np.zeros((2, 3, 4), np.float32)
    y = np.zeros((2, 3), np.int64)
    with pytest.raises(ValueError, match=r"^lpcert ref: logits: the array is not C-contiguous"):
        lpcert.ref(np.zeros((2, 3, 8), np.float32)[:, :, ::2], y)
    with pytest.raises(ValueError, match=r"^lpcert ref: mask: mask\[b=1,t=0\] is 2, not 0 or 1$"):
        lpcert.ref(x, y, mask=np.array([[1, 1, 1], [2, 0, 0]]))
    with pytest.raises(ValueError, match=r"^lpcert ref: shift: 'prev' is not next or none$"):
        lpcert.ref(x, y, shift="prev")
    with pytest.raises(ValueError, match=r"^lpcert ref: temperature: '0.0' is not a positive"):
        lpcert.ref(x, y, temperature=0.0)
    with pytest.raises(ValueError, match=r"^lpcert ref: x.safetensors: no such file$"):
        lpcert.ref("x.safetensors:logits", y)
    with pytest.raises(ValueError, match=r"^lpcert check: at least one of logp, sum, mean"):
        lpcert.check(x, y)
    with pytest.raises(ValueError, match=r"^lpcert check: logp: shape \[2, 3\], expected \[2, 2\]"):
        lpcert.check(x, y, logp=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"^lpcert check: sum: dtype I64 is not a float format"):
        lpcert.check(x, y, sum=np.zeros(2, np.int64))


def test_library_not_found_is_clear(tmp_path):
    code = "import lpcert\ntry:\n    lpcert.library_path()\nexcept OSError as e:\n    print(e)\n"
    env = dict(os.environ, LPCERT_LIBRARY=str(tmp_path / "nowhere.so"))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert "liblpcert.so not found" in p.stdout and "LPCERT_LIBRARY" in p.stdout, p.stdout + p.stderr


# ---- check: the CLI's verdicts and figures -----------------------------------------------------

def np_logps(x, y, mask, shift, ignore_index, temperature, mul=False):
    """A NumPy two-pass kernel in f32 (masking by assignment, or by multiplication with mul)."""
    x = np.asarray(x).astype(np.float32) / np.float32(temperature)
    y = np.asarray(y)
    if shift == "next":
        x, y = x[:, :-1], y[:, 1:]
        mask = mask[:, 1:] if mask is not None else None
    valid = y != ignore_index
    if mask is not None:
        valid &= np.asarray(mask).astype(bool)
    safe = np.where(valid, y, 0)
    mx = x.max(-1, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, np.float32(0))
    with np.errstate(all="ignore"):
        lse = np.log(np.exp(x - mx).sum(-1, dtype=np.float32)) + mx[..., 0]
        logp = np.take_along_axis(x, safe[..., None], -1)[..., 0] - lse
        logp = logp * valid.astype(np.float32) if mul else np.where(valid, logp, np.float32(0))
        s = logp.sum(-1, dtype=np.float32)
        mean = s / valid.sum(-1).astype(np.float32)
    return dict(logp=logp.astype(np.float32), sum=s.astype(np.float32), mean=mean.astype(np.float32))


@pytest.mark.parametrize("variant", ["good", "perturbed", "masked_nan"])
def test_check_equals_cli(lpcert_bin, tmp_path, variant):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((4, 9, 16)) * 3).astype(np.float32)
    y = rng.integers(0, 16, (4, 9))
    m = (rng.random((4, 9)) < 0.85).astype(np.uint8)
    if variant == "masked_nan":
        x[2, 3, :] = np.nan
        m[2, 4] = 0          # row 3 scores t=4, masked: its NaN must not leak
    o = np_logps(x, y, m, "next", -100, 1.0, mul=variant == "masked_nan")
    if variant == "perturbed":
        o["logp"][1, 2] = np.nextafter(np.nextafter(o["logp"][1, 2], 0), 0) * np.float32(1.00001)
    paths = {}
    for k, v in [("x", x), ("y", y), ("m", m)] + list(o.items()):
        paths[k] = str(tmp_path / (k + ".npy"))
        np.save(paths[k], v)
    js = str(tmp_path / "cli.json")
    p = subprocess.run([lpcert_bin, "check", "--logits", paths["x"], "--labels", paths["y"], "--mask",
                        paths["m"], "--logp", paths["logp"], "--sum", paths["sum"], "--mean",
                        paths["mean"], "--json", js, "--max-ulp", "2"], capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    r = lpcert.check(x, y, mask=m, logp=o["logp"], sum=o["sum"], mean=o["mean"], max_ulp=2)
    cli = json.load(open(js))
    mine = r.data
    assert r.passed == (p.returncode == 0) == (variant == "good"), str(r)
    # "judge": the CLI's one-case route (lp_check_one) decided the same values the same way
    for key in ("groups", "bounds", "semantics", "conventions", "diagnoses", "cases", "values", "judge"):
        assert mine[key] == cli[key], "%s differs:\n%s\n%s" % (key, mine[key], cli[key])
    # the text report: the same table and verdict (the header names files there, memory here)
    tail = lambda t: "\n".join(ln for ln in t[t.index("\nclass "):].split("\n")  # noqa: E731
                               if not ln.lstrip().startswith("repro: lpcert check"))
    assert tail(str(r)) == tail(p.stdout)
    assert [g["max_ulp"] for g in r.groups] == pytest.approx([g["max_ulp"] for g in cli["groups"]], rel=1e-14)
    assert [g["n"] for g in r.groups] == [g["n"] for g in cli["groups"]]
    if variant == "masked_nan":
        assert any(d["kind"] == "nan_leak" for d in r.diagnoses)
        assert any(g["nan_leaks"] > 0 for g in r.groups)
    if variant != "good":
        assert r.worst is not None and r.worst["case"] == "input"


def test_report_files_not_half_written(tmp_path):
    x = np.zeros((1, 3, 4), np.float32)
    y = np.zeros((1, 3), np.int64)
    r = lpcert.check(x, y, sum=np.full(1, -2 * np.log(4), np.float32))
    bad = str(tmp_path / "no" / "such" / "dir" / "r.json")
    with pytest.raises(ValueError):
        r.write_json(bad)
    assert not os.path.exists(os.path.dirname(bad))
    r.write_json(str(tmp_path / "r.json"))
    r.write_certificate(str(tmp_path / "c.md"))
    assert sorted(os.listdir(tmp_path)) == ["c.md", "no", "r.json"] or sorted(os.listdir(tmp_path)) == ["c.md", "r.json"]
    assert json.load(open(tmp_path / "r.json")) == r.data


def test_assert_logps():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 9)).astype(np.float32)
    y = rng.integers(0, 9, (2, 6))
    r = lpcert.testing.assert_logps(np_logps, x, y, max_ulp=2)
    assert r.passed
    with pytest.raises(AssertionError) as e:
        lpcert.testing.assert_logps(lambda *a: dict(logp=np_logps(*a)["logp"] * np.float32(1.001)), x, y,
                                    max_ulp=2)
    msg = str(e.value)
    assert "worst value: input token" in msg and "got  0x" in msg and "verdict: FAIL" in msg, msg


# ---- certify a NumPy callable ---------------------------------------------------------------------

def test_certify_numpy_callable():
    r = lpcert.certify(lambda *a: np_logps(*a), dtypes="f32", families="normal,masks,neginf",
                       torch=False, empty_mean="nan", seconds=0.3)
    d = r.data
    assert d["command"] == "certify" and "kernel given in memory" in d["candidate"], d["candidate"]
    classes = {g["class"] for g in r.groups}
    assert {"normal/f32", "masks/f32", "neginf/f32"} <= classes, classes
    assert any(c.startswith("random/f32") for c in classes), classes
    assert d["batch_invariance"]["checks"] > 0 and d["batch_invariance"]["failures"] == 0
    assert not r.kernel_errors
    assert "verdict:" in str(r)


def test_certify_kernel_errors_are_reported():
    calls = []

    def fn(x, y, m, shift, ii, t):
        calls.append(1)
        if len(calls) > 1 and x.shape[0] > 1:
            raise RuntimeError("boom")
        return np_logps(x, y, m, shift, ii, t)
    r = lpcert.certify(fn, dtypes="f32", families="normal", torch=False, batch_invariance="off")
    assert not r.passed
    assert any(d["kind"] == "kernel_error" and "RuntimeError: boom" in d["example"] for d in r.diagnoses)
    assert "boom" in r.kernel_errors[0]


def test_certify_interrupt_stops():
    calls = []

    def fn(*a):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np_logps(*a)
    with pytest.raises(KeyboardInterrupt):
        lpcert.certify(fn, dtypes="f32", torch=False)
    assert len(calls) == 3
