"""tests/e2e_check_kit.py: what the end-to-end tests of check and certify share: the kit of
e2e_kit.py with a run that also fails on any sanitizer report (under ASan, a crash exits 1, which
would pass for a FAIL verdict), one temporary folder per run, removed at the end."""
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_kit import Kit


class CheckKit:
    def __init__(self, name, lpcert):
        self.kit = Kit(name, lpcert)
        self.tmp = tempfile.mkdtemp(prefix="lpcert_%s_" % name)

    def check(self, ok, msg):
        return self.kit.check(ok, msg)

    def run(self, *args):
        rc, out, err = self.kit.run(*args)
        self.check("Sanitizer" not in err and "runtime error" not in err, "sanitizer: %s" % err[-3000:])
        return rc, out, err

    def build_plugin(self, src, out):
        """Compiles the plugin source src into the shared library out with cc, as a user would
        (the public headers only); counts a check; returns out."""
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        cmd = ["cc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I",
               os.path.join(root, "include"), src, "-o", out, "-lm"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        self.check(p.returncode == 0, "cc %s: %s" % (src, p.stderr))
        return out

    def mkdtemp(self, prefix):
        return tempfile.mkdtemp(prefix=prefix, dir=self.tmp)

    def main(self, fn):
        """Runs fn, removes the temporary folder, exits with the kit's status."""
        try:
            fn()
            status = self.kit.end()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        sys.exit(status)
