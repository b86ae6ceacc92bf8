#!/usr/bin/env python3
"""vectors/gen_vectors.py: the mpmath oracle for lpcert, and the committed vector corpus.

An independent second implementation of docs/SPEC.md, part A (the operation A1, exactness A2, special
values A3). It shares no code with the C side: it decodes the storage formats, evaluates
logp = x[y] - log(sum_i exp(x[i])) with mpmath, and rounds every result to f64, f32, f16 and bf16
with its own round-to-nearest-even (gradual underflow, overflow to infinity, signed zero) and to a
double-double (hi = the f64 value, lo = RN_f64(x - hi)).

How a value is computed (rows divided exactly by tau, m = max, j = the first argmax):
    A = (x[y] - m) / tau                      (<= 0, exact difference, one rounding at wp + 30 bits)
    S = sum over i != j of exp((x[i] - m)/tau) (positive terms, each to wp + 30 bits)
    L = log1p(S)                               (>= 0)
    logp = A - L                               (two terms of the same sign: no cancellation)
so every value has a relative error of a few units in 2^-wp, whatever its size (logp near 0 and
logp near -3.6e311 alike). Every case is evaluated at wp and at 2*wp; all its rounded results must
agree (else wp doubles and the case is evaluated again), and the two approximations must agree to
about wp bits (else the script stops: that would be a bug here, not a hard case).
Sums are exact-term sums at wp + 20 + log2(n) bits, means divided at wp + 40 bits, both from the
unrounded token values. When L is far below A's last bit (huge logits: L = e^-1e308), A - L is
formed with a sticky surrogate (sub_sticky): round-to-nearest alone would return A, and a dyadic A
on a midpoint would then round the wrong way at every precision, which doubling cannot detect.

Standard library and mpmath only. Seeded and deterministic: the random logits come from
random.Random (Mersenne Twister, integer and [0, 1) draws only) and IEEE +, -, *, sqrt, never
from libm, so two runs on any machine write byte-identical files.

Usage:
    python3 vectors/gen_vectors.py                  # writes vectors/corpus/<family>.txt
    python3 vectors/gen_vectors.py --out DIR        # the same files elsewhere
    python3 vectors/gen_vectors.py --family NAME    # one family only (repeatable)
    python3 vectors/gen_vectors.py --large DIR      # DIR/large.txt: V = 32000, 128256, 256000
The format is described in vectors/FORMAT.md.
"""

import argparse
import os
import random
import sys
import zlib

import mpmath
from mpmath.libmp import (fzero, fone, from_man_exp, from_int, mpf_add, mpf_sub, mpf_div, mpf_exp,
                          mpf_log, mpf_shift, mpf_cmp, mpf_neg, mpf_mul)

VERSION = 1
SEED = 0x5EED0003
START_PREC = 160          # working bits of the first evaluation; the check uses twice as many
MAX_PREC = 1 << 14
RN = 'n'                  # mpmath's round-to-nearest, for every intermediate operation
STATS = {'raised': 0}     # cases whose rounding needed more than START_PREC bits

# --------------------------------------------------------------------------------------------
# Formats: our own encoding and rounding (nothing here comes from the C side).

class Fmt:
    def __init__(self, name, nbits, p):
        self.name = name
        self.nbits = nbits
        self.p = p                              # significand bits, the hidden one included
        self.ebits = nbits - p
        self.bias = (1 << (self.ebits - 1)) - 1
        self.emax = self.bias
        self.emin = 1 - self.bias
        self.hexw = nbits // 4
        self.sign = 1 << (nbits - 1)
        self.inf = ((1 << self.ebits) - 1) << (p - 1)
        self.nan = self.inf | (1 << (p - 2))    # positive quiet canonical NaN
        self.maxfin = self.inf - 1
        self.minsub = 1
        self.minnorm = 1 << (p - 1)


F64 = Fmt('f64', 64, 53)
F32 = Fmt('f32', 32, 24)
F16 = Fmt('f16', 16, 11)
BF16 = Fmt('bf16', 16, 8)
FMTS = [F64, F32, F16, BF16]
assert (F64.nan, F32.nan, F16.nan, BF16.nan) == (0x7ff8000000000000, 0x7fc00000, 0x7e00, 0x7fc0)

NAN, PINF, NINF = 'nan', '+inf', '-inf'     # decoded specials; finite values are libmp tuples


def mag(t):
    """For a nonzero libmp tuple: the exponent e with 2^(e-1) <= |t| < 2^e."""
    return t[2] + t[3]


def rne(fmt, t):
    """Round the exact nonzero finite libmp value t to fmt, ties to even: the bit pattern."""
    sign, man, exp, bc = t
    sbit = fmt.sign if sign else 0
    e = exp + bc - 1                       # 2^e <= |t| < 2^(e+1)
    if e > fmt.emax + 1:
        return sbit | fmt.inf
    q = max(e, fmt.emin) - fmt.p + 1       # the quantum of the result
    if exp >= q:
        n = man << (exp - q)
    else:
        sh = q - exp
        if bc < sh:                        # |t| < 2^(q-1): half a quantum, rounds to zero
            n = 0
        else:
            n = man >> sh
            rem = man - (n << sh)
            half = 1 << (sh - 1)
            if rem > half or (rem == half and (n & 1)):
                n += 1
    if n == 0:
        return sbit                        # underflow keeps the sign: -0 for negative values
    if n == 1 << fmt.p:                    # the carry made one more bit
        n >>= 1
        q += 1
    top = q + n.bit_length() - 1
    if top > fmt.emax:
        return sbit | fmt.inf
    if n < (1 << (fmt.p - 1)):             # subnormal (only possible with q at the bottom)
        assert q == fmt.emin - fmt.p + 1
        return sbit | n
    return sbit | ((top + fmt.bias) << (fmt.p - 1)) | (n - (1 << (fmt.p - 1)))


def decode(fmt, bits):
    """The exact value of a bit pattern: NAN, PINF, NINF or a libmp tuple (zero has no sign)."""
    neg = bits >> (fmt.nbits - 1)
    E = (bits >> (fmt.p - 1)) & ((1 << fmt.ebits) - 1)
    F = bits & ((1 << (fmt.p - 1)) - 1)
    if E == (1 << fmt.ebits) - 1:
        if F:
            return NAN
        return NINF if neg else PINF
    if E == 0:
        man, exp = F, fmt.emin - fmt.p + 1
    else:
        man, exp = F | (1 << (fmt.p - 1)), E - fmt.bias - fmt.p + 1
    if man == 0:
        return fzero
    return from_man_exp(-man if neg else man, exp)


def float_tuple(x):
    """A finite nonzero Python float as an exact libmp tuple."""
    num, den = x.as_integer_ratio()
    return from_man_exp(num, 1 - den.bit_length())


def enc(fmt, x):
    """A Python float (any: inf, nan, -0.0), a libmp tuple or a special, rounded RNE into fmt."""
    if isinstance(x, tuple):
        return rne(fmt, x) if x[1] else 0
    if isinstance(x, str):
        return {NAN: fmt.nan, PINF: fmt.inf, NINF: fmt.sign | fmt.inf}[x]
    if x != x:
        return fmt.nan
    if x == 0.0:
        return fmt.sign if str(x).startswith('-') else 0
    if x in (float('inf'), float('-inf')):
        return fmt.inf | (fmt.sign if x < 0 else 0)
    return rne(fmt, float_tuple(x))


def value_of(fmt, bits):
    """Exact value of a finite bit pattern as a Python float (exact for every format here)."""
    v = decode(fmt, bits)
    assert isinstance(v, tuple)
    return float(mpmath.mpf(v)) if v[1] else (-0.0 if bits >> (fmt.nbits - 1) else 0.0)


def hexbits(fmt, bits):
    return '%0*x' % (fmt.hexw, bits)

# --------------------------------------------------------------------------------------------
# The exact operation, one row at a time.

class Row:
    """What one scored row needs, computed once (exact, independent of the precision)."""
    __slots__ = ('kind', 'a', 'ds')

    def __init__(self, kind, a=None, ds=None):
        self.kind = kind        # NAN, NINF, 'zero' (exactly +0) or 'fin'
        self.a = a              # x[y] - m, exact
        self.ds = ds            # x[i] - m for finite i != j, exact


def prepare_row(vals, y):
    """SPEC A3 in its order of precedence, then the exact differences to the max."""
    finite = []
    for i, v in enumerate(vals):
        if v is NAN or v is PINF:
            return Row(NAN)                         # rule 1
        if v is not NINF:
            finite.append(i)
    if not finite:
        return Row(NAN)                             # rule 2
    if vals[y] is NINF:
        return Row(NINF)                            # rule 3
    if len(finite) == 1:
        return Row('zero')                          # the one exact case (SPEC A2)
    j = finite[0]
    for i in finite[1:]:
        if mpf_cmp(vals[i], vals[j]) > 0:
            j = i
    m = vals[j]
    ds = [mpf_sub(vals[i], m) for i in finite if i != j]    # prec 0: exact
    return Row('fin', mpf_sub(vals[y], m), ds)


def div_tau(d, tau, wp):
    """d / tau with a relative error below 2^-wp (exact when tau is a power of two)."""
    if not d[1]:
        return d
    if tau[1] == 1:
        return mpf_shift(d, -tau[2])
    extra = max(0, mag(d) - mag(tau))
    return mpf_div(d, tau, wp + extra + 8, RN)


def sub_sticky(a, b, prec):
    """a - b for b >= 0, rounded to prec bits, without losing the direction of a negligible b.

    Round-to-nearest would return a itself when b is below a's last kept bit, and if a is a
    dyadic number on a rounding boundary of some format (a midpoint), every precision would give
    the same wrong tie: doubling the precision cannot see it. So such a b is replaced by the
    surrogate 2^(mag(a) - prec) (>= b), subtracted exactly: the result lies in
    (a - 2^-prec |a|, a), like a - b, and no rounding boundary of the formats (53 bits at most)
    lies between the two."""
    if not b[1]:
        return a
    if not a[1]:
        return mpf_neg(b)
    if mag(b) < mag(a) - prec:
        return mpf_add(a, from_man_exp(-1, mag(a) - prec))     # exact
    return mpf_sub(a, b, prec, RN)


def row_value(row, tau, wp):
    """logp of a prepared row: NAN, NINF, 'zero', or a pair (a, lg) with logp = a - lg,
    a = (x[y] - m)/tau <= 0 (exact when tau is a power of two, else to wp + 30 bits) and
    lg = log1p(S) > 0 to wp + 30 bits."""
    if row.kind != 'fin':
        return row.kind
    w = wp + 30
    s = fzero
    sw = w + len(row.ds).bit_length()
    for d in row.ds:
        s = mpf_add(s, mpf_exp(div_tau(d, tau, w), w, RN), sw, RN)
    # S > 0 here: a second finite logit exists (else the row would be 'zero' or NINF).
    if mag(s) < -(w + 10):
        lg = s                                     # log1p(S) = S (1 - S/2 + ...), |S| < 2^-w
    else:
        lg = mpf_log(mpf_add(fone, s), w, RN)      # 1 + S exact; mpf_log handles x near 1
    return (div_tau(row.a, tau, w), lg)


def reduce_pairs(vals, wp):
    """Sum of counted token values: NAN, NINF, 'zero' (exactly +0) or a pair (A, L), value A - L:
    A the exact sum of the a's, L the sum of the lg's (positive terms) to wp + 20 + log2(n)."""
    if any(v is NAN for v in vals):
        return NAN
    if any(v is NINF for v in vals):
        return NINF
    pairs = [v for v in vals if isinstance(v, tuple)]
    if not pairs:
        return 'zero'
    w = wp + 20 + len(pairs).bit_length()
    A, L = fzero, fzero
    for a, lg in pairs:
        A = mpf_add(A, a)                          # exact
        L = mpf_add(L, lg, w, RN)
    return (A, L)


def pair_value(p, n, wp):
    """The value (A - L)/n of a pair as one libmp tuple, to about wp + 16 bits; specials as is."""
    if not isinstance(p, tuple):
        return p
    v = sub_sticky(p[0], p[1], wp + 16)
    return v if n == 1 else mpf_div(v, from_int(n), wp + 40, RN)

# --------------------------------------------------------------------------------------------
# Results: a value (NAN, NINF, 'zero', or x = (A - L)/n) rounded every way.

def record(p, n=1, wp=START_PREC):
    """(f64, f32, f16, bf16, lo) bit patterns of a result: p is NAN, NINF, 'zero' or a pair
    (A, L) with x = (A - L)/n; lo = RN(x - hi) = RN(((A - n hi) - L)/n), A - n hi exact."""
    if p is NAN:
        return (F64.nan, F32.nan, F16.nan, BF16.nan, F64.nan)
    if p is NINF:
        return (F64.sign | F64.inf, F32.sign | F32.inf, F16.sign | F16.inf,
                BF16.sign | BF16.inf, 0)
    if p == 'zero':
        return (0, 0, 0, 0, 0)
    v = pair_value(p, n, wp)
    hi = rne(F64, v)
    if hi & ~F64.sign == F64.inf:
        lo = 0                                     # the dd of an overflowed value: (inf, +0)
    elif hi & ~F64.sign == 0:
        lo = hi                                    # x underflows: x - hi = x, rounds the same way
    else:
        diff = mpf_sub(p[0], mpf_mul(decode(F64, hi), from_int(n)))     # exact
        lo = rne(F64, pair_value((diff, p[1]), n, wp))
    return (hi, rne(F32, v), rne(F16, v), rne(BF16, v), lo)


def fmt_record(r):
    return '%016x %08x %04x %04x %016x' % r


class Case:
    def __init__(self, name, family, fmt, logits, labels, mask=None, shift='next',
                 ignore_index=-100, tau=1.0, empty_mean='nan', itype='i64', note=None, V=None):
        self.name, self.family, self.fmt = name, family, fmt
        self.logits = logits            # [B][T][V] bit patterns of fmt
        self.labels = labels            # [B][T] ints
        self.mask = mask                # [B][T] 0/1 or None
        self.shift, self.ignore_index = shift, ignore_index
        self.tau_bits = enc(F64, tau) if not isinstance(tau, int) else tau
        self.empty_mean, self.itype, self.note = empty_mean, itype, note
        self.B = len(labels)
        self.T = len(labels[0]) if self.B else 0
        self.V = V if V is not None else len(logits[0][0])
        assert all(len(r) == self.T for r in labels)
        assert all(len(seq) == self.T and all(len(row) == self.V for row in seq) for seq in logits)
        if mask is not None:
            assert all(len(r) == self.T for r in mask)
        if itype == 'i32':
            assert all(-2 ** 31 <= x < 2 ** 31 for r in labels for x in r)
        tau_v = decode(F64, self.tau_bits)
        assert isinstance(tau_v, tuple) and tau_v[1] and not tau_v[0], 'tau > 0 and finite'
        self.tau = tau_v

    def scored(self):
        """(b, t, row t, label position) for every scored position, b-major."""
        Ts = self.T - 1 if self.shift == 'next' else self.T
        off = 1 if self.shift == 'next' else 0
        for b in range(self.B):
            for t in range(max(Ts, 0)):
                yield b, t, t + off

    def counted(self, b, tl):
        lab = self.labels[b][tl]
        return lab != self.ignore_index and (self.mask is None or self.mask[b][tl] == 1)


def evaluate(case, rows, wp):
    """All results of a case at working precision wp: (approximate values, records)."""
    toks = [row_value(row, case.tau, wp) if row is not None else None for row in rows]
    Ts = len(toks) // case.B if case.B else 0
    seqs, all_counted = [], []
    for b in range(case.B):
        vals = [v for v in toks[b * Ts:(b + 1) * Ts] if v is not None]
        all_counted.extend(vals)
        seqs.append((len(vals), reduce_pairs(vals, wp)))
    N = len(all_counted)
    total = reduce_pairs(all_counted, wp)
    empty = NAN if case.empty_mean == 'nan' else 'zero'
    raw = [pair_value(v, 1, wp) for v in toks]
    recs_seq = []
    for n, s in seqs:
        raw += [pair_value(s, 1, wp), pair_value(s, n, wp) if n else empty]
        recs_seq.append((n, record(s, 1, wp), record(s, n, wp) if n else record(empty)))
    raw.append(pair_value(total, N, wp) if N else empty)
    recs = ([record(v, 1, wp) if v is not None else None for v in toks], recs_seq,
            (N, record(total, N, wp) if N else record(empty)))
    return raw, recs


def check_close(a, b, wp, where):
    """Two approximations of the same value must agree to about wp bits."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        d = mpf_sub(a, b, 64, RN)
        if d[1] and mag(d) > mag(b) - wp + 48:
            raise RuntimeError('%s: evaluations at %d and %d bits disagree beyond the bound'
                               % (where, wp, 2 * wp))
    elif a != b:
        raise RuntimeError('%s: class differs between %d and %d bits' % (where, wp, 2 * wp))


def solve(case):
    """Rounded results, stable under doubling the precision. Returns (records, precision)."""
    vals = [[[decode(case.fmt, x) for x in row] for row in seq] for seq in case.logits]
    rows = []
    for b, t, tl in case.scored():
        rows.append(prepare_row(vals[b][t], case.labels[b][tl]) if case.counted(b, tl) else None)
    wp = START_PREC
    raw1, rec1 = evaluate(case, rows, wp)
    while True:
        raw2, rec2 = evaluate(case, rows, 2 * wp)
        for i, (a, b) in enumerate(zip(raw1, raw2)):
            check_close(a, b, wp, '%s value %d' % (case.name, i))
        if rec1 == rec2:
            return rec1, 2 * wp
        STATS['raised'] += 1
        wp *= 2
        if wp > MAX_PREC:
            raise RuntimeError('%s: rounding undecided at %d bits' % (case.name, wp))
        raw1, rec1 = raw2, rec2


def write_case(out, case):
    recs, _ = solve(case)
    fmt = case.fmt
    if case.note:
        out.append('# ' + case.note)
    out.append('case ' + case.name)
    out.append('family ' + case.family)
    out.append('fmt ' + fmt.name)
    out.append('shape %d %d %d' % (case.B, case.T, case.V))
    out.append('shift ' + case.shift)
    out.append('ignore_index %d' % case.ignore_index)
    out.append('temperature %016x' % case.tau_bits)
    out.append('empty_mean ' + case.empty_mean)
    out.append('itype ' + case.itype)
    for b in range(case.B):
        out.append('l ' + ' '.join(str(x) for x in case.labels[b]))
    if case.mask is not None:
        for b in range(case.B):
            out.append('k ' + ''.join(str(x) for x in case.mask[b]))
    for seq in case.logits:
        for row in seq:
            out.append('x ' + ' '.join(hexbits(fmt, x) for x in row))
    toks, seqs, (N, tm) = recs
    for r in toks:
        out.append('u' if r is None else 't ' + fmt_record(r))
    for n, s, mn in seqs:
        out.append('s %d %s %s' % (n, fmt_record(s), fmt_record(mn)))
    out.append('m %d %s' % (N, fmt_record(tm)))
    out.append('end')
    return recs


# --------------------------------------------------------------------------------------------
# Random draws: integers and random() only, combined with IEEE +, -, *, sqrt (no libm).

class Rng:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def below(self, n):
        """Uniform integer in [0, n) by rejection on getrandbits."""
        k = max(1, (n - 1).bit_length())
        while True:
            x = self.r.getrandbits(k)
            if x < n:
                return x

    def unif(self):
        return self.r.random()

    def normal(self):
        """Approximately N(0, 1): the Irwin-Hall sum of 6 uniforms, centred and scaled."""
        s = 0.0
        for _ in range(6):
            s += self.r.random()
        return (s - 3.0) * 1.4142135623730951

    def chance(self, p):
        return self.r.random() < p


def mpf_from(x):
    return mpmath.mpf(x)._mpf_


def log_tuple(x, prec=80):
    """log of a positive mpmath number, as a tuple (used to build inputs, not results)."""
    with mpmath.workprec(prec):
        return mpmath.log(mpmath.mpf(x))._mpf_


def fmt_max(fmt):
    return value_of(fmt, fmt.maxfin)


def normal_row(rng, fmt, V, scale, centre=0.0):
    return [enc(fmt, centre + scale * rng.normal()) for _ in range(V)]


def rand_labels(rng, T, V, ignore=-100, p_ignore=0.0, garbage_first=False):
    labs = [(ignore if rng.chance(p_ignore) else rng.below(V)) for _ in range(T)]
    if garbage_first and T:
        labs[0] = [V, -7, 10 ** 9, -(2 ** 40)][rng.below(4)]   # never scored with shift next
    return labs


def rand_mask(rng, T, p_zero):
    return [0 if rng.chance(p_zero) else 1 for _ in range(T)]


# --------------------------------------------------------------------------------------------
# Families. Each returns a list of Case for one storage format.

def fam_random(fmt, rng):
    """Random normal logits at several scales, shapes, shifts, masks."""
    cases = []
    scales = [0.01, 1.0, 4.0, 16.0, 100.0]
    Vs = [2, 3, 5, 8, 16, 32, 64, 256]
    for i in range(40):
        scale = scales[i % len(scales)]
        V = Vs[(i // 2) % len(Vs)]
        B = 1 + i % 3 if V < 64 else 1
        T = 2 + rng.below(12 if V < 64 else 3)
        shift = 'next' if i % 4 != 3 else 'none'
        centre = [0.0, 5.0, -20.0][i % 3]
        logits = [[normal_row(rng, fmt, V, scale, centre) for _ in range(T)] for _ in range(B)]
        itype = 'i32' if i % 8 == 5 else 'i64'
        labels = [rand_labels(rng, T, V, p_ignore=0.1 if i % 5 == 2 else 0.0,
                              garbage_first=(shift == 'next' and i % 7 == 1 and itype == 'i64'))
                  for _ in range(B)]
        mask = [rand_mask(rng, T, 0.2) for _ in range(B)] if i % 6 == 4 else None
        cases.append(Case('random/%s/%02d' % (fmt.name, i), 'random', fmt, logits, labels, mask,
                          shift=shift, itype=itype,
                          note='normal logits, centre %g, scale %g, V %d' % (centre, scale, V)))
    return cases


PEAK_KS = list(range(1, 13)) + [15, 20, 30, 50, 100, 300]


def peak_gap(k, n_comp):
    """log(10^-k / (n_comp (1 - 10^-k))): the gap that gives the label p = 1 - 10^-k."""
    with mpmath.workprec(200):
        q = mpmath.mpf(10) ** (-k)
        return mpmath.log(q / (n_comp * (1 - q)))


def fam_peaked(fmt, rng):
    """Label probability p = 1 - 10^-k: logp close to 0, down to underflow in every format."""
    cases = []
    # Gaps d for a two-logit row [0, d]: logp = -log1p(e^d). The extra gaps put logp at the
    # f32 and f16 subnormal range and at the f64 normal/subnormal border, 2^-1074 and below.
    extra = [-16.6, -17.3, -87.3, -103.3, -103.97, -104.5, -708.4, -744.44, -745.13, -746.0,
             -800.0, -1.0e4]
    for variant in range(6):
        rows, labs, notes = [], [], []
        gaps = [peak_gap(k, 1 if variant in (0, 3, 5) else (7 if variant == 1 else 1))
                for k in PEAK_KS]
        gaps = [mpmath.mpf(g) for g in gaps] + [mpmath.mpf(g) for g in extra]
        for g in gaps:
            if variant == 0:        # V = 2, label at the max 0, competitor at the gap
                V, c = 2, 0.0
                row = [enc(fmt, 0.0), enc(fmt, mpf_from(g))]
                lab = 0
            elif variant == 1:      # V = 8, label at the max c, 7 equal competitors
                V, c = 8, 2.5
                with mpmath.workprec(200):
                    comp = enc(fmt, mpf_from(mpmath.mpf(c) + g))
                row = [comp] * 8
                lab = rng.below(8)
                row[lab] = enc(fmt, c)
            elif variant == 2:      # V = 64, the mass 10^-k spread over random competitors
                V = 64
                lab = rng.below(V)
                with mpmath.workprec(200):
                    w = [mpmath.mpf(rng.unif() + 0.01) for _ in range(V - 1)]
                    tot = sum(w)
                    comps = [enc(fmt, mpf_from(-3.0 + g + mpmath.log(x / tot))) for x in w]
                row = comps[:lab] + [enc(fmt, -3.0)] + comps[lab:]
            elif variant == 3:      # V = 2, label on the low logit: logp = -k log 10 or so
                V = 2
                row = [enc(fmt, 1.0), enc(fmt, mpf_from(1 + g))]
                lab = 1
            elif variant == 4:      # variant 1 at temperature 0.5 (gap doubled)
                V = 8
                with mpmath.workprec(200):
                    comp = enc(fmt, mpf_from(g / 2))
                row = [comp] * 8
                lab = rng.below(8)
                row[lab] = enc(fmt, 0.0)
            else:                   # V = 2 both ways round, label at the max, large offset
                V = 2
                with mpmath.workprec(200):
                    off = 1000.0 if fmt is not F16 else 100.0
                    row = [enc(fmt, mpf_from(off + g)), enc(fmt, off)]
                lab = 1
            rows.append(row)
            labs.append(lab)
        T = len(rows)
        tau = 0.5 if variant == 4 else 1.0
        what = ['V=2 label at max', 'V=8 seven equal competitors', 'V=64 random competitors',
                'V=2 label at the low logit', 'V=8 at tau 0.5', 'V=2 offset max'][variant]
        cases.append(Case('peaked/%s/%d' % (fmt.name, variant), 'peaked', fmt, [rows], [labs],
                          shift='none', tau=tau,
                          note='p = 1 - 10^-k, k = %s, then extreme gaps; %s'
                          % (','.join(map(str, PEAK_KS)), what)))
    # Peaked rows in a sequence: sum and mean of logp near 0.
    for i in range(2):
        B, T, V = 2, 24, 4
        logits, labels = [], []
        for b in range(B):
            seq, lab = [], []
            for t in range(T):
                k = 1 + rng.below(12)
                g = peak_gap(k, 3)
                row = [enc(fmt, mpf_from(g + 0.0))] * V
                y = rng.below(V)
                row = list(row)
                row[y] = enc(fmt, 0.0)
                seq.append(row)
                lab.append(y)
            logits.append(seq)
            labels.append(lab)
        cases.append(Case('peaked/%s/seq%d' % (fmt.name, i), 'peaked', fmt, logits, labels,
                          shift='none', empty_mean=['nan', 'zero'][i],
                          note='sequences of peaked rows (k random in 1..12): sums near 0'))
    return cases


def fam_uniform(fmt, rng):
    """All logits of a row equal: logp = -log V whatever the value and the temperature."""
    cases = []
    consts = [0.0, 1.5, -7.0, fmt_max(fmt), -fmt_max(fmt), value_of(fmt, 1),
              -value_of(fmt, 1), 3.0e-3]
    for V in [1, 2, 3, 7, 10, 100, 1000, 4096]:
        T = 4 if V < 1000 else 1
        rows = []
        for t in range(T):
            c = consts[rng.below(len(consts))]
            rows.append([enc(fmt, c)] * V)
        labs = [rng.below(V) for _ in range(T)]
        cases.append(Case('uniform/%s/V%d' % (fmt.name, V), 'uniform', fmt, [rows], [labs],
                          shift='none', tau=[1.0, 0.7][V % 2],
                          note='uniform rows: logp = -log %d' % V))
    return cases


def fam_huge(fmt, rng):
    """Logits at and near the largest finite value: overflow of logp, of sums, not of means."""
    M = fmt_max(fmt)
    below = value_of(fmt, fmt.maxfin - 1)
    cases = []
    rowsets = [
        ([M, -M], 1), ([M, -M], 0), ([M, M], 0), ([-M, -M], 1), ([M, below], 1),
        ([M, below], 0), ([M, -M, 0.0, M / 2], 2), ([M, -M, 0.0, M / 2], 3),
        ([-M, -M / 2, -M / 4, 1.0], 0), ([M / 2, M / 4, M / 8, M / 16], 3),
        ([M, M, -M, -M, 1.0], 4), ([below, M, below], 2),
    ]
    rows = [[enc(fmt, v) for v in r] for r, _ in rowsets]
    V = 5
    rows = [r + [enc(fmt, -M)] * (V - len(r)) for r in rows]
    labs = [y for _, y in rowsets]
    cases.append(Case('huge/%s/rows' % fmt.name, 'huge', fmt, [rows], [labs], shift='none',
                      note='rows at +-max finite; label -max overflows logp to -inf'))
    # Sum overflows, mean does not: logp = -0.6 M for each of 6 tokens.
    rows = [[enc(fmt, M), enc(fmt, 0.4 * M)] for _ in range(6)]
    cases.append(Case('huge/%s/sum_overflow' % fmt.name, 'huge', fmt, [rows], [[1] * 6],
                      shift='none', note='each logp = -0.6 max: the sum overflows, the mean not'))
    # Two sequences of mixed huge and ordinary tokens; the token mean mixes them.
    B, T = 2, 7
    logits, labels = [], []
    for b in range(B):
        seq = []
        for t in range(T):
            if rng.chance(0.5):
                seq.append([enc(fmt, M * rng.unif() * (1 if rng.chance(0.5) else -1))
                            for _ in range(3)])
            else:
                seq.append(normal_row(rng, fmt, 3, 3.0))
        logits.append(seq)
        labels.append(rand_labels(rng, T, 3))
    cases.append(Case('huge/%s/mixed' % fmt.name, 'huge', fmt, logits, labels,
                      note='random huge rows among ordinary ones'))
    # Temperatures that overflow and that tame.
    for tau in [2.0 ** -3, 1e-3, 1e3, 1e30]:
        rows = [[enc(fmt, M), enc(fmt, M / 3), enc(fmt, -M / 7)] for _ in range(3)]
        cases.append(Case('huge/%s/tau_%r' % (fmt.name, tau), 'huge', fmt, [rows], [[0, 1, 2]],
                          shift='none', tau=tau, note='huge logits at temperature %r' % tau))
    return cases


def fam_tiny(fmt, rng):
    """Tiny and subnormal logits, signed zeros: logp = -log V + tiny."""
    sub = [value_of(fmt, k) for k in (1, 2, 3, 7, fmt.minnorm - 1, fmt.minnorm, fmt.minnorm + 1)]
    pool = [0.0, -0.0] + sub + [-x for x in sub] + [1e-30, -1e-30]
    cases = []
    for i in range(4):
        V = [2, 3, 8, 16][i]
        T = 6
        rows = [[enc(fmt, pool[rng.below(len(pool))]) for _ in range(V)] for _ in range(T)]
        labs = [rng.below(V) for _ in range(T)]
        cases.append(Case('tiny/%s/%d' % (fmt.name, i), 'tiny', fmt, [rows], [labs],
                          shift='none', note='subnormal, min normal and signed-zero logits'))
    # Subnormal logits at the smallest subnormal temperature: the row becomes small integers.
    tau = value_of(fmt, 1)
    rows = [[enc(fmt, value_of(fmt, k)) for k in (3, 1, 0, 2)],
            [enc(fmt, value_of(fmt, k)) for k in (0, 0, 1, 40)],
            [enc(fmt, value_of(fmt, k)) for k in (5, 4, 3, 2)]]
    cases.append(Case('tiny/%s/tau_minsub' % fmt.name, 'tiny', fmt, [rows], [[0, 3, 2]],
                      shift='none', tau=tau,
                      note='subnormal logits k * minsub at tau = minsub: the rows are integers'))
    rows = [[enc(fmt, x) for x in (0.0, -0.0, 0.0)], [enc(fmt, -0.0)] * 3,
            [enc(fmt, value_of(fmt, 1)), enc(fmt, -0.0), enc(fmt, -value_of(fmt, 1))]]
    cases.append(Case('tiny/%s/zeros' % fmt.name, 'tiny', fmt, [rows], [[1, 2, 0]],
                      shift='none', tau=2.0 ** -3, note='+0 and -0 logits tie: -log 3'))
    return cases


def fam_neginf(fmt, rng):
    """-inf logits: legal vocabulary masking; the label on -inf; all -inf rows."""
    ninf = enc(fmt, float('-inf'))
    cases = []
    for i in range(3):
        V = [4, 8, 33][i]
        T = 12
        rows, labs = [], []
        for t in range(T):
            row = normal_row(rng, fmt, V, 2.0)
            kind = t % 6
            if kind == 0:                       # some -inf, label finite
                for v in range(V):
                    if rng.chance(0.4):
                        row[v] = ninf
                y = rng.below(V)
                row[y] = enc(fmt, rng.normal())
            elif kind == 1:                     # label on -inf: logp = -inf
                y = rng.below(V)
                row[y] = ninf
            elif kind == 2:                     # all -inf: NaN (only in masked positions below)
                row = [ninf] * V
                y = rng.below(V)
            elif kind == 3:                     # one finite logit, at the label: exactly +0
                y = rng.below(V)
                row = [ninf] * V
                row[y] = enc(fmt, 3.0 * rng.normal())
            elif kind == 4:                     # one finite logit, not at the label: -inf
                y = rng.below(V)
                row = [ninf] * V
                row[(y + 1) % V] = enc(fmt, 1.0)
            else:                               # two finite logits
                y = rng.below(V)
                row = [ninf] * V
                row[y] = enc(fmt, rng.normal())
                row[(y + 3) % V] = enc(fmt, rng.normal())
            rows.append(row)
            labs.append(y)
        # seq 0 counts everything; seq 1 masks the -inf and NaN producers; seq 2 only +0 and
        # finite; seq 3 only exact zeros.
        seqs, labels, masks = [], [], []
        for b in range(4):
            seqs.append(rows)
            if b == 0:
                masks.append([1] * T)
            elif b == 1:
                masks.append([0 if t % 6 == 2 else 1 for t in range(T)])
            elif b == 2:
                masks.append([1 if t % 6 in (0, 3, 5) else 0 for t in range(T)])
            else:
                masks.append([1 if t % 6 == 3 else 0 for t in range(T)])
            labels.append(labs)
        cases.append(Case('neginf/%s/%d' % (fmt.name, i), 'neginf', fmt, seqs, labels, masks,
                          shift='none', empty_mean=['nan', 'zero', 'nan'][i],
                          note='-inf masking: seq 0 all counted (NaN), 1 all but NaN rows (-inf), '
                               '2 finite and exact zeros, 3 exact zeros only (+0)'))
    # -inf without NaN: the sum and mean are -inf, the token mean too.
    rows = [[ninf, enc(fmt, 1.0)], [enc(fmt, 2.0), enc(fmt, -1.0)], [ninf, ninf]]
    cases.append(Case('neginf/%s/seqinf' % fmt.name, 'neginf', fmt, [rows, rows],
                      [[0, 1, 0], [1, 1, 0]], [[1, 1, 0], [1, 1, 0]], shift='none',
                      note='a counted -inf token: sum and mean -inf; all -inf row masked'))
    return cases


def nan_variants(fmt):
    """Quiet, signalling, negative and payload NaNs of fmt."""
    q = fmt.nan
    smax = fmt.inf | (fmt.nan - fmt.inf - 1)    # signalling, largest payload
    return [q, q | fmt.sign, fmt.inf | 1, fmt.inf | 1 | fmt.sign, smax, q | 5]


def fam_nonfinite(fmt, rng):
    """NaN and +inf logits in counted rows (NaN results), masked rows and unscored rows."""
    pinf = enc(fmt, float('inf'))
    ninf = enc(fmt, float('-inf'))
    nans = nan_variants(fmt)
    cases = []
    for i in range(3):
        V, T, B = 6, 8, 3
        logits, labels, masks = [], [], []
        for b in range(B):
            seq, labs, mk = [], [], []
            for t in range(T):
                row = normal_row(rng, fmt, V, 2.0)
                y = rng.below(V)
                bad = rng.below(4)
                if t % 2 == 1:
                    if bad == 0:
                        row[rng.below(V)] = pinf
                    elif bad == 1:
                        row[rng.below(V)] = nans[rng.below(len(nans))]
                    elif bad == 2:                   # +inf beats a -inf label (rule 1 first)
                        row[y] = ninf
                        row[(y + 1) % V] = pinf
                    else:                            # NaN among -inf
                        row = [ninf] * V
                        row[(y + 2) % V] = nans[rng.below(len(nans))]
                seq.append(row)
                labs.append(y)
                # b = 0: bad rows counted; b = 1 and 2: bad rows masked (by mask, by label)
                mk.append(1 if b != 1 or t % 2 == 0 else 0)
            if b == 2:
                labs = [(-100 if t % 2 == 1 else labs[t]) for t in range(T)]
            logits.append(seq)
            labels.append(labs)
            masks.append(mk)
        # shift none: row t is scored with labels[t]. The last row of each sequence in `next`
        # mode is unscored: case 2 uses `next` and a NaN there.
        shift = 'none' if i < 2 else 'next'
        if shift == 'next':
            # rows scored with labels[t + 1]: rebuild the labels and masks to keep the pattern
            for b in range(B):
                labels[b] = [labels[b][0]] + labels[b][:-1]
                masks[b] = [1] + masks[b][:-1]
                logits[b][T - 1] = [nans[0]] * V           # unscored row: must not matter
        cases.append(Case('nonfinite/%s/%d' % (fmt.name, i), 'nonfinite', fmt, logits, labels,
                          masks, shift=shift, empty_mean=['nan', 'zero', 'nan'][i],
                          note='NaN/+inf rows counted in seq 0 (NaN), masked by mask in seq 1, '
                               'by ignore_index in seq 2 (finite)'))
    # NaN in one sequence and -inf in another: token_mean is NaN.
    rows_nan = [[nans[2], enc(fmt, 0.0)], [enc(fmt, 1.0), enc(fmt, 0.0)]]
    rows_inf = [[ninf, enc(fmt, 0.0)], [enc(fmt, 1.0), enc(fmt, 0.0)]]
    cases.append(Case('nonfinite/%s/nan_and_inf' % fmt.name, 'nonfinite', fmt,
                      [rows_nan, rows_inf], [[1, 0], [0, 1]], shift='none',
                      note='seq 0 NaN, seq 1 -inf: token_mean NaN'))
    # Every kind of NaN and inf at V = 1 and 3, counted.
    rows = [[n] for n in nans] + [[pinf], [ninf]]
    cases.append(Case('nonfinite/%s/v1' % fmt.name, 'nonfinite', fmt, [rows],
                      [[0] * len(rows)], shift='none', note='V = 1: NaN and inf rows'))
    return cases


def fam_dummy(fmt, rng):
    """The dummy-label trap: masked rows whose logit at vocabulary id 0 is -inf (or NaN)."""
    ninf = enc(fmt, float('-inf'))
    cases = []
    for i in range(3):
        V, T, B = 5, 10, 2
        shift = ['next', 'none', 'next'][i]
        logits, labels, masks = [], [], []
        for b in range(B):
            seq = []
            for t in range(T):
                row = normal_row(rng, fmt, V, 2.0)
                seq.append(row)
            labs = rand_labels(rng, T, V - 1)
            labs = [x + 1 for x in labs]              # counted labels never 0
            mk = [1] * T
            off = 1 if shift == 'next' else 0
            for t in range(T - off):
                tl = t + off
                if t % 3 == 0:
                    labs[tl] = -100                   # masked by label; row[0] = -inf
                    seq[t][0] = ninf
                    if i == 2 and t % 2 == 0:
                        seq[t] = [ninf] * V           # a whole -inf row, masked
                    elif i == 2:
                        seq[t][0] = fmt.nan           # NaN at the dummy id, masked
                elif t % 3 == 1 and b == 1 and i != 1:
                    mk[tl] = 0                        # masked by mask; the label's logit -inf
                    seq[t][labs[tl]] = ninf
                    seq[t][0] = ninf
            logits.append(seq)
            labels.append(labs)
            masks.append(mk)
        cases.append(Case('dummy/%s/%d' % (fmt.name, i), 'dummy', fmt, logits, labels,
                          masks if i != 1 else None, shift=shift,
                          note='masked rows with logit[0] = -inf: 0 * -inf = NaN traps '
                               'multiplicative masking; the sums stay finite'))
    return cases


def fam_allmasked(fmt, rng):
    """Sequences with no counted token, both empty_mean policies."""
    cases = []
    for em in ['nan', 'zero']:
        V, T = 4, 6
        logits = [[normal_row(rng, fmt, V, 1.0) for _ in range(T)] for _ in range(3)]
        labels = [[-100] * T, rand_labels(rng, T, V), rand_labels(rng, T, V)]
        masks = [[1] * T, [0] * T, [1] * T]
        cases.append(Case('allmasked/%s/%s' % (fmt.name, em), 'allmasked', fmt, logits, labels,
                          masks, empty_mean=em,
                          note='seq 0 all ignore_index, seq 1 all mask 0, seq 2 counted'))
        labels = [[-100] * T, [-100] * T]
        cases.append(Case('allmasked/%s/%s_batch' % (fmt.name, em), 'allmasked', fmt,
                          logits[:2], labels, empty_mean=em,
                          note='no counted token in the batch: token_mean follows empty_mean'))
        # T = 1 with shift next: no scored position at all.
        cases.append(Case('allmasked/%s/%s_T1' % (fmt.name, em), 'allmasked', fmt,
                          [[normal_row(rng, fmt, V, 1.0)] for _ in range(2)], [[2], [-100]],
                          empty_mean=em, note='T = 1, shift next: nothing scored'))
        # Only the label at t = 0 is real with shift next: it is never scored.
        cases.append(Case('allmasked/%s/%s_first' % (fmt.name, em), 'allmasked', fmt,
                          [logits[0][:3]], [[1, -100, -100]], empty_mean=em,
                          note='shift next: labels[b, 0] is never scored'))
    return cases


def fam_shift(fmt, rng):
    """The same data under both shift modes; garbage labels at t = 0 (never scored in next)."""
    cases = []
    for i in range(3):
        V, T, B = 6, 9, 2
        logits = [[normal_row(rng, fmt, V, 2.0) for _ in range(T)] for _ in range(B)]
        labels = [rand_labels(rng, T, V, p_ignore=0.15) for _ in range(B)]
        masks = [rand_mask(rng, T, 0.15) for _ in range(B)] if i == 1 else None
        cases.append(Case('shift/%s/%d_none' % (fmt.name, i), 'shift', fmt, logits, labels,
                          masks, shift='none', note='shift none; same data as _next'))
        lab2 = [list(r) for r in labels]
        for b in range(B):
            lab2[b][0] = [V, -1, 10 ** 12, -101][(i + b) % 4]
        cases.append(Case('shift/%s/%d_next' % (fmt.name, i), 'shift', fmt, logits, lab2, masks,
                          shift='next', note='shift next; labels[b, 0] out of range: unchecked'))
    return cases


LONG_T = 8192     # the long family holds ~12 LONG_T scored tokens, ~77 bytes each (~7.6 MB)


def fam_long(fmt, rng):
    """Long sequences with small V: the sum grows with T, the mean does not."""
    cases = []
    specs = [  # (B, T, V, scale, kind)
        (1, LONG_T, 2, 1.0, 0),
        (2, LONG_T // 2, 2, 30.0, 1),
        (1, LONG_T, 2, 0.0, 2),
    ]
    for i, (B, T, V, scale, kind) in enumerate(specs):
        logits, labels, masks = [], [], []
        for b in range(B):
            seq = []
            labs = []
            for t in range(T):
                if kind == 2:                    # peaked: logp ~ -1e-6 each, label at max
                    y = rng.below(V)
                    row = [enc(fmt, -14.0 + rng.unif())] * V
                    row[y] = enc(fmt, 0.0)
                else:
                    row = normal_row(rng, fmt, V, scale)
                    y = rng.below(V)
                seq.append(row)
                labs.append(y)
            logits.append(seq)
            labels.append(labs)
            masks.append(rand_mask(rng, T, 0.02) if kind == 1 else None)
        cases.append(Case('long/%s/%d' % (fmt.name, i), 'long', fmt, logits, labels,
                          masks if kind == 1 else None, empty_mean='zero' if i == 1 else 'nan',
                          note='B %d, T %d, V %d: sum versus mean; %s' % (
                              B, T, V, ['scale 1', 'scale 30 (f16 sum overflows)',
                                        'peaked rows, logp ~ -1e-6'][kind])))
    return cases


def fam_ties(fmt, rng):
    """Ties for the max; a label at a tied max, at the max, far below it."""
    cases = []
    for i in range(4):
        V, T = [3, 5, 8, 16][i], 10
        rows, labs = [], []
        for t in range(T):
            base = normal_row(rng, fmt, V, 2.0)
            k = 2 + rng.below(V - 1)                # k tied maxima
            top = enc(fmt, 9.0 + rng.unif())
            pos = list(range(V))
            for _ in range(V):
                a, b2 = rng.below(V), rng.below(V)
                pos[a], pos[b2] = pos[b2], pos[a]
            tied = pos[:k]
            for p in tied:
                base[p] = top
            rest = [p for p in range(V) if p not in tied]
            choice = t % 3
            if choice == 0 or not rest:
                y = tied[rng.below(k)]
            elif choice == 1:
                y = rest[rng.below(len(rest))]
            else:
                y = rest[0]
                base[y] = enc(fmt, -60.0)           # far below the max
            rows.append(base)
            labs.append(y)
        cases.append(Case('ties/%s/%d' % (fmt.name, i), 'ties', fmt, [rows], [labs],
                          shift='none', note='k tied maxima; label at a tied max or below'))
    rows = [[enc(fmt, 0.0), enc(fmt, -0.0)], [enc(fmt, -0.0), enc(fmt, 0.0)],
            [enc(fmt, 2.0), enc(fmt, 2.0)], [enc(fmt, fmt_max(fmt))] * 2]
    cases.append(Case('ties/%s/pairs' % fmt.name, 'ties', fmt, [rows], [[0, 0, 1, 1]],
                      shift='none', note='V = 2 ties, +0 against -0: logp = -log 2'))
    return cases


def fam_vsmall(fmt, rng):
    """V = 1 and V = 2 over a grid of special and ordinary values."""
    M = fmt_max(fmt)
    vals = [0.0, -0.0, 1.0, -1.0, 30.0, -30.0, M, -M, value_of(fmt, 1), float('-inf')]
    cases = []
    rows = [[enc(fmt, v)] for v in vals]
    cases.append(Case('vsmall/%s/v1' % fmt.name, 'vsmall', fmt, [rows], [[0] * len(rows)],
                      shift='none', note='V = 1: +0 for every finite logit, NaN for -inf'))
    rows, labs = [], []
    for a in vals:
        for b in vals:
            rows.append([enc(fmt, a), enc(fmt, b)])
            labs.append((len(rows) - 1) % 2)
    cases.append(Case('vsmall/%s/v2' % fmt.name, 'vsmall', fmt, [rows], [labs], shift='none',
                      note='V = 2 grid of specials, label alternating'))
    rows = [[enc(fmt, v), enc(fmt, w)] for v, w in
            [(0.0, 1e-3), (1e-3, 0.0), (5.0, 5.0 + 2 ** -7), (-3.0, 3.0), (3.0, -3.0)]]
    cases.append(Case('vsmall/%s/v2next' % fmt.name, 'vsmall', fmt, [rows, rows],
                      [[0, 0, 1, 0, 1], [1, 1, 0, 1, 0]], note='V = 2, shift next'))
    return cases


TAUS = [0.7, 1.5, 2.0 ** -3, 1e-3, 1e3, 1.0 / 3.0, 0.1, 2.0 ** 20, 5e-324, 1e300, 0.999999,
        1.0000001]


def fam_temperature(fmt, rng):
    """Temperature != 1: rows divided exactly by tau."""
    cases = []
    for i, tau in enumerate(TAUS):
        V = [8, 16, 32][i % 3]
        B, T = 2, 6
        logits = [[normal_row(rng, fmt, V, 2.0) for _ in range(T)] for _ in range(B)]
        labels = [rand_labels(rng, T, V) for _ in range(B)]
        # One peaked row per sequence, and one with -inf masking.
        for b in range(B):
            logits[b][1] = [enc(fmt, -20.0)] * V
            logits[b][1][labels[b][2]] = enc(fmt, 0.0)
            logits[b][3][0] = enc(fmt, float('-inf'))
        cases.append(Case('temperature/%s/%02d' % (fmt.name, i), 'temperature', fmt, logits,
                          labels, tau=tau, note='tau = %r (%s)' % (tau, float(tau).hex())))
    return cases


def fam_shifted(fmt, rng):
    """Rows that are exact shifts of each other give identical logp (checked here too)."""
    cases = []
    # Quarters in [-8, 8) and shifts that keep every sum exact in the format.
    shifts = [1.0, -3.0, 0.5, 7.25, -16.0]
    if fmt in (F64, F32):
        shifts += [1024.0, -4096.5]
    for i in range(2):
        V, T = [6, 12][i], 5
        base = [[rng.below(64) / 4.0 - 8.0 for _ in range(V)] for _ in range(T)]
        labs = [rng.below(V) for _ in range(T)]
        seqs = []
        for c in [0.0] + shifts:
            seq = []
            for row in base:
                enc_row = [enc(fmt, x + c) for x in row]
                assert all(value_of(fmt, e) == x + c for e, x in zip(enc_row, row))
                seq.append(enc_row)
            seqs.append(seq)
        case = Case('shifted/%s/%d' % (fmt.name, i), 'shifted', fmt, seqs, [labs] * len(seqs),
                    shift='none', note='sequence b = sequence 0 + c exactly, c = %s'
                    % ', '.join('%g' % c for c in shifts))
        cases.append(case)
    return cases


def fam_ignore(fmt, rng):
    """labels == ignore_index (-100 and custom, including a real vocabulary id) and masks."""
    cases = []
    for i, ign in enumerate([-100, -1, 7, 0, -123456789]):
        V, T, B = 10, 12, 2
        logits = [[normal_row(rng, fmt, V, 2.0) for _ in range(T)] for _ in range(B)]
        labels = [[(ign if rng.chance(0.3) else rng.below(V)) for _ in range(T)]
                  for _ in range(B)]
        masks = [rand_mask(rng, T, 0.25) for _ in range(B)] if i % 2 == 0 else None
        cases.append(Case('ignore/%s/%d' % (fmt.name, i), 'ignore', fmt, logits, labels, masks,
                          shift=['next', 'none'][i % 2], ignore_index=ign,
                          itype='i32' if i in (1, 3) else 'i64',
                          note='ignore_index %d%s' % (ign, ', explicit mask' if masks else '')))
    return cases


FAMILIES = [
    ('random', fam_random), ('peaked', fam_peaked), ('uniform', fam_uniform), ('huge', fam_huge),
    ('tiny', fam_tiny), ('neginf', fam_neginf), ('nonfinite', fam_nonfinite),
    ('dummy', fam_dummy), ('allmasked', fam_allmasked), ('shift', fam_shift),
    ('long', fam_long), ('ties', fam_ties), ('vsmall', fam_vsmall),
    ('temperature', fam_temperature), ('shifted', fam_shifted), ('ignore', fam_ignore),
]

LARGE_VS = [32000, 128256, 256000]


def fam_large(fmt, rng, V):
    """A few rows of a large vocabulary (written at test time, not committed)."""
    T = 3
    rows = []
    rows.append(normal_row(rng, fmt, V, 3.0))
    for v in range(0, V, 97):
        rows[0][v] = enc(fmt, float('-inf'))
    peak = [enc(fmt, -40.0 + 4.0 * rng.unif()) for _ in range(V)]
    rows.append(peak)
    rows.append([enc(fmt, 0.0)] * V)
    labs = [0, 1 + rng.below(V - 1), rng.below(V)]
    rows[1][labs[2]] = enc(fmt, 0.0)          # row 1 scores labs[2]: at its max, p ~ 1 - V e^-38
    rows[0][labs[1]] = enc(fmt, 2.5)
    return Case('large/%s/V%d' % (fmt.name, V), 'large', fmt, [rows], [labs],
                note='V = %d: a normal row with -inf every 97 ids; a peaked row' % V)


# --------------------------------------------------------------------------------------------

def header(family, seed, command):
    return ['# lpcert test vectors: family %s' % family,
            '# generator: vectors/gen_vectors.py version %d' % VERSION,
            '# seed: 0x%x' % seed,
            '# command: %s' % command,
            '# format: vectors/FORMAT.md (one case per block, values are hex bit patterns)']


def family_seed(name):
    return SEED ^ zlib.crc32(name.encode())


def self_check(case, recs):
    """Facts the expected results must show whatever the arithmetic (a check of this script)."""
    toks = recs[0]
    if case.family == 'shifted':
        Ts = len(toks) // case.B
        for b in range(1, case.B):
            assert toks[b * Ts:(b + 1) * Ts] == toks[:Ts], case.name
    if case.family == 'uniform':
        for (b, t, tl), r in zip(case.scored(), toks):
            want = 'zero'
            if case.V > 1:
                with mpmath.workprec(400):
                    want = (fzero, mpmath.log(case.V)._mpf_)
            assert r == record(want, 1, 300), case.name


def build_family(name, fn, command, seed):
    lines = header(name, seed, command)
    ncases = ntok = ncount = 0
    for fmt in FMTS:
        rng = Rng(seed ^ (FMTS.index(fmt) << 20))
        for case in fn(fmt, rng):
            lines.append('')
            recs = write_case(lines, case)
            self_check(case, recs)
            ncases += 1
            ntok += len(recs[0])
            ncount += sum(1 for r in recs[0] if r is not None)
    return '\n'.join(lines) + '\n', ncases, ntok, ncount


def write_file(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='ascii', newline='\n') as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=None, help='corpus folder (default: vectors/corpus)')
    ap.add_argument('--family', action='append', help='only this family (repeatable)')
    ap.add_argument('--large', metavar='DIR', help='write DIR/large.txt (large V) and nothing else')
    ap.add_argument('--list', action='store_true', help='list the families')
    args = ap.parse_args(argv)
    if args.list:
        for name, fn in FAMILIES:
            print('%-12s %s' % (name, fn.__doc__.strip().split('\n')[0]))
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    if args.large:
        os.makedirs(args.large, exist_ok=True)
        seed = family_seed('large')
        lines = header('large', seed, 'python3 vectors/gen_vectors.py --large DIR')
        n = 0
        for V in LARGE_VS:
            for fmt in (FMTS if V == LARGE_VS[0] else [F32, BF16]):
                rng = Rng(seed ^ (FMTS.index(fmt) << 20) ^ V)
                lines.append('')
                write_case(lines, fam_large(fmt, rng, V))
                n += 1
        write_file(os.path.join(args.large, 'large.txt'), '\n'.join(lines) + '\n')
        print('large: %d cases -> %s' % (n, os.path.join(args.large, 'large.txt')))
        return 0
    out = args.out or os.path.join(here, 'corpus')
    os.makedirs(out, exist_ok=True)
    names = [n for n, _ in FAMILIES]
    for n in args.family or []:
        if n not in names:
            ap.error('unknown family %r (see --list)' % n)
    command = 'python3 vectors/gen_vectors.py'
    tot = [0, 0, 0, 0]
    for name, fn in FAMILIES:
        if args.family and name not in args.family:
            continue
        text, nc, nt, ncnt = build_family(name, fn, command, family_seed(name))
        path = os.path.join(out, name + '.txt')
        write_file(path, text)
        size = len(text.encode())
        print('%-12s %4d cases %7d scored %7d counted %9d bytes' % (name, nc, nt, ncnt, size))
        for i, x in enumerate((nc, nt, ncnt, size)):
            tot[i] += x
    print('%-12s %4d cases %7d scored %7d counted %9d bytes' % ('total', *tot))
    print('precision raised beyond %d bits in %d cases' % (START_PREC, STATS['raised']))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
