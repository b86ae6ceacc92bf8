"""python/tests/test_torch.py: the PyTorch part of the Python API (skipped without torch; Debian's
python3-torch, installed by LPCERT_TORCH=1 ./test): bf16 tensors in and out of lpcert.ref against
`lpcert ref`, lpcert.check on torch's outputs against `lpcert check`, and lpcert.certify on
torch.log_softmax-based functions (f32, bf16, and the multiply-mask variant whose NaN leak must be
named), its figures equal to the files route's on the same suite."""
import json
import struct
import subprocess

import numpy as np
import pytest

import lpcert
from lpcert._inputs import read_safetensors
from test_lpcert import assert_same_bits, case_args, suite_cases

torch = pytest.importorskip("torch")


def torch_logps(logits, labels, mask, shift, ignore_index, temperature, mul=False):
    """The README's kernel: plain PyTorch two-pass in f32, masking by assignment (or mul: DPO's
    logp * mask, which leaks the NaN of a masked row into the sum)."""
    x = logits.float() / temperature
    if shift == "next":
        x, labels = x[:, :-1], labels[:, 1:]
        mask = mask[:, 1:] if mask is not None else None
    valid = labels != ignore_index
    if mask is not None:
        valid &= mask.bool()
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    logp = torch.log_softmax(x, dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    logp = logp * valid.float() if mul else torch.where(valid, logp, torch.zeros_like(logp))
    s = logp.sum(-1)
    return dict(logp=logp, sum=s, mean=s / valid.sum(-1))


def bf16_logps(logits, labels, mask, shift, ignore_index, temperature):
    """The same in the logits' own dtype (bf16 in, bf16 out), as a bf16 pipeline computes it."""
    o = torch_logps(logits, labels, mask, shift, ignore_index, temperature)
    return {k: v.to(logits.dtype) for k, v in o.items()}


def test_ref_bf16_torch_equals_cli(lpcert_bin, tmp_path):
    """The issue's "done when": lpcert.ref(x_bf16, y) has the bits of `lpcert ref` on the same data;
    every output is a torch tensor, the bf16 ones torch.bfloat16."""
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(3, 17, 50, generator=g) * 5).to(torch.bfloat16)
    y = torch.randint(0, 50, (3, 17), generator=g)
    y[0, 4] = -100
    np.save(tmp_path / "x.npy", x.view(torch.int16).numpy().view(np.uint16))
    np.save(tmp_path / "y.npy", y.numpy())
    out = str(tmp_path / "o.safetensors")
    subprocess.run([lpcert_bin, "ref", "--logits", str(tmp_path / "x.npy"), "--labels",
                    str(tmp_path / "y.npy"), "--dtype", "bf16", "--out", out], check=True, capture_output=True)
    r = lpcert.ref(x, y)
    assert r["logp.bf16"].dtype == torch.bfloat16 and r["sum.bf16"].dtype == torch.bfloat16
    assert r["logp.f16"].dtype == torch.float16 and r["count"].dtype == torch.int64
    for k, v in r.items():
        assert isinstance(v, torch.Tensor), k
        got = v.view(torch.int16).numpy() if v.dtype == torch.bfloat16 else v.numpy()
        want, _ = read_safetensors(out, k)
        assert_same_bits(got, np.asarray(want), k)


@pytest.mark.parametrize("dt", ["float64", "float32", "float16", "bfloat16"])
def test_ref_torch_dtypes_and_errors(dt):
    x = torch.randn(2, 5, 9).to(getattr(torch, dt))
    y = torch.randint(0, 9, (2, 5))
    r = lpcert.ref(x, y, formats="f32")
    want = lpcert.ref(x.float() if dt != "float64" else x, y, formats="f32") if dt in ("float16",) else r
    assert torch.equal(r["logp.f32"], want["logp.f32"])
    with pytest.raises(ValueError, match=r"^lpcert ref: logits: the tensor is not contiguous"):
        lpcert.ref(x.transpose(0, 1), y.transpose(0, 1))
    with pytest.raises(ValueError, match=r"^lpcert ref: labels: labels dtype F32 is not I64 or I32$"):
        lpcert.ref(x, y.float())
    with pytest.raises(ValueError, match=r"^lpcert ref: logits: logits dtype I64 is not F64"):
        lpcert.ref(y.unsqueeze(-1), y)
    bad = y.clone()
    bad[1, 3] = 9
    with pytest.raises(ValueError, match=r"^lpcert ref: labels: labels\[b=1,t=3\]: label 9 outside \[0, 9\)"):
        lpcert.ref(x, bad)


def write_safetensors(path, tensors):
    """A minimal safetensors writer (name -> numpy array; bf16 given as ('BF16', uint16 array))."""
    names = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        dt, a = v if isinstance(v, tuple) else (names[v.dtype], v)
        b = np.ascontiguousarray(a).tobytes()
        header[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def as_np(t):
    return ("BF16", t.contiguous().view(torch.int16).numpy().view(np.uint16)) if t.dtype == torch.bfloat16 \
        else t.contiguous().numpy()


def test_check_torch_outputs_equal_cli(suite, lpcert_bin, tmp_path):
    """lpcert.check on torch's f32 outputs for suite cases: the verdict and figures of `lpcert check
    --logits --labels --logp --sum --mean` on the same data."""
    header, meta, names = suite_cases(suite)
    for name in [n for n in names if "/f32/" in n or "/bf16/" in n][::6]:
        x, y, kw = case_args(suite, header, meta, name)
        xa = np.array(read_safetensors(suite, "case/%s/logits" % name)[0])
        xt = torch.from_numpy(xa.view(np.int16)).view(torch.bfloat16) if "/bf16/" in name else torch.from_numpy(xa)
        yt = torch.from_numpy(np.array(read_safetensors(suite, "case/%s/labels" % name)[0]))
        mt = torch.from_numpy(np.array(read_safetensors(suite, kw["mask"].split(":", 1)[1])[0])) \
            if "mask" in kw else None
        o = torch_logps(xt, yt, mt, kw["shift"], kw["ignore_index"], kw["temperature"])
        files = {}
        for k, v in o.items():
            files[k] = str(tmp_path / (k + ".npy"))
            np.save(files[k], v.numpy())
        js = str(tmp_path / "c.json")
        a = [lpcert_bin, "check", "--logits", x, "--labels", y, "--shift", kw["shift"], "--ignore-index",
             str(kw["ignore_index"]), "--temperature", kw["temperature"].hex(), "--empty-mean",
             kw["empty_mean"], "--logp", files["logp"], "--sum", files["sum"], "--mean", files["mean"],
             "--json", js]
        if mt is not None:
            a += ["--mask", kw["mask"]]
        p = subprocess.run(a, capture_output=True, text=True)
        assert p.returncode in (0, 1), p.stderr
        r = lpcert.check(xt, yt, mask=mt, shift=kw["shift"], ignore_index=kw["ignore_index"],
                         temperature=kw["temperature"], empty_mean=kw["empty_mean"], **o)
        cli = json.load(open(js))
        assert r.passed == (p.returncode == 0), name
        for key in ("groups", "conventions", "diagnoses", "values"):
            assert r.data[key] == cli[key], "%s: %s differs" % (name, key)


def test_certify_f32_equals_files_route(suite, lpcert_bin, tmp_path):
    """certify(torch_logps, suite=SUITE) gives the figures of the files route on that suite (the
    candidate file written from the same function, judged by `lpcert check SUITE CANDIDATE`)."""
    header, meta, names = suite_cases(suite)
    keep = [n for n in names if "/f32/" in n or "/bf16/" in n]
    cand = {}
    for name in keep:
        p = "case/%s/" % name
        x = np.array(read_safetensors(suite, p + "logits")[0])
        xt = torch.from_numpy(x.view(np.int16)).view(torch.bfloat16) if "/bf16/" in name else torch.from_numpy(x)
        yt = torch.from_numpy(np.array(read_safetensors(suite, p + "labels")[0]))
        mt = torch.from_numpy(np.array(read_safetensors(suite, p + "mask")[0])) if p + "mask" in header else None
        o = torch_logps(xt, yt, mt, meta[p + "shift"], int(meta[p + "ignore_index"]),
                        float.fromhex(meta[p + "temperature"]))
        for k, v in o.items():
            cand[p + k] = as_np(v)
    cpath = str(tmp_path / "cand.safetensors")
    write_safetensors(cpath, cand)
    js = str(tmp_path / "files.json")
    pr = subprocess.run([lpcert_bin, "check", suite, cpath, "--cases", "*/f32/*,*/bf16/*", "--json", js],
                        capture_output=True, text=True)
    assert pr.returncode in (0, 1), pr.stderr
    r = lpcert.certify(torch_logps, suite=suite, dtypes="f32,bf16", batch_invariance="require")
    files, mine = json.load(open(js)), r.data
    assert r.passed == (pr.returncode == 0)
    assert mine["groups"] == files["groups"]
    assert mine["conventions"] == files["conventions"]
    assert mine["batch_invariance"]["checks"] > 0 and mine["batch_invariance"]["failures"] == 0
    assert not r.kernel_errors, r.kernel_errors[0]


def test_certify_standard_suite_f32_bf16_and_mul_leak():
    """The standard suite in memory: the f32 kernel (assignment masking: no leak), the bf16-out
    kernel, and the multiply-mask variant, whose NaN leak the report names."""
    r = lpcert.certify(torch_logps, dtypes="f32")
    d = r.data
    assert d["conventions"]["masking"]["observed"] == "assign", d["conventions"]
    assert not any(x["kind"] == "nan_leak" for x in r.diagnoses)
    assert {g["class"].split("/")[1] for g in r.groups} == {"f32"}
    assert "kernel given in memory: torch_logps" in d["candidate"], d["candidate"]
    assert "verdict:" in str(r)

    rb = lpcert.certify(bf16_logps, dtypes="bf16", seconds=0.5)
    assert {g["format"] for g in rb.groups} == {"bf16"}
    assert any(g["class"].startswith("random/bf16") for g in rb.groups)
    assert rb.data["batch_invariance"]["failures"] == 0

    def mul_logps(*a):
        return torch_logps(*a, mul=True)
    rm = lpcert.certify(mul_logps, dtypes="f32")
    assert not rm.passed
    leak = [x for x in rm.diagnoses if x["kind"] == "nan_leak"]
    assert leak and leak[0]["count"] > 0, rm.diagnoses
    assert any(g["nan_leaks"] > 0 for g in rm.groups)
    assert rm.data["conventions"]["masking"]["observed"] == "mul"
    assert "NaN" in str(rm) and "leak" in str(rm)


def test_assert_logps_torch():
    x = torch.randn(2, 8, 30)
    y = torch.randint(0, 30, (2, 8))
    lpcert.testing.assert_logps(torch_logps, x, y)
    xb = x.to(torch.bfloat16)
    lpcert.testing.assert_logps(bf16_logps, xb, y)
    m = torch.ones(2, 8, dtype=torch.uint8)
    m[1, 3] = 0
    xn = x.clone()
    xn[1, 2] = float("nan")     # row 2 scores t=3, which the mask drops
    with pytest.raises(AssertionError, match=r"worst value: input (sum|mean)"):
        lpcert.testing.assert_logps(lambda *a: torch_logps(*a, mul=True), xn, y, mask=m)


def test_readme_from_python_block_runs():
    """README.md's "From Python" example runs as written (the installed package's route)."""
    import os
    import re
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    text = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    sec = text[text.index("### From Python"):text.index("### The PyTorch route, in full")]
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    env = {}
    exec(compile(code, "README.md (From Python)", "exec"), env)
    assert env["exact"]["logp.bf16"].dtype == torch.bfloat16
    assert isinstance(env["report"], lpcert.Report)
