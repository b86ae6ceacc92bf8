"""tests/e2e_ref_grad.py: `lpcert ref --grad` end to end. On a small f32 problem with a mask,
ignore_index, a -inf logit, a label at -inf, an exact row, a peaked row and a NaN row, for every
reduction, both shifts and two temperatures: grad.f64 and grad.f32 bit for bit against mpmath
(an oracle independent of MPFR: g_i = (delta_iy - p_i) weight / tau at 600 bits, the label as
1 - p_y there, rounded by Python's float() and struct 'f' (f32 via the f64 would round twice:
the f32 is rounded from the mpmath value with mpmath's own prec=24 rounding, subnormals aside:
none here)), shapes [B, T, V] and dtypes, +0 rows, --formats restricting the tensors, --slow
giving the same bytes, and the errors: --grad without --out, a bad reduction, a label out of
range (exit 2, no OUT, no OUT.tmp left).

usage: python3 tests/e2e_ref_grad.py path/to/lpcert
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

KIT = Kit("e2e_ref_grad", sys.argv[1])
check, run = KIT.check, KIT.run


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def rn32_bits(v):
    """f32 bit pattern of the RNE rounding of the mpmath value v (normal range)."""
    if v == 0:
        return 0x80000000 if mpmath.sign(v) < 0 else 0
    with mpmath.workprec(24):
        r = +v  # rounds to 24 bits, nearest even
    return struct.unpack("<I", struct.pack("<f", float(r)))[0]


def exact_grad(row, y, tau, w):
    """The exact gradient row (mpmath values; None for an element that is -0)."""
    mpmath.mp.prec = 600
    xs = [None if v == -math.inf else mpmath.mpf(v) / mpmath.mpf(tau) for v in row]
    m = max(x for x in xs if x is not None)
    e = [mpmath.mpf(0) if x is None else mpmath.exp(x - m) for x in xs]
    s = mpmath.fsum(e)
    g = []
    for i, x in enumerate(xs):
        p = e[i] / s
        if i == y:
            g.append((1 - p) * w / mpmath.mpf(tau))
        elif x is None:
            g.append(None)
        else:
            g.append(-p * w / mpmath.mpf(tau))
    return g


def main():
    d = tempfile.mkdtemp(prefix="lpcert_e2e_grad_")
    B, T, V = 2, 4, 6
    L = [f32(((b * 31 + t * 7 + v * 3) % 13) * 0.375 - 2.0) for b in range(B) for t in range(T) for v in range(V)]
    L[(0 * T + 1) * V + 3] = -math.inf                   # a masked vocabulary entry
    for v in range(V):
        L[(0 * T + 2) * V + v] = 1.25                    # an exact row
    L[(1 * T + 0) * V + 4] = 30.0                        # a peaked row
    L[(1 * T + 1) * V + 0] = -math.inf                   # the label of (1, 1) under shift none
    L[(1 * T + 3) * V + 2] = math.nan                    # NaN in the last row (unscored: shift next)
    Y = [0, 2, 3, 1, 5, 0, -100, 4]
    M = [1, 1, 1, 1, 1, 1, 1, 0]
    tz.write_npy(os.path.join(d, "L.npy"), "f32", (B, T, V), L)
    tz.write_npy(os.path.join(d, "Y.npy"), "i64", (B, T), Y)
    tz.write_npy(os.path.join(d, "M.npy"), "u8", (B, T), M)
    base = ["ref", "--logits", os.path.join(d, "L.npy"), "--labels", os.path.join(d, "Y.npy"),
            "--mask", os.path.join(d, "M.npy")]
    out = os.path.join(d, "o.safetensors")
    for shift in ("next", "none"):
        Ts = T - 1 if shift == "next" else T
        counted = {}
        for b in range(B):
            for t in range(Ts):
                lt = t + 1 if shift == "next" else t
                if Y[b * T + lt] != -100 and M[b * T + lt]:
                    counted[(b, t)] = Y[b * T + lt]
        nb = [sum(1 for (bb, _) in counted if bb == b) for b in range(B)]
        for tau in (1.0, 0.75):
            for red in ("token", "sum", "mean", "token_mean"):
                rc, _, err = run(*base, "--shift", shift, "--temperature", repr(tau), "--grad", red,
                                 "--out", out)
                what = "shift %s tau %g %s" % (shift, tau, red)
                if not check(rc == 0, "%s: exit %d: %s" % (what, rc, err.strip())):
                    continue
                ts, meta = tz.read_safetensors(out)
                check(meta.get("grad") == red, "%s: metadata grad %r" % (what, meta.get("grad")))
                for fmt, dt in (("f64", "F64"), ("f32", "F32"), ("f16", "F16"), ("bf16", "BF16")):
                    e = ts.get("grad." + fmt)
                    check(e is not None and e[0] == dt and e[1] == [B, T, V],
                          "%s: grad.%s dtype/shape %r" % (what, fmt, e[:2] if e else None))
                g64 = tz.bits("F64", ts["grad.f64"][2])
                g32 = tz.bits("F32", ts["grad.f32"][2])
                for b in range(B):
                    for t in range(T):
                        r = b * T + t
                        row = L[r * V:(r + 1) * V]
                        got64 = g64[r * V:(r + 1) * V]
                        got32 = g32[r * V:(r + 1) * V]
                        if (b, t) not in counted:
                            check(all(x == 0 for x in got64 + got32),
                                  "%s: row (%d, %d) scores nothing, not +0" % (what, b, t))
                            continue
                        y = counted[(b, t)]
                        if any(math.isnan(v) for v in row):
                            check(all(x == 0x7ff8000000000000 for x in got64),
                                  "%s: NaN row (%d, %d)" % (what, b, t))
                            continue
                        w = {"token": 1, "sum": 1, "mean": mpmath.mpf(1) / nb[b],
                             "token_mean": mpmath.mpf(1) / sum(nb)}[red]
                        ex = exact_grad(row, y, tau, w)
                        for i in range(V):
                            if ex[i] is None:
                                e64, e32 = 0x8000000000000000, 0x80000000
                            else:
                                e64 = struct.unpack("<Q", struct.pack("<d", float(ex[i])))[0]
                                e32 = rn32_bits(ex[i])
                            check(got64[i] == e64 and got32[i] == e32,
                                  "%s: row (%d, %d) label %d element %d: f64 %016x f32 %08x, "
                                  "mpmath %016x %08x (%s)" % (what, b, t, y, i, got64[i], got32[i],
                                                              e64, e32, mpmath.nstr(ex[i] or 0, 20)))
    # --formats, --slow: the same bytes for what is written
    rc, _, err = run(*base, "--grad", "mean", "--formats", "f32,bf16", "--out", out)
    if check(rc == 0, "--formats f32,bf16: exit %d %s" % (rc, err.strip())):
        ts, _ = tz.read_safetensors(out)
        check(sorted(k for k in ts if k.startswith("grad.")) == ["grad.bf16", "grad.f32"],
              "--formats f32,bf16: %r" % sorted(k for k in ts if k.startswith("grad.")))
        slow = os.path.join(d, "slow.safetensors")
        rc, _, err = run(*base, "--grad", "mean", "--formats", "f32,bf16", "--slow", "--out", slow)
        if check(rc == 0, "--slow: exit %d" % rc):
            ts2, _ = tz.read_safetensors(slow)
            check(ts["grad.f32"] == ts2["grad.f32"] and ts["grad.bf16"] == ts2["grad.bf16"],
                  "--slow gives other bytes")
    # errors: nothing left behind
    bad = os.path.join(d, "bad.safetensors")
    for args, what in ((["--grad", "avg", "--out", bad], "bad reduction"),
                       (["--grad", "sum", "--json"], "--grad without --out")):
        rc, _, err = run(*base, *args)
        check(rc == 2 and err.count("\n") == 1, "%s: exit %d, stderr %r" % (what, rc, err))
    Yb = list(Y)
    Yb[1] = V + 3
    tz.write_npy(os.path.join(d, "Ybad.npy"), "i64", (B, T), Yb)
    rc, _, err = run("ref", "--logits", os.path.join(d, "L.npy"), "--labels",
                     os.path.join(d, "Ybad.npy"), "--grad", "token", "--out", bad)
    check(rc == 2 and not os.path.exists(bad) and not os.path.exists(bad + ".tmp"),
          "label out of range: exit %d, left %r" % (rc, [p for p in (bad, bad + ".tmp") if os.path.exists(p)]))
    return KIT.end()


if __name__ == "__main__":
    sys.exit(main())
