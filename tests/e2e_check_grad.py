"""tests/e2e_check_grad.py: `lpcert check --grad` end to end, against figures computed here
independently (mpmath at 60 digits: the exact gradient of SPEC A8, its correct rounding, SPEC A4's
ulp), on candidates written by this script with known errors:
  exact     the correctly rounded f32 gradient: every element correctly rounded, max ulp <= 0.5
  three     one element 3 ulps off: max ulp as computed here; --max-ulp 3.5 passes, 2.5 fails
  label0    the peaked row's label element (p_y ~ 1 - 8e-8) set to 0, the pbf16 bug's outcome:
            rel = row_rel = 1 exactly, --max-row-rel 1e-3 fails it, --max-abs 1e-6 passes it (what
            an absolute tolerance sees)
  classes   a NaN in a counted element (class mismatch), a NaN in a row that scores nothing (a NaN
            leak), 1e-3 in the last row under shift next (empty rows not 0): exit 1
  default   no bound given: the exact candidate passes the default bound (scale_rel against 4 x the
            plain f32 kernel's), so does label0 (scale-relative: blind to it, as documented), an
            all-zero gradient fails it, and --no-default-bound passes it (classes only)
  negate    the candidate negated with --grad-negate: as exact
  bf16      the correctly rounded bf16 gradient of reduction mean at temperature 0.7
  suite     lpcert gen --grad token_mean, a candidate file of case/<name>/grad (the stored f32
            values, one of them 2 ulps off): the stored route and --recompute give the same
            figures; a missing case tensor is an input error
  processed with --softcap, --top-k (SPEC A7 then A8), the default bound: lpcert ref --grad's
            exact gradient of the processed problem passes it; the plain problem's gradient (the
            softcap's derivative forgotten, the softmax over every token) fails it: the baseline
            must be the plain kernel on the processed row, or the bound is vacuous (it was 4 x
            the plain kernel's distance to the processed gradient, about 1: everything passed)
  spilled   2-D f64 logits [2, 131073] (more than 2^18 elements: percentiles from the histogram),
            every element i != y at -600 below the label, the candidate -1e-200 there: the p50 of
            ulp and rel (about 1e60 and more, beyond the histogram's top bin 2^128) is never below
            the exact one (it was 2^128 = 3.4e38)
  bad input a candidate of the wrong shape, --grad without --grad-of: one line, exit 2
Percentiles are numpy's linear ones, computed here the same way; figures agree within 1e-9
relative (the C side measures from a double-double of >= 100 bits, this script from 60 digits)."""
import json
import math
import os
import random
import struct
import sys
import tempfile

import mpmath

sys.path.insert(0, os.path.dirname(__file__))
from e2e_kit import Kit  # noqa: E402
from tensors import read_safetensors, write_npy, write_safetensors  # noqa: E402

mpmath.mp.dps = 60
B, T, V = 2, 5, 40
FMT = {"f32": (24, -126), "bf16": (8, -126), "f64": (53, -1022)}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def round_fmt(x, fmt):
    """x (mpf) correctly rounded (RNE) to fmt, as a Python float; normal range only."""
    p, emin = FMT[fmt]
    if x == 0:
        return 0.0
    _, e = mpmath.frexp(x)
    assert e - 1 >= emin, "subnormal gradient element: the test data should avoid it"
    with mpmath.workprec(p):
        r = +x
    return float(r)


def ulp(x, fmt):
    p, emin = FMT[fmt]
    if x == 0:
        return mpmath.ldexp(1, emin - p + 1)
    _, e = mpmath.frexp(x)
    return mpmath.ldexp(1, max(e - 1, emin) - p + 1)


def percentile(v, q):
    v = sorted(v)
    pos = q / 100.0 * (len(v) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(v) - 1)
    t = pos - lo
    a, b = v[lo], v[hi]
    if t == 0 or a == b:
        return a
    d = b - a
    return b - d * (1 - t) if t >= 0.5 else a + d * t


def problem(seed):
    rnd = random.Random(seed)
    logits = [[[f32(rnd.gauss(0, 2)) for _ in range(V)] for _ in range(T)] for _ in range(B)]
    labels = [[rnd.randrange(V) for _ in range(T)] for _ in range(B)]
    labels[1][3] = -100                       # row (1, 2) scores nothing
    y = labels[0][3]                          # row (0, 2) scores labels[0][3]: peak it
    logits[0][2] = [0.0] * V
    logits[0][2][y] = 20.0
    return logits, labels


def exact_grad(logits, labels, red, tau):
    """{(b, t): [mpf] * V} for counted rows (shift next), and the divisor per b."""
    counted = {}
    for b in range(B):
        for t in range(T - 1):
            if labels[b][t + 1] != -100:
                counted[(b, t)] = labels[b][t + 1]
    n = [sum(1 for (bb, _) in counted if bb == b) for b in range(B)]
    div = [1 if red in ("token", "sum") else n[b] if red == "mean" else sum(n) for b in range(B)]
    g = {}
    for (b, t), y in counted.items():
        z = [mpmath.mpf(x) / mpmath.mpf(tau) for x in logits[b][t]]
        m = max(z)
        e = [mpmath.exp(zi - m) for zi in z]
        s = mpmath.fsum(e)
        c = 1 / (mpmath.mpf(tau) * div[b])
        row = [-(ei / s) * c for ei in e]
        row[y] = mpmath.fsum(e[i] for i in range(V) if i != y) / s * c
        g[(b, t)] = row
    return g, div


def candidate(g, fmt):
    out = [[[0.0] * V for _ in range(T)] for _ in range(B)]
    for (b, t), row in g.items():
        out[b][t] = [round_fmt(x, fmt) for x in row]
    return out


def flat(c):
    return [x for plane in c for row in plane for x in row]


def figures(g, cand, fmt, tau, div):
    """The measures of check/grad.c over the counted rows."""
    m = {"ulp": [], "abs": [], "rel": [], "row_rel": [], "scale_rel": []}
    cr = 0
    for (b, t), row in g.items():
        rmax = max(abs(x) for x in row)
        for i, x in enumerate(row):
            y = cand[b][t][i]
            if y == round_fmt(x, fmt):
                cr += 1
            e = abs(mpmath.mpf(y) - x)
            m["ulp"].append(float(e / ulp(x, fmt)))
            m["abs"].append(float(e))
            m["rel"].append(float(e / abs(x)) if x != 0 else (0.0 if e == 0 else math.inf))
            m["row_rel"].append(float(e / rmax) if e != 0 else 0.0)
            m["scale_rel"].append(float(e * mpmath.mpf(tau) * div[b]))
    return m, cr


def close(a, b, tol=1e-9):
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


def main():
    k = Kit("e2e_check_grad", sys.argv[1])
    d = tempfile.mkdtemp(prefix="lpcert_grad_")
    logits, labels = problem(20261206)
    lpath, ypath = os.path.join(d, "logits.npy"), os.path.join(d, "labels.npy")
    write_npy(lpath, "f32", (B, T, V), flat(logits))
    write_npy(ypath, "i64", (B, T), [x for r in labels for x in r])

    def run(cand, fmt, red, *extra, tau=1.0, name="cand"):
        cpath = os.path.join(d, name + ".npy")
        write_npy(cpath, fmt, (B, T, V), flat(cand))
        jpath = os.path.join(d, name + ".json")
        args = ["check", "--logits", lpath, "--labels", ypath, "--grad", cpath, "--grad-of", red,
                "--json", jpath, *extra]
        if tau != 1.0:
            args += ["--temperature", repr(tau)]
        rc, out, err = k.run(*args)
        js = None
        if os.path.exists(jpath):
            with open(jpath) as f:
                js = json.load(f)
            os.remove(jpath)
        return rc, out, err, js

    def check_figs(tag, js, g, cand, fmt, tau, div):
        m, cr = figures(g, cand, fmt, tau, div)
        grp = js["groups"][0]
        k.check(grp["elements"] == len(m["ulp"]), "%s: elements %s, expected %d" % (tag, grp["elements"], len(m["ulp"])))
        k.check(grp["correctly_rounded"] == cr, "%s: correctly rounded %s, expected %d" % (tag, grp["correctly_rounded"], cr))
        k.check(grp["counted_rows"] == len(g), "%s: counted rows %s" % (tag, grp["counted_rows"]))
        for name, vals in m.items():
            got = grp["measures"][name]
            for q, want in (("max", max(vals)), ("p50", percentile(vals, 50)), ("p99", percentile(vals, 99))):
                k.check(close(got[q], want), "%s: %s %s = %r, expected %r" % (tag, name, q, got[q], want))
            k.check(got["exact_percentiles"] is True, "%s: %s percentiles not exact" % (tag, name))

    # exact: the correctly rounded f32 gradient of token_mean
    g, div = exact_grad(logits, labels, "token_mean", 1.0)
    exact = candidate(g, "f32")
    rc, out, err, js = run(exact, "f32", "token_mean", "--max-ulp", "0.5")
    k.check(rc == 0, "exact: exit %d, expected 0: %s%s" % (rc, out[-400:], err))
    if js:
        check_figs("exact", js, g, exact, "f32", 1.0, div)
        k.check(js["verdict"] == "PASS", "exact: verdict %s" % js["verdict"])

    # three: one element 3 ulps above
    three = [[list(r) for r in p] for p in exact]
    x = three[0][1][3]
    for _ in range(3):
        x = struct.unpack("<f", struct.pack("<I", struct.unpack("<I", struct.pack("<f", x))[0] + (1 if x > 0 else -1)))[0] if x != 0 else x
    three[0][1][3] = x
    rc, out, err, js = run(three, "f32", "token_mean", "--max-ulp", "3.5")
    k.check(rc == 0, "three: --max-ulp 3.5 exit %d, expected 0" % rc)
    if js:
        check_figs("three", js, g, three, "f32", 1.0, div)
        w = js["groups"][0]["worst"]
        k.check((w["b"], w["t"], w["i"]) == (0, 1, 3), "three: worst at %s" % w)
    rc, out, err, js = run(three, "f32", "token_mean", "--max-ulp", "2.5")
    k.check(rc == 1 and js and js["groups"][0]["over_bound"] == 1, "three: --max-ulp 2.5 exit %d (expected 1, one over bound)" % rc)
    k.check("b=0 t=1 i=3" in out and "0x" in out, "three: the worst element's repro is printed")

    # empty: three plus 1e-3 in the last row under shift next (a row that scores nothing): the
    # failure's element is the worst one (it was replaced by any later counted element's rounding
    # error: the reproducer showed a correctly rounded element of a failing candidate)
    em = [[list(r) for r in p] for p in three]
    em[0][4][7] = 1e-3
    rc, out, err, js = run(em, "f32", "token_mean", "--max-ulp", "3.5")
    w = js["groups"][0]["worst"] if js else {}
    k.check(rc == 1 and (w.get("b"), w.get("t"), w.get("i")) == (0, 4, 7) and
            "b=0 t=4 i=7 (a row that scores nothing" in out,
            "empty: exit %d, worst at %r, expected the row that scores nothing (0, 4, 7)" % (rc, w))

    # label0: the peaked row's label element set to 0
    lab = labels[0][3]
    l0 = [[list(r) for r in p] for p in exact]
    l0[0][2][lab] = 0.0
    rc, out, err, js = run(l0, "f32", "token_mean", "--max-row-rel", "1e-3")
    k.check(rc == 1, "label0: --max-row-rel 1e-3 exit %d, expected 1" % rc)
    if js:
        check_figs("label0", js, g, l0, "f32", 1.0, div)
        grp = js["groups"][0]
        k.check(grp["measures"]["row_rel"]["max"] == 1.0 and grp["measures"]["rel"]["max"] == 1.0,
                "label0: row_rel and rel max %r %r, expected 1 exactly" % (grp["measures"]["row_rel"]["max"], grp["measures"]["rel"]["max"]))
        k.check(grp["worst_row_rel"]["i"] == lab and grp["worst_row_rel"]["label"] == lab, "label0: worst row_rel element %s" % grp["worst_row_rel"])
    rc, out, err, js = run(l0, "f32", "token_mean", "--max-abs", "1e-6")
    k.check(rc == 0, "label0: --max-abs 1e-6 exit %d, expected 0 (an absolute tolerance misses it)" % rc)

    # classes: NaN in a counted element, a NaN leak, a non-zero value in a row scoring nothing
    cl = [[list(r) for r in p] for p in exact]
    cl[1][0][5] = float("nan")
    cl[1][2][0] = float("nan")          # row (1, 2) scores nothing (ignore_index)
    cl[0][4][7] = 1e-3                  # the last row under shift next
    rc, out, err, js = run(cl, "f32", "token_mean")
    k.check(rc == 1, "classes: exit %d, expected 1" % rc)
    if js:
        grp = js["groups"][0]
        k.check((grp["class_mismatches"], grp["nan_leaks"], grp["empty_nonzero"]) == (1, 1, 1),
                "classes: mismatches %s leaks %s empty %s, expected 1 1 1" % (grp["class_mismatches"], grp["nan_leaks"], grp["empty_nonzero"]))

    # default: no bound given
    rc, out, err, js = run(exact, "f32", "token_mean")
    grp = js["groups"][0] if js else {}
    k.check(rc == 0 and grp.get("default_bound_scale_rel", 0) >= 2.0 ** -23 and
            grp.get("baseline_max_scale_rel", -1) > 0, "default, exact: exit %d %r" % (rc, {a: grp.get(a) for a in ("default_bound_scale_rel", "baseline_max_scale_rel")}))
    rc, out, err, js = run(l0, "f32", "token_mean")
    k.check(rc == 0, "default, label0: exit %d, expected 0 (the default is scale-relative)" % rc)
    zero = [[[0.0] * V for _ in range(T)] for _ in range(B)]
    rc, out, err, js = run(zero, "f32", "token_mean")
    k.check(rc == 1 and "default bound" in out, "default, zeros: exit %d, expected 1" % rc)
    rc, out, err, js = run(zero, "f32", "token_mean", "--no-default-bound")
    k.check(rc == 0, "--no-default-bound, zeros: exit %d, expected 0 (classes only)" % rc)

    # negate: the gradient of the loss
    neg = [[[-x for x in r] for r in p] for p in exact]
    rc, out, err, js = run(neg, "f32", "token_mean", "--grad-negate", "--max-ulp", "0.5")
    k.check(rc == 0, "negate: exit %d, expected 0" % rc)
    if js:
        check_figs("negate", js, g, exact, "f32", 1.0, div)

    # bf16, reduction mean, temperature 0.7
    g7, div7 = exact_grad(logits, labels, "mean", 0.7)
    c7 = candidate(g7, "bf16")
    rc, out, err, js = run(c7, "bf16", "mean", "--max-ulp", "0.5", tau=0.7, name="bf16")
    k.check(rc == 0, "bf16: exit %d, expected 0: %s%s" % (rc, out[-400:], err))
    if js:
        check_figs("bf16", js, g7, c7, "bf16", 0.7, div7)

    # suite: gen --grad, the files route
    spath, cpath = os.path.join(d, "suite.safetensors"), os.path.join(d, "gcand.safetensors")
    rc, out, err = k.run("gen", "--family", "normal,neginf,masks", "--dtype", "f32", "--grad",
                         "token_mean", "--out", spath)
    k.check(rc == 0, "gen --grad: exit %d %s" % (rc, err))
    tens, meta = read_safetensors(spath)
    names = sorted({n[len("case/"):-len("/logits")] for n in tens if n.endswith("/logits")})
    k.check(names and all(meta.get("case/%s/grad_of" % n) == "token_mean" for n in names),
            "gen --grad: grad_of metadata %r" % [meta.get("case/%s/grad_of" % n) for n in names])
    cand = []
    for j, n in enumerate(names):
        dt, shape, raw = tens["case/%s/expected/grad.f32" % n]
        vals = list(struct.unpack("<%df" % (len(raw) // 4), raw))
        if j == 0:
            nz = next(i for i, v in enumerate(vals) if v != 0)
            u = struct.unpack("<I", struct.pack("<f", vals[nz]))[0] + 2
            vals[nz] = struct.unpack("<f", struct.pack("<I", u))[0]
        cand.append(("case/%s/grad" % n, "f32", shape, vals))
    write_safetensors(cpath, cand)
    figs = []
    for extra in ((), ("--recompute",)):
        jpath = os.path.join(d, "suite.json")
        rc, out, err = k.run("check", spath, cpath, "--grad-of", "token_mean", "--max-ulp", "1", "--json", jpath, *extra)
        k.check(rc == 1, "suite%s: exit %d (expected 1: one element 2 ulps off)" % (extra, rc))
        with open(jpath) as f:
            js = json.load(f)
        k.check(any("%d of %d cases from the suite's stored" % (0 if extra else len(names), len(names)) in x for x in js["notes"]),
                "suite%s: notes %r" % (extra, js["notes"]))
        figs.append([(g["class"], g["elements"], g["correctly_rounded"], g["over_bound"], g["measures"]) for g in js["groups"]])
    k.check(figs[0] == figs[1], "suite: the stored route and --recompute differ")
    write_safetensors(cpath, cand[1:])
    rc, out, err = k.run("check", spath, cpath, "--grad-of", "token_mean")
    k.check(rc == 2 and err.count("\n") == 1 and names[0] in err, "suite, a case missing: exit %d %r" % (rc, err))

    # processed problems: the default bound against the processed gradient
    for opt in (("--softcap", "3"), ("--top-k", "5"), ("--softcap", "3", "--top-p", "0.9"),
                ("--min-p", "0.1", "--temperature", "0.7")):
        plain = os.path.join(d, "plain.safetensors")
        tau = ("--temperature", opt[opt.index("--temperature") + 1]) if "--temperature" in opt else ()
        rc, out, err = k.run("ref", "--logits", lpath, "--labels", ypath, "--grad", "mean", "--out", plain, *tau)
        k.check(rc == 0, "ref --grad mean %s: exit %d %s" % (tau, rc, err))
        proc = os.path.join(d, "proc.safetensors")
        rc, out, err = k.run("ref", "--logits", lpath, "--labels", ypath, "--grad", "mean", "--out", proc, *opt)
        k.check(rc == 0, "ref --grad mean %s: exit %d %s" % (opt, rc, err))
        for src, want in ((proc, 0), (plain, 1)):
            jpath = os.path.join(d, "proc.json")
            rc, out, err = k.run("check", "--logits", lpath, "--labels", ypath, "--grad", src + ":grad.f32",
                                 "--grad-of", "mean", "--json", jpath, *opt)
            grp = {}
            if os.path.exists(jpath):
                with open(jpath) as f:
                    grp = json.load(f)["groups"][0]
                os.remove(jpath)
            k.check(rc == want, "processed %s, %s gradient: exit %d, expected %d (default bound %r, baseline %r, max scale_rel %r)"
                    % (opt, "the processed" if want == 0 else "the plain problem's", rc, want,
                       grp.get("default_bound_scale_rel"), grp.get("baseline_max_scale_rel"),
                       grp.get("measures", {}).get("scale_rel")))
            k.check(opt[0][2:].replace("-", "_") + " " in out,
                    "processed %s: the problem line does not name the parameters: %r" % (opt, out[:900]))

    # spilled: percentiles from the histogram, values beyond its top bin
    VB = 131073
    bl, by, bc = (os.path.join(d, n) for n in ("bl.npy", "by.npy", "bc.npy"))
    row = [0.0] + [-600.0] * (VB - 1)
    write_npy(bl, "f64", (2, VB), row + row)
    write_npy(by, "i64", (2,), [0, 0])
    cand_row = [1.0] + [-1e-200] * (VB - 1)
    write_npy(bc, "f64", (2, VB), cand_row + cand_row)
    jpath = os.path.join(d, "big.json")
    rc, out, err = k.run("check", "--logits", bl, "--labels", by, "--shift", "none", "--grad", bc,
                         "--grad-of", "token", "--no-default-bound", "--json", jpath)
    k.check(rc == 0, "spilled: exit %d %s" % (rc, err))
    if os.path.exists(jpath):
        with open(jpath) as f:
            ms = json.load(f)["groups"][0]["measures"]
        e = mpmath.exp(-600)
        gi = -e / (1 + (VB - 1) * e)                      # every element i != y
        err_i = abs(mpmath.mpf(-1e-200) - gi)
        want = {"ulp": float(err_i / ulp(gi, "f64")), "rel": float(err_i / abs(gi))}
        for name, v in want.items():
            got = ms[name]
            k.check(got["exact_percentiles"] is False and got["p50"] >= v * (1 - 1e-9) and
                    got["p99"] >= v * (1 - 1e-9) and got["p50"] <= got["max"],
                    "spilled: %s p50 %r p99 %r (exact %r, max %r): below the exact percentile"
                    % (name, got["p50"], got["p99"], v, got["max"]))

    # bad input
    bad = os.path.join(d, "bad.npy")
    write_npy(bad, "f32", (B, T, V - 1), [0.0] * (B * T * (V - 1)))
    rc, out, err = k.run("check", "--logits", lpath, "--labels", ypath, "--grad", bad, "--grad-of", "sum")
    k.check(rc == 2 and err.count("\n") == 1 and "shape" in err and out == "",
            "bad shape: exit %d, stderr %r" % (rc, err))
    rc, out, err = k.run("check", "--logits", lpath, "--labels", ypath, "--grad", bad)
    k.check(rc == 2 and err.count("\n") == 1 and "--grad-of" in err, "no --grad-of: exit %d, stderr %r" % (rc, err))
    return k.end()


if __name__ == "__main__":
    sys.exit(main())
