#!/usr/bin/env python3
"""fuzz/make_seeds.py: writes the seed corpora fuzz/corpus/{reference,grad,kernels,safetensors,npy}/seed-*.

Python stdlib only, deterministic (no randomness: every seed is spelled out). Run from anywhere:
    python3 fuzz/make_seeds.py
It replaces the seed-* files and leaves every other file (regress-*, the reproducers of findings)
alone. The reference seeds are problems encoded in the decoder's byte layout (fuzz/fz_decode.h):
parameters at the end of the file, read backwards; logits payload at the head. The safetensors
and .npy seeds are small valid files and slightly broken ones, one defect each.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# ------------------------------------------------------------------------------- formats

F64, F32, F16, BF16 = 0, 1, 2, 3
ESZ = {F64: 8, F32: 4, F16: 2, BF16: 2}


def bits(x, fmt):
    """x rounded to the format (RNE), as an unsigned bit pattern."""
    if fmt == F64:
        return struct.unpack("<Q", struct.pack("<d", x))[0]
    if fmt == F32:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    if fmt == F16:
        return struct.unpack("<H", struct.pack("<e", x))[0]
    b = struct.unpack("<I", struct.pack("<f", x))[0]       # bf16: from f32 (x is exact in f32
    if (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF):  # in every seed that uses it)
        return 0x7FC0
    return (b + 0x7FFF + ((b >> 16) & 1)) >> 16


def le(v, n):
    return bytes((v >> (8 * i)) & 0xFF for i in range(n))

# ------------------------------------------------------------------------------- reference


class El:
    """Element encoders of the decoder's grammar (fz_decode.h, ELEMENTS)."""

    @staticmethod
    def raw(x, fmt):
        return bytes([0x00]) + le(bits(x, fmt), ESZ[fmt])

    @staticmethod
    def rawbits(b, fmt):
        return bytes([0x00]) + le(b, ESZ[fmt])

    @staticmethod
    def sp(k):          # LP_FZ_SPECIAL[k]
        return bytes([0x40 | k])

    @staticmethod
    def int(n):         # -16 <= n <= 15
        return bytes([0x60 | (n + 16)])

    @staticmethod
    def copy(j):        # a tie with element j (< position)
        return bytes([0x80, j])

    @staticmethod
    def step(j, k, down=False):   # element j moved k (1..8) ulps
        return bytes([0xA0 | (k - 1) | (8 if down else 0), j])

    @staticmethod
    def mid(e, m=0, neg=False):   # +-(1 + m/65536) 2^e, -8 <= e <= 7
        return bytes([0xC0 | (16 if neg else 0) | (e + 8), m & 0xFF, m >> 8])

    @staticmethod
    def big(idx, m=0, neg=False):  # +-(1 + m/256) 2^LP_FZ_BIGEXP[idx]
        return bytes([0xE0 | (16 if neg else 0) | idx, m])


# specials (LP_FZ_SPECIAL)
S_PZ, S_NZ, S_MINSUB, S_NMINSUB, S_MAXSUB, S_MINNORM, S_MAX, S_NMAX, S_INF, S_NINF = range(10)
S_NAN, S_NNAN, S_SNAN, S_ONE, S_NONE_, S_HALF, S_TWO, S_ONEUP, S_ONEDN = 12, 13, 14, 15, 16, 17, 18, 19, 20
S_BIG3E18, S_NBIG3E18 = 24, 25

# label selectors (fz_decode.h, LABELS)
L_ARGMAX, L_ARGMIN, L_IGNORE, L_LASTMAX, L_NEGINF = 0x80, 0xA0, 0xB0, 0xD0, 0xE0


def L_BAD(k):
    return 0xF0 | k


def row_free(*els):
    return bytes([0x00]) + b"".join(els)


def row_small(*vals):   # vals in eighths, -127..127; None for -inf
    return bytes([0x40]) + bytes(0x80 if v is None else (v & 0xFF) for v in vals)


def row_dominant(k, top, gaps):   # gaps: bytes g per other element
    return bytes([0x60, k]) + top + bytes(gaps)


def row_near(base, steps):        # steps in -8..7
    return bytes([0x80]) + base + bytes(((s + 8) << 4) for s in steps)


def row_raw(fmt, vals):
    return bytes([0xA0]) + b"".join(le(bits(v, fmt), ESZ[fmt]) for v in vals)


def row_specials(*ks):
    return bytes([0xC0]) + bytes(ks)


def row_trap(*els):               # element 0 is -inf; els are elements 1..V-1
    return bytes([0xE0]) + b"".join(els)


IGNORE = {-100: 0, -1: 3, 0: 4, 1: 5, "min": 6, "2^40": 7}
TAU = {1: 0, 0.5: 4, 2: 5, 0.7: 6, 1.5: 7, 3: 8, 0.1: 9, "1/3": 10, 1e-3: 11, "2^-20": 12,
       1e5: 13, 1e-300: 14, 1e300: 15}


def problem(fmt, B, T, V, rows, labels, shift="next", i32=False, empty_zero=False, mask=None,
            bad_mask_at=None, ignore=-100, tau=1, k8=0, k9=0, k10=0, k11=0):
    """Encodes a problem. rows: B*T row encodings (missing ones read as zeros); labels: B*T
    selectors; mask: None, 'ones', or a list of B*T bits."""
    assert 1 <= B <= 4 and 1 <= T <= 8 and 1 <= V <= min(64, 256 // (B * T))
    k0 = fmt | (4 if shift == "none" else 0) | (8 if i32 else 0) | (16 if empty_zero else 0)
    mbits = 0
    if mask == "ones":
        k0 |= 3 << 5
    elif mask is not None:
        k0 |= 1 << 5
        for i, m in enumerate(mask):
            mbits |= (m & 1) << i
    k3 = TAU[tau]
    if bad_mask_at is not None:
        k0 |= 0x80
        k3 |= (bad_mask_at & 15) << 4
    k1 = (B - 1) | ((T - 1) << 2) | (IGNORE[ignore] << 5)
    tail = [k0, k1, V - 1, k3, mbits & 0xFF, (mbits >> 8) & 0xFF, (mbits >> 16) & 0xFF,
            mbits >> 24, k8, k9, k10, k11]
    labels = list(labels) + [0] * (B * T - len(labels))
    tail += labels[: B * T]
    return b"".join(rows) + bytes(reversed(tail))


def reference_seeds():
    s = {}
    E = El
    # the empty input: f64, B = T = V = 1, all zeros
    s["empty"] = b""
    # one plain problem per format: small integers, label anywhere
    for fmt, name in ((F64, "f64"), (F32, "f32"), (F16, "f16"), (BF16, "bf16")):
        rows = [row_small(4 * r, 3, -5, 16, 0, -24, 7, 1) for r in range(6)]
        s["plain-" + name] = problem(fmt, 2, 3, 8, rows, [1, 2, 7, 0, 5, L_ARGMAX], k10=0x35)
    # ties for the max, label at the max, at the last max, far below
    s["ties"] = problem(F32, 1, 4, 6, [row_small(8, 8, 8, -8, 8, 0)] * 4,
                        [0, L_ARGMAX, L_LASTMAX, L_ARGMIN])
    s["near-ties-f16"] = problem(F16, 1, 3, 8, [row_near(E.mid(3, 0x1234), [0, 1, -1, 2, -2, 7, -8, 0])] * 3,
                                 [0, L_ARGMAX, 3], shift="next")
    s["near-ties-f64"] = problem(F64, 2, 2, 16, [row_free(E.mid(0, 77), *(E.step(0, k % 8 + 1, k % 2 == 1) for k in range(15)))] * 4,
                                 [0, L_ARGMAX, 0, L_ARGMIN], k9=5)
    # p within 1e-9 of 1: one dominant logit, gaps >= 25 (table entries 5..9)
    for fmt, name in ((F64, "f64"), (F32, "f32"), (BF16, "bf16")):
        s["dominant-" + name] = problem(fmt, 1, 3, 32, [row_dominant(7, E.mid(2, 999), [5, 6, 7, 8, 9, 0x15] * 6)] * 3,
                                        [0, L_ARGMAX, L_ARGMIN])
    s["dominant-gap21"] = problem(F64, 1, 2, 64, [row_dominant(0, E.int(3), [2] * 63)] * 2, [0, 0], shift="next")
    # specials: NaN, +inf, all -inf, label at -inf, the single finite logit at the label
    s["nan-row"] = problem(F32, 1, 3, 4, [row_specials(S_ONE, S_NAN, S_PZ, S_TWO), row_specials(S_ONE, S_SNAN, S_PZ, S_NNAN),
                                          row_specials(S_ONE, S_INF, S_PZ, S_TWO)], [0, 0, 2])
    s["all-neginf"] = problem(F16, 1, 2, 5, [row_specials(S_NINF, S_NINF, S_NINF, S_NINF, S_NINF)] * 2, [0, 3], shift="none")
    s["label-neginf"] = problem(BF16, 2, 2, 4, [row_specials(S_NINF, S_ONE, S_TWO, S_HALF)] * 4, [0, L_NEGINF, 1, 0], shift="none")
    s["single-finite"] = problem(F64, 1, 3, 6, [row_specials(S_NINF, S_NINF, S_NZ, S_NINF, S_NINF, S_NINF),
                                                row_specials(S_NINF, S_NINF, S_NINF, S_NINF, S_NINF, S_MAX)] + [b""],
                                 [0, 2, 5], shift="next")
    s["subnormals"] = problem(F32, 1, 2, 6, [row_specials(S_MINSUB, S_NMINSUB, S_MAXSUB, S_MINNORM, S_PZ, S_NZ)] * 2,
                              [0, 3, 1], shift="none")
    s["max-finite"] = problem(F64, 1, 3, 4, [row_specials(S_MAX, S_NMAX, S_MAX, S_PZ), row_specials(S_NMAX, S_NMAX, S_PZ, S_MINSUB),
                                             row_specials(S_MAX, S_NMAX, S_NMAX, S_NMAX)], [0, 1, 2, 0], shift="none")
    s["f16-overflow"] = problem(F16, 1, 2, 3, [row_specials(22, 23, 23)] * 2, [0, 1], tau=0.5)
    # gaps past 3e18: exp underflows MPFR's exponent range
    s["huge-gap-f32"] = problem(F32, 1, 3, 4, [row_specials(S_BIG3E18, S_NBIG3E18, S_PZ, S_NBIG3E18),
                                               row_free(E.big(7), E.big(7, 0, True), E.copy(0), E.int(0)),
                                               row_specials(S_MAX, S_NMAX, S_MAX, S_ONE)], [0, 0, 1, 2], shift="none")
    s["huge-gap-f64"] = problem(F64, 1, 2, 3, [row_free(E.big(13, 5), E.big(13, 5, True), E.big(5, 0, True)),
                                               row_free(E.int(0), E.big(6, 0, True), E.big(14, 200, True))], [0, 0, 0], shift="none")
    s["huge-gap-bf16"] = problem(BF16, 1, 2, 4, [row_free(E.big(9), E.big(9, 0, True), E.int(1), E.step(0, 1, True))] * 2,
                                 [0, 1, L_ARGMAX], shift="none")
    # masks: all-masked sequence, explicit ones, the empty_mean policies, the dummy-label trap
    for ez in (False, True):
        s["all-masked-" + ("zero" if ez else "nan")] = problem(
            F32, 2, 4, 5, [row_small(1, 2, 3, 4, 5)] * 8, [0, 1, 2, 3, 4, 0, 1, 2],
            mask=[1, 1, 1, 1, 0, 0, 0, 0], empty_zero=ez)
    s["mask-ones"] = problem(F16, 2, 2, 4, [row_small(1, -1, 2, -2)] * 4, [1, 2, 3, 0], mask="ones", shift="none")
    s["ignore-all"] = problem(F64, 1, 4, 3, [row_small(1, 2, 3)] * 4, [L_IGNORE] * 4, empty_zero=True)
    s["dummy-trap"] = problem(F32, 2, 3, 6, [row_trap(E.int(1), E.int(2), E.int(5), E.int(0), E.int(-3))] * 6,
                              [L_IGNORE, 1, L_IGNORE, 0, L_IGNORE, 2], mask=[1, 1, 1, 0, 1, 1])
    s["trap-nan-masked"] = problem(BF16, 1, 3, 4, [row_specials(S_NINF, S_NAN, S_INF, S_ONE)] * 3, [0, L_IGNORE, L_IGNORE])
    # temperatures: 1 and non-powers of two, extremes
    for tau, name in ((0.7, "0.7"), ("1/3", "third"), (1e-3, "1e-3"), ("2^-20", "2^-20"), (1e5, "1e5"),
                      (1e-300, "1e-300"), (1e300, "1e300"), (0.1, "0.1")):
        s["tau-" + name] = problem(F32, 1, 3, 8, [row_small(3, 1, 4, 1, -5, 9, 2, -6)] * 3, [0, 2, L_ARGMIN], tau=tau)
    # shifts, label types, ignore_index values
    s["shift-none-i32"] = problem(BF16, 3, 2, 5, [row_small(i, -i, 2 * i, 0, 7) for i in range(6)],
                                  [0, 1, 2, 3, 4, 0], shift="none", i32=True)
    s["ignore-0"] = problem(F32, 1, 4, 4, [row_small(0, 1, 2, 3)] * 4, [0, 0, 1, 0], ignore=0)
    s["ignore-min-i32"] = problem(F64, 1, 3, 4, [row_small(0, 1, 2, 3)] * 3, [0, L_BAD(8), 1], ignore="min", i32=True)
    s["i32-wrap"] = problem(F32, 1, 3, 4, [row_small(0, 1, 2, 3)] * 3, [0, L_BAD(9), L_BAD(11)], i32=True)
    s["T1-next"] = problem(F64, 4, 1, 8, [row_small(1, 2, 3, 4, 5, 6, 7, 8)] * 4, [0, 1, 2, 3])
    s["V1"] = problem(F32, 2, 3, 1, [row_small(5)] * 6, [0] * 6, shift="none")
    # input errors: a scored label out of range, a bad mask byte; an unscored one is fine
    s["err-label"] = problem(F32, 2, 3, 4, [row_small(1, 2, 3, 4)] * 6, [0, 1, 2, 3, L_BAD(0), 1])
    s["err-label-neg"] = problem(F16, 1, 2, 4, [row_small(1, 2, 3, 4)] * 2, [L_BAD(1), 1], shift="none")
    s["unscored-bad-label"] = problem(F32, 1, 3, 4, [row_small(1, 2, 3, 4)] * 3, [L_BAD(7), 1, 2])
    s["err-mask"] = problem(F64, 2, 2, 3, [row_small(1, 2, 3)] * 4, [0, 1, 2, 0], mask=[1, 1, 1, 1], bad_mask_at=2)
    # raw bit patterns, and the full size (B*T*V = 256)
    s["raw-f32"] = problem(F32, 1, 2, 6, [row_raw(F32, [1.5, -2.25, 3e-38, -1e30, 7.0, 0.0])] * 2, [0, 3, 5], shift="none")
    s["full-256"] = problem(F32, 4, 8, 8, [row_small(*(((r * 7 + i * 13) % 41) - 20 for i in range(8))) for r in range(32)],
                            [(i * 5) % 8 for i in range(32)], mask=[(i * 3) % 4 != 0 for i in range(32)], k10=0xC7)
    return s

# ------------------------------------------------------------------------------- safetensors


def st_file(tensors, meta=None, header=None, pad=True, extra=b"", length=None, ascii=True):
    """tensors: list of (name, dtype, shape, data bytes), offsets in list order; or header: the
    JSON text (str or bytes) as is, with extra as the data buffer."""
    if header is None:
        hdr = {}
        if meta is not None:
            hdr["__metadata__"] = meta
        at = 0
        for name, dt, shape, raw in tensors:
            hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [at, at + len(raw)]}
            at += len(raw)
        header = json.dumps(hdr, separators=(",", ":"), ensure_ascii=ascii)
    text = header.encode("utf-8") if isinstance(header, str) else header
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + b"".join(t[3] for t in tensors) + extra


def f32s(*v):
    return struct.pack("<%df" % len(v), *v)


def safetensors_seeds():
    s = {}
    logits = f32s(*[0.5 * i - 3 for i in range(24)])
    labels = struct.pack("<6q", 1, 2, 3, -100, 0, 2)
    mask = bytes([1, 1, 0, 1, 1, 1])
    s["suite"] = st_file([("case/a/logits", "F32", [2, 3, 4], logits), ("case/a/labels", "I64", [2, 3], labels),
                          ("case/a/mask", "BOOL", [2, 3], mask)],
                         meta={"format": "lpcert-suite", "case/a/shift": "next", "case/a/ignore_index": "-100"})
    s["dtypes"] = st_file([("f64", "F64", [2], struct.pack("<2d", 1.0, -2.5)), ("f32", "F32", [1], f32s(3.0)),
                           ("f16", "F16", [3], struct.pack("<3e", 1, 2, -0.0)), ("bf16", "BF16", [2], bytes([0x80, 0x3f, 0xc0, 0x7f])),
                           ("i64", "I64", [1], struct.pack("<q", -7)), ("i32", "I32", [2], struct.pack("<2i", 5, -1)),
                           ("u8", "U8", [3], bytes([0, 200, 255])), ("bool", "BOOL", [2], bytes([0, 1]))])
    s["empty-header"] = st_file([], header="{}")
    s["meta-only"] = st_file([], meta={"k": "v", "": "empty key", "unicode": "\u00e9\u4e2d\U0001f600"})
    s["zero-size"] = st_file([("z0", "F32", [0, 3], b""), ("z1", "I64", [4, 0], b""), ("x", "F64", [1], struct.pack("<d", 2.0)),
                              ("z2", "BOOL", [0], b"")])
    s["scalar"] = st_file([("s", "F64", [], struct.pack("<d", 3.25))])
    s["eight-dims"] = st_file([("t", "U8", [1, 1, 2, 1, 1, 1, 1, 1], bytes([1, 2]))])
    s["names"] = st_file([("\u00fc/\U0001f600", "U8", [1], b"\x01"), ("a\"b\\c", "U8", [1], b"\x02"),
                          ("ctl\u0001\u001f", "U8", [1], b"\x03"), ("", "U8", [1], b"\x04")], ascii=False)
    s["escaped-nul-name"] = st_file([], header='{"a\\u0000b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}')
    s["escaped-nul-meta"] = st_file([], header='{"__metadata__":{"k\\u0000x":"v\\u0000w"}}')
    s["shape-2p53-plus-1-times-0"] = st_file([], header='{"x":{"dtype":"U8","shape":[9007199254740993,0],"data_offsets":[0,0]}}')
    s["surrogate-pair"] = st_file([], header='{"\\ud83d\\ude00":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}')
    s["reverse-order"] = st_file([], header='{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},'
                                            '"a":{"data_offsets":[0,2],"shape":[2],"dtype":"U8"}}', extra=b"\x01\x02\x03\x04")
    s["unpadded"] = st_file([("x", "F32", [1], f32s(1.0))], pad=False)
    s["whitespace"] = st_file([], header=' \n\t{ "x" : { "dtype" : "U8" , "shape" : [ 1 ] , "data_offsets" : [ 0 , 1 ] } } ',
                              extra=b"\x07")
    # broken, one defect each
    good = s["suite"]
    s["bad-truncated"] = good[:-5]
    s["bad-short"] = good[:5]
    s["bad-len-past-end"] = st_file([("x", "U8", [1], b"\x01")], length=4096)
    s["bad-len-huge"] = struct.pack("<Q", 1 << 63) + b"{}"
    s["bad-nul"] = st_file([], header=b'{"a\x00":1}')
    s["bad-utf8"] = st_file([], header=b'{"\xc3\x28":{}}')
    s["bad-json"] = st_file([], header='{"x":{"dtype":"U8",')
    s["bad-not-object"] = st_file([], header="[1,2,3]")
    s["bad-dup-key"] = st_file([], header='{"x":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},'
                                          '"x":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}')
    s["bad-overlap"] = st_file([], header='{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                          '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', extra=b"abc")
    s["bad-hole"] = st_file([], header='{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                       '"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}', extra=b"abc")
    s["bad-trailing"] = st_file([("x", "U8", [1], b"\x01")], extra=b"zz")
    s["bad-nbytes"] = st_file([], header='{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', extra=b"abcd")
    s["bad-dtype"] = st_file([], header='{"x":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', extra=b"a")
    s["bad-shape-neg"] = st_file([], header='{"x":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}')
    s["bad-shape-frac"] = st_file([], header='{"x":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', extra=b"a")
    s["bad-shape-2p53"] = st_file([], header='{"x":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,0]}}')
    s["bad-shape-overflow"] = st_file([], header='{"x":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}')
    s["bad-nine-dims"] = st_file([], header='{"x":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}', extra=b"a")
    s["bad-offsets-reversed"] = st_file([], header='{"x":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}', extra=b"a")
    s["bad-offsets-three"] = st_file([], header='{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}', extra=b"a")
    s["bad-bool"] = st_file([("b", "BOOL", [3], bytes([0, 1, 2]))])
    s["bad-meta-value"] = st_file([], header='{"__metadata__":{"k":1}}')
    s["bad-meta-array"] = st_file([], header='{"__metadata__":["k"]}')
    s["bad-unknown-key"] = st_file([], header='{"x":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"extra":1}}')
    s["bad-missing-key"] = st_file([], header='{"x":{"dtype":"U8","shape":[0]}}')
    s["bad-entry-string"] = st_file([], header='{"x":"U8"}')
    s["bad-npy-magic-only"] = b"\x93NUMPY"
    return s

# ------------------------------------------------------------------------------- npy


def npy_file(descr, shape, data, version=1, fortran="False", header=None, extra=b""):
    if header is None:
        shp = "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join("%d" % d for d in shape) + ")"
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shp)
    h = header.encode("latin-1") if isinstance(header, str) else header
    pre = 10 if version == 1 else 12
    total = pre + len(h) + 1
    h += b" " * ((64 - total % 64) % 64) + b"\n"
    ln = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + h + data + extra


def npy_seeds():
    s = {}
    s["f8-2x3"] = npy_file("<f8", (2, 3), struct.pack("<6d", *[i - 2.5 for i in range(6)]))
    s["f4-vec"] = npy_file("<f4", (4,), f32s(1, -2, 3.5, 0))
    s["f2"] = npy_file("<f2", (3,), struct.pack("<3e", 1, -0.5, 65504))
    s["i8"] = npy_file("<i8", (2, 2), struct.pack("<4q", 0, 1, -100, 7))
    s["i4"] = npy_file("<i4", (3,), struct.pack("<3i", 1, 2, 3))
    s["u1"] = npy_file("|u1", (2,), b"\x00\xff")
    s["b1"] = npy_file("|b1", (3,), b"\x00\x01\x01")
    s["u2-bf16"] = npy_file("<u2", (2,), b"\x80\x3f\xc0\x7f")
    s["scalar"] = npy_file("<f8", (), struct.pack("<d", 1.25))
    s["empty"] = npy_file("<f4", (0,), b"")
    s["zero-dim"] = npy_file("<i8", (3, 0, 2), b"")
    s["eight-dims"] = npy_file("|u1", (1, 1, 1, 2, 1, 1, 1, 1), b"\x01\x02")
    s["v2"] = npy_file("<f4", (2,), f32s(1, 2), version=2)
    s["v3"] = npy_file("<f4", (1,), f32s(5), version=3)
    s["long-suffix"] = npy_file("<f4", None, f32s(1, 2), header="{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }")
    s["dquotes"] = npy_file("<f4", None, f32s(1), header='{"descr": "<f4", "shape": (1,), "fortran_order": False}')
    # broken, one defect each
    s["bad-fortran"] = npy_file("<f4", (2, 2), f32s(1, 2, 3, 4), fortran="True")
    s["bad-bigendian"] = npy_file(">f4", (1,), f32s(1))
    s["bad-object"] = npy_file("|O", (1,), b"\x00" * 8)
    s["bad-structured"] = npy_file("<f4", None, b"", header="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,), }")
    s["bad-missing-key"] = npy_file("<f4", None, f32s(1), header="{'descr': '<f4', 'shape': (1,), }")
    s["bad-dup-key"] = npy_file("<f4", None, f32s(1), header="{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }")
    s["bad-unknown-key"] = npy_file("<f4", None, f32s(1), header="{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}")
    s["bad-nine-dims"] = npy_file("|u1", (1,) * 9, b"\x01")
    s["bad-trailing"] = npy_file("<f4", (1,), f32s(1), extra=b"\x00")
    s["bad-short-data"] = npy_file("<f8", (2,), struct.pack("<d", 1))
    s["bad-no-comma"] = npy_file("<f4", None, f32s(1), header="{'descr': '<f4', 'fortran_order': False, 'shape': (1), }")
    s["bad-negative"] = npy_file("<f4", None, b"", header="{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")
    s["bad-dim-huge"] = npy_file("<f8", None, b"", header="{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }")
    s["bad-overflow"] = npy_file("<f8", None, b"", header="{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }")
    s["bad-bool"] = npy_file("|b1", (2,), b"\x01\x02")
    s["bad-version"] = npy_file("<f4", (1,), f32s(1), version=4)
    s["bad-header-len"] = b"\x93NUMPY\x01\x00\xff\xff{'descr': '<f4'"
    s["bad-garbage"] = npy_file("<f4", None, f32s(1), header="{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x")
    s["bad-control"] = npy_file("<f4", None, f32s(1), header=b"{'descr': '<f\x01', 'fortran_order': False, 'shape': (1,), }")
    s["bad-truncated"] = b"\x93NUMPY\x01"
    return s

# ------------------------------------------------------------------------------- main


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.remove(os.path.join(d, f))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as fp:
            fp.write(data)
    print("%s: %d seeds" % (target, len(seeds)))


def grad_seeds():
    """fz_grad: every problem seed as it is (k11 = 0: token reduction, the four formats, one
    thread) and with k11 (the byte 11 from the end) set to mean/narrow/2 threads, sum/f64 and
    token_mean/bf16/2 threads (fz_grad.c's layout of k11), and with sampling parameters: top_k 3
    and top_p 0.9; min_p 0.1; softcap 5 and top_k 1; softcap 30, top_k 4, top_p 0.5, min_p 0.1."""
    out = {}
    for name, data in reference_seeds().items():
        out[name] = data
        if len(data) < 12:
            continue
        for k11, tag in ((0x16, "mean-narrow-2t"), (0x09, "sum-f64"), (0x1F, "tokmean-bf16-2t")):
            b = bytearray(data)
            b[len(b) - 1 - 11] = k11
            out["%s-%s" % (name, tag)] = bytes(b)
        # SPEC A7's sampling parameters (k11 bit 5; bit 6 softcap): (k11, k8, k9, k10, tag)
        for k11, k8, k9, k10, tag in ((0x21, 0x07, 0x05, 0, "sampled-topk3-topp09-sum"),
                                      (0x36, 0x00, 0x30, 0, "sampled-minp01-narrow-2t"),
                                      (0x68, 0x03, 0x00, 1, "softcap5-topk1-f64"),
                                      (0x73, 0x09, 0x13, 0, "softcap30-all-tokmean-2t")):
            b = bytearray(data)
            b[len(b) - 1 - 11] = k11
            b[len(b) - 1 - 8] = k8
            b[len(b) - 1 - 9] = k9
            b[len(b) - 1 - 10] = k10
            out["%s-%s" % (name, tag)] = bytes(b)
    return out


def main():
    write("reference", reference_seeds())
    write("grad", grad_seeds())
    write("kernels", reference_seeds())   # the same decoder: every problem seed serves both
    write("grad_kernels", reference_seeds())   # and the backward kernels
    write("safetensors", safetensors_seeds())
    write("npy", npy_seeds())


if __name__ == "__main__":
    main()
