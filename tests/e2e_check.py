"""tests/e2e_check.py: `lpcert check` end to end. Candidates are made from a suite's own expected
values (so they are exact), then broken on purpose, one way each; each must be caught with the
right diagnosis:
  exact (f32, and bf16 for some cases)        PASS at --max-ulp 0.5, 100% correctly rounded
  off by one ulp                               FAIL, max steps 1, "faithful" diagnosis
  NaN leak (multiply-masking of masked rows)   FAIL, leak diagnosis, masking "mul" observed;
                                               PASS with --masking mul
  wrong shift (row t scored against labels[t]) FAIL, shift diagnosis
  temperature ignored                          FAIL, temperature diagnosis
  empty-mean convention swapped (0, not NaN)   FAIL, empty-mean diagnosis; PASS --empty-mean zero
Corrupt or mismatched candidates (wrong shape, missing case, wrong dtype, unknown tensor, a case
the suite lacks, a truncated file) give exit 2 and one line on stderr. Also: the single-case route
with .npy outputs, --json, --certificate (SHA-256 equal to hashlib's), --cases, usage errors, and
the binding rules shared with `lpcert ref`: [T, B] labels are an input error, a '<u2' npy is bf16
logits with --dtype bf16.

usage: python3 tests/e2e_check.py path/to/lpcert
"""
import hashlib
import json
import math
import os
import re
import shlex
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensors as tz  # noqa: E402
from e2e_check_kit import CheckKit  # noqa: E402

CK = CheckKit("e2e_check", sys.argv[1])
check, run = CK.check, CK.run

FAMILIES = ["normal", "peaked", "nonfinite", "dummy_label", "all_masked", "shift_none", "temperature",
            "masks", "neginf", "tiny_vocab"]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def from_f32_bits(u):
    return struct.unpack("<f", struct.pack("<I", u & 0xFFFFFFFF))[0]


def decode(dt, raw):
    if dt == "F32":
        return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    if dt == "F64":
        return list(struct.unpack("<%dd" % (len(raw) // 8), raw))
    if dt == "I64":
        return list(struct.unpack("<%dq" % (len(raw) // 8), raw))
    if dt == "U8":
        return list(raw)
    if dt == "BF16":
        return [struct.unpack("<f", struct.pack("<I", u << 16))[0] for u in tz.bits(dt, raw)]
    return [struct.unpack("<e", struct.pack("<H", u))[0] for u in tz.bits(dt, raw)]


class Case:
    def __init__(self, ts, meta, name):
        p = "case/%s/" % name
        self.name = name
        dt, (self.B, self.T, self.V), raw = ts[p + "logits"]
        self.logits = decode(dt, raw)
        self.labels = decode("I64", ts[p + "labels"][2])
        self.mask = decode("U8", ts[p + "mask"][2]) if p + "mask" in ts else [1] * (self.B * self.T)
        self.shift_next = meta[p + "shift"] == "next"
        self.ign = int(meta[p + "ignore_index"])
        self.tau = float.fromhex(meta[p + "temperature"])
        self.empty_nan = meta[p + "empty_mean"] == "nan"
        self.Ts = self.T - 1 if self.shift_next else self.T
        self.exp = {k[len(p) + 9:]: ts[k] for k in ts if k.startswith(p + "expected/")}
        self.counted = decode("U8", self.exp["counted"][2])
        self.count = decode("I64", self.exp["count"][2])

    def row(self, b, t):
        return self.logits[(b * self.T + t) * self.V:(b * self.T + t + 1) * self.V]

    def out(self, key):
        dt, shape, raw = self.exp[key]
        return decode(dt, raw)

    def hazard(self, b):
        """A non-counted scored row that multiply-masking turns into a NaN sum."""
        for t in range(self.Ts):
            if self.counted[b * self.Ts + t]:
                continue
            r = self.row(b, t)
            lab = self.labels[b * self.T + (t + 1 if self.shift_next else t)]
            g = lab if 0 <= lab < self.V else 0
            if any(math.isnan(x) or x == math.inf for x in r) or all(x == -math.inf for x in r) \
                    or r[g] == -math.inf:
                return True
        return False


def logsoftmax(row, y, tau):
    xs = [x / tau for x in row]
    if any(math.isnan(x) or x == math.inf for x in xs) or all(x == -math.inf for x in xs):
        return math.nan
    if xs[y] == -math.inf:
        return -math.inf
    m = max(xs)
    return (xs[y] - m) - math.log(math.fsum(math.exp(x - m) for x in xs))


def candidate(path, cases, fn, fmt=lambda c: "f32"):
    """fn(case) -> (logp, sum, mean) lists (None leaves an output out)."""
    tens = []
    for c in cases:
        outs = fn(c)
        f = fmt(c)
        for key, vals, shape in zip(("logp", "sum", "mean"), outs, ([c.B, c.Ts], [c.B], [c.B])):
            if vals is not None:
                tens.append(("case/%s/%s" % (c.name, key), f, shape, vals))
    tz.write_safetensors(path, tens)


def exact(c, f="f32"):
    return c.out("logp." + f), c.out("sum." + f), c.out("mean." + f)


def run_json(*args):
    d = CK.mkdtemp("lpcert_chkj_")
    js = os.path.join(d, "r.json")
    rc, out, err = run("check", *args, "--json", js)
    rep = json.load(open(js)) if os.path.exists(js) else {}
    return rc, out, err, rep


def kinds(rep):
    return {d["kind"] for d in rep.get("diagnoses", [])}


def run_repro(line):
    """Runs a report's repro line as printed, with this lpcert first on PATH: (exit, stdout)."""
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(sys.argv[1])) + os.pathsep +
               os.environ.get("PATH", ""))
    check(os.path.basename(sys.argv[1]) == "lpcert" and line.startswith("lpcert "), "repro: %r" % line)
    p = subprocess.run(line, shell=True, capture_output=True, text=True, env=env)
    check("Sanitizer" not in p.stderr and "runtime error" not in p.stderr, "repro sanitizer: %s" % p.stderr)
    return p.returncode, p.stdout


def table_rows(out):
    """The result column of the table's rows, in order."""
    return [ln.split()[-1] if ln.split()[-1] == "ok" else ln.split()[-2] for ln in out.splitlines()
            if re.match(r"^\S+/\S+ +(token|sum|mean) ", ln)]


def main():
    d = CK.mkdtemp("lpcert_check_")
    S = os.path.join(d, "suite.safetensors")
    parts = []
    for fam in FAMILIES:
        p = os.path.join(d, fam + ".safetensors")
        rc, _, err = run("gen", "--family", fam, "--dtype", "f32", "--seed", "11", "--out", p)
        check(rc == 0, "gen %s: %r" % (fam, err))
        parts.append(tz.read_safetensors(p))
    ts, meta = {}, {}
    for t, m in parts:
        ts.update(t)
        meta.update(m)
    # one suite file holding every family: rewrite the tensors (raw bytes kept)
    header, blobs, off = {}, [], 0
    for name, (dt, shape, raw) in ts.items():
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(S, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    names = sorted({k[5:-7] for k in ts if k.endswith("/logits")})
    cases = [Case(ts, meta, n) for n in names]
    C = os.path.join(d, "cand.safetensors")

    # exact candidate, f32; and with bf16 outputs for half the cases
    candidate(C, cases, exact)
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5")
    check(rc == 0 and rep.get("verdict") == "pass", "exact f32: exit %d %r %s" % (rc, err, out[-600:]))
    check(all(g["correctly_rounded"] == g["n"] for g in rep.get("groups", [])), "exact: 100% cr")
    check(rep.get("conventions", {}).get("masking", {}).get("observed") == "assign", "exact: masking assign")
    check(rep.get("conventions", {}).get("empty_mean", {}).get("observed") == "case", "exact: empty case")
    check("PASS" in out and "verdict: PASS" in out, "exact: table says PASS")
    candidate(C, cases, lambda c: exact(c, "bf16" if c.name.endswith("0") else "f32"),
              fmt=lambda c: "bf16" if c.name.endswith("0") else "f32")
    # the bf16 writer rounds from the decoded value, which is bf16-exact already
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5")
    check(rc == 0, "mixed bf16/f32: exit %d %s" % (rc, out[-800:]))
    check(any("bf16" in g["formats"] for g in rep.get("groups", [])), "mixed: a bf16 group")

    # off by one ulp (away from zero) on every counted finite nonzero token
    def off_by_one(c):
        lp = c.out("logp.f32")
        lp = [from_f32_bits(f32_bits(x) + 1) if c.counted[i] and math.isfinite(x) and x != 0 else x
              for i, x in enumerate(lp)]
        return lp, c.out("sum.f32"), c.out("mean.f32")
    candidate(C, cases, off_by_one)
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5")
    tok = [g for g in rep.get("groups", []) if g["output"] == "token" and g["n"] > 0]
    check(rc == 1, "off by one: exit %d" % rc)
    check(all(g["max_steps"] <= 1 for g in tok) and any(g["max_steps"] == 1 for g in tok), "off by one: steps")
    check(all(g["max_ulp"] <= 1.5 for g in tok) and any(g["max_ulp"] > 0.5 for g in tok), "off by one: ulp")
    check(any(g["faithful"] and g["verdict"] == "fail" for g in tok) and "faithful" in kinds(rep),
          "off by one: faithful diagnosis %s" % kinds(rep))
    check("faithful" in out and "FAIL bound" in out, "off by one: table %s" % out[-1500:])
    rc, out, err, rep = run_json(S, C, "--max-ulp", "1.5")
    check(rc == 0, "off by one passes --max-ulp 1.5: exit %d" % rc)

    # NaN leak: sums and means of sequences with a hazardous masked row are NaN
    def leak(c):
        s, m = c.out("sum.f32"), c.out("mean.f32")
        for b in range(c.B):
            if c.hazard(b):
                s[b] = m[b] = math.nan
        return c.out("logp.f32"), s, m
    leaky = sum(1 for c in cases for b in range(c.B) if c.hazard(b))
    check(leaky >= 3, "the suite has sequences with hazardous masked rows: %d" % leaky)
    candidate(C, cases, leak)
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5")
    check(rc == 1 and "nan_leak" in kinds(rep), "leak: exit %d, diagnoses %s" % (rc, kinds(rep)))
    conv = rep.get("conventions", {}).get("masking", {})
    check(conv.get("observed") == "mul" and conv.get("leaked_sequences") == leaky,
          "leak: masking observed %r" % conv)
    check(sum(g["nan_leaks"] for g in rep["groups"]) >= leaky, "leak: counted in groups")
    check("NaN leak" in out and "multiplication" in out, "leak: table")
    check("fix: mask by assignment (torch.where(mask, logp, 0))" in out and "--masking mul" in out,
          "leak: the fix named %s" % out[-2000:])
    rows = table_rows(out)
    check("FAIL" in rows and "ok" in rows and rows.index("ok") > len(rows) - 1 - rows[::-1].index("FAIL"),
          "failing groups first: %r" % rows)
    check(len(re.findall(r"the same failure in \d+ more group", out)) >= 1, "leak: repeated notes grouped")
    # a repro line as printed reruns that case and fails the same way
    repros = re.findall(r"^ +repro: (.*)$", out, re.M)
    check(len(repros) > 0 and all("--cases " in r and "..." not in r and S in r and C in r for r in repros),
          "repro lines in full: %r" % repros[:3])
    if repros:
        rc2, out2 = run_repro(repros[0])
        case = re.search(r"--cases (\S+)$", repros[0]).group(1).strip("'")
        check(rc2 == 1 and "1 cases" in out2 and "case %s," % case in out2,
              "repro reruns case %s: exit %d %s" % (case, rc2, out2[-800:]))
    rc, out, err = run("check", S, C, "--max-ulp", "0.5", "--failures-only")
    rows = table_rows(out)
    check(rc == 1 and rows and "ok" not in rows and re.search(r"\(\d+ passing groups? not shown: "
          "--failures-only\)", out), "--failures-only: %r %s" % (rows, out[:1500]))
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5", "--masking", "mul")
    check(rc == 0, "leak passes under --masking mul: exit %d %s" % (rc, out[-1500:]))
    candidate(C, cases, exact)
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5", "--masking", "mul")
    check(rc == 1, "a NaN-safe candidate fails --masking mul: exit %d" % rc)

    # wrong shift: row t scored against labels[t] (shift-next cases)
    def shift_none(c):
        lp = c.out("logp.f32")
        if c.shift_next:
            for b in range(c.B):
                for t in range(c.Ts):
                    y = c.labels[b * c.T + t]
                    lp[b * c.Ts + t] = f32(logsoftmax(c.row(b, t), y, c.tau)) if 0 <= y < c.V else 0.0
        return lp, None, None
    candidate(C, [c for c in cases if c.name.startswith("normal")], shift_none)
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5", "--cases", "normal")
    check(rc == 1 and "shift_none" in kinds(rep), "wrong shift: exit %d, diagnoses %s" % (rc, kinds(rep)))
    check("shift_late" not in kinds(rep), "wrong shift: not the other shift")
    check("wrong shift" in out, "wrong shift: table")

    # temperature ignored
    def no_temp(c):
        lp = c.out("logp.f32")
        for b in range(c.B):
            for t in range(c.Ts):
                y = c.labels[b * c.T + (t + 1 if c.shift_next else t)]
                if c.counted[b * c.Ts + t]:
                    lp[b * c.Ts + t] = f32(logsoftmax(c.row(b, t), y, 1.0))
        return lp, None, None
    tcases = [c for c in cases if c.name.startswith("temperature")]
    candidate(C, tcases, no_temp)
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5", "--cases", "temperature")
    check(rc == 1 and "temperature_ignored" in kinds(rep), "temperature: exit %d %s" % (rc, kinds(rep)))

    # empty-mean convention swapped: 0 where the case asks NaN (TRL's clamp)
    def zero_mean(c):
        m = c.out("mean.f32")
        for b in range(c.B):
            if c.count[b] == 0:
                m[b] = 0.0
        return c.out("logp.f32"), c.out("sum.f32"), m
    candidate(C, cases, zero_mean)
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5")
    em = rep.get("conventions", {}).get("empty_mean", {})
    check(rc == 1 and "empty_mean" in kinds(rep) and em.get("observed") == "zero",
          "empty mean swapped: exit %d %s %r" % (rc, kinds(rep), em))
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5", "--empty-mean", "zero")
    check(rc == 0, "zero empty mean passes --empty-mean zero: exit %d %s" % (rc, out[-1200:]))

    # corrupt or mismatched candidates: exit 2, one line, nothing on stdout
    c0 = cases[0]
    bad = {
        "wrong shape": [("case/%s/logp" % c0.name, "f32", [c0.B, c0.T], [0.0] * (c0.B * c0.T))],
        "wrong dtype": [("case/%s/sum" % c0.name, "i64", [c0.B], [0] * c0.B)],
        "unknown tensor": [("case/%s/logps" % c0.name, "f32", [c0.B, c0.Ts], [0.0] * (c0.B * c0.Ts))],
        "case not in suite": [("case/nope/f32/0/sum", "f32", [1], [0.0])],
    }
    needles = {"wrong shape": "shape", "wrong dtype": "dtype", "unknown tensor": "logps",
               "case not in suite": "no case"}
    for what, extra in bad.items():
        tens = []
        for c in cases:
            tens.append(("case/%s/sum" % c.name, "f32", [c.B], c.out("sum.f32")))
        tens = [t for t in tens if t[0] not in {e[0] for e in extra}] + extra
        tz.write_safetensors(C, tens)
        rc, out, err = run("check", S, C)
        check(rc == 2 and err.count("\n") == 1 and out == "" and needles[what] in err,
              "%s: exit %d %r" % (what, rc, err))
    tz.write_safetensors(C, [("case/%s/sum" % c.name, "f32", [c.B], c.out("sum.f32")) for c in cases[1:]])
    rc, out, err = run("check", S, C)
    check(rc == 2 and err.count("\n") == 1 and "no output for case" in err, "missing case: %d %r" % (rc, err))
    candidate(C, cases, exact)
    with open(C, "rb") as f:
        data = f.read()
    with open(C, "wb") as f:
        f.write(data[:len(data) // 2])
    rc, out, err = run("check", S, C)
    check(rc == 2 and err.count("\n") == 1 and out == "", "truncated: exit %d %r" % (rc, err))
    rc, out, err = run("check", S, os.path.join(d, "absent.safetensors"))
    check(rc == 2 and err.count("\n") == 1, "absent file: exit %d %r" % (rc, err))
    for args, needle in ((["--max-ulp", "x"], "max-ulp"), (["--max-ulp", "bogus=1"], "bogus"),
                         (["--masking", "maybe"], "masking"), (["--factor", "2"], "vs-baseline"),
                         (["--cases", "zzz"], "zzz"), (["--vs-baseline", "no_such_kernel"], "no_such_kernel")):
        candidate(C, cases, exact)
        rc, out, err = run("check", S, C, *args)
        check(rc == 2 and err.count("\n") == 1 and needle in err, "usage %s: exit %d %r" % (args, rc, err))

    # --cases, certificate and hashes
    candidate(C, cases, exact)
    cert = os.path.join(d, "cert.md")
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5", "--cases", "peaked", "--certificate", cert)
    check(rc == 0 and rep.get("cases") == len([c for c in cases if c.name.startswith("peaked")]),
          "--cases peaked: exit %d, %r cases" % (rc, rep.get("cases")))
    text = open(cert).read() if os.path.exists(cert) else ""
    for path in (S, C):
        hx = hashlib.sha256(open(path, "rb").read()).hexdigest()
        check(hx in text and hx in json.dumps(rep), "certificate and JSON carry sha256 of %s" % path)
    check("# lpcert certificate: PASS" in text and "<= 0.5 ulp" in text, "certificate text: %s" % text[:300])

    # --recompute: the reference computed again gives the same verdict
    rc, out, err, rep = run_json(S, C, "--max-ulp", "0.5", "--recompute", "--cases", "masks")
    check(rc == 0 and rep.get("values", 0) > 0, "--recompute: exit %d %r" % (rc, err))

    # a suite of bare inputs (no expected values, no metadata: defaults), candidate from lpcert ref
    c = next(x for x in cases if x.name.startswith("normal"))
    S2, R2 = os.path.join(d, "bare.safetensors"), os.path.join(d, "ref.safetensors")
    tz.write_safetensors(S2, [("case/mine/logits", "f32", [c.B, c.T, c.V], c.logits),
                              ("case/mine/labels", "i64", [c.B, c.T], c.labels)])
    rc, _, err = run("ref", "--logits", S2 + ":case/mine/logits", "--labels", S2 + ":case/mine/labels",
                     "--out", R2)
    check(rc == 0, "ref on the bare suite: %r" % err)
    r2, _ = tz.read_safetensors(R2)
    tz.write_safetensors(C, [("case/mine/" + k, "f32", r2[k + ".f32"][1], decode("F32", r2[k + ".f32"][2]))
                             for k in ("logp", "sum", "mean")])
    rc, out, err, rep = run_json(S2, C, "--max-ulp", "0.5")
    check(rc == 0 and rep.get("values") == c.B * c.Ts + 2 * c.B and rep["groups"][0]["class"] == "mine/f32",
          "bare suite: exit %d %r %s" % (rc, err, out[-500:]))

    # single-case route: .npy outputs (f32, and bf16 as '<u2')
    c = next(x for x in cases if x.name.startswith("masks"))
    L, Y, M = (os.path.join(d, n) for n in ("l.npy", "y.npy", "m.npy"))
    tz.write_npy(L, "f32", [c.B, c.T, c.V], c.logits)
    tz.write_npy(Y, "i64", [c.B, c.T], c.labels)
    tz.write_npy(M, "u8", [c.B, c.T], c.mask)
    P, SU, ME = (os.path.join(d, n) for n in ("p.npy", "s.npy", "e.npy"))
    tz.write_npy(P, "f32", [c.B, c.Ts], c.out("logp.f32"))
    tz.write_npy(SU, "bf16", [c.B], c.out("sum.bf16"))
    tz.write_npy(ME, "f32", [c.B], c.out("mean.f32"))
    base = ["--logits", L, "--labels", Y, "--mask", M, "--ignore-index", str(c.ign)]
    rc, out, err, rep = run_json(*base, "--logp", P, "--sum", SU, "--mean", ME, "--max-ulp", "0.5")
    check(rc == 0 and rep.get("values", 0) > 0, "single case: exit %d %r %s" % (rc, err, out[-600:]))
    check(any(g["output"] == "sum" and g["formats"] == "bf16" for g in rep.get("groups", [])), "single: bf16 sum")
    # single case: the repro is the whole command, printed once, with no --cases
    tz.write_npy(SU, "f32", [c.B], [x * (1 + 2 ** -10) for x in c.out("sum.f32")])
    rc, out, err = run("check", *base, "--sum", SU, "--max-ulp", "0.5")
    repros = re.findall(r"^ +repro: (.*)$", out, re.M)
    check(rc == 1 and len(repros) == 1 and "--cases" not in repros[0] and L in repros[0],
          "single repro: exit %d %r" % (rc, repros))
    if repros:
        rc2, out2 = run_repro(repros[0])
        check(rc2 == 1 and out2 == out, "single repro reruns the same report: exit %d" % rc2)
    tz.write_npy(P, "f32", [c.B, c.T], [0.0] * (c.B * c.T))
    rc, out, err = run("check", *base, "--logp", P)
    check(rc == 2 and err.count("\n") == 1 and "shape" in err, "single wrong shape: %d %r" % (rc, err))
    rc, out, err = run("check", *base)
    check(rc == 2 and err.count("\n") == 1, "single without outputs: %d %r" % (rc, err))

    # one binding rule with `lpcert ref` (core/lp_bind.h): labels exactly [B, T], so a transposed
    # [T, B] array (the right element count) is an input error; a '<u2' npy is bf16 with --dtype bf16
    c = next(x for x in cases if x.B != x.T and x.B > 1)
    tz.write_npy(L, "f32", [c.B, c.T, c.V], c.logits)
    tz.write_npy(Y, "i64", [c.T, c.B], [c.labels[b * c.T + t] for t in range(c.T) for b in range(c.B)])
    tz.write_npy(P, "f32", [c.B, c.Ts], c.out("logp.f32"))
    rc, out, err = run("check", "--logits", L, "--labels", Y, "--ignore-index", str(c.ign), "--logp", P)
    check(rc == 2 and err.count("\n") == 1 and
          "%s: labels shape does not match logits [B=%d, T=%d, V=%d]" % (Y, c.B, c.T, c.V) in err,
          "single [T, B] labels: %d %r" % (rc, err))
    U, SB, R3, P16 = (os.path.join(d, n) for n in ("u2.npy", "lb.safetensors", "r3.safetensors", "p16.npy"))
    tz.write_npy(U, "bf16", [c.B, c.T, c.V], c.logits)            # '<u2' on disk
    tz.write_npy(Y, "i64", [c.B, c.T], c.labels)
    tz.write_safetensors(SB, [("logits", "bf16", [c.B, c.T, c.V], c.logits)])
    rc, _, err = run("ref", "--logits", SB, "--labels", Y, "--ignore-index", str(c.ign), "--out", R3)
    check(rc == 0, "ref on bf16 logits: %r" % err)
    r3, _ = tz.read_safetensors(R3)
    tz.write_npy(P16, "f32", [c.B, c.Ts], decode("F32", r3["logp.f32"][2]))
    one = ["--logits", U, "--labels", Y, "--ignore-index", str(c.ign), "--logp", P16]
    rc, out, err, rep = run_json(*one, "--dtype", "bf16", "--max-ulp", "0.5")
    check(rc == 0 and any(g["class"] == "input/bf16" for g in rep.get("groups", [])),
          "check --dtype bf16 on '<u2' logits: exit %d %r %s" % (rc, err, out[-400:]))
    rc, out, err = run("check", *one)
    check(rc == 2 and "'<u2' logits are read only as bf16 bit patterns: pass --dtype bf16" in err,
          "check '<u2' without --dtype: %d %r" % (rc, err))
    rc, out, err = run("check", *one, "--dtype", "f32")
    check(rc == 2 and "--dtype bf16" in err, "check '<u2' with --dtype f32: %d %r" % (rc, err))
    rc, out, err = run("check", "--logits", SB, "--labels", Y, "--logp", P16, "--dtype", "f32")
    check(rc == 2 and "logits are BF16 but --dtype says f32" in err, "check --dtype disagrees: %d %r" % (rc, err))
    rc, out, err = run("check", S, C, "--dtype", "f32")
    check(rc == 2 and "--dtype goes with --logits/--labels" in err, "check suite --dtype: %d %r" % (rc, err))
    # a repeated option is refused, never silently replaced; --max-ulp/--max-abs are layered per output
    rc, out, err = run("check", *one, "--dtype", "bf16", "--json", os.devnull, "--json", os.devnull)
    check(rc == 2 and "--json given more than once" in err, "check --json twice: %d %r" % (rc, err))
    rc, out, err = run("check", *one, "--dtype", "bf16", "--max-ulp", "token=1e9", "--max-ulp", "sum=0",
                       "--quiet")
    check(rc == 0, "check --max-ulp per output, layered: %d %r" % (rc, err))

    baseline_overflow(d)


def baseline_overflow(d):
    """SPEC A5: under the default bound, values where the plain kernel overflows (a class
    mismatch: here 1/tau, tau = 1e-38, past f32's range) are still bounded (the floor of 2 ulp):
    the reference's own values pass, the same values 1000 ulp off fail (they passed, 'classes
    only', with the baseline column '-')."""
    import random
    rng = random.Random(38)
    B, T, V = 2, 6, 40
    L, Y, R = (os.path.join(d, n) for n in ("ol.npy", "oy.npy", "or.safetensors"))
    # rows of [-1, 1] with a maximum 5 (5 / tau overflows f32 in the plain kernel) and the scored
    # label at 4.5 (its exact tempered logp, about -5e37, is an f32 number)
    ys = [rng.randrange(1, V) for _ in range(B * T)]
    xs = []
    for b in range(B):
        for t in range(T):
            row = [f32(rng.uniform(-1, 1)) for _ in range(V)]
            row[0] = 5.0
            if t + 1 < T:
                row[ys[b * T + t + 1]] = 4.5
            xs += row
    tz.write_npy(L, "f32", [B, T, V], xs)
    tz.write_npy(Y, "i64", [B, T], ys)
    rc, _, err = run("ref", "--logits", L, "--labels", Y, "--temperature", "1e-38", "--out", R)
    if not check(rc == 0, "ref --temperature 1e-38: %d %r" % (rc, err)):
        return
    ts, _ = tz.read_safetensors(R)
    raw = ts["logp.f32"][2]
    vals = list(struct.unpack("<%df" % (len(raw) // 4), raw))
    moved = [from_f32_bits(f32_bits(v) + 1000) if math.isfinite(v) and v != 0 else v for v in vals]
    G, Bd = os.path.join(d, "og.npy"), os.path.join(d, "ob.npy")
    tz.write_npy(G, "f32", [B, T - 1], vals)
    tz.write_npy(Bd, "f32", [B, T - 1], moved)
    args = ["check", "--logits", L, "--labels", Y, "--temperature", "1e-38"]
    rc, out, err = run(*args, "--logp", G)
    check(rc == 0, "baseline overflow: the reference's own values: %d %s %r" % (rc, out[-300:], err))
    rc, out, err = run(*args, "--logp", Bd)
    check(rc == 1 and "a class mismatch on every value" in out,
          "baseline overflow: values 1000 ulp off: %d %s" % (rc, out[-600:]))
    for route in ([], ["--slow"]):   # both judges alike
        rc2, out2, _ = run(*args, "--logp", Bd, *route)
        check(rc2 == 1, "baseline overflow %s: exit %d" % (route, rc2))


if __name__ == "__main__":
    CK.main(main)
