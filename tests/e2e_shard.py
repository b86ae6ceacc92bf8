"""tests/e2e_shard.py: `lpcert check|certify --shard I/N --partial FILE` and `lpcert merge`
(check/shard.c): the merge of the N partials prints the report, writes the JSON and certificate
and exits as the unsharded run does, byte for byte, on
  - a multi-case suite (lpcert gen, expected values read: the all-MPFR route), with a built-in
    kernel as the candidate and with a candidate file, under the default bound and --max-ulp;
  - a suite of large cases without expected values (2 x 64 x 32768 f32 logits each, logp only:
    the fast judge's route, check/judge.c, whose "judge" counts must add up too), N = 4 and 3;
  - one case given by --logits, sharded by its sequences with --slow (N = 2, 3, 4, 9, and 12 > B,
    whose last shards judge nothing): a mask, ignore_index, an empty sequence, a NaN leak, -inf
    from an overflow in two shards (the diagnosis counts both), the shift-none mistake (its 90%
    rule over the whole case), [T, V] logits; and the default route's figures equal --slow's;
  - lpcert certify --seconds 0 (its wall-clock "s in all" and the certificate's date are masked:
    no two runs share them).
Merges partials given in any order. Error cases exit 2 with one line on stderr naming the file,
and nothing on stdout and no report file: a missing shard, a duplicate, a foreign shard (other
inputs, other options), N mismatch, a garbage file, a truncated partial, a tampered identity."""
import array
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

LP = sys.argv[1]
FAILS = []


def run(*args):
    p = subprocess.run([LP] + list(args), capture_output=True)
    return p.returncode, p.stdout, p.stderr


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def mask_times(b):
    b = re.sub(rb"; [0-9]+\.[0-9] s in all", b"; T s in all", b)
    return re.sub(rb"on [0-9-]+ [0-9:]+ UTC", b"on DATE UTC", b)


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "byte %d: %r vs %r" % (i, a[max(0, i - 60):i + 60], b[max(0, i - 60):i + 60])
    return "lengths %d vs %d" % (len(a), len(b))


def compare(tag, d, cmd, args, n, order=None, masked=False):
    """The unsharded run of `lpcert cmd args` against the merge of its n shards."""
    u = os.path.join(d, tag + "_u")
    rc_u, out_u, err_u = run(cmd, *args, "--json", u + ".json", "--certificate", u + ".md")
    if rc_u not in (0, 1):
        fail("%s: unsharded run exit %d: %s" % (tag, rc_u, err_u.decode()))
        return []
    parts = []
    for i in range(1, n + 1):
        p = os.path.join(d, "%s_%d.part" % (tag, i))
        rc, out, err = run(cmd, *args, "--shard", "%d/%d" % (i, n), "--partial", p)
        if rc != 0 or not os.path.exists(p):
            fail("%s: shard %d/%d exit %d: %s" % (tag, i, n, rc, err.decode()))
            return []
        parts.append(p)
    nf = len(FAILS)
    m = os.path.join(d, tag + "_m")
    given = [parts[k] for k in (order or range(n))]
    rc_m, out_m, err_m = run("merge", *given, "--json", m + ".json", "--certificate", m + ".md")
    if rc_m != rc_u:
        fail("%s: merge exit %d, unsharded %d (%s)" % (tag, rc_m, rc_u, err_m.decode()))
    pairs = [("stdout", out_u, out_m), ("json", read(u + ".json"), read(m + ".json")),
             ("certificate", read(u + ".md"), read(m + ".md"))]
    for what, a, b in pairs:
        if masked or what == "certificate":
            a, b = mask_times(a), mask_times(b)
        if a != b:
            fail("%s (%d shards): the merged %s differs from the unsharded run's: %s (rerun: lpcert "
                 "%s %s)" % (tag, n, what, first_diff(a, b), cmd, " ".join(args)))
    if len(FAILS) == nf:
        print("ok %s: %d shards, exit %d, %d bytes of report" % (tag, n, rc_u, len(out_u)))
    return parts


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_step(x, k):
    """x (an f32) moved k steps of f32."""
    (u,) = struct.unpack("<i", struct.pack("<f", x))
    u = u + k if u >= 0 else u - k
    return struct.unpack("<f", struct.pack("<i", u))[0]


def big_suite(d):
    """4 cases of f32 logits [2, 64, 32768] (2^22 each: the fast judge's route), no expected
    values; each row a rotation of its case's base row (so one log-sum-exp serves every row); the
    candidate: logp only, the double log-softmax rounded to f32, a few values moved 1 to 3 ulp."""
    rng = random.Random(16)
    B, T, V = 2, 64, 32768
    tens, cand = [], []
    for k in range(4):
        name = "big/f32/%d" % k
        base = array.array("f", [rng.gauss(0, 1 + 2 * k) for _ in range(V)])
        xs = list(base)
        mx = max(xs)
        lse = mx + math.log(math.fsum(math.exp(x - mx) for x in xs))
        raw = base.tobytes()
        rows, labels, lp = [], [], []
        for b in range(B):
            for t in range(T):
                off = rng.randrange(V)
                rows.append(raw[4 * off:] + raw[:4 * off])
                labels.append(rng.randrange(V))
                if t > 0:   # shift next: row t-1 scores labels[t]
                    o = roff
                    lp.append(f32(xs[(labels[-1] + o) % V] - lse))
                roff = off
        for _ in range(3 + k):
            j = rng.randrange(len(lp))
            lp[j] = f32_step(lp[j], rng.choice([-3, -1, 1, 2]))
        tens.append(("case/%s/logits" % name, "F32", [B, T, V], b"".join(rows)))
        tens.append(("case/%s/labels" % name, "I64", [B, T], array.array("q", labels).tobytes()))
        cand.append(("case/%s/logp" % name, "F32", [B, T - 1], array.array("f", lp).tobytes()))
    sp, cp = os.path.join(d, "big.safetensors"), os.path.join(d, "bigc.safetensors")
    write_raw(sp, tens)
    write_raw(cp, cand)
    return sp, cp


def write_raw(path, tensors):
    """A safetensors file of (name, dtype, shape, little-endian bytes)."""
    header, off = {}, 0
    for name, dt, shape, b in tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for t in tensors:
            f.write(t[3])


def logsoftmax(row, y):
    """log-softmax of row (doubles) at y, in double (max-shifted, exact sum by fsum)."""
    m = max(row)
    return row[y] - m - math.log(math.fsum(math.exp(x - m) for x in row))


def rows_case(d, B, T, V, shifted=False, two_d=False):
    """One case of f32 logits [B, T, V] (or [T, V]) with a mask, ignore_index labels, an empty
    sequence (b=2), a masked row of NaN in b=4 (a multiply-masking leak: the candidate's sum and
    mean of b=4 are NaN), rows of logits near 100 in b=1 and b=6 (a kernel without the max shift
    overflows: the candidate's token -inf, diagnosed), and a few tokens moved 1 to 3 ulp; with
    shifted, the candidate scores row t against labels[t] (the shift-none mistake). Returns the
    arguments of `lpcert check` for it."""
    rng = random.Random(B * 1000 + T + (7 if shifted else 0))
    logits = [[[f32(rng.gauss(0, 2)) for _ in range(V)] for _ in range(T)] for _ in range(B)]
    labels = [[rng.randrange(V) for _ in range(T)] for _ in range(B)]
    mask = [[1] * T for _ in range(B)]
    for b in range(B):
        for t in range(T):
            if rng.random() < 0.05:
                labels[b][t] = -100
            if rng.random() < 0.05:
                mask[b][t] = 0
    hot = {}
    if B > 6:
        mask[2] = [0] * T
        mask[4][6] = 0                                   # row 5 scores labels[4][6]: masked
        logits[4][5] = [float("nan")] * V
        for b, t in ((1, 3), (6, 11)):
            logits[b][t] = [f32(x + 100) for x in logits[b][t]]
            mask[b][t + 1], labels[b][t + 1] = 1, 7
            hot[(b, t)] = 1
    Ts = T - 1
    tok, sums, means = [], [], []
    for b in range(B):
        acc, n = [], 0
        for ts in range(Ts):
            lt = ts if shifted else ts + 1
            y, counted = labels[b][lt], labels[b][ts + 1] != -100 and mask[b][ts + 1]
            if not counted or y == -100 or (b, ts) == (4, 5):
                tok.append(0.0)
                continue
            v = f32(logsoftmax(logits[b][ts], y))
            if (b, ts) in hot:
                v = float("-inf")
            elif rng.random() < 0.08:
                v = f32_step(v, rng.choice([-3, -1, 1, 2]))
            tok.append(v)
            acc.append(v)
            n += 1
        if shifted:   # the mistake's sum: rows t with labels[t] counted (mask[t], not ignored)
            acc = [f32(logsoftmax(logits[b][ts], labels[b][ts])) for ts in range(Ts)
                   if labels[b][ts] != -100 and mask[b][ts] and (b, ts) != (4, 5)]
        sm = 0.0
        for v in acc:
            sm = f32(sm + v)
        if b == 4:
            sm = float("nan")
        sums.append(sm)
        means.append(f32(sm / n) if n else float("nan"))
    flat = [x for bb in logits for row in bb for x in row]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import tensors
    tag = "rows%d%s%s" % (B, "s" if shifted else "", "2d" if two_d else "")
    f = {k: os.path.join(d, "%s_%s.npy" % (tag, k)) for k in ("x", "y", "m", "lp", "s", "mn")}
    tensors.write_npy(f["x"], "f32", [T, V] if two_d else [B, T, V], flat)
    tensors.write_npy(f["y"], "i64", [T] if two_d else [B, T], [v for r in labels for v in r])
    tensors.write_npy(f["m"], "u8", [T] if two_d else [B, T], [v for r in mask for v in r])
    tensors.write_npy(f["lp"], "f32", [Ts] if two_d else [B, Ts], tok)
    tensors.write_npy(f["s"], "f32", [B], sums)
    tensors.write_npy(f["mn"], "f32", [B], means)
    return ["--logits", f["x"], "--labels", f["y"], "--mask", f["m"], "--logp", f["lp"], "--sum",
            f["s"], "--mean", f["mn"]]


def rows_tests(d):
    """Shards of the sequences of one case (lp_check_shard.h, ROWS): the merge against the
    unsharded run with --slow, byte for byte; and its figures against the default route's."""
    a = rows_case(d, 9, 40, 300)
    sh = rows_case(d, 9, 40, 300, shifted=True)
    compare("rows", d, "check", a + ["--slow"], 4)
    compare("rows_mul", d, "check", a + ["--slow", "--masking", "mul", "--max-ulp", "2"], 3,
            order=[2, 1, 0])
    compare("rows_each", d, "check", a + ["--slow", "--max-abs", "1e-6", "--empty-mean", "zero"], 9)
    compare("rows_empty_shards", d, "check", a + ["--slow", "--vs-baseline", "twopass_f64"], 12,
            order=list(range(11, -1, -1)))
    compare("rows_shifted", d, "check", sh + ["--slow"], 4)
    compare("rows_2d", d, "check", rows_case(d, 1, 30, 200, two_d=True) + ["--slow"], 2)
    # what the merges must have shown: the case-level diagnoses decided from the whole case
    want = [("rows_m.json", b"2 of 2 such -inf values explained"),
            ("rows_shifted_m.json", b"wrong tokens and"), ("rows_m.json", b"b=4"),
            ("rows_each_m.json", b"case input b=2: the mean")]
    for fn, w in want:
        if w not in read(os.path.join(d, fn)):
            fail("rows: %s lacks %r" % (fn, w))
    # the default route (enclosures, no --slow) prints the same table and figures: its JSON
    # differs only by the record of which tier settled what
    rc1, out1, _ = run("check", *a, "--json", os.path.join(d, "rows_fast.json"))
    rc2, out2, _ = run("check", *a, "--slow")
    j1 = json.loads(read(os.path.join(d, "rows_fast.json")))
    j2 = json.loads(read(os.path.join(d, "rows_m.json")))
    j1.pop("judge", None)
    if rc1 != rc2 or out1 != out2.replace(b" --slow", b"") or j1 != json.loads(
            json.dumps(j2).replace(" --slow", "")):
        fail("rows: the default route's report differs from --slow's beyond the judge record")
    # usage: rows need --slow; gradients are not sharded
    for args in (["check"] + a + ["--shard", "1/2", "--partial", "x"],):
        rc, out, err = run(*args)
        if rc != 2 or b"--slow" not in err or len(err.decode().strip().split("\n")) != 1:
            fail("rows usage: exit %d, stderr %r" % (rc, err.decode()))


def expect_error(tag, d, parts, want_name):
    js = os.path.join(d, "err.json")
    if os.path.exists(js):
        os.remove(js)
    rc, out, err = run("merge", *parts, "--json", js)
    lines = err.decode().strip().split("\n")
    if rc != 2 or out or len(lines) != 1 or want_name not in lines[0] or os.path.exists(js):
        fail("%s: want exit 2, one line naming %s, no output; got exit %d, stdout %d bytes, stderr "
             "%r, json %s" % (tag, want_name, rc, len(out), err.decode(), os.path.exists(js)))
    else:
        print("ok error %s: %s" % (tag, lines[0]))


def main():
    with tempfile.TemporaryDirectory() as d:
        suite = os.path.join(d, "s.safetensors")
        rc, _, err = run("gen", "--dtype", "f32,bf16", "--seed", "7", "--out", suite)
        if rc != 0:
            fail("gen: %s" % err.decode())
            return
        # a candidate file: the kernel's outputs
        cf = os.path.join(d, "c.safetensors")
        rc, _, err = run("check", suite, "--kernel", "twopass_f32", "--save-candidate", cf, "--quiet")
        if rc not in (0, 1):
            fail("save-candidate: %s" % err.decode())
            return
        parts = compare("kernel", d, "check", [suite, "--kernel", "twopass_f32"], 4, order=[2, 0, 3, 1])
        compare("file", d, "check", [suite, cf], 4)
        compare("file_bound", d, "check", [suite, cf, "--max-ulp", "1", "--failures-only"], 3)
        compare("quiet", d, "check", [suite, cf, "--quiet"], 2)
        compare("many", d, "check", [suite, cf, "--cases", "normal,neginf"], 7)
        compare("conventions", d, "check", [suite, cf, "--masking", "mul", "--empty-mean", "zero",
                                            "--max-abs", "1e-6"], 4)
        compare("baseline", d, "check", [suite, cf, "--vs-baseline", "twopass_f64", "--factor", "2"], 5)
        compare("recompute", d, "check", [suite, cf, "--recompute", "--no-default-bound"], 4)
        sk = os.path.join(d, "sk.safetensors")
        rc, _, err = run("gen", "--dtype", "f32", "--top-k", "5", "--seed", "9", "--out", sk)
        if rc != 0:
            fail("gen --top-k: %s" % err.decode())
        else:
            compare("processed", d, "check", [sk, "--kernel", "twopass_f32"], 4)

        sp, cp = big_suite(d)
        big = compare("big", d, "check", [sp, cp], 4)
        compare("big3", d, "check", [sp, cp, "--max-ulp", "1"], 3)
        for p in big[:1]:
            if b"\njs " not in read(p) or re.search(rb"\njs 0 ", read(p)):
                fail("big: the shards did not take the fast judge's route (no judge counts in %s)" % p)

        rows_tests(d)

        compare("certify", d, "certify", ["--kernel", "twopass_f32", "--seconds", "0"], 4,
                order=[3, 2, 1, 0], masked=True)

        # errors
        if parts:
            expect_error("missing", d, parts[:2] + parts[3:], "shard 3 of 4")
            expect_error("duplicate", d, parts + [parts[1]], os.path.basename(parts[1]))
            other = os.path.join(d, "other.part")
            run("check", suite, "--kernel", "twopass_f64", "--shard", "2/4", "--partial", other)
            expect_error("foreign-candidate", d, [parts[0], other, parts[2], parts[3]], "other.part")
            opt = os.path.join(d, "opt.part")
            run("check", suite, "--kernel", "twopass_f32", "--max-ulp", "3", "--shard", "2/4",
                "--partial", opt)
            expect_error("foreign-options", d, [parts[0], opt, parts[2], parts[3]], "opt.part")
            if big:
                expect_error("foreign-inputs", d, [parts[0], big[1], parts[2], parts[3]],
                             os.path.basename(big[1]))
            n3 = os.path.join(d, "n3.part")
            run("check", suite, "--kernel", "twopass_f32", "--shard", "2/3", "--partial", n3)
            expect_error("n-mismatch", d, [parts[0], n3, parts[2], parts[3]], "n3.part")
            g = os.path.join(d, "garbage.part")
            with open(g, "wb") as f:
                f.write(b"\x00\x01garbage\n")
            expect_error("garbage", d, [parts[0], parts[1], parts[2], g], "garbage.part")
            t = os.path.join(d, "trunc.part")
            data = read(parts[3])
            with open(t, "wb") as f:
                f.write(data[:len(data) // 2])
            expect_error("truncated", d, [parts[0], parts[1], parts[2], t], "trunc.part")
            tam = os.path.join(d, "tamper.part")
            with open(tam, "wb") as f:
                f.write(re.sub(rb"\nopt (\S+)", b"\nopt 0x1p+0", data, count=1))
            expect_error("tampered", d, [parts[0], parts[1], parts[2], tam], "tamper.part")
            tb = os.path.join(d, "body.part")
            with open(tb, "wb") as f:
                f.write(re.sub(rb"\nrun ([0-9]+)", lambda m: b"\nrun %d" % (int(m.group(1)) + 1), data,
                               count=1))
            expect_error("tampered-body", d, [parts[0], parts[1], parts[2], tb], "body.part")
        # usage errors of the commands
        for args in (["check", suite, cf, "--shard", "0/4", "--partial", "x"],
                     ["check", suite, cf, "--shard", "5/4", "--partial", "x"],
                     ["check", suite, cf, "--shard", "1/4"],
                     ["check", suite, cf, "--shard", "1/4", "--partial", "x", "--json", "j"],
                     ["certify", "--kernel", "twopass_f32", "--shard", "1/2", "--partial", "x"]):
            rc, out, err = run(*args)
            if rc != 2 or len(err.decode().strip().split("\n")) != 1:
                fail("usage: %s: exit %d, stderr %r" % (" ".join(args), rc, err.decode()))
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("all shard checks passed")


main()
