#!/usr/bin/env python3
"""fuzz/make_seeds_sample.py: writes the seed corpus fuzz/corpus/sample/seed-* of fz_sample.

Python stdlib only, deterministic. The problems are fz_fast's seeds (fuzz/corpus/fast/seed-*:
every row shape of the decoder's layout, fuzz/fz_decode.h), each with the tail bytes k8..k11 that
fz_sample reads as the sampling parameters (fz_sample.c's opening comment) set to a fixed list of
combinations: each parameter alone, the engine's full chain, ties and edges (top_k 1, top_p
2^-1074 and 1, min_p 1), softcap, the dd wanted or not. Run from anywhere:
    python3 fuzz/make_seeds_sample.py
It replaces the seed-* files and leaves every other file (regress-*) alone.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "corpus", "fast")
DST = os.path.join(HERE, "corpus", "sample")

# (k8 top_k, k9 top_p index, k10 min_p index, k11 flags): flags bit 0 top_k, 1 top_p, 2 min_p,
# 3 softcap (bits 4-5 which), 6 two threads, 7 f64..bf16 only
COMBOS = [
    (2, 0, 0, 0x01), (1, 0, 0, 0x81), (0, 2, 0, 0x02), (0, 7, 0, 0x42), (0, 1, 0, 0x82),
    (0, 0, 3, 0x04), (0, 0, 0, 0x84), (0, 0, 15, 0x44), (0, 0, 0, 0x08), (0, 0, 0, 0x18),
    (5, 3, 3, 0x0f), (3, 2, 2, 0x47), (40, 5, 5, 0x87), (0, 8, 7, 0x06), (1, 0, 0, 0x29),
    (4, 4, 4, 0x3f),
]


def with_tail(data, k8, k9, k10, k11):
    """data with tail bytes k8..k11 set (byte k is data[size - 1 - k]; padded with zeros)."""
    b = bytearray(data)
    if len(b) < 12:
        b = bytearray(12 - len(b)) + b
    n = len(b)
    b[n - 1 - 8], b[n - 1 - 9], b[n - 1 - 10], b[n - 1 - 11] = k8, k9, k10, k11
    return bytes(b)


def main():
    os.makedirs(DST, exist_ok=True)
    for f in os.listdir(DST):
        if f.startswith("seed-"):
            os.remove(os.path.join(DST, f))
    seeds = sorted(f for f in os.listdir(SRC) if f.startswith("seed-"))
    n = 0
    for i, name in enumerate(seeds):
        with open(os.path.join(SRC, name), "rb") as fp:
            data = fp.read()
        for j in (i % len(COMBOS), (i * 7 + 3) % len(COMBOS)):
            k8, k9, k10, k11 = COMBOS[j]
            with open(os.path.join(DST, "%s-c%02d" % (name, j)), "wb") as fp:
                fp.write(with_tail(data, k8, k9, k10, k11))
            n += 1
    print("fuzz/corpus/sample: %d seeds" % n)


if __name__ == "__main__":
    main()
