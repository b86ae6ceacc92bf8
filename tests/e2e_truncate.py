"""tests/e2e_truncate.py: `lpcert ref` on a logits file that another process truncates while lpcert
reads it (issue 16, item 5): exit 2, exactly one line on stderr naming the file and saying it
changed while being read, no output file (nor its .tmp) left behind.

The truncation is made deterministic without hooks in lpcert: lpcert is started on a ~200 MB
.npy (LPCERT_TRUNCATE_MB=1024 for 1 GB); this script polls /proc/PID/smaps until the logits
mapping is resident past 256 KB (beyond the header page and its fault-around: the reference is
reading rows), stops lpcert (SIGSTOP), truncates the file to a third, and lets it go on (SIGCONT).
A run that ends before it could be stopped is reported as a failure of the test's own set-up (the
input would be too small for this machine), never as a pass. A second run is truncated later, at
a third of the control run's time (deep in the rows); if that run has already ended (a much faster
second run) it is reported as not run, and the first run still stands.
Also: the same input untouched gives exit 0 and the output (the control). Linux only (/proc).

usage: python3 tests/e2e_truncate.py path/to/lpcert
"""
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

V = 4096
T = 1600
B = max(1, int(os.environ.get("LPCERT_TRUNCATE_MB", "200")) * 2**20 // (T * V * 4))  # 8: 200 MiB


def write_npy(path, descr, shape, body_writer):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    pad = 64 - (10 + len(hdr) + 1) % 64
    hdr = hdr + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
        body_writer(f)


def mapping_rss_kb(pid, path):
    """Resident KB of pid's mapping of path, or None when lpcert is gone."""
    try:
        with open("/proc/%d/smaps" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    rss, inside = 0, False
    for ln in lines:
        parts = ln.split()
        if parts and "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
            inside = ln.rstrip().endswith(path)
        elif inside and parts and parts[0] == "Rss:":
            rss += int(parts[1])
    return rss


def main():
    lpcert = sys.argv[1]
    fails = []

    def check(ok, msg):
        if not ok:
            fails.append(msg)
            print("FAIL: " + msg)
        return ok

    d = tempfile.mkdtemp(prefix="lpcert_trunc_")
    L, Y, O = (os.path.join(d, n) for n in ("logits.npy", "labels.npy", "out.safetensors"))
    row = struct.pack("<%df" % V, *[((v * 37) % 101) * 0.125 - 6.0 for v in range(V)])
    chunk = row * 64

    def body_logits(f):
        for _ in range(B * T // 64):
            f.write(chunk)

    write_npy(L, "<f4", (B, T, V), body_logits)
    write_npy(Y, "<i8", (B, T), lambda f: f.write(
        struct.pack("<%dq" % (B * T), *[(i * 7919) % V for i in range(B * T)])))
    full = os.path.getsize(L)
    args = [lpcert, "ref", "--logits", L, "--labels", Y, "--formats", "f64,f32",
            "--threads", "2", "--out", O]

    # control: the untouched input
    t0 = time.time()
    r = subprocess.run(args, capture_output=True, text=True)
    secs = time.time() - t0
    check(r.returncode == 0 and os.path.exists(O),
          "control run: exit %d, stderr %r" % (r.returncode, r.stderr))
    if os.path.exists(O):
        os.remove(O)
    print("control run: %.2f s on %d bytes of logits" % (secs, full))

    def truncated_run(name, late):
        write_npy(L, "<f4", (B, T, V), body_logits)
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stopped, rss, t0 = False, 0, time.time()
        while p.poll() is None:
            if late:
                ready = time.time() - t0 >= secs / 3
            else:
                rss = mapping_rss_kb(p.pid, L)
                ready = rss is not None and rss >= 256   # past the header and its fault-around
            if ready:
                os.kill(p.pid, signal.SIGSTOP)
                stopped, at = True, time.time() - t0
                break
            if late:
                time.sleep(0.01)
        if stopped:
            os.truncate(L, full // 3)
            os.kill(p.pid, signal.SIGCONT)
        out, err = p.communicate()
        if late and not stopped:
            print("%s: not run: lpcert ended (exit %d) before a third of the control time"
                  % (name, p.returncode))
            return
        if not check(stopped, "%s: set-up: lpcert ended (exit %d) before the poller saw it read "
                              "past 256 KB of the logits: make the input larger; stderr %r"
                              % (name, p.returncode, err)):
            return
        print("%s: truncated %s from %d to %d bytes %.2f s after the start (%d KB resident); "
              "run ended after %.2f s" % (name, L, full, full // 3, at, rss or 0, time.time() - t0))
        lines = err.splitlines()
        check(p.returncode == 2, "%s: exit %d, want 2; stderr %r" % (name, p.returncode, err))
        check(len(lines) == 1 and err.endswith("\n"),
              "%s: want one line on stderr, got %r" % (name, err))
        check(L in err and "changed while being read" in err,
              "%s: the line names the file and says it changed: %r" % (name, err))
        check(not os.path.exists(O) and not os.path.exists(O + ".tmp"),
              "%s: an output file was left: %s" % (name, os.listdir(d)))
        check(out == "", "%s: stdout not empty: %r" % (name, out[:200]))
        print("%s: stderr: %s" % (name, err.rstrip("\n")))

    truncated_run("early", False)
    truncated_run("late", True)
    for n in os.listdir(d):
        os.remove(os.path.join(d, n))
    os.rmdir(d)
    print("e2e_truncate: %d failures" % len(fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    if not os.path.isdir("/proc/self"):
        print("e2e_truncate: skipped: no /proc (Linux only)")
        sys.exit(77)
    main()
