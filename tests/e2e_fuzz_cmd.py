"""tests/e2e_fuzz_cmd.py: `lpcert fuzz` end to end.
  example plugin, its conventions and bound      a short run passes: exit 0, one summary line
                                                 with problems per format (f64 skipped), JSON
  example plugin, spec masking                   the NaN leak of its multiply-masking is caught
  broken plugins (tests/fuzz_broken_plugin.c,    exit 1, the reproducer printed (value, expected
  built here with cc): tokens 1000 ulps off;     value, bound, the problem in hex), the artifact
  a NaN leak into the sum                        written; --replay of it gives the same FAIL line,
                                                 and so does fz_plugin_replay when it was built
  no bound given                                 the default bound (SPEC A5) fails the broken
                                                 plugin in fuzz and certify, named in the verdict;
                                                 certify --no-default-bound: classes only
  usage                                          --help 0; no --plugin, unknown option, bad
                                                 value 2; a plugin that does not load 2
The example is the one examples/CMakeLists.txt builds next to the lpcert binary's build tree,
else it is compiled here with cc.

usage: python3 tests/e2e_fuzz_cmd.py path/to/lpcert
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_check_kit import CheckKit  # noqa: E402

CK = CheckKit("e2e_fuzz_cmd", sys.argv[1])
check, run = CK.check, CK.run
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the example's conventions and bound, as fuzz/fz_plugin.c states them (LP_FZ_EXAMPLE_ARGS)
EXAMPLE_ARGS = ["--max-ulp", "16", "--max-abs", "token=0x1p-16", "--max-abs", "sum=0x1p-12",
                "--max-abs", "mean=0x1p-15", "--masking", "mul", "--empty-mean", "nan",
                "--in-range", "f32", "--tempered-exact", "f32"]


build = CK.build_plugin


def fail_line(out):
    return next((l for l in out.splitlines() if l.startswith("FAIL lpcert fuzz: ")), None)


def caught(what, plugin, args, expect):
    """A broken plugin: exit 1, the reproducer, an artifact that replays to the same failure."""
    d = CK.mkdtemp("lpcert_fuzz_")
    art = os.path.join(d, "found.bin")
    rc, out, err = run("fuzz", "--plugin", plugin, "--seconds", "20", "--artifact", art, *args)
    check(rc == 1, "%s: exit %d %r" % (what, rc, err[-800:]))
    line = fail_line(out)
    check(line is not None and expect in line, "%s: FAIL line %r" % (what, line))
    check(re.search(r"problem: (f32|f16|bf16) B=\d T=\d V=\d+", out) and re.search(r"b=0 t=0: 0x[0-9a-f]{4,8} \(", out),
          "%s: the problem in hex and decimal: %s" % (what, out[:1500]))
    check("bound" in (line or "") and "want" in (line or ""), "%s: value, want, bound" % what)
    check(os.path.isfile(art) and os.path.getsize(art) > 0, "%s: artifact %s" % (what, art))
    check("replay: lpcert fuzz --plugin" in out and art in out, "%s: replay command" % what)
    rc2, out2, _ = run("fuzz", "--plugin", plugin, "--replay", art, *args)
    check(rc2 == 1 and fail_line(out2) == line, "%s: --replay: exit %d, %r vs %r" %
          (what, rc2, fail_line(out2), line))
    # the libFuzzer harness's replay driver, same judgement, when this build has it
    rep = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "..", "fuzz", "fz_plugin_replay")
    if os.path.isfile(rep):
        env = dict(os.environ, LPCERT_FUZZ_PLUGIN=plugin, LPCERT_FUZZ_ARGS=" ".join(args))
        p = subprocess.run([rep, art], capture_output=True, text=True, env=env)
        want = line.replace("FAIL lpcert fuzz: ", "FAIL fz_plugin: ") if line else None
        got = next((l for l in p.stderr.splitlines() if l.startswith("FAIL fz_plugin: ")), None)
        check(p.returncode != 0 and got == want, "%s: fz_plugin_replay: exit %d, %r vs %r" %
              (what, p.returncode, got, want))
    return art


def main():
    lp_dir = os.path.dirname(os.path.abspath(sys.argv[1]))
    P = os.path.join(lp_dir, "..", "examples", "libtwopass_plugin.so")
    d = CK.mkdtemp("lpcert_fuzz_build_")
    if not os.path.isfile(P):
        P = build(os.path.join(ROOT, "examples", "twopass_plugin.c"), os.path.join(d, "libtwopass_plugin.so"))
    broken = build(os.path.join(ROOT, "tests", "fuzz_broken_plugin.c"), os.path.join(d, "libbroken.so"))

    # the example under its own conventions and bound: passes
    js = os.path.join(d, "fuzz.json")
    rc, out, err = run("fuzz", "--plugin", P, "--seconds", "3", "--seed", "1", "--json", js, *EXAMPLE_ARGS)
    check(rc == 0, "example: exit %d %r %s" % (rc, err[-800:], out[-3000:]))
    m = re.search(r"^lpcert fuzz: PASS: .* seed 0x1, [\d.]+ s: (\d+) problems: (\d+) judged \(f64 (\d+), "
                  r"f32 (\d+), f16 (\d+), bf16 (\d+)\)", out, re.M)
    check(m is not None, "example: summary line %r" % out[:600])
    if m:
        n, judged, f64, f32, f16, bf16 = map(int, m.groups())
        check(n > 100 and judged > 50 and f64 == 0 and min(f32, f16, bf16) > 0,
              "example: counts %r" % (m.groups(),))
    try:
        with open(js) as f:
            j = json.load(f)
        check(j.get("verdict") == "PASS" and j.get("artifact") is None and j.get("seed") == "0x1"
              and j["judged"]["f64"] == 0 and j["judged"]["f32"] > 0 and len(j["plugin"]["sha256"]) == 64,
              "example: json %r" % {k: j.get(k) for k in ("verdict", "judged", "seed")})
    except (OSError, ValueError, KeyError) as e:
        check(False, "example: json: %s" % e)

    # the example judged with spec masking: its multiply-masking leaks NaN into a sum
    spec = [a if a != "mul" else "spec" for a in EXAMPLE_ARGS]
    caught("example, spec masking", P, spec, "NaN leak")
    # broken kernels
    caught("tokens 1000 ulps off", broken, ["--max-ulp", "4", "--empty-mean", "nan"], "ulp")
    caught("NaN leak", broken + ":leak_entry", ["--max-ulp", "4", "--empty-mean", "nan"], "NaN leak")
    # no bound given: the default bound (SPEC A5) catches it, and says so
    caught("tokens 1000 ulps off, default bound", broken, ["--empty-mean", "nan"], "default bound")
    rc, out, err = run("certify", "--plugin", broken, "--seconds", "0", "--cases", "normal",
                       "--empty-mean", "nan", "--batch-invariance", "off")
    last = out.strip().splitlines()[-1] if out.strip() else ""
    check(rc == 1 and "FAIL baseline" in out and last.startswith("verdict: FAIL")
          and "default bound" in last, "certify, default bound: exit %d %r" % (rc, last))
    rc, out, err = run("certify", "--plugin", broken, "--seconds", "0", "--cases", "normal",
                       "--empty-mean", "nan", "--batch-invariance", "off", "--no-default-bound", "--quiet")
    check(rc == 0 and "no bound (--no-default-bound)" in out,
          "certify --no-default-bound: classes only, said so: exit %d %r" % (rc, out))
    # the default artifact name, in the working directory
    cwd = CK.mkdtemp("lpcert_fuzz_cwd_")
    p = subprocess.run([os.path.abspath(sys.argv[1]), "fuzz", "--plugin", broken, "--seconds", "5",
                        "--max-ulp", "4"], capture_output=True, text=True, cwd=cwd)
    names = os.listdir(cwd)
    check(p.returncode == 1 and len(names) == 1 and re.fullmatch(r"lpcert-fuzz-[0-9a-f]{16}\.bin", names[0]),
          "default artifact: exit %d, %r" % (p.returncode, names))

    # usage
    rc, out, _ = run("fuzz", "--help")
    check(rc == 0 and "--plugin" in out and "--replay" in out and "--max-ulp" in out, "--help: %d" % rc)
    for args in (["--seconds", "1"], ["--plugin", P, "--bogus", "1"], ["--plugin", P, "--seconds", "x"],
                 ["--plugin", P, "--masking", "sometimes"], ["--plugin", P, "--in-range", "f8"],
                 ["--plugin", P, "--factor", "2"], ["--plugin"]):
        rc, out, err = run("fuzz", *args)
        check(rc == 2 and err.startswith("lpcert fuzz: ") and err.count("\n") == 1,
              "usage %r: exit %d %r" % (args, rc, err))
    rc, out, err = run("fuzz", "--plugin", os.path.join(d, "nope.so"), "--seconds", "1")
    check(rc == 2 and "no such file" in err, "missing plugin: exit %d %r" % (rc, err))
    rc, out, err = run("fuzz", "--plugin", P, "--replay", os.path.join(d, "nope.bin"), *EXAMPLE_ARGS)
    check(rc == 2 and "cannot open" in err, "missing replay file: exit %d %r" % (rc, err))


CK.main(main)
