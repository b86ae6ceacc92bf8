"""tests/e2e_readme.py: every shell command of README.md runs, so that the README cannot rot.

What is extracted (in README order):
  - lines of indented code blocks (4 spaces or more, outside fences) and of ```sh / ```bash blocks
    whose first word (after VAR=value assignments) is one of COMMANDS; a trailing backslash joins
    the next line;
  - in ```yaml blocks, the lines that invoke lpcert (the CI job's `run:` steps);
  - in the section "lpcert check in CI", the inline code spans that start with `jq ` or `lpcert `.
Each command runs with bash, as written after the rewrites below, in a fresh temporary directory
holding the fixtures the README's commands expect (symbolic links, read-only targets):
  build/cli/lpcert -> the binary under test (argv[1]); bin/lpcert too, and bin/ is first on PATH;
  L.npy (f32 [2, 5, 8]), Y.npy (i64 [2, 5]), M.npy (u8 [2, 5]); dump.safetensors (`logits`,
  `labels`, `attention_mask`) and L.safetensors (`logits`, `labels`) with the same values;
  P.npy, S.npy, E.npy (f32 logp.f32 [2, 4], sum.f32 [2], mean.f32 [2] of `lpcert ref` on L, Y, M);
  suite.safetensors (`lpcert gen --dtype bf16`, the README's first route), candidate.safetensors
  (`lpcert check suite.safetensors --kernel twopass_f32 --save-candidate ...`), lpcert.json (the CI
  job's check, for its jq line); libtwopass_plugin.so (the build's examples/, else compiled),
  libmykernel.so and build/libmykernel.so (the same plugin); include/, examples/ and vectors/ (the
  repository's: the README's commands run from its root; the cc line and `lpcert report`'s
  default --corpus vectors/corpus need them).
Rewrites (placeholders and durations; REWRITES below, applied in order):
  [--mask M.npy] -> --mask M.npy, [--shift next|none] -> --shift next, [--ignore-index N] ->
  --ignore-index -100, [--temperature T] -> --temperature 1; $GITHUB_RUN_NUMBER -> 7;
  /tmp/lpcert/build/cli/lpcert -> build/cli/lpcert; --out-dir /tmp/r -> --out-dir r;
  --seconds N -> --seconds 1, and `certify`/`fuzz` without --seconds get --seconds 1.
Expected exit status: 0 or 1 for check, certify and fuzz (a verdict is not a failure of the
README; exit 1 must come with a FAIL verdict line, not an internal error), 0 for every other
command; anything else (2: usage or input error) fails the test, printing the command, its exit
status and the tail of its stderr.
Skipped, with the reason printed: SKIPS below (./run, ./test, fuzz/run, the full `lpcert report`,
the install / pkg-config lines). The test fails when fewer commands are found than MIN_FOUND (a
README change that hides commands from this test is noticed: raise MIN_FOUND when adding some).

usage: python3 tests/e2e_readme.py path/to/lpcert
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import tensors as tz  # noqa: E402

MIN_FOUND = 30  # the count of README.md at this test's writing

COMMANDS = ("build/cli/lpcert", "lpcert", "/tmp/lpcert/build/cli/lpcert", "./run", "./test",
            "fuzz/run", "cc", "cmake", "export", "jq")

REWRITES = [
    (r"\[--mask M\.npy\]", "--mask M.npy"),
    (r"\[--shift next\|none\]", "--shift next"),
    (r"\[--ignore-index N\]", "--ignore-index -100"),
    (r"\[--temperature T\]", "--temperature 1"),
    (r"\$GITHUB_RUN_NUMBER", "7"),
    (r"/tmp/lpcert/build/cli/lpcert", "build/cli/lpcert"),
    (r"--out-dir /tmp/r\b", "--out-dir r"),
    (r"--seconds \d+", "--seconds 1"),
]

SKIPS = [
    (r"^\./run\b", "installs with apt-get, builds and writes docs/: minutes (report_docs covers the report)"),
    (r"^\./test\b", "installs, builds twice and runs the whole ctest: this test is part of it"),
    (r"(^|\s)fuzz/run\b", "needs clang's libFuzzer build, 60 s per harness (ctest replays every corpus)"),
    (r"^build/cli/lpcert report\s*(#.*)?$", "the full report takes minutes; the report_docs test runs it"),
    (r"^(cmake --install|export PKG_CONFIG_PATH|cc -std=c11 my_test\.c)",
     "installs the library; tests/install_example.sh (ctest install_example) runs these lines"),
]


def extract(text):
    """-> [(line number, command)] in README order."""
    lines = text.split("\n")
    out, fence, i = [], None, 0
    first = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=(?:'[^']*'|\"[^\"]*\"|\S+)\s+)*(\S+)")
    while i < len(lines):
        ln, s = lines[i], lines[i].strip()
        if s.startswith("```"):
            fence = None if fence is not None else (s[3:].strip() or "text")
            i += 1
            continue
        take = False
        if fence in ("sh", "bash", "shell"):
            take = bool(s)
        elif fence == "yaml":
            take = s.startswith("/tmp/lpcert/build/cli/lpcert ")
        elif fence is None and re.match(r"^ {4,}\S", ln):
            m = first.match(s)
            take = bool(m) and m.group(1) in COMMANDS
        if take:
            no, cmd = i + 1, s
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd = cmd[:-1].rstrip() + " " + lines[i].strip()
            out.append((no, cmd))
        i += 1
    # inline commands of the CI section: the spans may wrap, so search the joined paragraph text
    m = re.search(r"\n### `lpcert check` in CI\n(.*?)\n## ", text, re.S)
    if m:
        body = re.sub(r"```.*?```", "", m.group(1), flags=re.S)
        start = text.index(m.group(1))
        for span in re.finditer(r"`([^`]+)`", body):
            cmd = re.sub(r"\s*\n\s*", " ", span.group(1)).strip()
            if cmd.startswith(("jq ", "lpcert ")):
                pos = text.find(span.group(1).split("\n")[0], start)
                out.append((text.count("\n", 0, pos) + 1, cmd))
    return sorted(out)


def rewrite(cmd):
    for pat, rep in REWRITES:
        cmd = re.sub(pat, rep, cmd)
    words = cmd.split()
    if len(words) > 1 and words[1] in ("certify", "fuzz") and "--seconds" not in words:
        cmd = re.sub(r"^(\S+ (certify|fuzz))", r"\1 --seconds 1", cmd)
    return cmd


def expected(cmd):
    words = re.sub(r"^(\w+=\S+\s+)*", "", cmd).split()
    if words[0].endswith("lpcert") and len(words) > 1 and words[1] in ("check", "certify", "fuzz"):
        return (0, 1)
    return (0,)


def sh(cmd, cwd, env):
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True)


def fixtures(d, lpcert, env):
    """Writes the files the README's commands expect into d; -> None or an error line."""
    os.makedirs(os.path.join(d, "build", "cli"))
    os.makedirs(os.path.join(d, "bin"))
    os.symlink(lpcert, os.path.join(d, "build", "cli", "lpcert"))
    os.symlink(lpcert, os.path.join(d, "bin", "lpcert"))
    for sub in ("include", "examples", "vectors"):
        os.symlink(os.path.join(ROOT, sub), os.path.join(d, sub))
    B, T, V = 2, 5, 8
    logits = [((b * 31 + t * 7 + v * 3) % 13) * 0.375 - 2.0 for b in range(B) for t in range(T) for v in range(V)]
    labels = [(b * 3 + t * 5) % V for b in range(B) for t in range(T)]
    labels[3] = -100
    mask = [1] * (B * T)
    mask[T + 4] = 0
    tz.write_npy(os.path.join(d, "L.npy"), "f32", [B, T, V], logits)
    tz.write_npy(os.path.join(d, "Y.npy"), "i64", [B, T], labels)
    tz.write_npy(os.path.join(d, "M.npy"), "u8", [B, T], mask)
    tz.write_safetensors(os.path.join(d, "dump.safetensors"), [
        ("logits", "f32", [B, T, V], logits), ("labels", "i64", [B, T], labels),
        ("attention_mask", "u8", [B, T], mask)])
    tz.write_safetensors(os.path.join(d, "L.safetensors"), [
        ("logits", "f32", [B, T, V], logits), ("labels", "i64", [B, T], labels)])
    plugin = os.path.join(os.path.dirname(os.path.dirname(lpcert)), "examples", "libtwopass_plugin.so")
    steps = [
        "lpcert ref --logits L.npy --labels Y.npy --mask M.npy --out fx_exact.safetensors",
        "lpcert gen --dtype bf16 --out suite.safetensors",
        "lpcert check suite.safetensors --kernel twopass_f32 --save-candidate candidate.safetensors"
        " --quiet; test $? -le 1",
        "lpcert check suite.safetensors candidate.safetensors --vs-baseline twopass_f32 --factor 4"
        " --json lpcert.json --quiet; test $? -le 1",
    ]
    if os.path.exists(plugin):
        shutil.copy(plugin, os.path.join(d, "libtwopass_plugin.so"))
    else:
        steps.append("cc -O2 -std=c11 -shared -fPIC -I include examples/twopass_plugin.c"
                     " -o libtwopass_plugin.so -lm")
    for c in steps:
        p = sh(c, d, env)
        if p.returncode != 0:
            return "fixture: %s: exit %d: %s" % (c, p.returncode, p.stderr[-2000:])
    os.makedirs(os.path.join(d, "build", "lib"), exist_ok=True)
    shutil.copy(os.path.join(d, "libtwopass_plugin.so"), os.path.join(d, "libmykernel.so"))
    shutil.copy(os.path.join(d, "libtwopass_plugin.so"), os.path.join(d, "build", "libmykernel.so"))
    ex, _ = tz.read_safetensors(os.path.join(d, "fx_exact.safetensors"))
    os.remove(os.path.join(d, "fx_exact.safetensors"))
    for name, t, shape in (("P", "logp.f32", [B, T - 1]), ("S", "sum.f32", [B]), ("E", "mean.f32", [B])):
        dt, shp, raw = ex[t]
        if dt != "F32" or shp != shape:
            return "fixture: %s is %s %s, not F32 %s" % (t, dt, shp, shape)
        with open(os.path.join(d, name + ".npy"), "wb") as f:
            hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
                ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
            hdr += " " * ((64 - (11 + len(hdr)) % 64) % 64) + "\n"
            f.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode() + raw)
    for e in os.listdir(d):
        p = os.path.join(d, e)
        if os.path.isfile(p) and not os.path.islink(p):
            os.chmod(p, 0o444)
    return None


def populate(fx, d):
    """A fresh directory d for one command: a symbolic link to each fixture (build/ recreated)."""
    os.makedirs(os.path.join(d, "build", "cli"))
    for e in os.listdir(fx):
        if e != "build":
            os.symlink(os.path.join(fx, e), os.path.join(d, e))
    for e in os.listdir(os.path.join(fx, "build")):
        if e != "cli":
            os.symlink(os.path.join(fx, "build", e), os.path.join(d, "build", e))
    os.symlink(os.path.join(fx, "build", "cli", "lpcert"), os.path.join(d, "build", "cli", "lpcert"))


def main():
    lpcert = os.path.abspath(sys.argv[1])
    with open(os.path.join(ROOT, "README.md")) as f:
        cmds = extract(f.read())
    tmp = tempfile.mkdtemp(prefix="lpcert_readme_")
    fails, ran, skipped = 0, 0, 0
    try:
        fx = os.path.join(tmp, "fixtures")
        os.makedirs(fx)
        env = dict(os.environ, PATH=os.path.join(fx, "bin") + os.pathsep + os.environ.get("PATH", ""))
        err = fixtures(fx, lpcert, env)
        if err:
            print("FAIL e2e_readme %s" % err)
            return 1
        for k, (no, cmd) in enumerate(cmds):
            reason = next((r for pat, r in SKIPS if re.search(pat, cmd)), None)
            if reason:
                skipped += 1
                print("skip README.md:%d: %s\n     (%s)" % (no, cmd, reason))
                continue
            run_cmd = rewrite(cmd)
            d = os.path.join(tmp, "c%02d" % k)
            populate(fx, d)
            t0 = time.monotonic()
            p = sh(run_cmd, d, env)
            secs = time.monotonic() - t0
            ran += 1
            ok = p.returncode in expected(cmd)
            if ok and p.returncode == 1 and not re.search(r"\bFAIL\b", p.stdout + p.stderr):
                ok = False  # exit 1 without a verdict line: an internal error, not a verdict
            print("%s README.md:%d: exit %d, %.1f s: %s" % ("ok  " if ok else "FAIL", no, p.returncode, secs,
                                                            run_cmd))
            if not ok:
                fails += 1
                print("     expected exit %s; stderr's tail:\n%s" % (
                    "0, or 1 with a FAIL verdict" if 1 in expected(cmd) else "0",
                    "\n".join("       " + x for x in p.stderr.strip().split("\n")[-12:])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if len(cmds) < MIN_FOUND:
        fails += 1
        print("FAIL e2e_readme: %d commands found in README.md, fewer than %d: a command was removed or "
              "no longer looks like one (lower MIN_FOUND only on purpose)" % (len(cmds), MIN_FOUND))
    print("e2e_readme: %d commands found, %d run, %d skipped, %d failed" % (len(cmds), ran, skipped, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
