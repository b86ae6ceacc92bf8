#!/usr/bin/env python3
"""vectors/gen_grad.py: the mpmath oracle for gradients (SPEC A8), and its committed corpus.

A second, independent implementation of the gradient of SPEC A8, sharing no code with the C side
(reference/grad.c). From gen_vectors.py it takes only the format decoding and rounding helpers
(Fmt, decode, enc, rne, the Rng and the Case container) and, for the logp lines of each case
(t/u/s/m, so that the reader's invariants hold), that oracle's solve(); every gradient value is
computed here.

For a counted token with label y and row x (stored values, exact), tau the temperature and w the
reduction's weight (1 for token and sum, 1/n_b for mean, 1/sum_b n_b for token_mean), with
c = w / tau = 1 / (N tau) (N the divisor, an integer):
    g_i = c * (delta_iy - p_i),   p_i = exp(z_i) / sum_j exp(z_j),   z_i = (x_i - m) / tau
where m is the row's largest finite logit. The label element is c * sum_{i != y} p_i, computed
as that sum (never 1 - p_y). Special rows (SPEC A3's order): a NaN or +inf logit makes every
element NaN; a row whose logits are all -inf is NaN too (p is 0/0); an element at a -inf logit is
-0 (-c p_i with p_i = +0); a label at -inf gives p_y = 0 and g_y = c exactly. Rows that score
nothing (label ignore_index, mask 0, the last row under shift next) are +0 everywhere.

Exact rows: when every finite logit of the row is equal (n of them), p_i = 1/n and every element
is rational: c (n-1)/n at the label, -c/n elsewhere, c at a label on -inf, +0 at a label that is
the only finite logit. These are rounded exactly from Python Fractions (rne_frac), ties to even
(some cases below are exact ties of bf16 and f16: subnormal, normal and at the overflow threshold).

Every other element is transcendental (Lindemann-Weierstrass) and is computed at w bits with an
explicit error bound (see row_approx): z_i to an absolute error 2^-(w+6), each exp to a relative
2^-(w+4), the positive sums to 2^-(w+3), the quotient by S N tau to 2^-(w+1); the enclosure used
is v (1 +- 2^-(w-2)), eight times wider. An element is decided when both ends of its enclosure
round to the same f64, f32, f16 and bf16 bits and the same LO = RN_f64(x - f64); else w doubles
(from 128 up to 2^14). Each decided row is then evaluated again at w + 64 bits, and that value must
lie inside the enclosure (a check of the bound, not a step of the method). Elements next to
c = w/tau, |g_i| = c (1 - C) with C = e_y/S (the label) or (S - e_j)/S (the unique argmax j != y),
C < 2^-16, are decided from C itself (decide_comp: exact rational ends c (1 - C (1 +- 2^-(w-2))),
and a sticky surrogate when C < 2^-(1400 + log2 c), where every such C rounds alike).

Records, per element, are "F64 F32 F16 BF16 LO" as in vectors/FORMAT.md; a row of +0 is written
`z`, a NaN row `n`. The file format (the `grad R` block) is in vectors/FORMAT.md.

Usage:
    python3 vectors/gen_grad.py                 # writes vectors/corpus_grad/<family>.txt
    python3 vectors/gen_grad.py --out DIR       # elsewhere
    python3 vectors/gen_grad.py --family NAME   # one family (repeatable)
    python3 vectors/gen_grad.py --list
    python3 vectors/gen_grad.py --torch-check   # compare every finite f64 element with torch
                                                # float64 autograd (loose, a sanity check)
Deterministic: seeded random.Random, IEEE + - * only to build inputs (gen_vectors's Rng).
"""

import argparse
import os
import sys
import zlib
from fractions import Fraction

import mpmath
from mpmath.libmp import (fzero, fone, from_man_exp, from_int, mpf_add, mpf_sub, mpf_div,
                          mpf_exp, mpf_mul, mpf_cmp, mpf_neg, mpf_shift)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_vectors as gv                                         # noqa: E402
import gen_sampling as gs                                        # noqa: E402
from gen_vectors import (F64, F32, F16, BF16, FMTS, NAN, PINF, NINF, decode, enc, rne,  # noqa
                         value_of, fmt_max, Rng, Case, mag)

VERSION = 1
SEED = 0x5EED0A08
START_W = 128
MAX_W = 1 << 14
RN = 'n'
REDUCTIONS = ('token', 'sum', 'mean', 'token_mean')
STATS = {'elements': 0, 'exact': 0, 'raised': 0, 'max_w': 0}

# --------------------------------------------------------------------------------------------
# Rounding of exact rationals and of enclosures.

ZERO_REC = (0, 0, 0, 0, 0)
NAN_REC = (F64.nan, F32.nan, F16.nan, BF16.nan, F64.nan)


def rne_frac(fmt, q):
    """Round a nonzero Fraction to fmt, ties to even: the bit pattern (signed zero on underflow)."""
    neg = q < 0
    a = -q if neg else q
    num, den = a.numerator, a.denominator
    e = num.bit_length() - den.bit_length()          # 2^e <= a < 2^(e+2)
    if Fraction(2) ** e > a:
        e -= 1
    elif Fraction(2) ** (e + 1) <= a:
        e += 1
    if e > fmt.emax + 1:
        return (fmt.sign if neg else 0) | fmt.inf
    qe = max(e, fmt.emin) - fmt.p + 1                # quantum exponent
    scaled = a / (Fraction(2) ** qe)
    n = scaled.numerator // scaled.denominator
    rem = scaled - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n & 1):
        n += 1
    if n == 0:
        return fmt.sign if neg else 0
    return rne(fmt, from_man_exp(-n if neg else n, qe))  # exact: n <= 2^p


def frac_of_bits(fmt, bits):
    v = decode(fmt, bits)
    assert isinstance(v, tuple)
    if not v[1]:
        return Fraction(0)
    sign, man, exp, _ = v
    f = Fraction(man) * (Fraction(2) ** exp)
    return -f if sign else f


def record_frac(q, neg_zero=False):
    """The record of an exact rational (q == 0: +0, or -0 with neg_zero; LO is then +0)."""
    if q == 0:
        z = (F64.sign, F32.sign, F16.sign, BF16.sign, 0) if neg_zero else ZERO_REC
        return z
    hi = rne_frac(F64, q)
    if hi & ~F64.sign == F64.inf:
        lo = 0
    else:
        d = q - frac_of_bits(F64, hi)
        lo = rne_frac(F64, d) if d != 0 else 0
    return (hi, rne_frac(F32, q), rne_frac(F16, q), rne_frac(BF16, q), lo)


def rec_of(v):
    """Every rounding of a nonzero libmp value v, LO included (None where an exact zero shows)."""
    hi = rne(F64, v)
    if hi & ~F64.sign == F64.inf:
        lo = 0
    else:
        d = mpf_sub(v, decode(F64, hi))              # exact
        if not d[1]:
            return None
        lo = rne(F64, d)
    return (hi, rne(F32, v), rne(F16, v), rne(BF16, v), lo)


def decide(v, k):
    """The record of x given |v - x| <= 2^-k |v| (v nonzero), or None if the ends differ."""
    eps = from_man_exp(v[1], v[2] - k)               # 2^-k |v| exactly
    a, b = mpf_sub(v, eps), mpf_add(v, eps)          # exact
    ra, rb = rec_of(a), rec_of(b)
    if ra is None or rb is None or ra != rb:
        return None
    return ra

# --------------------------------------------------------------------------------------------
# One row.

def classify(vals, y):
    """'nan', or ('exact', n, finite, label_finite), or ('fin', finite)."""
    finite = []
    for i, v in enumerate(vals):
        if v is NAN or v is PINF:
            return ('nan',)
        if v is not NINF:
            finite.append(i)
    if not finite:
        return ('nan',)                              # all -inf: p is 0/0
    first = vals[finite[0]]
    if all(mpf_cmp(vals[i], first) == 0 for i in finite):
        return ('exact', len(finite), finite, vals[y] is not NINF)
    return ('fin', finite)


def exact_row(vals, y, cls, N, tau_frac):
    """Records of an exact row (every finite logit equal)."""
    _, n, finite, lab_fin = cls
    c = Fraction(1) / (N * tau_frac)
    fin = set(finite)
    out = []
    for i in range(len(vals)):
        if i == y:
            q = c * Fraction(n - 1, n) if lab_fin else c
            out.append(record_frac(q))
        elif i in fin:
            out.append(record_frac(-c / n))
        else:
            out.append(record_frac(Fraction(0), neg_zero=True))
    return out


def div_tau(d, tau, w):
    """d / tau with an absolute error <= 2^-(w+6) (see the module docstring)."""
    if not d[1]:
        return d
    if tau[1] == 1:
        return mpf_shift(d, -tau[2])                 # exact: tau is a power of two
    extra = max(0, mag(d) - mag(tau))
    return mpf_div(d, tau, w + extra + 8, RN)


def row_approx(vals, y, finite, N, tau, w):
    """Approximations v_i of g_i with |v_i - g_i| <= 2^-(w+1) |g_i| (None at -inf logits)."""
    m = vals[finite[0]]
    for i in finite[1:]:
        if mpf_cmp(vals[i], m) > 0:
            m = vals[i]
    we = w + 8
    ws = w + 8 + len(vals).bit_length()
    e = {}
    for i in finite:
        d = mpf_sub(vals[i], m)                      # exact
        e[i] = fone if not d[1] else mpf_exp(div_tau(d, tau, w), we, RN)
    S = fzero
    O = fzero                                        # sum over i != y
    for i in finite:
        S = mpf_add(S, e[i], ws, RN)
        if i != y:
            O = mpf_add(O, e[i], ws, RN)
    D = mpf_mul(mpf_mul(S, from_int(N)), tau)        # exact
    # Elements of the form c (1 - C) with C tiny (|g_i| next to c = 1/(N tau)): the label when
    # e_y << S, the unique argmax j != y when R_j = sum_{k != j} e_k << S. There v (1 +- 2^-(w-2))
    # straddles c and no precision decides a C below 2^-w; they are returned as ('comp', sign,
    # C~), C~ = m / S to a relative 2^-(w+1) (m = e_y or R_j: positive sums, no cancellation),
    # and decided by decide_comp from exact rationals.
    amax = [i for i in finite if mpf_cmp(vals[i], m) == 0]
    comp = {}
    if y in e:
        comp[y] = (1, e[y])
    if len(amax) == 1 and amax[0] != y:
        R = fzero
        for i in finite:
            if i != amax[0]:
                R = mpf_add(R, e[i], ws, RN)
        comp[amax[0]] = (-1, R)
    out = []
    for i in range(len(vals)):
        if i in comp:
            sign, mm = comp[i]
            C = mpf_div(mm, S, we, RN)
            if not C[1] or mag(C) < -16:
                out.append(('comp', sign, C))
                continue
        if i == y:
            # a label at -inf: O = S, g_y = c exactly (the caller records it as a rational)
            out.append(mpf_div(O, D, we, RN) if y in e else 'label-ninf')
        elif i in e:
            out.append(mpf_neg(mpf_div(e[i], D, we, RN)))
        else:
            out.append(None)
    return out


def decide_comp(sign, C, k, c):
    """The record of x = sign c (1 - C*) given |C~ - C*| <= 2^-k C* (c a positive Fraction), or
    None. Ends as exact rationals; below C~ < 2^-E (E = 1400 + log2 c) the sticky surrogate:
    every C* in (0, 2^-(E-1)] rounds alike (no rounding boundary of the formats or of LO lies
    within c 2^-(E-1) of c other than c itself, and c (1 - C*) < c is on one side of it), so the
    ends C* = 2^-(E-1) and 2^-(E+40) stand for the whole range."""
    E = 1400 + max(0, c.numerator.bit_length() - c.denominator.bit_length() + 1)
    if not C[1] or mag(C) < -E:
        a = c * (1 - Fraction(1, 2 ** (E - 1)))
        b = c * (1 - Fraction(1, 2 ** (E + 40)))
    else:
        Cf = frac_of_mpf(C)
        a = c * (1 - Cf * (1 + Fraction(1, 2 ** k)))
        b = c * (1 - Cf * (1 - Fraction(1, 2 ** k)))
    ra, rb = record_frac(sign * a), record_frac(sign * b)
    return ra if ra == rb else None


def frac_of_mpf(t):
    sign, man, exp, _ = t
    f = Fraction(man) * (Fraction(2) ** exp)
    return -f if sign else f


def grad_row(vals, y, N, tau, tau_frac):
    """Records of one counted row: a list of V records, or 'n' for a NaN row."""
    cls = classify(vals, y)
    V = len(vals)
    if cls[0] == 'nan':
        return 'n'
    STATS['elements'] += V
    if cls[0] == 'exact':
        STATS['exact'] += V
        return exact_row(vals, y, cls, N, tau_frac)
    finite = cls[1]
    w = START_W
    while True:
        approx = row_approx(vals, y, finite, N, tau, w)
        recs = []
        for i, v in enumerate(approx):
            if v is None:
                recs.append(record_frac(Fraction(0), neg_zero=True))
                continue
            if v == 'label-ninf':
                recs.append(record_frac(Fraction(1) / (N * tau_frac)))
                continue
            if v[0] == 'comp':
                r = decide_comp(v[1], v[2], w - 2, Fraction(1) / (N * tau_frac))
            else:
                r = decide(v, w - 2)
            if r is None:
                break
            recs.append(r)
        if len(recs) == V:
            break
        STATS['raised'] += 1
        w *= 2
        if w > MAX_W:
            raise RuntimeError('rounding undecided at %d bits' % w)
    STATS['max_w'] = max(STATS['max_w'], w)
    # Check of the bound: a value at w + 64 bits lies inside every enclosure.
    check = row_approx(vals, y, finite, N, tau, w + 64)
    for v, v2 in zip(approx, check):
        if not isinstance(v, tuple):
            continue
        if v[0] == 'comp':
            if v[2][1] and v2[2][1] and mag(v[2]) >= -1400:
                d = mpf_sub(v[2], v2[2])
                if d[1] and mag(d) > mag(v[2]) - (w - 2):
                    raise RuntimeError('complement at %d and %d bits disagree' % (w, w + 64))
            continue
        d = mpf_sub(v, v2)
        if d[1] and mag(d) > mag(v) - (w - 2):
            raise RuntimeError('evaluations at %d and %d bits disagree beyond the bound'
                               % (w, w + 64))
    return recs

# --------------------------------------------------------------------------------------------
# Rows under SPEC A7's sampling parameters (the kept set K from gen_sampling.py, decided exactly):
#   g_i = c P_i s_i (sign + at the label, - elsewhere), c = 1 / (N tau),
#   P_y = sum_{i in K, i != y} p_i (y in K) or 1 (y filtered out: p_y = 0, A8's formula as written),
#   P_i = p_i (i in K), elements outside K (i != y) -0; p the softmax over K;
#   s_i = 1 - tanh^2(x_i / c) = sech^2(x_i / c) (1 without softcap, and exactly 1 at x_i = 0).
# P_i is rational when every kept logit is equal (1/n, (n-1)/n) or y is filtered out (1), s_i when
# there is no softcap or x_i = 0: such elements are exact rationals; the others transcendental,
# with the bounds of row_approx (P_i to 2^-(w+1.5), sech^2 to 2^-(w+4), products to 2^-(w+7)).

def sech2(x, case, w):
    """sech^2(x / c) to a relative 2^-(w+4) (x finite, nonzero)."""
    P = w + 16 + max(0, mag(x) - mag(case.c))
    with mpmath.workprec(P):
        return (mpmath.sech(mpmath.mpf(x) / mpmath.mpf(case.c)) ** 2)._mpf_


def grad_row_sampled(vals, y, N, case, tau_frac):
    V = len(vals)
    if any(v is NAN or v is PINF for v in vals) or all(v is NINF for v in vals):
        return 'n'
    sc = case.c is not None
    assert not (sc and vals[y] is NINF), 'a label at -inf under softcap: not generated'
    STATS['elements'] += V
    K, imax = gs.kept_set(vals, case)
    Kset = set(K)
    n = len(K)
    equal = all(mpf_cmp(vals[i], vals[K[0]]) == 0 for i in K)
    cfrac = Fraction(1) / (N * tau_frac)
    out = [None] * V
    inexact = []
    for i in range(V):
        if i != y and i not in Kset:
            out[i] = record_frac(Fraction(0), neg_zero=True)
            continue
        if i == y and y not in Kset:
            P = Fraction(1)
        elif equal:
            P = Fraction(n - 1, n) if i == y else Fraction(1, n)
        else:
            P = None
        s_one = not sc or not vals[i][1]
        if P is not None and (s_one or P == 0):
            out[i] = record_frac(P * cfrac if i == y else -P * cfrac)
            STATS['exact'] += 1
        else:
            inexact.append(i)
    if not inexact:
        return out
    D = mpf_mul(from_int(N), case.tau)                # exact
    w = START_W

    def approx(w):
        we = w + 8
        ws = we + V.bit_length()
        e = S = O = None
        if not equal:
            ds = gs.dvals(vals, K, imax, case, w)
            e = {i: (fone if not d[1] else mpf_exp(d, we, RN)) for i, d in ds.items()}
            S = O = fzero
            for i in K:
                S = mpf_add(S, e[i], ws, RN)
                if i != y:
                    O = mpf_add(O, e[i], ws, RN)
        res = {}
        for i in inexact:
            if i == y and y not in Kset:
                P = fone
            elif equal:
                P = mpf_div(from_int(n - 1 if i == y else 1), from_int(n), we, RN)
            else:
                P = mpf_div(O if i == y else e[i], S, we, RN)
            s_ = fone if (not sc or not vals[i][1]) else sech2(vals[i], case, w)
            v = mpf_div(mpf_mul(P, s_, we, RN), D, we, RN)
            res[i] = v if i == y else mpf_neg(v)
        return res
    while True:
        a = approx(w)
        got = {i: decide(v, w - 2) for i, v in a.items()}
        if all(r is not None for r in got.values()):
            break
        STATS['raised'] += 1
        w *= 2
        if w > MAX_W:
            raise RuntimeError('rounding undecided at %d bits' % w)
    STATS['max_w'] = max(STATS['max_w'], w)
    chk = approx(w + 64)
    for i, v in a.items():
        d = mpf_sub(v, chk[i])
        if d[1] and mag(d) > mag(v) - (w - 2):
            raise RuntimeError('evaluations at %d and %d bits disagree beyond the bound'
                               % (w, w + 64))
        out[i] = got[i]
    return out

# --------------------------------------------------------------------------------------------
# A case: its gradient for each reduction.

def tau_fraction(case):
    return frac_of_bits(F64, case.tau_bits)


def grads(case, red):
    """[B*T] rows: 'z', 'n' or a list of V records."""
    vals = [[[decode(case.fmt, x) for x in row] for row in seq] for seq in case.logits]
    counts = [0] * case.B
    scored = {}
    for b, t, tl in case.scored():
        if case.counted(b, tl):
            counts[b] += 1
            scored[(b, t)] = case.labels[b][tl]
    total = sum(counts)
    tf = tau_fraction(case)
    out = []
    for b in range(case.B):
        for t in range(case.T):
            if (b, t) not in scored:
                out.append('z')
                continue
            N = {'token': 1, 'sum': 1, 'mean': counts[b], 'token_mean': total}[red]
            if isinstance(case, gs.SCase):
                out.append(grad_row_sampled(vals[b][t], scored[(b, t)], N, case, tf))
            else:
                out.append(grad_row(vals[b][t], scored[(b, t)], N, case.tau, tf))
    return out


def fmt_rec(r):
    return '%016x %08x %04x %04x %016x' % r


def write_grad_case(lines, case, reds):
    """The logp case (gen_vectors, or gen_sampling for a case with sampling parameters) with one
    `grad R` block per reduction before its `end`."""
    (gs.write_case if isinstance(case, gs.SCase) else gv.write_case)(lines, case)
    assert lines[-1] == 'end'
    lines.pop()
    results = {}
    for red in reds:
        rows = grads(case, red)
        results[red] = rows
        lines.append('grad ' + red)
        for r in rows:
            lines.append(r if isinstance(r, str) else 'g ' + ' '.join(fmt_rec(x) for x in r))
    lines.append('end')
    return results

# --------------------------------------------------------------------------------------------
# Families: each returns [(Case, reductions)] for one storage format. V stays small: a gradient
# element costs 54 bytes in the file.

def G(name, fam, fmt, logits, labels, reds, **kw):
    return (Case('grad-%s/%s/%s' % (fam, fmt.name, name), 'grad-' + fam, fmt, logits, labels,
                 **kw), reds)


PEAK_KS = list(range(1, 13)) + [15, 20, 30]


def fam_peaked(fmt, rng):
    """p_y = 1 - 10^-k, k = 1..12, 15, 20, 30: the label element 10^-k (where 1 - p_y in low
    precision loses every digit), V = 2, 4 with equal competitors, 6 random, at tau 1 and 0.5."""
    out = []
    for variant in range(4):
        rows, labs = [], []
        for k in PEAK_KS:
            if variant == 0:                         # V = 2, label at the max 0
                g = gv.peak_gap(k, 1)
                row = [enc(fmt, 0.0), enc(fmt, gv.mpf_from(g))]
                lab = 0
            elif variant == 1:                       # V = 4, three equal competitors
                g = gv.peak_gap(k, 3)
                lab = rng.below(4)
                row = [enc(fmt, gv.mpf_from(g + 1.5))] * 4
                row[lab] = enc(fmt, 1.5)
            elif variant == 2:                       # V = 6, mass spread at random
                g = gv.peak_gap(k, 5)
                lab = rng.below(6)
                with mpmath.workprec(200):
                    row = [enc(fmt, gv.mpf_from(g + mpmath.mpf(rng.unif()) - 0.5))
                           for _ in range(6)]
                row[lab] = enc(fmt, 0.0)
            else:                                    # V = 3 at tau 0.5: the gap halved
                g = gv.peak_gap(k, 2)
                lab = rng.below(3)
                with mpmath.workprec(200):
                    row = [enc(fmt, gv.mpf_from(g / 2 - 4))] * 3
                row[lab] = enc(fmt, -4.0)
            rows.append(row)
            labs.append(lab)
        reds = [('sum',), ('mean',), ('token_mean',), ('token',)][variant]
        out.append(G('%d' % variant, 'peaked', fmt, [rows], [labs], reds, shift='none',
                     tau=0.5 if variant == 3 else 1.0,
                     note='p_y = 1 - 10^-k, k = %s; %s' % (
                         ','.join(map(str, PEAK_KS)),
                         ['V=2', 'V=4 equal competitors', 'V=6 random competitors',
                          'V=3 at tau 0.5'][variant])))
    # Gaps that underflow p_i in the formats: -17, -104, -745, -1e4 (two logits).
    rows = [[enc(fmt, 0.0), enc(fmt, -d)] for d in (17.0, 88.0, 104.0, 746.0, 1.0e4)]
    rows += [[enc(fmt, -d), enc(fmt, 0.0)] for d in (17.0, 104.0, 746.0)]
    out.append(G('underflow', 'peaked', fmt, [rows], [[0] * 5 + [0] * 3], ('sum',),
                 shift='none', note='p_i below the subnormal range of the formats: the label '
                 'element underflows to +0, the other to -0; then the label on the low logit'))
    return out


def fam_exact(fmt, rng):
    """Rows of equal finite logits: rational gradients, exact ties of the formats."""
    out = []
    one = enc(fmt, 1.0)
    ninf = enc(fmt, float('-inf'))
    # Plain: V = 1 (label element +0), 2, 3, 5, 7 equal logits, some -inf; mean over 3 tokens
    # gives -1/(3n): rationals that are not dyadic.
    rows = [[enc(fmt, 0.75)] * 7, [enc(fmt, -3.0)] * 7, [one, one, one, ninf, one, ninf, one],
            [ninf] * 6 + [enc(fmt, 2.0)], [ninf, enc(fmt, 5.0)] + [ninf] * 5,
            [enc(fmt, -0.0), enc(fmt, 0.0)] + [ninf] * 5]
    labs = [3, 0, 4, 6, 0, 1]
    out.append(G('plain', 'exact', fmt, [rows[:3], rows[3:]], [labs[:3], labs[3:]],
                 ('sum', 'mean', 'token_mean'), shift='none',
                 note='equal finite logits (n = 7, 7, 5), one finite at the label (+0), the '
                 'label on -inf beside one finite logit (g_y = w), +0 and -0 equal'))
    # Temperature scales: tau = 3 (n = 4: 1/4 and -1/12), 2^-3, 1/3 (binary64), 1e-3.
    for tau in (3.0, 0.125, 1.0 / 3.0, 1e-3):
        rows = [[enc(fmt, 2.0)] * 4, [enc(fmt, 2.0)] * 2 + [ninf] * 2]
        out.append(G('tau_%s' % float(tau).hex(), 'exact', fmt, [rows], [[1, 0]], ('mean',),
                     shift='none', tau=tau, note='equal logits at tau %r: rational' % tau))
    # Subnormal ties: n = 4 at tau 2^23 (f16: 1.5 ulp and 0.5 ulp of the smallest subnormal),
    # 2^132 (bf16), 2^148 (f32); n = 2 at 2^24 and 2^149 (exactly half the smallest subnormal).
    rows4 = [[one] * 4]
    for e in (22, 23, 24, 131, 132, 133, 147, 148, 149):
        out.append(G('sub_2e%d' % e, 'exact', fmt, [rows4 + [[one, one, ninf, ninf]]],
                     [[0, 1]], ('sum',), shift='none', tau=2.0 ** e,
                     note='n = 4 and n = 2 at tau 2^%d: subnormal results, RNE ties' % e))
    # Overflow: tau 2^-1000 (f64 finite), 2^-1074 (f64 overflows: 2^1073 / 2).
    for tau in (2.0 ** -1000, 5e-324, 2.0 ** -126):
        out.append(G('ovf_%s' % float(tau).hex(), 'exact', fmt, [[[one] * 2, [one, ninf]]],
                     [[0, 1]], ('sum',), shift='none', tau=tau,
                     note='equal logits at tau %s: overflow in the formats' % float(tau).hex()))
    if fmt is BF16:
        # 512 equal logits: g_y = 511/512 (9 bits), a bf16 tie (to 1.0); at tau 2^-128 the tie
        # sits on bf16's overflow threshold (to +inf), exact in f32.
        for tau in (1.0, 2.0 ** -128):
            out.append(G('v512_%s' % float(tau).hex(), 'exact', fmt, [[[one] * 512]], [[7]],
                         ('sum',), shift='none', tau=tau,
                         note='512 equal logits at tau %s: 511/512 ties in bf16'
                         % float(tau).hex()))
    return out


def fam_specials(fmt, rng):
    """NaN and +inf rows, all -inf rows, -inf masking, the label at -inf; masked and not."""
    nan = enc(fmt, float('nan'))
    pinf, ninf = enc(fmt, float('inf')), enc(fmt, float('-inf'))
    V = 5
    rows = [
        [enc(fmt, 1.0), nan, enc(fmt, -2.0), enc(fmt, 0.5), enc(fmt, 3.0)],    # NaN
        [enc(fmt, 1.0), enc(fmt, 2.0), pinf, enc(fmt, 0.5), enc(fmt, 3.0)],    # +inf
        [ninf] * V,                                                            # all -inf
        [enc(fmt, 1.0), ninf, enc(fmt, -2.0), ninf, enc(fmt, 3.25)],           # -inf masking
        [ninf, enc(fmt, 0.5), enc(fmt, -1.0), enc(fmt, 2.0), ninf],            # label at -inf
        [pinf, ninf, enc(fmt, 0.0), nan, enc(fmt, 1.0)],                       # +inf, NaN
        [enc(fmt, 1.0), enc(fmt, 2.0), enc(fmt, 3.0), enc(fmt, -4.0), enc(fmt, 0.0)],
        [ninf, ninf, enc(fmt, -7.0), ninf, ninf],                              # one finite
    ]
    labs = [0, 1, 2, 0, 0, 4, 2, 2, 1]
    T = len(rows)
    # seq 0: all counted; seq 1: NaN/inf/all -inf rows masked; seq 2: masked by ignore_index
    # (labels -100 on the special rows), shift next.
    out = []
    m1 = [[1] * T, [0, 0, 0, 1, 1, 0, 1, 1]]
    out.append(G('mask', 'specials', fmt, [rows, rows], [labs[:T], labs[:T]],
                 ('sum', 'mean'), mask=m1, shift='none',
                 note='seq 0: NaN, +inf, all -inf rows counted (NaN rows), -inf masking, label '
                 'at -inf (g_y = 1), one finite logit at the label; seq 1: the special rows '
                 'masked (+0)'))
    labs2 = [0, -100, -100, -100, 2, 0, -100, 1]
    out.append(G('next', 'specials', fmt, [rows], [labs2], ('token_mean', 'token'),
                 shift='next', note='shift next: the NaN, +inf and all -inf rows score '
                 'ignore_index (+0); the last row is never scored (+0)'))
    rows3 = [[enc(fmt, 2.0), nan], [enc(fmt, 1.0), enc(fmt, 0.0)], [ninf, ninf]]
    out.append(G('last', 'specials', fmt, [rows3], [[0, 1, 0]], ('mean',), shift='next',
                 note='NaN row counted; the all -inf last row is never scored'))
    return out


def fam_temperature(fmt, rng):
    """tau != 1: 0.7, 1.5, 2^-3, 1e-3, 1e3, 1/3, 0.999999, 1e300 (underflow), 1e-300 (overflow)."""
    out = []
    for i, tau in enumerate([0.7, 1.5, 2.0 ** -3, 1e-3, 1e3, 1.0 / 3.0, 0.999999, 1e300,
                             1e-300]):
        V, T = 4, 3
        rows = [gv.normal_row(rng, fmt, V, 2.0) for _ in range(T)]
        rows[1][0] = enc(fmt, float('-inf'))
        labs = [rng.below(V) for _ in range(T)]
        rows[2] = [enc(fmt, -12.0)] * V
        rows[2][labs[2]] = enc(fmt, 0.0)
        reds = [('sum',), ('mean',), ('token_mean',)][i % 3]
        out.append(G('%02d' % i, 'temperature', fmt, [rows], [labs], reds, shift='none',
                     tau=tau, note='tau = %r (%s): a random row, one with -inf, a peaked row'
                     % (tau, float(tau).hex())))
    return out


def fam_random(fmt, rng):
    """Random normal logits, B 1-3, masks, ignore_index, shift next/none, every reduction."""
    out = []
    for i in range(8):
        V = [2, 3, 5, 8][i % 4]
        B = 1 + i % 3
        T = 2 + rng.below(4)
        scale = [0.5, 3.0, 12.0, 40.0][i % 4]
        logits = [[gv.normal_row(rng, fmt, V, scale, [0.0, -8.0][i % 2]) for _ in range(T)]
                  for _ in range(B)]
        labels = [gv.rand_labels(rng, T, V, p_ignore=0.2 if i % 3 == 1 else 0.0)
                  for _ in range(B)]
        mask = [gv.rand_mask(rng, T, 0.3) for _ in range(B)] if i % 4 == 2 else None
        out.append(G('%02d' % i, 'random', fmt, logits, labels, (REDUCTIONS[i % 4],), mask=mask,
                     shift='next' if i % 2 == 0 else 'none', itype='i32' if i == 5 else 'i64',
                     note='normal logits, scale %g, V %d, B %d' % (scale, V, B)))
    # Every reduction on the same batch: sequences with 3, 1 and 0 counted tokens.
    V, T = 4, 4
    logits = [[gv.normal_row(rng, fmt, V, 2.0) for _ in range(T)] for _ in range(3)]
    labels = [[rng.below(V) for _ in range(T)] for _ in range(3)]
    mask = [[1, 1, 1, 1], [1, 0, 1, 0], [1, 0, 0, 0]]
    out.append(G('allred', 'random', fmt, logits, labels, REDUCTIONS, mask=mask,
                 empty_mean='zero', note='every reduction; n_b = 3, 1, 0 (shift next)'))
    return out


def fam_extreme(fmt, rng):
    """Elements next to w/tau: the label at a logit so low that p_y underflows any exponent
    range (gaps up to the format's max finite, e^-3.4e38), the argmax beside labels that low:
    |g_i| = w/tau (1 - C) with C < 2^-(10^30), rounded as 1 - tiny (dd (w/tau, -0))."""
    M = fmt_max(fmt)
    out = []
    for k, tau in enumerate([1.0, 0.5, 1e-3, 1e30]):
        rows = [[enc(fmt, 0.0), enc(fmt, -M), enc(fmt, 0.25), enc(fmt, -1.0)],
                [enc(fmt, 0.0), enc(fmt, -M), enc(fmt, -M), enc(fmt, -M)],
                [enc(fmt, -M / 2), enc(fmt, 1.0), enc(fmt, -M), enc(fmt, -M / 4)],
                [enc(fmt, M), enc(fmt, -M), enc(fmt, M / 2), enc(fmt, 0.0)],
                [enc(fmt, 2.0), enc(fmt, -60.0), enc(fmt, -70.0), enc(fmt, -1e4 if fmt is not F16
                                                                       else -6e4)],
                [enc(fmt, value_of(fmt, fmt.maxfin - 1)), enc(fmt, M), enc(fmt, -M), enc(fmt, -M)]]
        labs = [1, 1, 0, 1, 1, 2]
        reds = [('sum',), ('mean',), ('token_mean',), ('sum',)][k]
        out.append(G('tau%d' % k, 'extreme', fmt, [rows[:3], rows[3:]], [labs[:3], labs[3:]],
                     reds, shift='none', tau=tau,
                     note='labels and maxima next to w/tau (1 - C, C below any exponent range) '
                     'at tau %r' % tau))
    return out


LARGE_VS = [4096, 32000]


def fam_large(fmt, rng, V):
    """A few rows of a large vocabulary (written at test time, LPCERT_LEVEL=2; not committed):
    a normal row with -inf every 97 ids, a peaked row (p_y ~ 1 - V e^-38), a row of equal logits
    (rational 1/V), at tau 1 and 0.7."""
    out = []
    for k, tau in enumerate((1.0, 0.7) if V == LARGE_VS[0] else (0.7,)):
        rows = [gv.normal_row(rng, fmt, V, 3.0)]
        for v in range(0, V, 97):
            rows[0][v] = enc(fmt, float('-inf'))
        rows.append([enc(fmt, -40.0 + 4.0 * rng.unif()) for _ in range(V)])
        rows.append([enc(fmt, 1.25)] * V)
        labs = [1 + rng.below(V - 2), rng.below(V), rng.below(V)]
        rows[0][labs[0]] = enc(fmt, 2.5)
        rows[1][labs[1]] = enc(fmt, 0.0)
        out.append(G('V%d_tau%s' % (V, float(tau).hex()), 'large', fmt, [rows], [labs],
                     (('sum', 'mean')[k],) if V == LARGE_VS[0] else ('mean',), shift='none',
                     tau=tau, note='V = %d at tau %r: normal with -inf, peaked, equal rows' % (V, tau)))
    return out


def SG(name, fmt, logits, labels, reds, **kw):
    return (gs.SCase('grad-sampling/%s/%s' % (fmt.name, name), 'grad-sampling', fmt, logits,
                     labels, **kw), reds)


def fam_sampling(fmt, rng):
    """SPEC A7 then A8: softcap 30/50 over +-100 (the derivative sech^2, exactly 1 at 0), top_k
    ties, top_p, min_p, the engine order; labels kept and filtered out (A8's formula: g_y = w/tau
    s_y); -0 outside the kept set; rows of equal kept logits (rational)."""
    out = []
    ninf = enc(fmt, float('-inf'))
    sets = [dict(softcap=30.0), dict(softcap=50.0, tau=0.7), dict(top_k=2), dict(top_k=3, tau=0.5),
            dict(top_p=0.8), dict(min_p=0.2, tau=1.5),
            dict(softcap=30.0, tau=0.7, top_k=4, top_p=0.9, min_p=0.05)]
    for k, kw in enumerate(sets):
        V, T = 6, 4
        if 'top_k' in kw:
            rows = [[enc(fmt, float(rng.below(5)) - 2.0) for _ in range(V)] for _ in range(T)]
        elif 'softcap' in kw:
            rows = [[enc(fmt, 200.0 * rng.unif() - 100.0) for _ in range(V)] for _ in range(T)]
            rows[0][1] = enc(fmt, 0.0)
            rows[1] = [enc(fmt, 0.0)] * V                          # all kept equal, s = 1
        else:
            rows = [gv.normal_row(rng, fmt, V, 2.0) for _ in range(T)]
        rows[2][V - 1] = ninf
        probe = gs.SCase('probe', 'probe', fmt, [[rows[0]]], [[0]], **kw)
        labs = []
        for t, row in enumerate(rows):
            vals = [decode(fmt, x) for x in row]
            if t == 3:                                             # a label filtered out if any
                kept = set(gs.kept_set(vals, probe)[0])
                outside = [i for i in range(V) if i not in kept and vals[i] is not NINF]
                labs.append(outside[0] if outside else 0)
            else:
                labs.append(gs.draw_label(rng, vals, probe, 0.0))
        reds = [('sum',), ('mean',), ('token_mean',), ('token',)][k % 4]
        out.append(SG('%d' % k, fmt, [rows], [labs], reds, shift='none',
                      note='sampling then gradient: %s' % ', '.join('%s=%r' % kv
                                                                    for kv in kw.items()),
                      **kw))
    return out


FAMILIES = [('peaked', fam_peaked), ('exact', fam_exact), ('specials', fam_specials),
            ('temperature', fam_temperature), ('random', fam_random), ('sampling', fam_sampling),
            ('extreme', fam_extreme)]

# --------------------------------------------------------------------------------------------

def header(family, seed, command):
    return ['# lpcert gradient vectors (SPEC A8): family %s' % family,
            '# generator: vectors/gen_grad.py version %d' % VERSION,
            '# seed: 0x%x' % seed,
            '# command: %s' % command,
            '# format: vectors/FORMAT.md (cases with `grad R` blocks)']


def self_check(case, results):
    """Facts any correct gradient shows: sum and token equal; NaN rows only at NaN/+inf/all -inf
    rows; the label element >= +0, the others <= -0; every finite row sums to ~0 in f64."""
    if 'sum' in results and 'token' in results:
        assert results['sum'] == results['token'], case.name
    for red, rows in results.items():
        for r in rows:
            if isinstance(r, str):
                continue
            s = Fraction(0)
            fin = True
            for rec in r:
                x = value_of(F64, rec[0]) if rec[0] & ~F64.sign != F64.inf else None
                if x is None:
                    fin = False
                else:
                    s += Fraction(x)
            if fin and not isinstance(case, gs.SCase):     # softcap and filtered labels break it
                big = max(abs(Fraction(value_of(F64, rec[0]))) for rec in r)
                assert abs(s) <= big * Fraction(len(r), 2 ** 50) + Fraction(1, 2 ** 1000) \
                    or big == 0, (case.name, red, float(s))


def build_family(name, fn, command, seed, torch_check=None):
    lines = header('grad-' + name, seed, command)
    nc = nel = 0
    for fmt in FMTS:
        rng = Rng(seed ^ (FMTS.index(fmt) << 20))
        for case, reds in fn(fmt, rng):
            lines.append('')
            if case.note:
                pass
            res = write_grad_case(lines, case, reds)
            self_check(case, res)
            if torch_check:
                torch_check(case, res)
            nc += 1
            nel += sum(len(r) for rows in res.values() for r in rows if not isinstance(r, str))
    return '\n'.join(lines) + '\n', nc, nel


def make_torch_check():
    """Compares the finite f64 elements with torch float64 autograd of the same loss (loose: torch
    is not correctly rounded, and its label element is 1 - p_y, exact only to ~1e-16 w / tau):
    label elements to 1e-13 w / tau, the others (-p_i) to 1e-12 relative where both are normal."""
    import torch
    worst = [0.0, 0.0]

    def check(case, results):
        vals = [[[float(mpmath.mpf(decode(case.fmt, x))) if isinstance(decode(case.fmt, x), tuple)
                  else {NAN: float('nan'), PINF: float('inf'), NINF: float('-inf')}[decode(case.fmt, x)]
                  for x in row] for row in seq] for seq in case.logits]
        tau = float(mpmath.mpf(case.tau))
        for red, rows in results.items():
            X = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
            sc = getattr(case, 'softcap', 0.0)
            Z = (sc * torch.tanh(X / sc) if sc else X) / tau
            if isinstance(case, gs.SCase):           # the kept set from gen_sampling (exact)
                mask = torch.full(Z.shape, float('-inf'), dtype=torch.float64)
                for b in range(case.B):
                    for t in range(case.T):
                        dv = [decode(case.fmt, x) for x in case.logits[b][t]]
                        if any(v is NAN or v is PINF for v in dv) or all(v is NINF for v in dv):
                            continue
                        for i in gs.kept_set(dv, case)[0]:
                            mask[b, t, i] = 0.0
                Zk = torch.where(mask == 0.0, Z, mask)
                lp = Z - torch.logsumexp(Zk, dim=-1, keepdim=True)
            else:
                lp = torch.log_softmax(Z, dim=-1)
            counts = [0] * case.B
            terms = []
            for b, t, tl in case.scored():
                if case.counted(b, tl):
                    counts[b] += 1
                    terms.append((b, t, case.labels[b][tl]))
            if not terms:
                continue
            N = sum(counts)
            loss = 0
            for b, t, y in terms:
                wgt = {'token': 1.0, 'sum': 1.0, 'mean': 1.0 / counts[b], 'token_mean': 1.0 / N}[red]
                loss = loss + lp[b, t, y] * wgt
            loss.backward()
            G_ = X.grad
            for b in range(case.B):
                for t in range(case.T):
                    r = rows[b * case.T + t]
                    if isinstance(r, str):
                        continue
                    gt = [float(G_[b, t, i]) for i in range(case.V)]
                    mine = [value_of(F64, rec[0]) if rec[0] & ~F64.sign != F64.inf else None
                            for rec in r]
                    if any(v is None for v in mine) or any(g != g for g in gt):
                        continue
                    c = 1.0 / (tau * {'token': 1, 'sum': 1, 'mean': counts[b],
                                      'token_mean': N}[red])
                    y = [yy for bb, tt, yy in terms if (bb, tt) == (b, t)][0]
                    for i, (a, g_) in enumerate(zip(mine, gt)):
                        if i == y:      # torch forms 1 - p_y: only scale-relative agreement
                            d = abs(a - g_) / c
                            k, tol = 0, 1e-13
                        elif abs(a) > 1e-290 and abs(g_) > 1e-290:
                            d = abs(a - g_) / abs(a)
                            k, tol = 1, 1e-12
                        else:
                            continue
                        worst[k] = max(worst[k], d)
                        if d > tol:
                            print('torch differs: %s %s b=%d t=%d i=%d oracle %r torch %r'
                                  % (case.name, red, b, t, i, a, g_))
    check.worst = worst
    return check


def family_seed(name):
    return SEED ^ zlib.crc32(name.encode())


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=None, help='folder (default: vectors/corpus_grad)')
    ap.add_argument('--family', action='append', help='only this family (repeatable)')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--large', metavar='DIR', help='write DIR/large.txt (V = 4096, 32000) only')
    ap.add_argument('--torch-check', action='store_true',
                    help='compare with torch float64 autograd (loose sanity check)')
    args = ap.parse_args(argv)
    if args.list:
        for name, fn in FAMILIES:
            print('%-12s %s' % (name, fn.__doc__.strip().split('\n')[0]))
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    if args.large:
        os.makedirs(args.large, exist_ok=True)
        seed = family_seed('large')
        lines = header('grad-large', seed, 'python3 vectors/gen_grad.py --large DIR')
        nel = 0
        for V in LARGE_VS:
            for fmt in (FMTS if V == LARGE_VS[0] else [F32, BF16]):
                rng = Rng(seed ^ (FMTS.index(fmt) << 20) ^ V)
                for case, reds in fam_large(fmt, rng, V):
                    lines.append('')
                    res = write_grad_case(lines, case, reds)
                    self_check(case, res)
                    nel += sum(len(r) for rows in res.values() for r in rows
                               if not isinstance(r, str))
        path = os.path.join(args.large, 'large.txt')
        gv.write_file(path, '\n'.join(lines) + '\n')
        print('grad large: %d gradient elements -> %s' % (nel, path))
        return 0
    out = args.out or os.path.join(here, 'corpus_grad')
    os.makedirs(out, exist_ok=True)
    names = [n for n, _ in FAMILIES]
    for n in args.family or []:
        if n not in names:
            ap.error('unknown family %r (see --list)' % n)
    tc = make_torch_check() if args.torch_check else None
    command = 'python3 vectors/gen_grad.py'
    tot = [0, 0, 0]
    for name, fn in FAMILIES:
        if args.family and name not in args.family:
            continue
        text, nc, nel = build_family(name, fn, command, family_seed(name), tc)
        gv.write_file(os.path.join(out, name + '.txt'), text)
        size = len(text.encode())
        print('%-12s %4d cases %7d gradient elements %8d bytes' % (name, nc, nel, size))
        for i, x in enumerate((nc, nel, size)):
            tot[i] += x
    print('%-12s %4d cases %7d gradient elements %8d bytes' % ('total', *tot))
    print('elements computed %d (exact rational %d); rows raised beyond %d bits: %d; '
          'largest precision %d' % (STATS['elements'], STATS['exact'], START_W, STATS['raised'],
                                    STATS['max_w']))
    if tc:
        print('torch float64 autograd: label elements within %.3g of w/tau (torch forms 1 - p_y), '
              'other elements within %.3g relative' % tuple(tc.worst))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
