"""tests/e2e_audit.py: `lpcert audit` (SPEC A9) against an independent evaluation.

1. README.md's "Auditing a rollout-vs-trainer gap" runs as written: its Python block (two
   pipelines on generated data, numpy only: an f32 trainer, a bf16 sampler with temperature and
   top-p) is saved as pipelines.py and run; each `$ lpcert audit ...` line of its console blocks
   runs, and the output pasted under it must be the first lines of what the command prints now
   (where pipelines.py generates the same bits as where it was pasted: README_DATA_SHA256).
2. More cases, generated here (numpy): shift none, f64 / f16 / bf16 log-probs, ignore_index, a
   mask, extra bands (one with an infinite end), one side's logits only (with softcap, top-k,
   min-p), no logits, safetensors inputs named NAME:tensor; exact corners: a mean that is a tie of
   binary64 (to even), x = 0 on a band's end, x = RN(log 1.1) and RN(log 0.9) against [0.9, 1.1],
   a k3 beyond binary64 ("inf"), a = b (k3 exactly 0).
3. Every JSON figure of every run is recomputed here from the input files, sharing no code with
   lpcert's C: exact rationals (fractions.Fraction: Python's float(Fraction) is correctly rounded)
   for count, mean_abs_delta, max_abs_delta, mean_delta, compared bit for bit; mpmath at 320 bits
   for k3_kl and the band decisions (exp(x) outside [lo, hi] as x < log lo or x > log hi), compared
   bit for bit / count for count wherever the 320-bit value decides the rounding or the comparison
   (the test says so and fails if it does not: such a case would need more bits, not a
   tolerance); the split from an mpmath log-softmax with the side's semantics (SPEC A7: softcap,
   temperature, top-k with ties kept, top-p on the mass strictly before, min-p), each figure
   within dd_bound + 2^-52 |figure| of the exact one (the C figures are correctly rounded figures of
   parts computed from the reference's double-doubles, README), the dominant part by name, the
   histogram of the rounded |part| per binade.
4. Input errors exit 2 with one line on stderr and write no file: a shape mismatch, a NaN or an
   infinity at a counted token (named with b, t and the value), logits of another shape, a label
   outside the kept set, semantics without logits. A NaN at a token that does not count is fine.

usage: python3 tests/e2e_audit.py path/to/lpcert   (numpy and mpmath; exit 77 without them)"""
import hashlib
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tensors as tz  # noqa: E402

try:
    import numpy as np
    import mpmath
    from mpmath import mp, mpf
except ImportError as e:
    print("e2e_audit: skipped: %s (Debian: python3-numpy, python3-mpmath)" % e)
    sys.exit(77)

mp.prec = 320
FAILS = []
# The files README.md's pipelines.py writes, and their sha256 where its pasted output was made
# (numpy 1.24.2, Debian 12, x86-64): elsewhere numpy's SIMD float32 exp/log or the BLAS may give
# other bits, and then the pasted output cannot be expected.
README_FILES = ("sampler_logp.npy", "trainer_logp.npy", "sampler_logits.npy", "trainer_logits.npy",
                "labels.npy", "mask.npy")
README_DATA_SHA256 = "a9250529e70c70170a04ca7a793a1b81d46367dbc1ca0d1606f88de3d16e5774"
EXACT = {}   # (logits file, semantics) -> exact values of the counted tokens (one directory)


def fail(msg):
    FAILS.append(msg)
    print("FAIL e2e_audit " + msg)


# ---- reading inputs (numpy, tests/tensors.py) -----------------------------------------------------

def load(spec, d):
    """-> (float64 or int array, format name) for NAME[:tensor]; '<u2' and BF16 are bf16 bits."""
    path, name = spec, None
    if not os.path.exists(os.path.join(d, spec)) and ":" in spec:
        path, name = spec.rsplit(":", 1)
    full = os.path.join(d, path)
    if path.endswith(".npy"):
        arr = np.load(full)
        fmt = {"<u2": "bf16", "<f2": "f16", "<f4": "f32", "<f8": "f64"}.get(arr.dtype.str, arr.dtype.str)
    else:
        ts, _ = tz.read_safetensors(full)
        dt, shape, raw = ts[name] if name else next(iter(ts.values()))
        npdt = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
                "U8": "u1", "BOOL": "u1"}[dt]
        arr = np.frombuffer(raw, npdt).reshape(shape)
        fmt = {"F64": "f64", "F32": "f32", "F16": "f16", "BF16": "bf16"}.get(dt, dt)
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float64)   # exact widening
    return arr, fmt


# ---- the exact reference of SPEC A1/A7, in mpmath --------------------------------------------------

def exact_logp(row, y, sem):
    """Exact processed logp of label y (mpf at 320 bits; -inf if filtered out)."""
    tau = mpf(sem["temperature"])
    x = [mpf(float(v)) for v in row]
    c = sem.get("softcap", 0)
    if c:
        x = [mpf(c) * mpmath.tanh(v / mpf(c)) for v in x]
    z = [v / tau for v in x]
    V = len(z)
    kept = list(range(V))
    k = sem.get("top_k", 0)
    if k:
        order = sorted(float(v) for v in row)[::-1]   # softcap and tau keep the order of x
        thr = order[k - 1]
        kept = [i for i in kept if float(row[i]) >= thr]
    e = {i: mpmath.exp(z[i]) for i in kept}
    p = sem.get("top_p", 0)
    if p:
        tot = mpmath.fsum(e.values())
        new, before, group, gz = [], mpf(0), mpf(0), None
        for i in sorted(kept, key=lambda i: -z[i]):   # mass strictly before: the larger z's
            if z[i] != gz:
                before, group, gz = before + group, mpf(0), z[i]
            group += e[i]
            gap = before - mpf(p) * tot
            if abs(gap) < tot * mpf(2) ** -280:
                fail("top-p decision within 2^-280 of the threshold: needs more bits")
            if gap < 0:
                new.append(i)
        kept = new
    q = sem.get("min_p", 0)
    if q:
        zmax = max(z[i] for i in kept)
        lq = mpmath.log(mpf(q))
        kept = [i for i in kept if z[i] - zmax >= lq]
    if y not in kept:
        return mpf("-inf")
    return z[y] - mpmath.log(mpmath.fsum(mpmath.exp(z[i]) for i in kept))


# ---- the figures, independently ----------------------------------------------------------------------

def frac(v):
    """The mpf v as an exact Fraction."""
    man, ex = v.man_exp
    return Fraction(man) * 2 ** ex if ex >= 0 else Fraction(man, 2 ** -ex)


def rn_mpf(v, what):
    """RN_binary64 of the exact value enclosed by the 320-bit v (relative error < 2^-300)."""
    if v == 0:
        return 0.0
    lo, hi = v * (1 - mpf(2) ** -300), v * (1 + mpf(2) ** -300)

    def rn(q):   # RN of a Fraction; beyond the largest double's rounding boundary: inf
        big = Fraction(2) ** 1024 - Fraction(2) ** 970
        return (math.inf if q > 0 else -math.inf) if abs(q) >= big else float(q)
    a, b = rn(frac(lo)), rn(frac(hi))
    if a != b:
        fail("%s: the 320-bit value does not decide the rounding" % what)
    return a


def outside(xnum, m, lo, hi, what):
    """exp(x) outside [lo, hi] for x = xnum / m (Fractions), decided at 320 bits."""
    x = mpf(xnum.numerator) / mpf(xnum.denominator) / m

    def below(c):    # exp(x) < c
        if c == 0:
            return False
        if c == 1:
            return xnum < 0
        L = mpmath.log(mpf(c))
        if abs(x - L) < mpf(2) ** -280 * (1 + abs(L)):
            fail("%s: band decision within 2^-280" % what)
        return x < L

    def above(c):
        if math.isinf(c):
            return False
        if c == 1:
            return xnum > 0
        L = mpmath.log(mpf(c))
        if abs(x - L) < mpf(2) ** -280 * (1 + abs(L)):
            fail("%s: band decision within 2^-280" % what)
        return x > L
    return below(lo) or above(hi)


def band_key(lo, hi):
    def s(v):
        if math.isinf(v):
            return "inf"
        for dg in (15, 16, 17):
            t = "%.*g" % (dg, v)
            if float(t) == v:
                return t
    return s(lo) + "," + s(hi)


def level(xs, ms, bands, what):
    """xs: exact Fractions D; ms: divisors (x = D / m). -> expected dict."""
    n = len(xs)
    vals = [x / m for x, m in zip(xs, ms)]
    out = {"count": n}
    if n == 0:
        return out
    out["mean_abs_delta"] = float(sum(abs(v) for v in vals) / n)
    out["max_abs_delta"] = float(max(abs(v) for v in vals))
    out["mean_delta"] = float(sum(vals) / n)
    k3 = mpmath.fsum(mpmath.expm1(-(mpf(v.numerator) / v.denominator)) + mpf(v.numerator) / v.denominator
                     for v in vals) / n
    out["k3_kl"] = rn_mpf(k3, what + ".k3_kl")
    out["out_of_band_count"] = {}
    out["out_of_band"] = {}
    for lo, hi in bands:
        c = sum(1 for x, m in zip(xs, ms) if outside(x, m, lo, hi, what))
        out["out_of_band_count"][band_key(lo, hi)] = c
        out["out_of_band"][band_key(lo, hi)] = c / n
    return out


def parse_cmd(words):
    o = {"bands": [(0.9, 1.1)], "sem": [{"temperature": 1.0}, {"temperature": 1.0}], "shift": "next",
         "ignore": -100}
    i = 0
    while i < len(words):
        w = words[i]
        v = words[i + 1] if i + 1 < len(words) else None
        i += 2
        m = re.match(r"--([ab])-(temperature|softcap|top-k|top-p|min-p)$", w)
        if m:
            key = m.group(2).replace("-", "_")
            o["sem"]["ab".index(m.group(1))][key] = int(v) if key == "top_k" else float(v)
        elif w == "--band":
            lo, hi = v.split(",")
            if (float(lo), float(hi)) not in o["bands"]:
                o["bands"].append((float(lo), float(hi)))
        elif w == "--shift":
            o["shift"] = v
        elif w == "--ignore-index":
            o["ignore"] = int(v)
        elif w.startswith("--"):
            o[w[2:]] = v
        else:
            i -= 1
    return o


def expected(o, d):
    """The JSON figures an exact evaluation gives for the audit command options o, files in d."""
    labels, _ = load(o["labels"], d)
    labels = labels.astype(np.int64)
    if labels.ndim == 1:
        labels = labels[None]
    B, T = labels.shape
    mask = load(o["mask"], d)[0].reshape(B, T) if "mask" in o else np.ones((B, T))
    shift = o["shift"] == "next"
    Ts = T - 1 if shift else T
    a, fa = load(o["a"], d)
    b, fb = load(o["b"], d)
    a, b = a.reshape(B, Ts), b.reshape(B, Ts)
    toks = [(bb, t) for bb in range(B) for t in range(Ts)
            if labels[bb, t + shift] != o["ignore"] and mask[bb, t + shift] == 1]
    xs = [Fraction(float(a[bb, t])) - Fraction(float(b[bb, t])) for bb, t in toks]
    exp = {"tokens": level(xs, [1] * len(xs), o["bands"], "tokens")}
    D, N = {}, {}
    for (bb, t), x in zip(toks, xs):
        D[bb] = D.get(bb, 0) + x
        N[bb] = N.get(bb, 0) + 1
    seqs = sorted(D)
    exp["sequences"] = {"sum": level([D[s] for s in seqs], [1] * len(seqs), o["bands"], "sum"),
                        "mean": level([D[s] for s in seqs], [N[s] for s in seqs], o["bands"], "mean"),
                        "empty": B - len(seqs)}
    X = [None, None]
    for k, key in enumerate(("logits-a", "logits-b")):
        if key in o:
            L = load(o[key], d)[0].reshape(B, T, -1)
            memo = (o[key], tuple(sorted(o["sem"][k].items())))
            if memo not in EXACT:
                EXACT[memo] = [exact_logp(L[bb, t], int(labels[bb, t + shift]), o["sem"][k])
                               for bb, t in toks]
            X[k] = EXACT[memo]
    parts = {}
    av = [mpf(float(a[bb, t])) for bb, t in toks]
    bv = [mpf(float(b[bb, t])) for bb, t in toks]
    if X[0] and X[1]:
        parts = {"final_op_a": [p - q for p, q in zip(av, X[0])],
                 "logits": [p - q for p, q in zip(X[0], X[1])],
                 "final_op_b": [p - q for p, q in zip(X[1], bv)]}
    elif X[0]:
        parts = {"final_op_a": [p - q for p, q in zip(av, X[0])],
                 "logits_and_final_op_b": [p - q for p, q in zip(X[0], bv)]}
    elif X[1]:
        parts = {"final_op_a_and_logits": [p - q for p, q in zip(av, X[1])],
                 "final_op_b": [p - q for p, q in zip(X[1], bv)]}
    if parts:
        sp = {}
        for k, v in parts.items():
            ab = sorted(abs(x) for x in v)
            n = len(v)
            sp[k] = {"count": n, "max_abs": ab[-1], "mean_abs": mpmath.fsum(ab) / n,
                     "mean": mpmath.fsum(v) / n, "p99_abs": ab[-(-99 * n // 100) - 1],
                     "abs": [abs(x) for x in v], "sequences": {}}
            per = {}
            for (bb, _), x in zip(toks, v):
                per.setdefault(bb, []).append(x)
            for lev in ("sum", "mean"):
                w = [mpmath.fsum(per[q]) / (len(per[q]) if lev == "mean" else 1) for q in sorted(per)]
                wa = sorted(abs(x) for x in w)
                m = len(w)
                sp[k]["sequences"][lev] = {"count": m, "max_abs": wa[-1], "mean_abs": mpmath.fsum(wa) / m,
                                           "mean": mpmath.fsum(w) / m, "p99_abs": wa[-(-99 * m // 100) - 1]}
        sp["dominant"] = max(parts, key=lambda k: sp[k]["mean_abs"])
        exp["split"] = sp
    return exp


def same(x, y):
    if isinstance(x, str) and x in ("inf", "-inf", "nan"):   # JSON has no such numbers
        x = float(x)
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def compare(got, exp, what):
    n = 0
    for lev, e, g in [("tokens", exp["tokens"], got["tokens"]),
                      ("sequences.sum", exp["sequences"]["sum"], got["sequences"]["sum"]),
                      ("sequences.mean", exp["sequences"]["mean"], got["sequences"]["mean"])]:
        for k, v in e.items():
            n += 1
            if not same(g.get(k), v):
                fail("%s %s.%s: lpcert %r (%s), exact %r (%s)" % (what, lev, k, g.get(k),
                     float(g[k]).hex() if isinstance(g.get(k), float) else "", v,
                     v.hex() if isinstance(v, float) else ""))
    if got["sequences"]["empty"] != exp["sequences"]["empty"]:
        fail("%s sequences.empty" % what)
    if ("split" in got) != ("split" in exp):
        fail("%s: split present in lpcert %s, expected %s" % (what, "split" in got, "split" in exp))
        return n
    if "split" not in exp:
        return n
    gs, es = got["split"], exp["split"]
    if gs["dominant"] != es["dominant"]:
        fail("%s split.dominant: lpcert %s, exact %s" % (what, gs["dominant"], es["dominant"]))
    emin = gs["hist_emin"]
    for k, e in es.items():
        if k == "dominant":
            continue
        g = gs.get(k)
        if g is None:
            fail("%s split.%s missing" % (what, k))
            continue
        if g["count"] != e["count"]:
            fail("%s split.%s.count" % (what, k))
        for f in ("max_abs", "mean_abs", "mean", "p99_abs"):
            n += 1
            tol = mpf(g["dd_bound"]) + mpf(2) ** -52 * abs(mpf(g[f])) + mpf(2) ** -1074
            if abs(mpf(g[f]) - e[f]) > tol:
                fail("%s split.%s.%s: lpcert %r, exact %s, tolerance %s" % (what, k, f, g[f],
                     mpmath.nstr(e[f], 20), mpmath.nstr(tol, 3)))
        for lev in ("sum", "mean"):
            gq, eq = g["sequences"][lev], e["sequences"][lev]
            if gq["count"] != eq["count"]:
                fail("%s split.%s.sequences.%s.count" % (what, k, lev))
            for f in ("max_abs", "mean_abs", "mean", "p99_abs"):
                n += 1
                tol = mpf(gq["dd_bound"]) + mpf(2) ** -52 * abs(mpf(gq[f])) + mpf(2) ** -1074
                if abs(mpf(gq[f]) - eq[f]) > tol:
                    fail("%s split.%s.sequences.%s.%s: lpcert %r, exact %s, tolerance %s"
                         % (what, k, lev, f, gq[f], mpmath.nstr(eq[f], 20), mpmath.nstr(tol, 3)))
        if not g["dd_bound"] < 1e-20:
            fail("%s split.%s.dd_bound %r" % (what, k, g["dd_bound"]))
        hist = [0] * len(g["hist"])
        for x in e["abs"]:
            r = float(frac(x)) if x != 0 else 0.0
            if r == 0:
                hist[0] += 1
            else:
                ex = min(max(math.frexp(r)[1] - 1, emin), gs["hist_emax"])
                hist[1 + ex - emin] += 1
        if hist != g["hist"]:
            fail("%s split.%s.hist: lpcert %s, exact %s" % (what, k, g["hist"], hist))
    return n


# ---- running -----------------------------------------------------------------------------------------

def run_audit(lpcert, words, d, what):
    """Runs `lpcert audit words...` in d (adding --json when absent); checks the JSON. -> stdout."""
    words = list(words)
    if "--json" not in words:
        words += ["--json", "j_" + re.sub(r"\W", "_", what) + ".json"]
    jpath = os.path.join(d, words[words.index("--json") + 1])
    r = subprocess.run([lpcert, "audit"] + words, cwd=d, capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s: exit %d: %s\n  lpcert audit %s" % (what, r.returncode, r.stderr.strip(), " ".join(words)))
        return ""
    got = json.load(open(jpath))
    n = compare(got, expected(parse_cmd(words), d), what)
    print("e2e_audit: %s: %d figures checked" % (what, n))
    return r.stdout


def readme_example(lpcert, d):
    text = open(os.path.join(HERE, "..", "README.md"), encoding="utf-8").read()
    lines, fence, out = text[text.index("## Auditing a rollout-vs-trainer gap"):].split("\n"), False, []
    for i, ln in enumerate(lines):   # up to the next "## " heading outside a fence
        if ln.startswith("```"):
            fence = not fence
        if i and not fence and ln.startswith("## "):
            break
        out.append(ln)
    sec = "\n".join(out)
    code = re.search(r"```python\n(.*?)```", sec, re.S).group(1)
    with open(os.path.join(d, "pipelines.py"), "w") as f:
        f.write(code)
    blocks = re.findall(r"```console\n(.*?)```", sec, re.S)
    same_data = None   # known after pipelines.py ran
    runs = 0
    for blk in blocks:
        lines = blk.split("\n")
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1
                continue
            cmd = lines[i][2:]
            while cmd.endswith("\\"):
                i += 1
                cmd = cmd[:-1] + " " + lines[i].strip()
            i += 1
            shown = []
            while i < len(lines) and not lines[i].startswith("$ "):
                shown.append(lines[i])
                i += 1
            while shown and not shown[-1].strip():
                shown.pop()
            words = shlex.split(cmd)
            if words[0] == "python3":
                r = subprocess.run([sys.executable] + words[1:], cwd=d, capture_output=True, text=True)
                if r.returncode != 0:
                    fail("README: %s: exit %d: %s" % (cmd, r.returncode, r.stderr[-500:]))
                h = hashlib.sha256()
                for f in README_FILES:
                    with open(os.path.join(d, f), "rb") as fh:
                        h.update(fh.read())
                same_data = h.hexdigest() == README_DATA_SHA256
                if not same_data:
                    print("e2e_audit: README: pipelines.py generated other data here than where the "
                          "README's output was pasted (numpy's float32 exp/log and BLAS differ by "
                          "machine): sha256 %s, README's %s; the pasted output is not compared, "
                          "every figure still is" % (h.hexdigest(), README_DATA_SHA256))
                continue
            if words[:2] != ["lpcert", "audit"]:
                fail("README: unexpected command %s" % cmd)
                continue
            runs += 1
            out = run_audit(lpcert, words[2:], d, "README run %d" % runs).split("\n")
            if same_data and out[:len(shown)] != shown:
                k = next((j for j in range(len(shown)) if j >= len(out) or out[j] != shown[j]), 0)
                fail("README run %d: the pasted output differs at its line %d:\n  README: %r\n  now:    %r"
                     % (runs, k + 1, shown[k], out[k] if k < len(out) else None))
    if runs < 2:
        fail("README: %d audit commands found, expected 2" % runs)


def gen_cases(lpcert, d):
    rng = np.random.default_rng(15)

    def npy(name, arr):
        np.save(os.path.join(d, name), arr)

    # case A: shift none, f64 a, f16 b, ignore_index -1, a mask, bands; logits of b only, with
    # temperature 1.3 and top-k 30 (labels among b's 20 largest logits, so kept)
    B, T, V = 3, 20, 40
    Lb = rng.standard_normal((B, T, V)) * 2
    order = np.argsort(-Lb, -1)
    lab = np.take_along_axis(order, rng.integers(0, 20, (B, T, 1)), -1)[..., 0].astype(np.int64)
    lab[0, 3] = lab[2, 7] = -1
    m = np.ones((B, T), np.uint8)
    m[1, :] = 0                                # an empty sequence
    m[2, 15:] = 0
    z = Lb / 1.3
    lse = np.log(np.exp(z).sum(-1))
    ex = np.take_along_axis(z, np.maximum(lab, 0)[..., None], -1)[..., 0] - lse
    npy("A_a.npy", ex + rng.standard_normal((B, T)) * 0.05)
    npy("A_b.npy", (ex + rng.standard_normal((B, T)) * 1e-3).astype(np.float16))
    npy("A_y.npy", lab)
    npy("A_m.npy", m)
    npy("A_Lb.npy", Lb)
    run_audit(lpcert, ["--a", "A_a.npy", "--b", "A_b.npy", "--labels", "A_y.npy", "--mask", "A_m.npy",
                       "--shift", "none", "--ignore-index", "-1", "--band", "0.5,inf", "--band", "0,1",
                       "--band", "0.95,1.05", "--logits-b", "A_Lb.npy", "--b-temperature", "1.3",
                       "--b-top-k", "30"], d, "case A")
    # case B: logits of a only (f32), softcap 5, temperature 0.9, top-k 10, min-p 0.05; labels at
    # each row's largest logit (always kept); a and b in one safetensors file, labels i32
    B, T, V = 2, 17, 64
    La = (rng.standard_normal((B, T, V)) * 3).astype(np.float32)
    lab = np.zeros((B, T), np.int32)
    lab[:, 1:] = La[:, :-1].argmax(-1)
    x = 5 * np.tanh(La.astype(np.float64) / 5) / 0.9
    lse = np.log(np.exp(x).sum(-1))
    ex = np.take_along_axis(x[:, :-1], lab[:, 1:, None].astype(np.int64), -1)[..., 0] - lse[:, :-1]
    av = (ex - np.abs(rng.standard_normal((B, T - 1))) * 0.01).astype(np.float32)
    bv = (ex + rng.standard_normal((B, T - 1)) * 0.2).astype(np.float32)
    tz.write_safetensors(os.path.join(d, "B_ab.safetensors"),
                         [("a", "f32", [B, T - 1], [float(v) for v in av.ravel()]),
                          ("b", "f32", [B, T - 1], [float(v) for v in bv.ravel()])])
    npy("B_y.npy", lab)
    npy("B_La.npy", La)
    run_audit(lpcert, ["--a", "B_ab.safetensors:a", "--b", "B_ab.safetensors:b", "--labels", "B_y.npy",
                       "--logits-a", "B_La.npy", "--a-softcap", "5", "--a-temperature", "0.9",
                       "--a-top-k", "10", "--a-min-p", "0.05"], d, "case B")
    # case C: no logits; bf16 a ('<u2' bits), 1-D labels [T] and log-probs [T_s]; equal values
    T = 30
    y = rng.integers(0, 9, T).astype(np.int64)
    bvals = -np.abs(rng.standard_normal(T - 1)).astype(np.float32)
    bits = (bvals.view(np.uint32) >> 16).astype(np.uint16)
    bvals_b = (bits.astype(np.uint32) << 16).view(np.float32)
    avals = bvals_b.copy()
    avals[::3] += np.float32(0.25)
    npy("C_a.npy", avals)
    npy("C_b.npy", bits)
    npy("C_y.npy", y)
    run_audit(lpcert, ["--a", "C_a.npy", "--b", "C_b.npy", "--labels", "C_y.npy", "--band", "1,1.5"],
              d, "case C")
    # case D: exact corners, f64 log-probs, shift none: x = 0 against bands [1, 2] and [0.5, 1]
    # (exp(0) = 1 is inside both); x = RN(log 1.1) and RN(log 0.9), whose band decisions need more
    # than 53 bits. Case T: x = 1 and 1 + 2^-52: mean 1 + 2^-53, a tie of binary64 (to even: 1)
    npy("D_a.npy", np.array([[0.0, math.log(1.1), math.log(0.9)]]))
    npy("D_b.npy", np.zeros((1, 3)))
    npy("D_y.npy", np.zeros((1, 3), np.int64))
    run_audit(lpcert, ["--a", "D_a.npy", "--b", "D_b.npy", "--labels", "D_y.npy", "--shift", "none",
                       "--band", "1,2", "--band", "0.5,1"], d, "case D")
    npy("T_a.npy", np.array([[1.0, 1.0 + 2.0 ** -52]]))
    npy("T_b.npy", np.zeros((1, 2)))
    npy("T_y.npy", np.zeros((1, 2), np.int64))
    run_audit(lpcert, ["--a", "T_a.npy", "--b", "T_b.npy", "--labels", "T_y.npy", "--shift", "none",
                       "--json", "j_T.json"], d, "case T")
    if json.load(open(os.path.join(d, "j_T.json")))["tokens"]["mean_abs_delta"] != 1.0:
        fail("case T: the tie 1 + 2^-53 did not round to even (1.0)")
    # case E: k3 beyond binary64 (x = -800: r = e^800 > 2^1024): "inf"; case F: a = b, k3 exactly 0
    npy("E_a.npy", np.array([[-800.0, 0.0]]))
    npy("E_b.npy", np.array([[0.0, 0.0]]))
    npy("E_y.npy", np.zeros((1, 2), np.int64))
    run_audit(lpcert, ["--a", "E_a.npy", "--b", "E_b.npy", "--labels", "E_y.npy", "--shift", "none"],
              d, "case E")
    npy("F_a.npy", np.array([[-0.5, -1.25]], np.float32))
    got = run_audit(lpcert, ["--a", "F_a.npy", "--b", "F_a.npy", "--labels", "E_y.npy", "--shift", "none",
                             "--json", "j_F.json"], d, "case F (a = b)")
    if json.load(open(os.path.join(d, "j_F.json")))["tokens"]["k3_kl"] != 0:
        fail("case F: k3 of a = b is not 0")
    return ("A_a.npy", "A_b.npy", "A_y.npy", "A_m.npy", "A_Lb.npy")


def check_errors(lpcert, d):
    B, T = 3, 20
    a, _ = load("A_a.npy", d)
    y, _ = load("A_y.npy", d)
    m, _ = load("A_m.npy", d)
    base = ["--b", "A_b.npy", "--labels", "A_y.npy", "--mask", "A_m.npy", "--shift", "none",
            "--ignore-index", "-1"]

    def expect2(words, want, what):
        jp = os.path.join(d, "err.json")
        if os.path.exists(jp):
            os.remove(jp)
        r = subprocess.run([lpcert, "audit"] + words + ["--json", "err.json", "--out", "err.md"],
                           cwd=d, capture_output=True, text=True)
        lines = r.stderr.strip().split("\n")
        if r.returncode != 2 or len(lines) != 1 or not re.search(want, lines[0]):
            fail("%s: exit %d, stderr %r; expected exit 2 and one line matching %r"
                 % (what, r.returncode, r.stderr, want))
        if os.path.exists(jp) or os.path.exists(os.path.join(d, "err.md")) or r.stdout:
            fail("%s: output written despite the error" % what)
        else:
            print("e2e_audit: %s: exit 2: %s" % (what, lines[0]))

    np.save(os.path.join(d, "E_short.npy"), a[:, :-1])
    expect2(["--a", "E_short.npy"] + base, r"E_short\.npy: shape \[3, 19\], expected \[3, 20\]",
            "shape mismatch")
    # the first counted token of sequence 2 after t = 4
    t_c = next(t for t in range(5, T) if y[2, t] != -1 and m[2, t] == 1)
    bad = a.copy()
    bad[2, t_c] = np.nan
    np.save(os.path.join(d, "E_nan.npy"), bad)
    expect2(["--a", "E_nan.npy"] + base, r"logp\[b=2,t=%d\] is .*nan.* at a counted token" % t_c,
            "NaN at a counted token")
    bad = a.copy()
    bad[2, t_c] = -np.inf
    np.save(os.path.join(d, "E_inf.npy"), bad.astype(np.float32))
    expect2(["--b", "E_inf.npy", "--a", "A_a.npy"] + base[2:],
            r"E_inf\.npy: logp\[b=2,t=%d\] is .*inf.* at a counted token" % t_c, "-inf at a counted token")
    bad = a.copy()
    bad[1, 4] = np.nan      # sequence 1 is all masked: the NaN does not count
    np.save(os.path.join(d, "E_nan_masked.npy"), bad)
    r = subprocess.run([lpcert, "audit", "--a", "E_nan_masked.npy"] + base, cwd=d, capture_output=True,
                       text=True)
    if r.returncode != 0:
        fail("NaN at a masked token: exit %d: %s" % (r.returncode, r.stderr.strip()))
    Lb, _ = load("A_Lb.npy", d)
    np.save(os.path.join(d, "E_Lb.npy"), Lb[:, :-1])
    expect2(["--a", "A_a.npy"] + base + ["--logits-b", "E_Lb.npy"], r"E_Lb\.npy.*labels shape does not match",
            "logits of another T")
    expect2(["--a", "A_a.npy"] + base + ["--logits-b", "A_Lb.npy", "--b-top-k", "1"],
            r"exact logp at b=\d+, t=\d+ is -inf .*kept set", "a label outside the kept set")
    expect2(["--a", "A_a.npy"] + base + ["--a-top-p", "0.9"], r"give --logits-a", "semantics without logits")
    expect2(["--a", "A_a.npy"] + base + ["--band", "1.1,0.9"], r"--band", "a reversed band")
    # an --svg-dir that cannot be made: nothing written (the JSON was written before it failed)
    expect2(["--a", "A_a.npy"] + base + ["--svg-dir", "A_a.npy/svg"], r"A_a\.npy/svg: cannot create",
            "an --svg-dir under a file")
    # labels padded with -1 but --ignore-index left at -100: the -1 tokens counted silently (no
    # logits, so no V to check against); a negative label is outside [0, V) for every V, an input
    # error as for ref and check
    expect2(["--a", "A_a.npy"] + base[:-2], r"labels\[b=\d+,t=\d+\]: label -1 is negative and not "
            r"ignore_index -100", "a negative label without logits")


def main():
    lpcert = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as d:
        readme_example(lpcert, d)
        gen_cases(lpcert, d)
        check_errors(lpcert, d)
    if FAILS:
        print("e2e_audit: %d failure(s)" % len(FAILS))
        return 1
    print("e2e_audit: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
