"""tests/e2e_report.py: `lpcert report` end to end.

Default (ctest e2e_report): `report --quick` into temporary folders with --threads 1 and 2: every
file written, the JSON parses and holds every kernel, every SVG is well-formed XML, the two folders
are byte-identical (no time, path or thread count leaks into the output), the summary table is on
stdout; bad options exit 2 with one line on stderr.
--docs (ctest report_docs, slow): the default report, regenerated into a temporary folder, must be
byte-identical to the committed docs/ (ACCURACY.md, accuracy_families.md, accuracy.json, figures/).

usage: python3 tests/e2e_report.py path/to/lpcert [--docs]
"""
import filecmp
import json
import os
import sys
import tempfile
import xml.dom.minidom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_kit import Kit  # noqa: E402

KIT = Kit("e2e_report", sys.argv[1])
check, run = KIT.check, KIT.run


def tree(d):
    """Relative paths of every file under d, sorted."""
    out = []
    for root, _, files in os.walk(d):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), d))
    return sorted(out)


def same_tree(a, b, what):
    ta, tb = tree(a), tree(b)
    check(ta == tb, "%s: different files: %s" % (what, sorted(set(ta) ^ set(tb))))
    for rel in sorted(set(ta) & set(tb)):
        check(filecmp.cmp(os.path.join(a, rel), os.path.join(b, rel), shallow=False),
              "%s: %s differs" % (what, rel))


def quick():
    d = tempfile.mkdtemp(prefix="lpcert_report_")
    d1, d2 = os.path.join(d, "t1"), os.path.join(d, "t2")
    rc1, o1, e1 = run("report", "--quick", "--out-dir", d1, "--threads", "1")
    rc2, o2, e2 = run("report", "--quick", "--out-dir", d2, "--threads", "2")
    check(rc1 == 0 and rc2 == 0, "report --quick: exit %d %d\n%s%s" % (rc1, rc2, e1, e2))
    if rc1 or rc2:
        return
    for name in ("ACCURACY.md", "accuracy_families.md", "accuracy.json"):
        check(os.path.isfile(os.path.join(d1, name)), "missing %s" % name)
    figs = tree(os.path.join(d1, "figures"))
    for stem in ("hist", "logp_ulp", "logp_abs", "sweep_ulp", "sweep_rel", "sweep_abs", "dpo_abs",
                 "dpo_rel"):
        check(any(f.startswith(stem + "_") and f.endswith(".svg") for f in figs),
              "no figure %s_*.svg" % stem)
    check("grad_label.svg" in figs, "no figure grad_label.svg")
    for f in figs:
        try:
            doc = xml.dom.minidom.parse(os.path.join(d1, "figures", f))
            check(doc.documentElement.tagName == "svg", "%s: root is not svg" % f)
        except Exception as ex:  # noqa: BLE001
            check(False, "%s: not well-formed XML: %s" % (f, ex))
    with open(os.path.join(d1, "ACCURACY.md")) as f:
        md = f.read()
    for f in figs:
        check("figures/" + f in md, "ACCURACY.md does not show figures/%s" % f)
    for needle in ("## What to conclude", "## Method", "Sum versus mean", "DPO margin",
                   "logp close to 0", "## Conventions"):
        check(needle in md, "ACCURACY.md lacks %r" % needle)
    check(d not in md and "/tmp" not in md, "ACCURACY.md holds a temporary path")
    with open(os.path.join(d1, "accuracy.json")) as f:
        js = json.load(f)
    names = [k["name"] for k in js["kernels"]]
    check(len(names) >= 40 and "twopass_f32" in names and "accurate_bf16_acc16" in names,
          "JSON kernels: %r" % names[:5])
    tp = next(k for k in js["kernels"] if k["name"] == "twopass_f32")
    check(tp["observed"]["masking"] == "assign" and tp["declared"]["empty_mean"] == "nan",
          "twopass_f32 conventions %r" % tp["observed"])
    mm = next(k for k in js["kernels"] if k["name"] == "twopass_f32_mulmask")
    check(mm["observed"]["masking"] == "mul" and mm["standard_suite"]["all"]["sum"]["nan_leaks"] > 0,
          "twopass_f32_mulmask: leaks not seen")
    sw = js["sum_vs_mean"]
    check(sw["lengths"][0] == 1 and len(sw["kernels"]) >= 10, "sweep: %r" % sw["lengths"])
    check(any(g["scope"] == "exhaustive" for k in js["kernels"] for g in k["groups"]) is False,
          "--quick samples pair_exh: nothing may be called exhaustive")
    gr = js.get("gradients", {})
    gk = {c["kernel"] for c in gr.get("cells", [])}
    check(len(gk) >= 6 and "grad_softmax_bf16_acc32_pbf16" in gk, "JSON gradients: %r" % sorted(gk))
    lab = {l["kernel"]: l for l in gr.get("label_element", [])}
    check("grad_softmax_bf16_acc32_pbf16" in lab and lab["grad_softmax_bf16_acc32_pbf16"]["rel"][-1] == 1
          and max(lab["grad_accurate_f32_acc64"]["rel"]) < 2 ** -23,
          "gradients: the label element figures %r" % sorted(lab))
    check("## Gradients (backward kernels)" in md, "ACCURACY.md lacks the gradient section")
    same_tree(d1, d2, "--threads 1 vs 2")
    check("twopass_f32" in o1 and "full report:" in o1, "summary table on stdout: %r" % o1[:200])
    check(o1.replace(d1, "DIR") == o2.replace(d2, "DIR"), "the summary differs between --threads 1 and 2")
    check("lpcert report:" in e1, "no progress on stderr")
    # the gradient section alone (its own cases: no case of the standard suite needed)
    rc, o, e = run("report", "--quick", "--out-dir", os.path.join(d, "t4"), "--families", "gradients")
    check(rc == 0, "--families gradients: exit %d %s" % (rc, e))
    if rc == 0:
        with open(os.path.join(d, "t4", "ACCURACY.md")) as f:
            check("## Gradients (backward kernels)" in f.read(), "--families gradients: no section")
    # --json elsewhere, a subset of kernels and families
    j = os.path.join(d, "k.json")
    rc, o, e = run("report", "--quick", "--out-dir", os.path.join(d, "t3"), "--json", j,
                   "--kernels", "twopass_f32,accurate_*", "--families", "normal,near_zero")
    check(rc == 0 and os.path.isfile(j), "--json FILE: exit %d %s" % (rc, e))
    if rc == 0:
        with open(j) as f:
            names = [k["name"] for k in json.load(f)["kernels"]]
        check(names[0] == "twopass_f32" and all(n == "twopass_f32" or n.startswith("accurate_")
                                                for n in names), "--kernels: %r" % names)
        check(not os.path.exists(os.path.join(d, "t3", "accuracy.json")), "--json also wrote DIR/")
    for args in (["--bogus"], ["--threads", "x"], ["--kernels", "nope*"], ["--families", "nope"],
                 ["--seed", "-1"], ["--out-dir"], ["extra"]):
        rc, o, e = run("report", "--quick", "--out-dir", os.path.join(d, "bad"), *args)
        lines = e.strip().splitlines()
        check(rc == 2 and len(lines) == 1 and lines[0].startswith("lpcert report: "),
              "report %s: exit %d, stderr %r" % (" ".join(args), rc, e))
    rc, o, _ = run("report", "--help")
    check(rc == 0 and "--out-dir" in o and "--quick" in o, "--help")


def docs():
    d = tempfile.mkdtemp(prefix="lpcert_docs_")
    rc, _, e = run("report", "--out-dir", d)
    check(rc == 0, "report: exit %d\n%s" % (rc, e))
    if rc:
        return
    for rel in tree(d):
        ok = os.path.isfile(os.path.join("docs", rel)) and filecmp.cmp(
            os.path.join(d, rel), os.path.join("docs", rel), shallow=False)
        check(ok, "docs/%s is not what `lpcert report` writes now: regenerate it with "
                  "`build/cli/lpcert report` and commit docs/" % rel)
    stale = sorted(set(tree(os.path.join("docs", "figures"))) - set(tree(os.path.join(d, "figures"))))
    check(not stale, "docs/figures holds figures the report no longer writes: %r" % stale)


if __name__ == "__main__":
    docs() if "--docs" in sys.argv[2:] else quick()
    sys.exit(KIT.end())
