"""python/tests/test_corpus.py: lpcert.ref on every case of the committed vector corpus
(vectors/corpus/*.txt, written by the independent mpmath generator; format vectors/FORMAT.md):
per scored token, sequence and batch the f64, f32, f16 and bf16 results bit for bit, the canonical
NaN where a position does not count, and the counts. The double-double's low part is the C test's
business (tests/t_vectors.c: within a bound, not bit for bit)."""
import glob
import os

import numpy as np
import pytest

import lpcert

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NP = {"f64": (np.uint64, np.float64), "f32": (np.uint32, np.float32), "f16": (np.uint16, np.float16),
      "bf16": (np.uint16, np.uint16)}
CANON_NAN = (0x7ff8000000000000, 0x7fc00000, 0x7e00, 0x7fc0)
KEYS = ("f64", "f32", "f16", "bf16")


def cases(path):
    c = None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        w = line.split()
        if w[0] == "case":
            c = {"name": w[1], "l": [], "k": [], "x": [], "tok": [], "s": []}
        elif w[0] == "end":
            yield c
        elif w[0] in ("l", "x"):
            c[w[0]].append(w[1:])
        elif w[0] == "k":
            c["k"].append([int(ch) for ch in w[1]])
        elif w[0] == "t":
            c["tok"].append([int(h, 16) for h in w[1:5]])
        elif w[0] == "u":
            c["tok"].append(None)
        elif w[0] == "s":
            c["s"].append((int(w[1]), [int(h, 16) for h in w[2:6]], [int(h, 16) for h in w[7:11]]))
        elif w[0] == "m":
            c["m"] = (int(w[1]), [int(h, 16) for h in w[2:6]])
        else:
            c[w[0]] = w[1:]


def bits_of(v, fmt):
    a = np.ascontiguousarray(v)
    return [int(u) for u in a.view({8: np.uint64, 4: np.uint32, 2: np.uint16}[a.dtype.itemsize]).reshape(-1)]


FILES = sorted(glob.glob(os.path.join(ROOT, "vectors", "corpus", "*.txt")))


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f) for f in FILES])
def test_corpus(path):
    n = 0
    for c in cases(path):
        fmt = c["fmt"][0]
        B, T, V = (int(v) for v in c["shape"])
        ubits, _ = NP[fmt]
        x = np.array([[int(h, 16) for h in row] for row in c["x"]], dtype=np.uint64).astype(ubits)
        x = x.view(NP[fmt][1]).reshape(B, T, V)
        y = np.array([[int(v) for v in row] for row in c["l"]], dtype=np.int64 if c["itype"][0] == "i64" else np.int32)
        mask = np.array(c["k"], dtype=np.uint8) if c["k"] else None
        r = lpcert.ref(x, y, mask=mask, shift=c["shift"][0], ignore_index=int(c["ignore_index"][0]),
                       temperature=float(np.uint64(int(c["temperature"][0], 16)).view(np.float64)),
                       empty_mean=c["empty_mean"][0], dtype="bf16" if fmt == "bf16" else None,
                       formats="f64,f32,f16,bf16")
        name = c["name"]
        got = {k: bits_of(r["logp." + k], k) for k in KEYS}
        assert len(got["f64"]) == len(c["tok"]), "%s: %d scored positions, want %d" % (name, len(got["f64"]), len(c["tok"]))
        for i, want in enumerate(c["tok"]):
            for j, k in enumerate(KEYS):
                w = CANON_NAN[j] if want is None else want[j]
                assert got[k][i] == w, "%s token %d %s: got 0x%x, want 0x%x" % (name, i, k, got[k][i], w)
        for b, (cnt, s, m) in enumerate(c["s"]):
            assert int(r["count"][b]) == cnt, "%s b=%d: count %d, want %d" % (name, b, r["count"][b], cnt)
            for j, k in enumerate(KEYS):
                gs, gm = bits_of(r["sum." + k], k)[b], bits_of(r["mean." + k], k)[b]
                assert gs == s[j], "%s b=%d sum.%s: got 0x%x, want 0x%x" % (name, b, k, gs, s[j])
                assert gm == m[j], "%s b=%d mean.%s: got 0x%x, want 0x%x" % (name, b, k, gm, m[j])
        for j, k in enumerate(KEYS):
            g = bits_of(r["token_mean." + k], k)[0]
            assert g == c["m"][1][j], "%s token_mean.%s: got 0x%x, want 0x%x" % (name, k, g, c["m"][1][j])
        n += 1
    assert n > 0
