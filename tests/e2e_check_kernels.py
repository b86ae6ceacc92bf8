"""tests/e2e_check_kernels.py: the built-in kernels of impl/, exported as candidate files
(`lpcert check SUITE --kernel K --save-candidate C`) and checked as files, give the verdicts their
registry entries predict:
  - the file route and the in-process route report the same figures;
  - the masking and empty-mean conventions observed are the ones each kernel declares
    (twopass_f32_mulmask leaks, twopass_f32_emptyzero gives 0);
  - naive_f32's -inf on large logits is diagnosed as an f32 overflow, with the fix;
  - certified under its own declared semantics (--masking, --empty-mean) a max-shift kernel has no
    class mismatch on normal logits, while naive_f32 (no max shift: "overflows on large logits")
    has; the only mismatches left on the whole suite are the mean of the huge family, where the
    f32 sum overflows (mean = sum / n of the rounded sum, as declared), and for lse_f32 (inf_row
    loginf) the +inf rows of the nonfinite family;
  - a kernel measured against itself passes --vs-baseline with factor 1; a bf16 kernel's bf16
    outputs are measured in bf16 units.
Skipped (exit 0, says so) when lpcert was built without impl/.

usage: python3 tests/e2e_check_kernels.py path/to/lpcert
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_check_kit import CheckKit  # noqa: E402
import tensors as T  # noqa: E402

CK = CheckKit("e2e_check_kernels", sys.argv[1])
check, run = CK.check, CK.run


def report(*args):
    d = CK.mkdtemp("lpcert_ker_")
    js = os.path.join(d, "r.json")
    rc, out, err = run("check", *args, "--json", js)
    return rc, out, err, (json.load(open(js)) if os.path.exists(js) else {})


def main():
    d = CK.mkdtemp("lpcert_kernels_")
    S = os.path.join(d, "suite_f32.safetensors")
    rc, out, err = run("check", S, "--kernel", "twopass_f32")
    if rc == 2 and "without" in err:
        print("e2e_check_kernels: lpcert built without impl/: skipped")
        return
    rc, _, err = run("gen", "--dtype", "f32", "--seed", "3", "--out", S)
    check(rc == 0, "gen: %r" % err)
    declared = {  # name: (masking, empty mean, +inf row), as the registry declares them
        "twopass_f32": ("assign", "nan", "nan"), "twopass_f32_mulmask": ("mul", "nan", "nan"),
        "twopass_f32_emptyzero": ("assign", "zero", "nan"), "accurate_f32": ("assign", "nan", "nan"),
        "lse_f32": ("assign", "nan", "loginf"), "online_f32": ("assign", "nan", "nan"),
    }
    # the list of built-in kernels: lpcert kernels, --kernel list, --vs-baseline list, --json
    rc, lst, err = run("kernels")
    body = lst.splitlines()[1:]
    rows = {l.split()[0]: l for l in body[:body.index("")] if l.strip()} if "" in body else {}
    check(rc == 0 and "twopass_f32" in rows and "accurate_bf16_acc32" in rows and
          rows["twopass_f32"].split()[1:5] == ["twopass", "f32,f16,bf16", "f32", "f32"] and
          "(n-1)u" in rows["twopass_f32"], "kernels: exit %d %r" % (rc, lst[:600]))
    for args in (("check", S, "--kernel", "list"), ("certify", "--kernel", "list"),
                 ("check", S, "x.safetensors", "--vs-baseline", "list")):
        rc, out, err = run(*args)
        check(rc == 0 and out == lst, "%s: exit %d, not the list of lpcert kernels" % (args, rc))
    rc, out, err = run("kernels", "--json")
    try:
        kj = {e["name"]: e for e in json.loads(out)}
    except ValueError:
        kj = {}
    check(rc == 0 and set(n for n in kj if kj[n].get("kind") == "forward") == set(rows) and kj.get("lse_bf16_acc32", {}).get("accumulation") == "f32"
          and kj["lse_bf16_acc32"]["logits"] == ["bf16"] and kj["lse_bf16_acc32"]["family"] == "lse"
          and kj["lse_bf16_acc32"]["contract"], "kernels --json: exit %d %r" % (rc, out[:400]))
    # the backward kernels: a second table and kind "backward" in the JSON
    bw = {n for n in kj if kj[n].get("kind") == "backward"}
    check({"grad_softmax_f32", "grad_accurate_f32_acc64", "grad_softmax_bf16_acc32_pbf16"} <= bw and
          kj["grad_softmax_bf16_acc32_pbf16"]["known_bug"] is True and
          all(("\n" + n + " ") in lst for n in bw), "kernels: backward kernels %r" % sorted(bw))
    rc, out, err = run("kernels", "--bogus")
    check(rc == 2 and err.startswith("lpcert kernels: "), "kernels --bogus: exit %d %r" % (rc, err))
    for k, (mask, empty, infrow) in declared.items():
        C = os.path.join(d, k + ".safetensors")
        rc1, out1, err1, r1 = report(S, "--kernel", k, "--save-candidate", C)
        rc2, out2, err2, r2 = report(S, C)
        check(rc1 in (0, 1) and rc2 == rc1, "%s: exits %d %d %r %r" % (k, rc1, rc2, err1, err2))
        check(r1.get("groups") == r2.get("groups"), "%s: the file route reports other figures" % k)
        conv = r2.get("conventions", {})
        check(conv.get("masking", {}).get("observed") == mask,
              "%s: masking observed %r, declared %s" % (k, conv.get("masking"), mask))
        check(conv.get("empty_mean", {}).get("observed") == empty,
              "%s: empty mean observed %r, declared %s" % (k, conv.get("empty_mean"), empty))
        # under its own semantics: the only class mismatches are huge's mean (f32 sum overflow)
        # and, for a kernel that takes log of an infinite sum (inf_row loginf: -inf, not A3's
        # NaN), the rows holding +inf of the nonfinite family
        rc, out, err, r = report(S, C, "--masking", "spec" if mask == "assign" else "mul",
                                 "--empty-mean", empty)
        bad = {(g["class"], g["output"]) for g in r.get("groups", []) if g["class_mismatches"]}
        want = {("huge/f32", "mean")}
        if infrow == "loginf":
            want |= {("nonfinite/f32", o) for o in ("token", "sum", "mean")}
        check(bad == want, "%s: class mismatches under its own semantics: %s" % (k, sorted(bad)))
        rc, out, err, r = report(S, C, "--masking", "spec" if mask == "assign" else "mul",
                                 "--empty-mean", empty, "--cases", "normal", "--no-default-bound")
        check(rc == 0, "%s: normal family under its own semantics: exit %d %s" % (k, rc, out[-800:]))
        check(r.get("bounds", {}).get("default") is False and r["bounds"].get("applied") == "none"
              and "no bound (--no-default-bound)" in out, "%s: classes only, said so" % k)
        # the default bound (SPEC A5: max(4 x twopass_f32's max ulp, 2) per group): the kernels of
        # twopass's accuracy pass; lse_f32 (x_y - logsumexp) loses the digits of logp near 0 that
        # twopass keeps (docs/ACCURACY.md, item 4), 21x twopass's error on normal/f32 tokens
        rc, out, err, r = report(S, C, "--masking", "spec" if mask == "assign" else "mul",
                                 "--empty-mean", empty, "--cases", "normal")
        bd = r.get("bounds", {})
        check(bd.get("default") is True and bd.get("baseline", {}).get("factor") == 4
              and "default bound" in out.splitlines()[-1],
              "%s: the default bound applies and is named: %r" % (k, bd))
        check(rc == (1 if k == "lse_f32" else 0),
              "%s: normal family under the default bound: exit %d %s" % (k, rc, out[-800:]))
    # a kernel against itself: the relative bound holds at factor 1 everywhere
    C = os.path.join(d, "twopass_f32.safetensors")
    rc, out, err, r = report(S, C, "--vs-baseline", "twopass_f32", "--factor", "1")
    rel = [g for g in r.get("groups", []) if "baseline" in g]
    check(rel and all(g["baseline"]["ok"] for g in rel), "twopass_f32 vs itself: %s" % out[-800:])
    check(r.get("bounds", {}).get("baseline", {}).get("kernel") == "twopass_f32", "baseline in JSON")
    # accurate_f32 is no worse than 1.0 x twopass_f32 + 2^-20 on normal logits
    C = os.path.join(d, "accurate_f32.safetensors")
    rc, out, err, r = report(S, C, "--vs-baseline", "twopass_f32", "--cases", "normal", "--factor", "1")
    check(rc == 0, "accurate_f32 vs twopass_f32 on normal: exit %d %s" % (rc, out[-1200:]))
    # naive_f32 overflows on normal logits of scale 64 (no max shift): class mismatches
    rc, out, err, r = report(S, "--kernel", "naive_f32", "--empty-mean", "nan", "--cases", "normal")
    check(rc == 1 and any(g["class_mismatches"] for g in r.get("groups", [])), "naive_f32: %s" % out[-600:])
    ov = [x for x in r.get("diagnoses", []) if x["kind"] == "overflow"]
    check(ov and "computing in f32 overflowed" in ov[0].get("fix", "") and
          "fix: computing in f32 overflowed" in out, "naive_f32: the overflow diagnosis %s" % out[-1600:])
    # a bf16 kernel on a bf16 suite: bf16 outputs measured in bf16 units
    SB = os.path.join(d, "suite_bf16.safetensors")
    rc, _, err = run("gen", "--dtype", "bf16", "--family", "normal", "--out", SB)
    rc, out, err, r = report(SB, "--kernel", "twopass_bf16_acc32")
    check(rc == 0 and all(g["formats"] == "bf16" for g in r.get("groups", [])),
          "twopass_bf16_acc32: exit %d %s" % (rc, out[-800:]))
    # garbage (-1 for every value): no bound given, the default bound fails it and names itself
    C = os.path.join(d, "twopass_f32.safetensors")
    G = os.path.join(d, "garbage.safetensors")
    tens, _ = T.read_safetensors(C)
    T.write_safetensors(G, [(n, "f32", shp, [-1.0] * (len(raw) // 4)) for n, (dt, shp, raw) in tens.items()])
    cert = os.path.join(d, "garbage.md")
    rc, out, err, r = report(S, G, "--empty-mean", "nan", "--cases", "normal", "--certificate", cert)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    check(rc == 1 and last.startswith("verdict: FAIL") and "default bound" in last
          and r.get("bounds", {}).get("default") is True and "FAIL baseline" in out,
          "garbage, default bound: exit %d %r" % (rc, last))
    md = open(cert).read() if os.path.exists(cert) else ""
    check("# lpcert certificate: FAIL" in md and "bound applied: default bound" in md,
          "garbage: the certificate does not name the default bound:\n%s" % md[:1200])
    rc, out, err = run("check", S, G, "--empty-mean", "nan", "--cases", "normal", "--no-default-bound", "--quiet")
    check(rc == 0 and "PASS (no bound (--no-default-bound)" in out,
          "garbage, --no-default-bound: classes only, said so: exit %d %r" % (rc, out))
    # a kernel that cannot read the suite's format: every case skipped, nothing compared: fail
    rc, out, err, r = report(S, "--kernel", "twopass_bf16_acc16", "--cases", "normal")
    check(rc == 1 and r.get("values") == 0 and any(x["kind"] == "skipped" for x in r.get("diagnoses", [])),
          "bf16 kernel on an f32 suite: exit %d %s" % (rc, out[-400:]))


if __name__ == "__main__":
    CK.main(main)
