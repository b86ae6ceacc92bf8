"""tests/e2e_check_certify.py: `lpcert certify` end to end, on the example plugin of examples/ (the
DPO reference code's _get_batch_logps in C: two-pass f32, logp * mask, sum / count) and on small
plugins written here to break one thing each.
  example, spec semantics      FAIL: NaN leaks diagnosed, masking "mul" and empty mean "nan"
                               observed, f64 cases skipped, batch invariant, plugin SHA-256
  example, DPO semantics       PASS with --masking mul --empty-mean nan --vs-baseline twopass_f32
                               --factor 4, all families but huge (whose f32 sum overflows)
  batch-variant plugin         FAIL with the batch-invariance diagnosis; --batch-invariance report
                               passes
  plugin returning an error    FAIL with the kernel-error diagnosis
  unloadable, missing symbol, wrong ABI version, bad description: exit 2, one line
The example is the one examples/CMakeLists.txt builds (next to the lpcert binary's build tree),
else it is compiled here with cc, as its header comment says a user would.

usage: python3 tests/e2e_check_certify.py path/to/lpcert
"""
import hashlib
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_check_kit import CheckKit  # noqa: E402

CK = CheckKit("e2e_check_certify", sys.argv[1])
check, run = CK.check, CK.run
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


build = CK.build_plugin


def certify(*args):
    d = CK.mkdtemp("lpcert_cert_")
    js = os.path.join(d, "r.json")
    rc, out, err = run("certify", *args, "--json", js)
    return rc, out, err, (json.load(open(js)) if os.path.exists(js) else {})


def kinds(rep):
    return {d["kind"] for d in rep.get("diagnoses", [])}


# A small kernel for the broken plugins: two-pass in double, assignment masking, rounded to f32.
KERNEL = r"""
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lpcert_plugin.h"
static double lp_of(const float *row, long long V, long long y)
{
    double m = -HUGE_VAL, s = 0;
    for (long long v = 0; v < V; v++) if (row[v] > m) m = row[v];
    for (long long v = 0; v < V; v++) s += exp((double)row[v] - m);
    return ((double)row[y] - m) - log(s);
}
static int run(void *st, const lp_plugin_problem *pb, const lp_plugin_outputs *out, char *msg, size_t n)
{
    (void)st;
    const float *x = pb->logits;
    float *lp = out->logp, *sum = out->sum;
    for (long long b = 0; b < pb->B; b++) {
        double s = 0;
        for (long long t = 0; t < pb->Ts; t++) {
            long long y = pb->labels[b * pb->T + t + 1];
            double v = y == -100 ? 0 : lp_of(x + (b * pb->T + t) * pb->V, pb->V, y);
            lp[b * pb->Ts + t] = (float)v;
            s += v;
        }
        sum[b] = (float)s;
        EXTRA
    }
    (void)msg; (void)n;
    return RET;
}
static const lp_plugin k = {ABI, sizeof(lp_plugin), "broken", NULL, LP_PLUGIN_FMT(LP_F32),
                            LP_PLUGIN_OUT_LOGP | LP_PLUGIN_OUT_SUM, LP_F32, LP_F32, LP_F32, 0, run, NULL};
const lp_plugin *lp_plugin_entry(uint32_t host_abi) { (void)host_abi; return &k; }
"""


def variant(d, name, extra="", ret="0", abi="LP_PLUGIN_ABI_VERSION"):
    src = os.path.join(d, name + ".c")
    with open(src, "w") as f:
        f.write(KERNEL.replace("EXTRA", extra).replace("RET", ret).replace("ABI", abi))
    return build(src, os.path.join(d, "lib%s.so" % name))


def main():
    d = CK.mkdtemp("lpcert_certify_")
    lp_dir = os.path.dirname(os.path.abspath(sys.argv[1]))
    P = os.path.join(lp_dir, "..", "examples", "libtwopass_plugin.so")
    if not os.path.exists(P):
        P = build(os.path.join(ROOT, "examples", "twopass_plugin.c"), os.path.join(d, "libtwopass_plugin.so"))
    cert = os.path.join(d, "cert.md")

    # the example, spec semantics: its leaks and its empty-mean convention are diagnosed
    rc, out, err, rep = certify("--plugin", P, "--seconds", "1", "--certificate", cert)
    check(rc == 1, "example: exit %d %r" % (rc, err))
    check("nan_leak" in kinds(rep) and "skipped" in kinds(rep), "example: diagnoses %s" % kinds(rep))
    conv = rep.get("conventions", {})
    check(conv.get("masking", {}).get("observed") == "mul", "example: masking %r" % conv.get("masking"))
    check(conv.get("empty_mean", {}).get("observed") == "nan", "example: empty %r" % conv.get("empty_mean"))
    bi = rep.get("batch_invariance", {})
    check(bi.get("checks", 0) > 100 and bi.get("failures") == 0, "example: batch invariance %r" % bi)
    check(any(g["class"].startswith("random/") for g in rep.get("groups", [])), "example: random problems ran")
    check(not any(g["class"].endswith("/f64") for g in rep.get("groups", [])), "example: f64 skipped")
    text = open(cert).read() if os.path.exists(cert) else ""
    hx = hashlib.sha256(open(P, "rb").read()).hexdigest()
    check(hx in text and "# lpcert certificate: FAIL" in text and "dpo_twopass_f32" in text,
          "example: certificate %s" % text[:400])
    check("NaN leak" in out and "multiplication" in out, "example: table")

    # the same under DPO semantics, against the plain two-pass f32 kernel
    rc, out, err, rep = certify("--plugin", P, "--seconds", "1", "--masking", "mul", "--empty-mean", "nan",
                                "--vs-baseline", "twopass_f32", "--factor", "4", "--cases", "[!h]*")
    if "without" in err:
        print("(built without impl/: the baseline part is skipped)")
        rc, out, err, rep = certify("--plugin", P, "--seconds", "1", "--masking", "mul", "--empty-mean",
                                    "nan", "--cases", "[!h]*")
    check(rc == 0, "example under DPO semantics: exit %d %r %s" % (rc, err, out[-1500:]))
    rc, out, err, rep = certify("--plugin", P, "--seconds", "0", "--masking", "mul", "--empty-mean", "nan",
                                "--cases", "huge")
    check(rc == 1 and any(g["class_mismatches"] for g in rep.get("groups", [])),
          "example: huge (f32 sum overflows, the mean is -inf): exit %d" % rc)

    # batch variance: the sum of a sequence alone is computed another way
    V = variant(d, "variant", extra="if (pb->B == 1) sum[b] = (float)(s * (1 + 0x1p-20));")
    rc, out, err, rep = certify("--plugin", V, "--seconds", "0", "--cases", "normal/f32")
    check(rc == 1 and "batch_variance" in kinds(rep) and rep["batch_invariance"]["failures"] > 0,
          "batch variant: exit %d %s" % (rc, kinds(rep)))
    check("batch invariance broken" in out, "batch variant: table")
    rc, out, err, rep = certify("--plugin", V, "--seconds", "0", "--cases", "normal/f32",
                                "--batch-invariance", "report")
    check(rc == 0, "batch variant, report only: exit %d %s" % (rc, out[-800:]))
    G = variant(d, "good")   # near logp = 0 double loses ulps (log(1 + tiny)): --max-abs covers it
    rc, out, err, rep = certify("--plugin", G, "--seconds", "1", "--cases", "normal/f32", "--max-ulp", "1",
                                "--max-abs", "1e-9")
    check(rc == 0 and rep["batch_invariance"]["failures"] == 0, "good plugin: exit %d %s" % (rc, out[-800:]))

    # a kernel error is a failure, reported with its message
    E = variant(d, "error", extra='snprintf(msg, n, "out of device memory");', ret="1")
    rc, out, err, rep = certify("--plugin", E, "--seconds", "0", "--cases", "normal/f32")
    check(rc == 1 and "kernel_error" in kinds(rep) and "out of device memory" in out,
          "kernel error: exit %d %s" % (rc, out[-400:]))

    # a leaking built-in: failing groups only, each NaN leak once, a repro that runs as printed
    rc, out, err = run("certify", "--kernel", "twopass_f32_mulmask", "--seconds", "0", "--max-ulp", "4",
                       "--cases", "dummy_label,normal/f32", "--failures-only")
    check(rc == 1 and "passing group" in out and out.count("NaN leak: the non-counted") == 1 and
          "in 5 more groups" in out and "fix: mask by assignment" in out,
          "certify --failures-only: exit %d %s" % (rc, out[-2500:]))
    repros = re.findall(r"^ +repro: (.*)$", out, re.M)
    check(repros and all("--seconds 0 --cases " in r and "--failures-only" not in r for r in repros),
          "certify repro lines: %r" % repros)
    if repros:
        env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(sys.argv[1])) + os.pathsep +
                   os.environ.get("PATH", ""))
        p = subprocess.run(repros[-1], shell=True, capture_output=True, text=True, env=env)
        check(p.returncode == 1 and "1 of 140 cases" in p.stdout, "certify repro: exit %d %s"
              % (p.returncode, p.stdout[-800:]))

    # libraries lpcert must refuse: exit 2, one line
    A = variant(d, "abi99", abi="99")
    for args, needle in ((["--plugin", os.path.join(d, "absent.so")], "no such file"),
                         (["--plugin", G + ":no_such_entry"], "no_such_entry"),
                         (["--plugin", A], "ABI version 99"),
                         (["--plugin", os.path.join(d, "variant.c")], "cannot load"),
                         (["--plugin", G, "--kernel", "twopass_f32"], "one of"),
                         (["--plugin", G, "--batch-invariance", "maybe"], "batch-invariance")):
        rc, out, err = run("certify", *args, "--seconds", "0")
        check(rc == 2 and err.count("\n") == 1 and needle in err and out == "",
              "certify %s: exit %d %r" % (args, rc, err))


if __name__ == "__main__":
    CK.main(main)
