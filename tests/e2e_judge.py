"""tests/e2e_judge.py: `lpcert check` judged from the fast tiers' enclosures (check/judge.c) gives
byte for byte the text, JSON and certificate of `--slow` (every value from the all-MPFR double-double), but for
the "judge" counts (the JSON object, the certificate line) and the certificate's date: random problems (f32, bf16, f16, f64 logits, masks, temperatures, both
shifts) with candidates of every format (the reference computed in doubles, rounded; a few values
1 ulp off, NaN or -inf), sums and means, under the default bound, --max-ulp set exactly to the
worst value's error (and 1 ulp of it either side), --max-abs, --vs-baseline and no bound."""
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from tensors import write_safetensors  # noqa: E402

LP = sys.argv[1]
FAILS = []


def rnd(x, fmt):
    if fmt == "f64" or not math.isfinite(x):
        return x
    if fmt == "f32":
        return struct.unpack("<f", struct.pack("<f", x))[0]
    if fmt == "f16":
        try:
            return struct.unpack("<e", struct.pack("<e", x))[0]
        except OverflowError:
            return -math.inf
    (u,) = struct.unpack("<I", struct.pack("<f", x))
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return struct.unpack("<f", struct.pack("<I", u & 0xFFFFFFFF))[0]


def nudge(x, fmt, k):
    """x moved k steps of format fmt (x representable in fmt)."""
    code = {"f64": ("<d", "<q"), "f32": ("<f", "<i")}
    if fmt in code:
        fc, ic = code[fmt]
        (u,) = struct.unpack(ic, struct.pack(fc, x))
        u += k if x >= 0 else -k
        return struct.unpack(fc, struct.pack(ic, u))[0]
    e = math.frexp(x)[1]
    p = 11 if fmt == "f16" else 8
    return x + k * math.ldexp(1.0, e - p) * (1 if x >= 0 else -1)


def logp_row(row, lab, tau):
    m = max(row)
    s = sum(math.exp((v - m) / tau) for v in row)
    return (row[lab] - m) / tau - math.log(s)


def run(args, tag):
    js = os.path.join(TMP, tag + ".json")
    ce = os.path.join(TMP, tag + ".md")
    p = subprocess.run([LP, "check"] + args + ["--json", js, "--certificate", ce],
                       capture_output=True, text=True)
    try:
        with open(js) as f:
            j = json.load(f)
    except (OSError, ValueError):
        j = None
    try:
        with open(ce) as f:   # less the issue date and the judge's counts
            cert = [l for l in f.read().splitlines()
                    if not l.startswith("Issued by") and not l.startswith("| judged |")]
    except OSError:
        cert = None
    return p.returncode, p.stdout, p.stderr, j, cert


def compare(args, what):
    a = run(args + ["--slow"], "slow")
    b = run(args, "fast")
    ja, jb = a[3], b[3]
    if jb is not None and "judge" not in jb:
        FAILS.append(what)
        print("FAIL %s: the fast judge did not run: %s" % (what, " ".join(args)))
    if ja is not None and "judge" in ja:
        FAILS.append(what)
        print("FAIL %s: --slow ran the fast judge: %s" % (what, " ".join(args)))
    if ja is not None:
        ja.pop("judge", None)
    if jb is not None:
        jb.pop("judge", None)
    if a[0] != b[0] or a[1] != b[1] or a[2] != b[2] or ja != jb or a[4] != b[4]:
        FAILS.append(what)
        print("FAIL %s: %s" % (what, " ".join(args)))
        if a[1] != b[1]:
            import difflib
            for line in list(difflib.unified_diff(a[1].splitlines(), b[1].splitlines(), "slow", "fast", lineterm=""))[:30]:
                print("  " + line)
        elif ja != jb:
            print("  json differs:\n  slow %s\n  fast %s" % (json.dumps(ja)[:3000], json.dumps(jb)[:3000]))
        else:
            print("  rc/stderr: %r %r / %r %r" % (a[0], a[2], b[0], b[2]))
    return a


def one(seed):
    R = random.Random(seed)
    fmt = R.choice(["f32", "f32", "bf16", "f16", "f64"])
    B, T, V = R.randint(1, 3), R.randint(1, 12), R.choice([2, 7, 50, 300, 1000])
    sc = R.choice([0.5, 3.0, 20.0])
    tau = R.choice([1.0, 1.0, 0.7])
    shift = R.choice(["next", "none"])
    logits = [rnd(R.gauss(0, sc), fmt) for _ in range(B * T * V)]
    if fmt == "f16":
        logits = [max(min(v, 60000.0), -60000.0) for v in logits]
    labels = [R.randrange(V) for _ in range(B * T)]
    mask = [1 if R.random() < 0.85 else 0 for _ in range(B * T)]
    Ts = T - 1 if shift == "next" else T
    if Ts <= 0:
        return
    cf = R.choice(["f32", "f32", "f64", "bf16", "f16"])
    tok, sums, cnt = [], [], []
    for b in range(B):
        s, n = 0.0, 0
        for t in range(Ts):
            tl = t + 1 if shift == "next" else t
            row = logits[(b * T + t) * V:(b * T + t + 1) * V]
            x = logp_row(row, labels[b * T + tl], tau)
            y = rnd(x, cf)
            if mask[b * T + tl]:
                s += x
                n += 1
                k = R.random()
                if k < 0.08:
                    y = nudge(y, cf, R.choice([-2, -1, 1, 3]))
                elif k < 0.09:
                    y = float("nan")
            tok.append(y)
        sums.append(rnd(s, cf))
        cnt.append(n)
    means = [rnd(sums[b] / cnt[b], cf) if cnt[b] else float("nan") for b in range(B)]
    d = os.path.join(TMP, "p%d" % seed)
    lf, yf, mf, cfile = d + "_l.safetensors", d + "_y.safetensors", d + "_m.safetensors", d + "_c.safetensors"
    write_safetensors(lf, [("logits", fmt, [B, T, V], logits)])
    write_safetensors(yf, [("labels", "i64", [B, T], labels)])
    write_safetensors(mf, [("mask", "u8", [B, T], mask)])
    write_safetensors(cfile, [("logp", cf, [B, Ts], tok), ("sum", cf, [B], sums), ("mean", cf, [B], means)])
    base = ["--logits", lf + ":logits", "--labels", yf + ":labels", "--shift", shift,
            "--temperature", repr(tau), "--logp", cfile + ":logp"]
    if R.random() < 0.5:
        base += ["--mask", mf + ":mask"]
    if R.random() < 0.5:
        base += ["--sum", cfile + ":sum", "--mean", cfile + ":mean"]
    a = compare(base, "seed %d default" % seed)
    compare(base + ["--no-default-bound"], "seed %d none" % seed)
    w = None
    if a[3]:
        for g in a[3]["groups"]:
            if g["output"] == "token" and isinstance(g.get("max_ulp"), float):
                w = g["max_ulp"]
    if w is not None and w > 0:
        for k in (-1, 0, 1):
            K = nudge(w, "f64", k) if k else w
            compare(base + ["--max-ulp", "token=" + repr(K), "--max-ulp", "sum=0.5"],
                    "seed %d max-ulp %d" % (seed, k))
    compare(base + ["--max-abs", repr(R.choice([1e-7, 1e-5, 1e-3]))], "seed %d max-abs" % seed)
    compare(base + ["--vs-baseline", "twopass_f32", "--factor", "1"], "seed %d baseline" % seed)


def main():
    global TMP
    with tempfile.TemporaryDirectory() as TMP:
        n = int(os.environ.get("LP_JUDGE_CASES", "40"))
        for seed in range(n):
            one(seed)
    if FAILS:
        print("%d mismatches" % len(FAILS))
        return 1
    print("judge: fast and --slow agree on %d problems" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
