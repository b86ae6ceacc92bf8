"""tests/e2e_check_kit.py: what the end-to-end tests of check and certify share: the kit of
e2e_kit.py with a run that also fails on any sanitizer report (under ASan, a crash exits 1, which
would pass for a FAIL verdict), one temporary folder per run, removed at the end."""
import shutil
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
