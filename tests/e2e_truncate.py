"""tests/e2e_truncate.py: `lpcert ref` on a logits file that another process truncates while lpcert
reads it (issue 16, item 5): exit 2, exactly one line on stderr naming the file and saying it
changed while being read, no output file (nor its .tmp) left behind.

The truncation is made deterministic without hooks in lpcert: lpcert is started on a ~200 MB
.npy; this script polls /proc/PID/smaps until the logits mapping is resident past its first
megabyte (the reference is reading rows: mid-run), stops lpcert (SIGSTOP), truncates the file to a
third, and lets it go on (SIGCONT). A run that ends before it could be stopped is reported as a
failure of the test's own set-up (the input would be too small for this machine), never as a pass.
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

B, T, V = 8, 1600, 4096   # 200 MiB of f32 logits


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

    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped, rss = False, 0
    while p.poll() is None:
        rss = mapping_rss_kb(p.pid, L)
        if rss is not None and rss >= 1024:
            os.kill(p.pid, signal.SIGSTOP)
            stopped = True
            break
    if stopped:
        os.truncate(L, full // 3)
        os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate()
    if check(stopped, "set-up: lpcert ended (exit %d) before the poller saw it read past 1 MB of "
                      "the logits: make the input larger; stderr %r" % (p.returncode, err)):
        print("truncated %s from %d to %d bytes with %d KB of it resident" % (L, full, full // 3, rss))
        lines = err.splitlines()
        check(p.returncode == 2, "exit %d, want 2; stderr %r" % (p.returncode, err))
        check(len(lines) == 1 and err.endswith("\n"), "want one line on stderr, got %r" % err)
        check(L in err and "changed while being read" in err,
              "the line names the file and says it changed: %r" % err)
        check(not os.path.exists(O) and not os.path.exists(O + ".tmp"),
              "an output file was left: %s" % os.listdir(d))
        check(out == "", "stdout not empty: %r" % out[:200])
        print("stderr: " + err.rstrip("\n"))
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
