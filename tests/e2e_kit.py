"""tests/e2e_kit.py: what the end-to-end tests share: counting checks, running lpcert."""
import subprocess


class Kit:
    def __init__(self, name, lpcert):
        self.name, self.lpcert, self.checks, self.fails = name, lpcert, 0, 0

    def check(self, ok, msg):
        """Counts one check; prints a FAIL line with msg when it fails; returns ok."""
        self.checks += 1
        if not ok:
            self.fails += 1
            print("FAIL %s %s" % (self.name, msg))
        return ok

    def run(self, *args):
        """(exit status, stdout, stderr) of lpcert with args."""
        p = subprocess.run([self.lpcert, *args], capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def end(self):
        print("%s: %d passed, %d failed" % (self.name, self.checks - self.fails, self.fails))
        return 1 if self.fails else 0
