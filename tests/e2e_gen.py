"""tests/e2e_gen.py: `lpcert gen` end to end: deterministic output for a seed, the suite layout of
SPEC B, expected results equal to `lpcert ref` run on the extracted case, a sample of token values
against mpmath (independent of MPFR), the family properties that can be checked from the outside
(shifted rows give identical bits, the uniform family gives -log V), --family and --dtype lists
(comma-separated or repeated: the same cases as in the whole suite), and usage errors (any other
option given twice among them).

usage: python3 tests/e2e_gen.py path/to/lpcert
"""
import math
import os
import struct
import sys
import tempfile

import mpmath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensors as tz  # noqa: E402
from e2e_kit import Kit  # noqa: E402

KIT = Kit("e2e_gen", sys.argv[1])
check, run = KIT.check, KIT.run


def decode(dt, raw):
    code = {"F64": "d", "F32": "f", "I64": "q", "U8": "B"}.get(dt)
    if code:
        return list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(code), code), raw))
    u = tz.bits(dt, raw)
    if dt == "BF16":
        return [struct.unpack("<f", struct.pack("<I", x << 16))[0] for x in u]
    return [struct.unpack("<e", struct.pack("<H", x))[0] for x in u]


def f64_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def main():
    d = tempfile.mkdtemp(prefix="lpcert_gen_")
    A, B = os.path.join(d, "a.safetensors"), os.path.join(d, "b.safetensors")
    fams = "normal,shifted_rows,uniform,peaked,nonfinite,masks".split(",")
    for fam in fams:
        rc1, _, e1 = run("gen", "--family", fam, "--seed", "7", "--out", A)
        rc2, _, e2 = run("gen", "--family", fam, "--seed", "7", "--threads", "1", "--out", B)
        check(rc1 == 0 and rc2 == 0, "gen %s: exit %d %d %r" % (fam, rc1, rc2, e1 + e2))
        with open(A, "rb") as f, open(B, "rb") as g:
            check(f.read() == g.read(), "gen %s: same seed, different bytes" % fam)
        ts, meta = tz.read_safetensors(A)
        check(meta.get("seed") == "7" and meta.get("format") == "lpcert-suite-1", "metadata %r" % meta)
        names = sorted({k.split("/")[1] + "/" + k.split("/")[2] + "/" + k.split("/")[3]
                        for k in ts if k.startswith("case/")})
        check(len(names) == int(meta["cases"]) and len(names) >= 4, "%s: %d cases" % (fam, len(names)))
        for name in names:
            p = "case/%s/" % name
            for key in ("logits", "labels", "expected/logp.f64", "expected/sum.f32", "expected/count",
                        "expected/token_mean.bf16"):
                check(p + key in ts, "%s: missing %s" % (name, p + key))
            for key in ("shift", "ignore_index", "temperature", "empty_mean", "family", "dtype"):
                check(p + key in meta, "%s: metadata %s missing" % (name, p + key))
        # the first case of the family, extracted and recomputed by lpcert ref
        name = names[0]
        p = "case/%s/" % name
        inp = os.path.join(d, "in.safetensors")
        dt_map = {"F64": "f64", "F32": "f32", "F16": "f16", "BF16": "bf16"}
        lg = ts[p + "logits"]
        vals = decode(lg[0], lg[2])
        tens = [("logits", dt_map[lg[0]], lg[1], vals), ("labels", "i64", ts[p + "labels"][1], decode("I64", ts[p + "labels"][2]))]
        args = ["--logits", inp + ":logits", "--labels", inp + ":labels"]
        if p + "mask" in ts:
            tens.append(("mask", "u8", ts[p + "mask"][1], decode("U8", ts[p + "mask"][2])))
            args += ["--mask", inp + ":mask"]
        tz.write_safetensors(inp, tens)
        out = os.path.join(d, "ref.safetensors")
        tau = float.fromhex(meta[p + "temperature"])
        rc, _, err = run("ref", *args, "--shift", meta[p + "shift"], "--ignore-index", meta[p + "ignore_index"],
                         "--temperature", repr(tau), "--empty-mean", meta[p + "empty_mean"], "--out", out)
        check(rc == 0, "%s: ref on the extracted case: %r" % (name, err))
        if rc == 0:
            r, _ = tz.read_safetensors(out)
            for k in r:
                check(r[k][2] == ts[p + "expected/" + k][2], "%s: ref's %s differs from gen's expected" % (name, k))
        # an independent oracle on the counted tokens of that case (f64 bits)
        Bn, T, V = lg[1]
        shift_next = meta[p + "shift"] == "next"
        labels = decode("I64", ts[p + "labels"][2])
        mask = decode("U8", ts[p + "mask"][2]) if p + "mask" in ts else [1] * (Bn * T)
        ign = int(meta[p + "ignore_index"])
        logp = decode("F64", ts[p + "expected/logp.f64"][2])
        Ts = T - 1 if shift_next else T
        mpmath.mp.prec = 300
        for b in range(Bn):
            for t in range(min(Ts, 6)):
                tl = t + 1 if shift_next else t
                y = labels[b * T + tl]
                if y == ign or not mask[b * T + tl]:
                    continue
                row = vals[(b * T + t) * V:(b * T + t + 1) * V]
                if any(math.isnan(x) or x == math.inf for x in row) or row[y] == -math.inf:
                    continue
                xs = [mpmath.mpf(x) / mpmath.mpf(tau) for x in row if x != -math.inf]
                x = mpmath.mpf(row[y]) / mpmath.mpf(tau) - mpmath.log(mpmath.fsum(mpmath.exp(v) for v in xs))
                check(f64_bits(float(x)) == f64_bits(logp[b * Ts + t]),
                      "%s b=%d t=%d: mpmath %s, lpcert %r" % (name, b, t, mpmath.nstr(x, 20), logp[b * Ts + t]))
        if fam == "shifted_rows":
            for n in names:
                lp = decode("F64", ts["case/%s/expected/logp.f64" % n][2])
                check(len(set(f64_bits(v) for v in lp)) == 1, "%s: shifted rows differ: %r" % (n, lp))
        if fam == "uniform":
            for n in names:
                Vn = ts["case/%s/logits" % n][1][2]
                lp = decode("F64", ts["case/%s/expected/logp.f64" % n][2])
                check(all(f64_bits(v) == f64_bits(-float(mpmath.log(Vn))) for v in lp), "%s: -log %d" % (n, Vn))

    rc, out, _ = run("gen", "--list")
    check(rc == 0 and len(out.strip().split("\n")) >= 17, "--list: %d lines" % len(out.split("\n")))
    for args, needle in ((["--family", "nope", "--out", A], "nope"), (["--dtype", "f8", "--out", A], "f8"),
                         (["--seed", "-3", "--out", A], "seed"), (["--family", "normal"], "--out"),
                         (["--family", "normal,nope", "--out", A], "unknown family 'nope'"),
                         (["--family", "normal,", "--out", A], "empty name in the list 'normal,'"),
                         (["--dtype", "f32,f8", "--out", A], "'f8'"),
                         (["--seed", "1", "--seed", "2", "--out", A], "--seed given more than once"),
                         (["--threads", "1", "--threads", "1", "--out", A], "--threads given more than once"),
                         (["--out", A, "--out", B], "--out given more than once")):
        rc, out, err = run("gen", *args)
        check(rc == 2 and err.count("\n") == 1 and needle in err and out == "", "gen %s: exit %d %r" % (args, rc, err))

    # --family and --dtype take lists and a repeated one adds to the list; the cases are those of
    # the whole suite (each family and format has its own random stream), in the order of --list
    W = os.path.join(d, "whole.safetensors")
    rc, _, err = run("gen", "--seed", "5", "--dtype", "f32,bf16", "--out", W)
    check(rc == 0, "gen whole f32,bf16: %r" % err)
    whole, _ = tz.read_safetensors(W)
    runs = (["--family", "normal,peaked", "--dtype", "f32", "--dtype", "bf16"],
            ["--family", "peaked", "--family", "normal", "--dtype", "bf16,f32"])
    files = []
    for k, args in enumerate(runs):
        P = os.path.join(d, "list%d.safetensors" % k)
        rc, _, err = run("gen", "--seed", "5", *args, "--out", P)
        check(rc == 0 and "(normal,peaked, seed 5)" in err, "gen %s: exit %d %r" % (args, rc, err))
        if rc != 0:
            continue
        with open(P, "rb") as f:
            files.append(f.read())
        ts, meta = tz.read_safetensors(P)
        fams = {k.split("/")[1] for k in ts if k.startswith("case/")}
        dts = {k.split("/")[2] for k in ts if k.startswith("case/")}
        check(fams == {"normal", "peaked"} and dts == {"f32", "bf16"}, "gen %s: %r %r" % (args, fams, dts))
        sub = {k: v for k, v in whole.items() if k.split("/")[1] in fams}
        check(ts == sub, "gen %s: the cases differ from those of the whole suite" % args)
    check(len(files) == 2 and files[0] == files[1], "--family a,b and --family b --family a: different bytes")
    rc, _, err = run("gen", "--seed", "5", "--family", "normal", "--family", "all", "--dtype", "f32",
                     "--dtype", "bf16", "--out", A)
    check(rc == 0 and "all families" in err, "--family normal --family all: %r" % err)
    if rc == 0:
        with open(A, "rb") as f, open(W, "rb") as g:
            check(f.read() == g.read(), "--family normal --family all differs from the whole suite")
    return KIT.end()


if __name__ == "__main__":
    sys.exit(main())
