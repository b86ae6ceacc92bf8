"""tests/e2e_pytorch.py: the README's PyTorch route, run as written, on a real third-party kernel
(torch.log_softmax), with an evaluation of its own to hold lpcert check's figures and verdicts to.

The Python block of README.md's "The PyTorch route, in full" is extracted and run unchanged on a
suite from `lpcert gen`; `lpcert check` then judges the candidate file it writes. Independently of
lpcert's C code, this script reads the suite's expected values (hi + lo, exact as fractions) and
the candidate, and computes per case class and output the A4 error (err_ulp from the exact value,
class mismatches against the correctly rounded value in the candidate's format); check's JSON must report the same n, max ulp (to 1e-9 relative) and class
mismatches, and its verdict under --max-ulp must be the one these figures predict, on both sides
of the measured maximum.

Needs torch (Debian: python3-torch; `LPCERT_TORCH=1 ./test` installs it); exits 77 (ctest: skipped)
without it. Uses the `safetensors` package when installed, else tests/pyshim (the same calls)."""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e_kit import Kit  # noqa: E402
from tensors import bits, read_safetensors  # noqa: E402

try:
    import torch  # noqa: F401
except ImportError:
    print("e2e_pytorch: skipped: torch is not installed (LPCERT_TORCH=1 ./test installs python3-torch)")
    sys.exit(77)

FMT = {"F64": (53, -1022), "F32": (24, -126), "F16": (11, -14), "BF16": (8, -126)}


def readme_route():
    text = open(os.path.join(HERE, "..", "README.md"), encoding="utf-8").read()
    sec = text[text.index("### The PyTorch route, in full"):]
    m = re.search(r"```python\n(.*?)```", sec, re.S)
    return "\n".join(line[3:] if line.startswith("   ") else line for line in m.group(1).split("\n"))


def floats(dt, raw):
    import struct
    if dt == "BF16":
        return [struct.unpack("<f", struct.pack("<I", b << 16))[0] for b in bits(dt, raw)]
    code = {"F64": "d", "F32": "f", "F16": "e"}[dt]
    size = {"F64": 8, "F32": 4, "F16": 2}[dt]
    return list(struct.unpack("<%d%s" % (len(raw) // size, code), raw))


def err_ulp(y, ref, hi, lo, dt):
    """SPEC A4: (cls, err), cls 'ok' or 'mismatch'. The class is that of ref, the correctly
    rounded value in the candidate's format (a logp whose exact value is finite but beyond the
    format's range rounds to -inf, and -inf is then the right answer); err from hi + lo."""
    if math.isnan(ref) or math.isinf(ref) or math.isnan(y) or math.isinf(y):
        same = (math.isnan(ref) and math.isnan(y)) or (math.isinf(ref) and y == ref)
        return ("ok", 0.0) if same else ("mismatch", None)
    x = Fraction(hi) + Fraction(lo)
    p, emin = FMT[dt]
    e = emin
    if x != 0:
        e = math.frexp(hi)[1] - 1 if hi != 0 else emin   # floor(log2 |hi|)
        while abs(x) < Fraction(2) ** e:
            e -= 1
        while abs(x) >= Fraction(2) ** (e + 1):
            e += 1
        e = max(e, emin)
    return "ok", float(abs(Fraction(y) - x) / Fraction(2) ** (e - p + 1))


def evaluate(suite, cand):
    """{(class, output): [n, max_ulp, mismatches]} from the files alone."""
    st, _ = read_safetensors(suite)
    ca, _ = read_safetensors(cand)
    out = {}
    for name in ca:
        m = re.match(r"case/(.+)/(logp|sum|mean)$", name)
        case, what = m.group(1), m.group(2)
        cls = "/".join(case.split("/")[:2])
        dt, _, raw = ca[name]
        ys = floats(dt, raw)
        exp = "case/%s/expected/%s." % (case, what)
        refs = floats(dt, st[exp + dt.lower()][2])
        his = floats("F64", st[exp + "hi"][2])
        los = floats("F64", st[exp + "lo"][2])
        if what == "logp":
            keep = bits("U8", st["case/%s/expected/counted" % case][2])
        else:
            keep = [1] * len(ys)
        g = out.setdefault((cls, {"logp": "token"}.get(what, what)), [0, 0.0, 0])
        for y, ref, hi, lo, k in zip(ys, refs, his, los, keep):
            if not k:
                continue
            g[0] += 1
            c, e = err_ulp(y, ref, hi, lo, dt)
            if c == "mismatch":
                g[2] += 1
            elif e > g[1]:
                g[1] = e
    return out


def main():
    kit = Kit("e2e_pytorch", sys.argv[1])
    env = dict(os.environ)
    try:
        import safetensors  # noqa: F401
    except ImportError:
        env["PYTHONPATH"] = os.path.join(HERE, "pyshim") + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as d:
        suite, cand = os.path.join(d, "suite.safetensors"), os.path.join(d, "candidate.safetensors")
        rc, _, err = kit.run("gen", "--out", suite)
        if not kit.check(rc == 0, "gen: rc %d %s" % (rc, err.strip())):
            return kit.end()
        with open(os.path.join(d, "route.py"), "w") as f:
            f.write(readme_route())
        p = subprocess.run([sys.executable, "route.py"], cwd=d, env=env, capture_output=True, text=True)
        if not kit.check(p.returncode == 0 and os.path.exists(cand),
                         "the README's route failed: rc %d\n%s" % (p.returncode, p.stderr[-3000:])):
            return kit.end()
        mine = evaluate(suite, cand)
        kmax = max(g[1] for g in mine.values())
        mism = sum(g[2] for g in mine.values())
        rep_path = os.path.join(d, "r.json")
        rc, out, err = kit.run("check", suite, cand, "--json", rep_path, "--quiet")
        kit.check(rc in (0, 1), "check: rc %d %s" % (rc, err.strip()))
        rep = json.load(open(rep_path))
        groups = {(g["class"], g["output"]): g for g in rep["groups"]}
        kit.check(set(groups) == set(mine), "groups: check %s, here %s" % (sorted(groups), sorted(mine)))
        for key, (n, mx, mm) in sorted(mine.items()):
            g = groups.get(key)
            if g is None:
                continue
            kit.check(g["n"] == n, "%s n: check %d, here %d" % (key, g["n"], n))
            kit.check(g["class_mismatches"] == mm,
                      "%s class mismatches: check %d, here %d" % (key, g["class_mismatches"], mm))
            kit.check(abs(g["max_ulp"] - mx) <= 1e-9 * max(mx, 1e-300) + 1e-300,
                      "%s max ulp: check %.17g, here %.17g" % (key, g["max_ulp"], mx))
        print("e2e_pytorch: torch %s, %d groups, max %.3f ulp, %d class mismatches"
              % (torch.__version__, len(mine), kmax, mism))
        # verdicts on both sides of the measured maximum, on the classes without a mismatch
        clean = sorted({c for (c, _), g in mine.items()} - {c for (c, _), g in mine.items() if g[2]})
        kit.check(len(clean) > 0, "some class has no class mismatch")
        cases = ",".join(clean)
        kclean = max(g[1] for (c, _), g in mine.items() if c in clean)
        for k, want in ((kclean * 1.0001 + 1e-12, 0), (kclean * 0.9999, 1)):
            rc, out, err = kit.run("check", suite, cand, "--cases", cases, "--max-ulp", repr(k), "--quiet")
            kit.check(rc == want, "--cases %s --max-ulp %r: rc %d, want %d (%s)" % (cases, k, rc, want,
                                                                                  (out + err).strip()[-300:]))
        if mism:
            rc, out, err = kit.run("check", suite, cand, "--max-ulp", repr(kmax * 2 + 1), "--quiet")
            kit.check(rc == 1, "class mismatches must fail whatever the bound: rc %d" % rc)
    return kit.end()


if __name__ == "__main__":
    sys.exit(main())
