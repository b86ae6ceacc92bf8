#!/usr/bin/env python3
"""vectors/gen_sampling.py: the mpmath oracle for processed log-probs (SPEC A7), and its corpus.

A second, independent implementation of SPEC A7, sharing no code with the C side: per scored row,
in this order, softcap c (x_i <- c tanh(x_i / c), exact reals), temperature (z_i = x_i / tau),
top_k (keep z_i >= the k-th largest value: ties at the threshold all kept), top_p (on the
distribution over what top_k kept: keep i iff the probability of the kept tokens strictly more
probable than i is < p), min_p (on what top_k and top_p kept: keep i iff p_i >= q p_max); the
processed logp of label y is z_y - log sum_{i kept} exp(z_i), -inf when y was not kept, exactly
+0 when y is the only token kept. SPEC A3's special rows come first (a NaN or +inf logit: NaN;
every logit -inf: NaN; the label at -inf: -inf). Sums, means and token means are those of A1 over
the processed values (gen_vectors.py's reduce_pairs / record, imported with its rounding).

Every kept-set decision is made exactly:
  - top_k compares stored logits (softcap and 1/tau are increasing, so the order of z is the order
    of x, ties included): exact;
  - top_p decides the sign of Q_i = A_i - p S (A_i the sum of e_j = exp(z_j - z_max) over the
    kept j with x_j > x_i, S the sum over all kept, p the binary64 given, exact): every e_j to a
    relative error 2^-(w+3), the sums to 2^-(w+2), so |Q_i~ - Q_i| <= 2^-(w+2) (A_i + p S); the
    sign is taken when |Q_i~| > 2^-(w-1) (A_i~ + p S~), else w doubles (from 96 to 2^14; an
    undecided comparison stops the script). p = 1 keeps everything (exact). Q_i = 0 cannot happen
    without softcap (Lindemann-Weierstrass: the coefficient of the exponential group of x_i is
    -p times its multiplicity, never 0);
  - min_p decides e_i >= q the same way (|e_i~ - q| > 2^-(w+1) e_i~); x_i = x_max is kept
    exactly; q = 1 keeps exactly the maxima.
The rounded results are then computed as gen_vectors.py does (logp = A - L with A = z_y - z_max,
L = log1p(sum_{kept i != argmax} e_i)), at wp and 2 wp until every rounding agrees.

Usage:
    python3 vectors/gen_sampling.py                 # writes vectors/corpus_sampling/<family>.txt
    python3 vectors/gen_sampling.py --out DIR
    python3 vectors/gen_sampling.py --family NAME   # one family (repeatable)
    python3 vectors/gen_sampling.py --list
The case format is vectors/FORMAT.md with the softcap / top_k / top_p / min_p header lines.
"""

import argparse
import functools
import os
import sys
import zlib

import mpmath
from mpmath.libmp import fzero, fone, from_man_exp, mpf_add, mpf_sub, mpf_exp, mpf_mul, mpf_cmp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_vectors as gv                                         # noqa: E402
from gen_vectors import (F64, F32, F16, BF16, FMTS, NAN, PINF, NINF, decode, enc, mag,  # noqa
                         value_of, Rng, Case)

VERSION = 1
SEED = 0x5EED0A07
START_W = 96
MAX_W = 1 << 14
RN = 'n'
STATS = {'decisions': 0, 'raised': 0, 'max_w': 0, 'filtered': 0, 'kept_only': 0}


class SCase(Case):
    """A Case with SPEC A7's parameters (0 / None: not set)."""

    def __init__(self, *a, softcap=0.0, top_k=0, top_p=0.0, min_p=0.0, **kw):
        super().__init__(*a, **kw)
        self.softcap, self.top_k, self.top_p, self.min_p = softcap, top_k, top_p, min_p
        self.c = gv.float_tuple(softcap) if softcap else None
        self.p = gv.float_tuple(top_p) if top_p else None
        self.q = gv.float_tuple(min_p) if min_p else None

# --------------------------------------------------------------------------------------------
# d_i = z_i - z_max (<= 0) to an absolute error 2^-(w+5), and e_i = exp(d_i) to 2^-(w+3).

def mpf_t(t):
    return mpmath.mpf(t)


def dvals(vals, idx, imax, case, w):
    """{i: d_i} for i in idx (finite); imax an index of the largest logit (d = 0 exactly there
    and wherever x_i equals it)."""
    m = vals[imax]
    out = {}
    if case.c is None:
        for i in idx:
            d = mpf_sub(vals[i], m)                  # exact
            out[i] = gv.div_tau(d, case.tau, w + 6) if d[1] else fzero
        return out
    c, tau = case.c, case.tau
    extra = max(0, mag(c) - mag(tau)) if tau[1] else 0
    with mpmath.workprec(w + 40 + extra):
        cm = mpf_t(c)
        tm = mpf_t(case.tau)

    def th(x):
        xm = mpf_t(x)
        P = w + 24 + extra + max(0, mag(x) - mag(c) if x[1] else 0)
        with mpmath.workprec(P):
            return mpmath.tanh(xm / cm)
    tmax = th(m)
    for i in idx:
        if mpf_cmp(vals[i], m) == 0:
            out[i] = fzero
            continue
        with mpmath.workprec(w + 40 + extra):
            d = (th(vals[i]) - tmax) * cm / tm
        out[i] = d._mpf_
    return out


def evals(ds, w):
    return {i: (fone if not d[1] else mpf_exp(d, w + 8, RN)) for i, d in ds.items()}


def argmax(vals, idx):
    j = idx[0]
    for i in idx[1:]:
        if mpf_cmp(vals[i], vals[j]) > 0:
            j = i
    return j


def decide_sign(fn, what):
    """fn(w) -> +1, -1 or 0 (undecided at w); w doubles until decided."""
    w = START_W
    while True:
        s = fn(w)
        if s:
            STATS['decisions'] += 1
            STATS['max_w'] = max(STATS['max_w'], w)
            return s
        STATS['raised'] += 1
        w *= 2
        if w > MAX_W:
            raise RuntimeError('%s undecided at %d bits' % (what, w))


def kept_set(vals, case):
    """The finite indices kept by top_k, top_p, min_p (A7 order), or a special: NAN."""
    finite = [i for i, v in enumerate(vals) if v is not NINF]
    # top_k on stored values (monotone transforms), -inf the lowest
    if case.top_k and case.top_k < len(vals):
        def cmp(i, j):                               # descending, -inf last
            a, b = vals[i], vals[j]
            if a is NINF or b is NINF:
                return (a is NINF) - (b is NINF)
            return -mpf_cmp(a, b)
        order = sorted(range(len(vals)), key=functools.cmp_to_key(cmp))
        thr = vals[order[case.top_k - 1]]
        if thr is not NINF:
            finite = [i for i in finite if mpf_cmp(vals[i], thr) >= 0]
    imax = argmax(vals, finite)
    # top_p (p = 1 keeps all)
    if case.p is not None and case.top_p < 1.0:
        K3 = list(finite)

        def q_sign(i):
            greater = [j for j in K3 if mpf_cmp(vals[j], vals[i]) > 0]
            if not greater:
                return -1                            # the most probable: A_i = 0 < p S

            def at(w):
                e = evals(dvals(vals, K3, imax, case, w), w)
                ws = w + 8 + len(K3).bit_length()
                A = S = fzero
                for j in K3:
                    S = mpf_add(S, e[j], ws, RN)
                    if j in greater:
                        A = mpf_add(A, e[j], ws, RN)
                pS = mpf_mul(S, case.p)               # exact
                Q = mpf_sub(A, pS)                    # exact
                bound = mpf_add(A, pS)
                if Q[1] and mag(Q) > mag(bound) - (w - 1) + 1:
                    return -1 if Q[0] else 1
                return 0
            return decide_sign(at, 'top_p Q_%d' % i)
        finite = [i for i in K3 if q_sign(i) < 0]
    # min_p
    if case.q is not None and case.min_p > 0.0:
        K4 = list(finite)
        xm = vals[imax]
        if case.min_p == 1.0:
            finite = [i for i in K4 if mpf_cmp(vals[i], xm) == 0]
        else:
            def m_sign(i):
                if mpf_cmp(vals[i], xm) == 0:
                    return 1

                def at(w):
                    e = evals(dvals(vals, [i], imax, case, w), w)[i]
                    diff = mpf_sub(e, case.q)         # exact
                    if diff[1] and mag(diff) > mag(e) - (w + 1) + 1:
                        return -1 if diff[0] else 1
                    return 0
                return decide_sign(at, 'min_p e_%d' % i)
            finite = [i for i in K4 if m_sign(i) > 0]
    return finite, imax


class PRow:
    __slots__ = ('kind', 'y', 'kept', 'imax', 'vals')

    def __init__(self, kind, y=None, kept=None, imax=None, vals=None):
        self.kind, self.y, self.kept, self.imax, self.vals = kind, y, kept, imax, vals


def prepare(vals, y, case):
    """SPEC A3's precedence, then A7's kept set."""
    for v in vals:
        if v is NAN or v is PINF:
            return PRow(NAN)
    if all(v is NINF for v in vals):
        return PRow(NAN)
    if vals[y] is NINF:
        return PRow(NINF)
    kept, imax = kept_set(vals, case)
    if y not in kept:
        STATS['filtered'] += 1
        return PRow(NINF)
    if len(kept) == 1:
        STATS['kept_only'] += 1
        return PRow('zero')
    return PRow('fin', y, kept, imax, vals)


def row_value(row, case, wp):
    """NAN, NINF, 'zero' or (A, L): logp = A - L, A = d_y <= 0, L = log1p(sum_{kept != imax} e_i)."""
    if row.kind != 'fin':
        return row.kind
    w = wp + 30
    ds = dvals(row.vals, row.kept, row.imax, case, w)
    sw = w + len(row.kept).bit_length()
    s = fzero
    for i in row.kept:
        if i == row.imax:
            continue
        s = mpf_add(s, fone if not ds[i][1] else mpf_exp(ds[i], w, RN), sw, RN)
    if mag(s) < -(w + 10):
        lg = s
    else:
        lg = gv.mpf_log(mpf_add(fone, s), w, RN)
    return (ds[row.y], lg)


def evaluate(case, rows, wp):
    toks = [row_value(r, case, wp) if r is not None else None for r in rows]
    Ts = len(toks) // case.B if case.B else 0
    seqs, allc = [], []
    for b in range(case.B):
        v = [t for t in toks[b * Ts:(b + 1) * Ts] if t is not None]
        allc.extend(v)
        seqs.append((len(v), gv.reduce_pairs(v, wp)))
    N = len(allc)
    total = gv.reduce_pairs(allc, wp)
    empty = NAN if case.empty_mean == 'nan' else 'zero'
    raw = [gv.pair_value(t, 1, wp) for t in toks]
    recs_seq = []
    for n, s in seqs:
        raw += [gv.pair_value(s, 1, wp), gv.pair_value(s, n, wp) if n else empty]
        recs_seq.append((n, gv.record(s, 1, wp), gv.record(s, n, wp) if n else gv.record(empty)))
    raw.append(gv.pair_value(total, N, wp) if N else empty)
    recs = ([gv.record(t, 1, wp) if t is not None else None for t in toks], recs_seq,
            (N, gv.record(total, N, wp) if N else gv.record(empty)))
    return raw, recs


def solve(case):
    vals = [[[decode(case.fmt, x) for x in row] for row in seq] for seq in case.logits]
    rows = []
    for b, t, tl in case.scored():
        rows.append(prepare(vals[b][t], case.labels[b][tl], case) if case.counted(b, tl)
                    else None)
    wp = gv.START_PREC
    raw1, rec1 = evaluate(case, rows, wp)
    while True:
        raw2, rec2 = evaluate(case, rows, 2 * wp)
        for i, (a, b) in enumerate(zip(raw1, raw2)):
            gv.check_close(a, b, wp, '%s value %d' % (case.name, i))
        if rec1 == rec2:
            return rec1
        wp *= 2
        if wp > gv.MAX_PREC:
            raise RuntimeError('%s: rounding undecided at %d bits' % (case.name, wp))
        raw1, rec1 = raw2, rec2


def write_case(out, case):
    recs = solve(case)
    fmt = case.fmt
    if case.note:
        out.append('# ' + case.note)
    out += ['case ' + case.name, 'family ' + case.family, 'fmt ' + fmt.name,
            'shape %d %d %d' % (case.B, case.T, case.V), 'shift ' + case.shift,
            'ignore_index %d' % case.ignore_index, 'temperature %016x' % case.tau_bits,
            'empty_mean ' + case.empty_mean, 'itype ' + case.itype]
    if case.softcap:
        out.append('softcap %016x' % enc(F64, case.softcap))
    if case.top_k:
        out.append('top_k %d' % case.top_k)
    if case.top_p:
        out.append('top_p %016x' % enc(F64, case.top_p))
    if case.min_p:
        out.append('min_p %016x' % enc(F64, case.min_p))
    for b in range(case.B):
        out.append('l ' + ' '.join(str(x) for x in case.labels[b]))
    if case.mask is not None:
        for b in range(case.B):
            out.append('k ' + ''.join(str(x) for x in case.mask[b]))
    for seq in case.logits:
        for row in seq:
            out.append('x ' + ' '.join(gv.hexbits(fmt, x) for x in row))
    toks, seqs, (N, tm) = recs
    for r in toks:
        out.append('u' if r is None else 't ' + gv.fmt_record(r))
    for n, s, mn in seqs:
        out.append('s %d %s %s' % (n, gv.fmt_record(s), gv.fmt_record(mn)))
    out.append('m %d %s' % (N, gv.fmt_record(tm)))
    out.append('end')
    return recs

# --------------------------------------------------------------------------------------------
# Labels: drawn from the processed distribution (approximately: the draw only picks inputs).

def processed_probs(vals, case):
    """[(i, p_i)] over the kept set of a row (labels do not matter for the kept set)."""
    kept, imax = kept_set(vals, case)
    ds = dvals(vals, kept, imax, case, 64)
    with mpmath.workprec(64):
        e = {i: mpmath.exp(mpmath.mpf(d)) for i, d in ds.items()}
        S = sum(e.values())
        return [(i, float(e[i] / S)) for i in kept]


def draw_label(rng, vals, case, p_outside):
    """A label from the processed distribution, or (with probability p_outside) one outside the
    kept set when there is one."""
    kept = processed_probs(vals, case)
    outside = [i for i in range(len(vals)) if i not in {k for k, _ in kept}]
    if outside and rng.chance(p_outside):
        return outside[rng.below(len(outside))]
    u = rng.unif()
    acc = 0.0
    for i, p in kept:
        acc += p
        if u < acc:
            return i
    return kept[-1][0]


def S_(name, fam, fmt, logits, labels, **kw):
    return SCase('sampling-%s/%s/%s' % (fam, fmt.name, name), 'sampling-' + fam, fmt, logits,
                 labels, **kw)


def uniform_row(rng, fmt, V, lo, hi):
    return [enc(fmt, lo + (hi - lo) * rng.unif()) for _ in range(V)]


def build_labeled(rng, fmt, rows_per_seq, case_kw, p_outside=0.25, shift='none'):
    """Labels drawn row by row from the processed distribution of a probe case with the same
    parameters."""
    probe = SCase('probe', 'probe', fmt, [[rows_per_seq[0][0]]], [[0]], **case_kw)
    labels = []
    for seq in rows_per_seq:
        lab = []
        for row in seq:
            vals = [decode(fmt, x) for x in row]
            if any(v is NAN or v is PINF for v in vals) or all(v is NINF for v in vals):
                lab.append(rng.below(len(row)))
            else:
                lab.append(draw_label(rng, vals, probe, p_outside))
        labels.append(lab)
    if shift == 'next':
        labels = [[rng.below(len(rows_per_seq[0][0]))] + lab[:-1] for lab in labels]
    return labels


def fam_softcap(fmt, rng):
    """softcap 30 and 50 over logits of +-100 (f16 too: 100 is exact), tau 1 and 0.7."""
    out = []
    for i, (c, tau) in enumerate([(30.0, 1.0), (50.0, 1.0), (30.0, 0.7), (50.0, 2.0)]):
        V, T = 8, 6
        rows = [uniform_row(rng, fmt, V, -100.0, 100.0) for _ in range(T)]
        rows[0][rng.below(V)] = enc(fmt, 100.0)
        rows[1] = [enc(fmt, -100.0)] * V
        rows[1][2] = enc(fmt, 100.0)
        rows[2][0] = enc(fmt, 99.0)
        rows[2][1] = enc(fmt, 100.0)
        kw = dict(softcap=c, tau=tau)
        labels = build_labeled(rng, fmt, [rows], kw, p_outside=0.0)
        labels[0][1] = 0                             # a label at -100 beside one at +100
        out.append(S_('%d' % i, 'softcap', fmt, [rows], labels, shift='none',
                      note='softcap %g at tau %g, logits uniform in [-100, 100]' % (c, tau), **kw))
    return out


def fam_topk(fmt, rng):
    """top_k with ties at the k-th value (integer logits in [-3, 3]); k = 1, 2, 3, 5, V, V+2."""
    out = []
    for i, k in enumerate([1, 2, 3, 5, 8, 10]):
        V, T = 8, 8
        rows = [[enc(fmt, float(rng.below(7)) - 3.0) for _ in range(V)] for _ in range(T)]
        rows[0] = [enc(fmt, 1.0)] * V                # all tied: every token kept
        rows[1][rng.below(V)] = enc(fmt, float('-inf'))
        kw = dict(top_k=k, tau=[1.0, 0.5][i % 2])
        labels = build_labeled(rng, fmt, [rows], kw, p_outside=0.35)
        out.append(S_('k%d' % k, 'topk', fmt, [rows], labels, shift='none',
                      note='top_k %d, ties at the k-th value, labels inside and outside' % k, **kw))
    return out


def nucleus_edge_row(fmt, p, V):
    """A row whose top token has probability about p: z = [0, d, ..., d], (V-1) e^d = 1/p - 1."""
    with mpmath.workprec(200):
        d = mpmath.log((1 / mpmath.mpf(p) - 1) / (V - 1))
    return [enc(fmt, 0.0)] + [enc(fmt, gv.mpf_from(d))] * (V - 1)


def fam_topp(fmt, rng):
    """top_p 0.1 .. 1 with the label inside and outside the nucleus; rows on the nucleus edge."""
    out = []
    for i, p in enumerate([0.1, 0.5, 0.8, 0.9, 0.95, 0.999, 1.0]):
        V, T = 8, 8
        rows = [gv.normal_row(rng, fmt, V, 2.0) for _ in range(T)]
        rows[0] = nucleus_edge_row(fmt, p, V) if p < 1.0 else rows[0]
        rows[1] = [enc(fmt, float(rng.below(3))) for _ in range(V)]     # ties
        kw = dict(top_p=p, tau=[1.0, 0.7][i % 2])
        labels = build_labeled(rng, fmt, [rows], kw, p_outside=0.4)
        labels[0][0] = 1 if i % 2 else 0
        out.append(S_('p%02d' % i, 'topp', fmt, [rows], labels, shift='none',
                      note='top_p %r: labels in and out of the nucleus; row 0 has its top token '
                      'at probability ~p (the edge), row 1 ties' % p, **kw))
    return out


def fam_minp(fmt, rng):
    """min_p 0.02 .. 1, rows with a token on the edge e^(z_i - z_max) ~ q."""
    out = []
    for i, q in enumerate([0.02, 0.1, 0.3, 0.5, 1.0]):
        V, T = 6, 6
        rows = [gv.normal_row(rng, fmt, V, 1.5) for _ in range(T)]
        tau = [1.0, 0.8][i % 2]
        with mpmath.workprec(200):
            d = mpmath.log(mpmath.mpf(q)) * mpmath.mpf(tau) if q < 1 else mpmath.mpf(0)
        rows[0] = [enc(fmt, 1.0), enc(fmt, gv.mpf_from(1 + d))] + \
            [enc(fmt, gv.mpf_from(1 + d - 1 + k * 0.5)) for k in range(V - 2)]
        kw = dict(min_p=q, tau=tau)
        labels = build_labeled(rng, fmt, [rows], kw, p_outside=0.4)
        labels[0][0] = 1
        out.append(S_('q%d' % i, 'minp', fmt, [rows], labels, shift='none',
                      note='min_p %r at tau %g: row 0 has a token on the edge p_i ~ q p_max'
                      % (q, tau), **kw))
    return out


def fam_combined(fmt, rng):
    """All together as an engine's sampler applies them (softcap, tau, top_k, top_p, min_p);
    sequences with masks, shift next, sums and means."""
    out = []
    sets = [dict(softcap=30.0, tau=0.7, top_k=5, top_p=0.9, min_p=0.05),
            dict(softcap=50.0, tau=1.0, top_k=12, top_p=0.8),
            dict(tau=1.3, top_k=3, min_p=0.1),
            dict(tau=0.6, top_p=0.95, min_p=0.02),
            dict(softcap=30.0, top_k=1)]
    for i, kw in enumerate(sets):
        B, T, V = 2, 6, 16
        logits = [[uniform_row(rng, fmt, V, -100.0, 100.0) if 'softcap' in kw
                   else gv.normal_row(rng, fmt, V, 2.5) for _ in range(T)] for _ in range(B)]
        labels = build_labeled(rng, fmt, logits, kw, p_outside=0.1, shift='next')
        mask = [gv.rand_mask(rng, T, 0.2) for _ in range(B)] if i % 2 else None
        out.append(S_('%d' % i, 'combined', fmt, logits, labels, mask=mask, shift='next',
                      empty_mean=['nan', 'zero'][i % 2],
                      note='engine order: %s' % ', '.join('%s=%r' % kv for kv in kw.items()),
                      **kw))
    return out


def fam_specials(fmt, rng):
    """A3's specials under sampling: NaN/+inf rows, all -inf, the label at -inf, -inf masking with
    top_k (the k-th value -inf: all kept), the only token kept (+0), filtered labels in sums."""
    nan, pinf, ninf = enc(fmt, float('nan')), enc(fmt, float('inf')), enc(fmt, float('-inf'))
    one, two, zero = enc(fmt, 1.0), enc(fmt, 2.0), enc(fmt, 0.0)
    rows = [[one, nan, two, zero], [pinf, one, two, zero], [ninf] * 4, [ninf, one, two, zero],
            [two, ninf, ninf, ninf], [two, two, one, zero], [ninf, ninf, one, zero],
            [two, one, zero, enc(fmt, -1.0)]]
    labs = [0, 1, 2, 0, 0, 1, 3, 3]
    out = []
    for i, kw in enumerate([dict(top_k=1), dict(top_k=3), dict(top_p=0.5), dict(min_p=0.5),
                            dict(top_k=2, top_p=0.3, min_p=0.9)]):
        mask = [[1] * 8, [0, 0, 0, 1, 1, 1, 1, 1]]
        out.append(S_('%d' % i, 'specials', fmt, [rows, rows], [labs, labs], mask=mask,
                      shift='none', note='specials with %s; seq 1 masks the NaN rows'
                      % ', '.join('%s=%r' % kv for kv in kw.items()), **kw))
    return out


FAMILIES = [('softcap', fam_softcap), ('topk', fam_topk), ('topp', fam_topp),
            ('minp', fam_minp), ('combined', fam_combined), ('specials', fam_specials)]


def header(family, seed, command):
    return ['# lpcert processed log-prob vectors (SPEC A7): family %s' % family,
            '# generator: vectors/gen_sampling.py version %d' % VERSION,
            '# seed: 0x%x' % seed,
            '# command: %s' % command,
            '# format: vectors/FORMAT.md (softcap / top_k / top_p / min_p header lines)']


def family_seed(name):
    return SEED ^ zlib.crc32(name.encode())


def build_family(name, fn, command, seed):
    lines = header('sampling-' + name, seed, command)
    nc = ntok = ncnt = 0
    for fmt in FMTS:
        rng = Rng(seed ^ (FMTS.index(fmt) << 20))
        for case in fn(fmt, rng):
            lines.append('')
            recs = write_case(lines, case)
            nc += 1
            ntok += len(recs[0])
            ncnt += sum(1 for r in recs[0] if r is not None)
    return '\n'.join(lines) + '\n', nc, ntok, ncnt


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=None, help='folder (default: vectors/corpus_sampling)')
    ap.add_argument('--family', action='append')
    ap.add_argument('--list', action='store_true')
    args = ap.parse_args(argv)
    if args.list:
        for name, fn in FAMILIES:
            print('%-12s %s' % (name, fn.__doc__.strip().split('\n')[0]))
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    out = args.out or os.path.join(here, 'corpus_sampling')
    os.makedirs(out, exist_ok=True)
    names = [n for n, _ in FAMILIES]
    for n in args.family or []:
        if n not in names:
            ap.error('unknown family %r (see --list)' % n)
    command = 'python3 vectors/gen_sampling.py'
    tot = [0, 0, 0, 0]
    for name, fn in FAMILIES:
        if args.family and name not in args.family:
            continue
        text, nc, nt, ncnt = build_family(name, fn, command, family_seed(name))
        gv.write_file(os.path.join(out, name + '.txt'), text)
        size = len(text.encode())
        print('%-12s %4d cases %6d scored %6d counted %8d bytes' % (name, nc, nt, ncnt, size))
        for i, x in enumerate((nc, nt, ncnt, size)):
            tot[i] += x
    print('%-12s %4d cases %6d scored %6d counted %8d bytes' % ('total', *tot))
    print('kept-set decisions by enclosure: %d (%d precision raises, largest %d bits); labels '
          'filtered out (-inf): %d; rows keeping only the label (+0): %d'
          % (STATS['decisions'], STATS['raised'], STATS['max_w'], STATS['filtered'],
             STATS['kept_only']))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
