"""tests/e2e_sample.py: the sampling options of SPEC A7 end to end: `lpcert ref --softcap --top-k
--top-p --min-p` (values that follow from the rules alone: +0 for the only token kept, -inf for a
label filtered out and its sequence, the kept-everything parameters equal to no parameter, bit for
bit, and a value against mpmath), the output's metadata and JSON, usage errors that name the
parameter; `lpcert gen` with them: the suite carries them per case in __metadata__ (absent when not
set) and `lpcert check --recompute` of its own expected values passes only because the reference
reads them back; `lpcert check --logits ... --top-k` on the single-case route.

usage: python3 tests/e2e_sample.py path/to/lpcert
"""
import json
import math
import os
import struct
import sys
import tempfile

import mpmath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensors as tz  # noqa: E402
from e2e_kit import Kit  # noqa: E402

KIT = Kit("e2e_sample", sys.argv[1])
check, run = KIT.check, KIT.run


def ref_json(d, *args):
    rc, out, err = run("ref", "--logits", os.path.join(d, "l.npy"), "--labels",
                       os.path.join(d, "y.npy"), "--shift", "none", "--json", *args)
    if not check(rc == 0, "ref %s: exit %d %s" % (" ".join(args), rc, err.strip())):
        return None
    return json.loads(out)


def main():
    d = tempfile.mkdtemp(prefix="lpcert_sample_")
    rows = [[3.0, 1.0, 2.0, 2.0, -1.0, 0.5], [1, 1, 1, 1, 1, 1], [100, -100, 50, 99, -3, 0]]
    labels = [0, 2, 3]
    tz.write_npy(os.path.join(d, "l.npy"), "f32", [1, 3, 6], [x for r in rows for x in r])
    tz.write_npy(os.path.join(d, "y.npy"), "i64", [1, 3], labels)
    plain = ref_json(d)
    # parameters that keep everything: A1's bits
    for args in (["--top-k", "6"], ["--top-p", "1"], ["--top-k", "100", "--top-p", "1"]):
        j = ref_json(d, *args)
        if plain and j:
            check([t["f64"] for t in j["tokens"]] == [t["f64"] for t in plain["tokens"]] and
                  j["token_mean"] == plain["token_mean"], "%s differs from no parameter" % args)
    # top_k 1: the label at the max gives +0, elsewhere -inf, and the sequence -inf
    j = ref_json(d, "--top-k", "1")
    if j:
        got = [t["f64"] for t in j["tokens"]]
        # row 1 is all ties: every token kept, -log 6
        check(got == ["0x0000000000000000", "0xbffcab0bfa2a2002", "0xfff0000000000000"],
              "top_k 1 tokens %r" % got)
        check(j["sequences"][0]["sum"]["f64"] == "0xfff0000000000000", "top_k 1: sum not -inf")
        check(j.get("top_k") == 1 and "top_p" not in j, "JSON parameters %r" % j.keys())
    # top_k 2 keeps the ties at 2: logp(3) = -log(1 + 2/e), against mpmath, row 0
    j = ref_json(d, "--top-k", "2", "--top-p", "0.999")
    if j:
        mpmath.mp.prec = 200
        want = -mpmath.log(1 + 2 / mpmath.e)
        got = struct.unpack("<d", struct.pack("<Q", int(j["tokens"][0]["f64"], 16)))[0]
        check(got == float(want), "top_k 2 row 0: %r want %r" % (got, float(want)))
    # softcap 30: the metadata of the output file
    out = os.path.join(d, "r.safetensors")
    rc, _, err = run("ref", "--logits", os.path.join(d, "l.npy"), "--labels", os.path.join(d, "y.npy"),
                     "--shift", "none", "--softcap", "30", "--min-p", "0.05", "--out", out)
    if check(rc == 0, "ref --softcap: exit %d %s" % (rc, err)):
        _, meta = tz.read_safetensors(out)
        check(float.fromhex(meta.get("softcap", "0")) == 30.0 and
              float.fromhex(meta.get("min_p", "0")) == 0.05 and "top_k" not in meta,
              "ref metadata %r" % meta)
    # usage errors name the parameter, exit 2, nothing written
    for args, name in ((["--top-p", "1.5"], "top_p"), (["--min-p", "0"], None), (["--top-k", "-1"], "top_k"),
                       (["--softcap", "-3"], "softcap"), (["--softcap", "inf"], "softcap"),
                       (["--top-p", "x"], "--top-p")):
        rc, _, err = run("ref", "--logits", os.path.join(d, "l.npy"), "--labels",
                         os.path.join(d, "y.npy"), "--json", *args)
        if name is None:   # 0 means "not set": accepted
            check(rc == 0, "%s: exit %d %s" % (args, rc, err))
        else:
            check(rc == 2 and name in err and err.count("\n") == 1, "%s: exit %d %r" % (args, rc, err))
    # gen: the parameters per case in __metadata__, read back by check --recompute
    S = os.path.join(d, "s.safetensors")
    rc, _, err = run("gen", "--family", "ties", "--dtype", "f32,bf16", "--top-k", "2", "--top-p",
                     "0.9", "--softcap", "20", "--out", S)
    if check(rc == 0, "gen: exit %d %s" % (rc, err)):
        ts, meta = tz.read_safetensors(S)
        cases = sorted({k.split("/expected/")[0] for k in ts if "/expected/" in k})
        for c in cases:
            name = c[len("case/"):]
            check(meta.get(c + "/top_k") == "2" and float.fromhex(meta[c + "/top_p"]) == 0.9 and
                  float.fromhex(meta[c + "/softcap"]) == 20.0 and c + "/min_p" not in meta,
                  "%s metadata" % name)
        # a candidate of the expected values themselves
        cand = [(c[len("case/"):] and c + "/logp", "f64", ts[c + "/expected/logp.f64"][1],
                 list(struct.unpack("<%dd" % (len(ts[c + "/expected/logp.f64"][2]) // 8),
                                    ts[c + "/expected/logp.f64"][2]))) for c in cases]
        C = os.path.join(d, "c.safetensors")
        tz.write_safetensors(C, cand)
        rc, out, err = run("check", S, C, "--recompute", "--max-ulp", "0.5", "--quiet")
        check(rc == 0, "check --recompute of gen's own values: exit %d %s %s" % (rc, out, err))
        # the same suite without the sampling keys: the recomputed plain values differ
        ts2 = [(k, {"F64": "f64", "F32": "f32", "BF16": "bf16", "I64": "i64", "U8": "u8"}[v[0]], v[1],
                tz_values(v)) for k, v in ts.items() if "/expected/" not in k]
        meta2 = {k: v for k, v in meta.items() if not k.endswith(("/top_k", "/top_p", "/softcap"))}
        S2 = os.path.join(d, "s2.safetensors")
        tz.write_safetensors(S2, ts2, meta2)
        rc, out, err = run("check", S2, C, "--max-ulp", "0.5", "--quiet")
        check(rc == 1, "old-style suite (no sampling keys) against processed values: exit %d" % rc)
        # a metadata value whose decimal underflows to 0 is an input error, not "not set" (top_p
        # 1e-400 was read as 0: every token kept)
        meta3 = {k: ("1e-400" if k.endswith("/top_p") else v) for k, v in meta.items()}
        S3 = os.path.join(d, "s3.safetensors")
        tz.write_safetensors(S3, ts2, meta3)
        rc, out, err = run("check", S3, C, "--max-ulp", "0.5", "--quiet")
        check(rc == 2 and "top_p" in err and err.count("\n") == 1,
              "suite top_p 1e-400: exit %d %r" % (rc, err))
        # --softcap on the suite route is a usage error (the suite carries them)
        rc, _, err = run("check", S, C, "--softcap", "3")
        check(rc == 2 and "suite" in err, "check SUITE --softcap: exit %d %r" % (rc, err))
    # the parameters as given, in ref's JSON and check's report: 1 - 2^-53 is not 1 (top_p 1 keeps
    # every token; cJSON's 15 digits and %g printed both as 1)
    j = ref_json(d, "--top-p", "0.99999999999999989", "--min-p", "0.1000000000000000056")
    if j:
        check(j.get("top_p") == 1 - 2.0 ** -53 and j.get("min_p") == 0.1,
              "ref --json parameters: top_p %r min_p %r" % (j.get("top_p"), j.get("min_p")))
        vals = [struct.unpack("<d", struct.pack("<Q", int(t["f64"], 16)))[0] for t in j["tokens"]]
        tz.write_npy(os.path.join(d, "p1.npy"), "f64", [1, 3], vals)
        rc, out, err = run("check", "--logits", os.path.join(d, "l.npy"), "--labels",
                           os.path.join(d, "y.npy"), "--shift", "none", "--top-p",
                           "0.99999999999999989", "--min-p", "0.1000000000000000056", "--logp",
                           os.path.join(d, "p1.npy"))
        check(rc == 0 and "top_p 0.9999999999999999" in out and "top_p 1," not in out,
              "check --top-p 1 - 2^-53: exit %d %s" % (rc, [l for l in out.splitlines() if "top_p" in l]))
    # check's single-case route with the parameters
    j = ref_json(d, "--top-k", "2")
    if j:
        vals = [struct.unpack("<d", struct.pack("<Q", int(t["f64"], 16)))[0] for t in j["tokens"]]
        tz.write_npy(os.path.join(d, "p.npy"), "f64", [1, 3], vals)
        rc, out, err = run("check", "--logits", os.path.join(d, "l.npy"), "--labels",
                           os.path.join(d, "y.npy"), "--shift", "none", "--top-k", "2", "--logp",
                           os.path.join(d, "p.npy"), "--max-ulp", "0.5")
        check(rc == 0 and "top_k 2" in out, "check --top-k 2 of ref's values: exit %d %s %s" % (rc, out[-300:], err))
        rc, out, err = run("check", "--logits", os.path.join(d, "l.npy"), "--labels",
                           os.path.join(d, "y.npy"), "--shift", "none", "--logp",
                           os.path.join(d, "p.npy"), "--max-ulp", "0.5", "--quiet")
        check(rc == 1, "check without --top-k of processed values: exit %d" % rc)
    # a subnormal parameter is a value (strtod's ERANGE for it is not an error); one that underflows
    # to 0 would read as "not set", and is refused
    j = ref_json(d, "--top-p", "1e-320")
    check(j is not None, "ref --top-p 1e-320 (subnormal) refused")
    rc, _, err = run("ref", "--logits", os.path.join(d, "l.npy"), "--labels", os.path.join(d, "y.npy"),
                     "--top-p", "1e-400", "--json")
    check(rc == 2 and "top-p" in err, "ref --top-p 1e-400: exit %d %r" % (rc, err))
    default_bound(d)
    return KIT.end()


def f32_step(x, k):
    (u,) = struct.unpack("<i", struct.pack("<f", x))
    u = u + k if u >= 0 else u - k
    return struct.unpack("<f", struct.pack("<i", u))[0]


def default_bound(d):
    """SPEC A5 under A7: the default bound's baseline (twopass_f32, twopass_f64) reads the rows
    processed on the exact kept set, so its errors are a kernel's rounding (a few ulp), not those of
    a raw log-softmax over the whole vocabulary (millions of ulp, which made any candidate pass):
    the reference's own values pass, the same values 1000 ulp off fail, and `check --kernel` of a
    raw kernel skips the processed cases with a diagnosis."""
    import random
    rng = random.Random(5)
    B, T, V = 3, 12, 64
    xs = [struct.unpack("<f", struct.pack("<f", rng.gauss(0, 3)))[0] for _ in range(B * T * V)]
    ys = [rng.randrange(V) for _ in range(B * T)]
    L, Y = os.path.join(d, "bl.npy"), os.path.join(d, "by.npy")
    tz.write_npy(L, "f32", [B, T, V], xs)
    tz.write_npy(Y, "i64", [B, T], ys)
    # softcap 1e39 is beyond f32's range: RN_f32(c) = inf made the f32 baseline's softcap
    # 0 * inf = NaN, every baseline value a class mismatch, and so no bound at all (values 1000 ulp
    # off passed); SPEC A5's formula divides by and multiplies with c itself
    for params in (["--top-k", "8"], ["--top-p", "0.9", "--temperature", "0.7"], ["--min-p", "0.05"],
                   ["--softcap", "5", "--top-k", "20"], ["--softcap", "1e39", "--top-p", "0.9"]):
        R = os.path.join(d, "br.safetensors")
        rc, _, err = run("ref", "--logits", L, "--labels", Y, *params, "--out", R)
        if not check(rc == 0, "ref %s: exit %d %s" % (params, rc, err.strip())):
            continue
        ts, _ = tz.read_safetensors(R)
        for fmt, code, step in (("f32", "f", f32_step), ("f64", "d", None)):
            raw = ts["logp." + fmt][2]
            vals = list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(code), code), raw))
            shape = ts["logp." + fmt][1]
            good, bad = os.path.join(d, "bg.npy"), os.path.join(d, "bb.npy")
            tz.write_npy(good, fmt, shape, vals)
            if step:
                moved = [step(v, 1000) if math.isfinite(v) and v != 0 else v for v in vals]
            else:   # f64: 1000 ulp of f64 away from 0 (the bits as a magnitude)
                moved = [v if not (math.isfinite(v) and v != 0) else
                         struct.unpack("<d", struct.pack("<Q", struct.unpack("<Q", struct.pack(
                             "<d", v))[0] + 1000))[0] for v in vals]
            tz.write_npy(bad, fmt, shape, moved)
            args = ["check", "--logits", L, "--labels", Y, *params]
            rc, out, err = run(*args, "--logp", good)
            check(rc == 0, "default bound %s %s: the reference's own values: exit %d %s %s"
                  % (params, fmt, rc, out[-400:], err))
            rc, out, err = run(*args, "--logp", bad)
            check(rc == 1 and "over the baseline bound" in out,
                  "default bound %s %s: values 1000 ulp off pass (exit %d): %s"
                  % (params, fmt, rc, [l for l in out.splitlines() if l.startswith("input/")]))
    # a row that scores nothing needs no kept set: the reference never decides it, and the
    # baseline deciding it anyway failed check on the reference's own values (row 0, not counted:
    # softcap 1 ties 1e300 and 1e299 within 2^-65536, top_p 0.5 at their tie, undecided at the
    # cap, an internal error)
    L, Y, P = (os.path.join(d, n) for n in ("ul.npy", "uy.npy", "up.npy"))
    tz.write_npy(L, "f64", [1, 2, 3], [1e300, 1e299, -math.inf, 3.0, 1.0, 0.5])
    tz.write_npy(Y, "i64", [1, 2], [-100, 0])
    sp = ["--shift", "none", "--softcap", "1", "--top-p", "0.5"]
    rc, out, err = run("ref", "--logits", L, "--labels", Y, *sp, "--json")
    if check(rc == 0, "ref on an uncounted undecidable row: exit %d %s" % (rc, err.strip())):
        v = struct.unpack("<d", struct.pack("<Q", int(json.loads(out)["tokens"][1]["f64"], 16)))[0]
        tz.write_npy(P, "f64", [1, 2], [math.nan, v])
        rc, out, err = run("check", "--logits", L, "--labels", Y, *sp, "--logp", P)
        check(rc == 0, "check of ref's values, an uncounted undecidable row: exit %d %s %s"
              % (rc, out[-300:], err.strip()))
    # a kept label whose processed logp (about -70000) overflows f16: the correctly rounded f16 is
    # -inf, so a finite candidate is a class mismatch, but not a kept-set disagreement (the label
    # is kept: top_k 4 = V keeps every token); the count compared with the f16 rounding
    L, Y, P = (os.path.join(d, n) for n in ("hl.npy", "hy.npy", "hc.npy"))
    tz.write_npy(L, "f32", [1, 1, 4], [0.0, -70000.0, -1.0, -2.0])
    tz.write_npy(Y, "i64", [1, 1], [1])
    tz.write_npy(P, "f16", [1, 1], [-65504.0])
    rc, out, err = run("check", "--logits", L, "--labels", Y, "--shift", "none", "--top-k", "4",
                       "--logp", P)
    check(rc == 1 and "1 class mismatches" in out and "0 of the class mismatches are kept-set" in out,
          "f16 overflow counted as a kept-set disagreement: exit %d %s"
          % (rc, [l for l in out.splitlines() if l.startswith("verdict")]))
    # real kept-set disagreements, both ways, counted alike by the fast judge and --slow
    tz.write_npy(L, "f32", [1, 2, 4], [0.0, -1.0, -2.0, -3.0] * 2)
    tz.write_npy(Y, "i64", [1, 2], [1, 3])
    tz.write_npy(P, "f32", [1, 2], [-math.inf, -3.5])   # label 1 kept, label 3 dropped by top_k 2
    for slow in ([], ["--slow"]):
        rc, out, err = run("check", "--logits", L, "--labels", Y, "--shift", "none", "--top-k", "2",
                           "--logp", P, *slow)
        check(rc == 1 and "2 of the class mismatches are kept-set" in out,
              "kept-set disagreements %s: exit %d %s"
              % (slow, rc, [l for l in out.splitlines() if l.startswith("verdict")]))
    # a suite with sampling parameters: a raw kernel is skipped, with the reason
    S = os.path.join(d, "bk.safetensors")
    rc, _, err = run("gen", "--dtype", "f32", "--top-k", "5", "--seed", "3", "--family", "normal",
                     "--out", S)
    if check(rc == 0, "gen --top-k: exit %d %s" % (rc, err.strip())):
        rc, out, err = run("check", S, "--kernel", "twopass_f32")
        check(rc == 1 and "sampling parameters" in out and "0 values" in out,
              "check --kernel on a processed suite: exit %d %s" % (rc, out[-600:]))


def tz_values(v):
    dt, _, raw = v
    code = {"F64": "d", "F32": "f", "I64": "q", "U8": "B"}.get(dt)
    if code:
        return list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(code), code), raw))
    u = tz.bits(dt, raw)   # BF16: back to the float value (exact)
    return [struct.unpack("<f", struct.pack("<I", x << 16))[0] for x in u]


if __name__ == "__main__":
    sys.exit(main())
