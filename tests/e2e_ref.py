"""tests/e2e_ref.py: `lpcert ref` end to end, on files written the way numpy and safetensors write
them: values checked against mpmath (an oracle independent of MPFR), every output tensor's name,
dtype and shape, --json against the file, and every input error: exit 2, one line on stderr naming
the file (with the labels' shape on a shape mismatch, the '<u2' hint on an int16 array), no output
file left behind; a repeated option is an error (a repeated --formats adds), --out must end in
.safetensors.

usage: python3 tests/e2e_ref.py path/to/lpcert
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

KIT = Kit("e2e_ref", sys.argv[1])
check, run = KIT.check, KIT.run


def f64_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def exact_logp(row, y):
    mpmath.mp.prec = 400
    xs = [mpmath.mpf(v) for v in row if v != -math.inf]
    return mpmath.mpf(row[y]) - mpmath.log(mpmath.fsum(mpmath.exp(v) for v in xs))


def main():
    d = tempfile.mkdtemp(prefix="lpcert_e2e_")
    B, T, V = 2, 4, 5
    logits = [((b * 31 + t * 7 + v * 3) % 13) * 0.375 - 2.0 for b in range(B) for t in range(T) for v in range(V)]
    logits[(1 * T + 1) * V + 2] = 9.5          # a peaked row
    labels = [1, 2, 4, 0, 3, -100, 1, 2]
    mask = [1, 1, 1, 1, 1, 1, 0, 1]
    L, Y, M, O = (os.path.join(d, n) for n in ("L.npy", "Y.npy", "M.npy", "O.safetensors"))
    tz.write_npy(L, "f32", (B, T, V), logits)
    tz.write_npy(Y, "i64", (B, T), labels)
    tz.write_npy(M, "bool", (B, T), mask)
    rc, out, err = run("ref", "--logits", L, "--labels", Y, "--mask", M, "--out", O)
    check(rc == 0, "ref on npy inputs: exit %d, stderr %r" % (rc, err))
    check(err.count("\n") == 1 and "lpcert ref:" in err, "one summary line on stderr: %r" % err)
    ts, meta = tz.read_safetensors(O)
    Ts = T - 1
    want = {"counted": ("U8", [B, Ts]), "count": ("I64", [B])}
    for stem, shape in (("logp", [B, Ts]), ("sum", [B]), ("mean", [B]), ("token_mean", [1])):
        for suf, dt in (("f64", "F64"), ("f32", "F32"), ("f16", "F16"), ("bf16", "BF16"), ("hi", "F64"), ("lo", "F64")):
            want[stem + "." + suf] = (dt, shape)
    for name, (dt, shape) in want.items():
        check(name in ts and ts[name][0] == dt and ts[name][1] == shape,
              "output tensor %s: want %s %s, got %s" % (name, dt, shape, ts.get(name, ("absent",))[:2]))
    check(meta.get("shift") == "next" and meta.get("dtype") == "f32", "metadata %r" % meta)
    # values: f64 against mpmath, per counted token; sums and means from the exact token values
    got = tz.bits("F64", ts["logp.f64"][2])
    counted = tz.bits("U8", ts["counted"][2])
    sums = tz.bits("F64", ts["sum.f64"][2])
    for b in range(B):
        s, n = mpmath.mpf(0), 0
        for t in range(Ts):
            y, m = labels[b * T + t + 1], mask[b * T + t + 1]
            c = int(y != -100 and m == 1)
            check(counted[b * Ts + t] == c, "counted[%d,%d] = %d, want %d" % (b, t, counted[b * Ts + t], c))
            if not c:
                check(got[b * Ts + t] == 0x7FF8000000000000, "not counted -> NaN at %d,%d" % (b, t))
                continue
            row = logits[(b * T + t) * V:(b * T + t + 1) * V]
            x = exact_logp(row, y)
            s += x
            n += 1
            w = f64_bits(float(x))
            check(got[b * Ts + t] == w, "logp b=%d t=%d y=%d: want 0x%016x (%s) got 0x%016x"
                  % (b, t, y, w, mpmath.nstr(x, 20), got[b * Ts + t]))
        check(sums[b] == f64_bits(float(s)), "sum b=%d: want 0x%016x got 0x%016x" % (b, f64_bits(float(s)), sums[b]))
        check(tz.bits("I64", ts["count"][2])[b] == n, "count b=%d" % b)

    # --json agrees with the file; no --out needed
    rc, out, err = run("ref", "--logits", L, "--labels", Y, "--mask", M, "--json")
    import json
    j = json.loads(out) if rc == 0 else {}
    check(rc == 0 and len(j.get("tokens", [])) == B * Ts, "--json: exit %d" % rc)
    if rc == 0:
        check(all(int(e["f64"], 16) == got[i] for i, e in enumerate(j["tokens"])), "--json f64 bits = file")
        check(int(j["sequences"][0]["sum"]["f64"], 16) == sums[0], "--json sum = file")

    # safetensors inputs with tensor names, int32 labels, shift none, temperature, bf16 from '<u2'
    S = os.path.join(d, "in.safetensors")
    tz.write_safetensors(S, [("logits", "bf16", (B, T, V), logits), ("labels", "i32", (B, T), [0, 1, 2, 3, 4, 0, 1, 2])])
    O2 = os.path.join(d, "O2.safetensors")
    rc, out, err = run("ref", "--logits", S + ":logits", "--labels", S + ":labels", "--shift", "none",
                       "--temperature", "0.5", "--out", O2)
    check(rc == 0, "safetensors bf16 + i32, shift none, T=0.5: exit %d %r" % (rc, err))
    if rc == 0:
        t2, _ = tz.read_safetensors(O2)
        check(t2["logp.f64"][1] == [B, T], "shift none keeps T positions: %r" % (t2["logp.f64"][1],))
        row = [struct.unpack("<f", struct.pack("<I", tz.f32_to_bf16_bits(v) << 16))[0] / 0.5 for v in logits[:V]]
        w = f64_bits(float(exact_logp(row, 0)))
        check(tz.bits("F64", t2["logp.f64"][2])[0] == w, "bf16 tau=0.5 token 0: want 0x%016x" % w)
    U = os.path.join(d, "U.npy")
    tz.write_npy(U, "bf16", (B, T, V), logits)   # '<u2' on disk
    O3 = os.path.join(d, "O3.safetensors")
    rc, _, err = run("ref", "--logits", U, "--labels", Y, "--dtype", "bf16", "--out", O3)
    check(rc == 0, "'<u2' npy with --dtype bf16: exit %d %r" % (rc, err))

    # input errors: exit 2, one line, no output left behind
    bad_label = os.path.join(d, "Ybad.npy")
    tz.write_npy(bad_label, "i64", (B, T), [1, 2, 4, 0, 3, -100, 7, 2])   # masked, still an error
    short = os.path.join(d, "short.npy")
    with open(L, "rb") as f:
        data = f.read()
    with open(short, "wb") as f:
        f.write(data[:len(data) - 7])
    trunc = os.path.join(d, "trunc.safetensors")
    with open(S, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[:20])
    wrong = os.path.join(d, "Y3.npy")
    tz.write_npy(wrong, "i64", (B, T - 1), [0] * (B * (T - 1)))
    fl = os.path.join(d, "Yf.npy")
    tz.write_npy(fl, "f32", (B, T), [0.0] * (B * T))
    E = os.path.join(d, "E.safetensors")
    mshort = os.path.join(d, "Mshort.npy")
    tz.write_npy(mshort, "u8", (B, T - 1), [1] * (B * (T - 1)))
    i2 = os.path.join(d, "I2.npy")
    tz.write_npy(i2, "bf16", (B, T, V), logits, descr="<i2")   # bf16 bits through torch's int16 view
    hint = "save them as '<u2' (x.view(torch.int16).numpy().view('<u2'), or numpy .view('<u2'))"
    cases = [
        ("label out of range (masked)", ["--logits", L, "--labels", bad_label, "--mask", M],
         [bad_label + ": labels[b=1,t=2]: label 7 outside [0, 5)"]),
        ("wrong labels shape", ["--logits", L, "--labels", wrong],
         [wrong + ": labels shape does not match logits [B=2, T=4, V=5]: labels are [2, 3], expected [2, 4]"]),
        ("mask shape", ["--logits", L, "--labels", Y, "--mask", mshort],
         [mshort + ": mask shape does not match labels: mask [2, 3], labels [2, 4]"]),
        ("int16 logits", ["--logits", i2, "--labels", Y, "--dtype", "bf16"], [i2 + ": ", "'<i2'", hint]),
        ("repeated --out", ["--logits", L, "--labels", Y, "--out", E], ["--out given more than once"]),
        ("repeated --labels", ["--logits", L, "--labels", Y, "--labels", wrong], ["--labels given more than once"]),
        ("repeated --dtype", ["--logits", L, "--labels", Y, "--dtype", "f32", "--dtype", "f32"], ["--dtype given more"]),
        ("truncated npy", ["--logits", short, "--labels", Y], ["short.npy"]),
        ("truncated safetensors", ["--logits", trunc + ":logits", "--labels", Y], ["trunc.safetensors"]),
        ("unknown dtype", ["--logits", L, "--labels", Y, "--dtype", "f8"], ["f8"]),
        ("dtype disagrees", ["--logits", L, "--labels", Y, "--dtype", "f16"], ["f16"]),
        ("u2 without --dtype bf16", ["--logits", U, "--labels", Y], ["bf16"]),
        ("float labels", ["--logits", L, "--labels", fl], ["labels"]),
        ("missing file", ["--logits", os.path.join(d, "nope.npy"), "--labels", Y], ["nope.npy"]),
        ("missing tensor name", ["--logits", S + ":nothere", "--labels", Y], ["nothere"]),
        ("no --labels", ["--logits", L], ["--labels"]),
        ("bad temperature", ["--logits", L, "--labels", Y, "--temperature", "-1"], ["temperature"]),
        ("unknown option", ["--logits", L, "--labels", Y, "--frobnicate", "1"], ["frobnicate"]),
    ]
    for what, args, needles in cases:
        for stale in (E, E + ".tmp"):
            if os.path.exists(stale):
                os.remove(stale)
        rc, out, err = run("ref", *args, "--out", E)
        check(rc == 2, "%s: exit %d, want 2 (stderr %r)" % (what, rc, err))
        check(err.count("\n") == 1, "%s: want one stderr line, got %r" % (what, err))
        check(all(n in err for n in needles), "%s: message %r should name %r" % (what, err.strip(), needles))
        check(not os.path.exists(E) and not os.path.exists(E + ".tmp"), "%s: output file left behind" % what)
        check(out == "", "%s: nothing on stdout" % what)

    # --out must name a safetensors file: x.npy is a usage error, and nothing is written
    X = os.path.join(d, "x.npy")
    rc, out, err = run("ref", "--logits", L, "--labels", Y, "--out", X)
    check(rc == 2 and err.count("\n") == 1 and "--out '%s': the output is a safetensors file" % X in err,
          "--out x.npy: exit %d %r" % (rc, err))
    check(not os.path.exists(X) and not os.path.exists(X + ".tmp"), "--out x.npy: file written")

    # a repeated --formats adds to the list: the same file as one list
    F1, F2, F3 = (os.path.join(d, n) for n in ("F1.safetensors", "F2.safetensors", "F3.safetensors"))
    r1 = run("ref", "--logits", L, "--labels", Y, "--formats", "f32,bf16", "--out", F1)
    r2 = run("ref", "--logits", L, "--labels", Y, "--formats", "f32", "--formats", "bf16", "--out", F2)
    r3 = run("ref", "--logits", L, "--labels", Y, "--formats", "f32", "--out", F3)
    check(r1[0] == 0 and r2[0] == 0 and r3[0] == 0, "--formats runs: %r %r %r" % (r1[2], r2[2], r3[2]))
    if r1[0] == 0 and r2[0] == 0 and r3[0] == 0:
        with open(F1, "rb") as f, open(F2, "rb") as g, open(F3, "rb") as h:
            a, b, c = f.read(), g.read(), h.read()
        # the files name their inputs, not their own path: equal bytes when the outputs agree
        check(a == b, "--formats f32 --formats bf16 differs from --formats f32,bf16")
        check(a != c, "--formats f32 --formats bf16 is the same as --formats f32 alone")

    # the same hint where `lpcert check` reads a candidate output saved as '<i2'
    P = os.path.join(d, "P.npy")
    tz.write_npy(P, "bf16", (B, T - 1), [-1.0] * (B * (T - 1)), descr="<i2")
    rc, out, err = run("check", "--logits", L, "--labels", Y, "--logp", P)
    check(rc == 2 and P + ": " in err and hint in err, "check on a '<i2' output: exit %d %r" % (rc, err))
    return KIT.end()


if __name__ == "__main__":
    sys.exit(main())
