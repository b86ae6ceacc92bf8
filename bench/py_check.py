"""bench/py_check.py: the time of the Python package's lpcert.check on one f32 problem
[1, 1025, 128256] (logits N(0, 3), random labels) with a NumPy two-pass f32 kernel's outputs
(never a timed test). Since lp_check_one, lpcert.check judges one problem as `lpcert check --logits`
does (check/judge.c, ck_judge_single); before, through lp_check_problem's several-case route.

usage: LPCERT_LIBRARY=build/lib/liblpcert.so /usr/bin/python3 bench/py_check.py PKGDIR logp|all REPS [THREADS]
  PKGDIR   the folder holding the lpcert package (python/); logp: the candidate gives logp only,
  all: logp, sum and mean; prints one JSON line: best wall and CPU seconds of REPS calls, the
  verdict, the JSON's judge counts and the groups (output, n, max ulp, correctly rounded).
"""
import sys, time, json
sys.path.insert(0, sys.argv[1])
import numpy as np
import lpcert
which, reps = sys.argv[2], int(sys.argv[3])
B, T, V = 1, 1025, 128256
rng = np.random.default_rng(7)
x = (rng.standard_normal((B, T, V), dtype=np.float32) * 3)
y = rng.integers(0, V, (B, T), dtype=np.int64)
t0 = time.perf_counter()
xs, ys = x[:, :-1], y[:, 1:]
mx = xs.max(-1, keepdims=True)
lse = np.log(np.exp(xs - mx).sum(-1, dtype=np.float32)) + mx[..., 0]
logp = (np.take_along_axis(xs, ys[..., None], -1)[..., 0] - lse).astype(np.float32)
s = logp.sum(-1, dtype=np.float32); mean = (s / np.float32(T - 1)).astype(np.float32)
tk = time.perf_counter() - t0
kw = dict(logp=logp) if which == "logp" else dict(logp=logp, sum=s, mean=mean)
th = int(sys.argv[4]) if len(sys.argv) > 4 else 0
best = bestc = None
for i in range(reps):
    t0 = time.perf_counter(); c0 = time.process_time()
    r = lpcert.check(x, y, threads=th or None, **kw)
    dt = time.perf_counter() - t0; dc = time.process_time() - c0
    best = dt if best is None else min(best, dt)
    bestc = dc if bestc is None else min(bestc, dc)
d = r.data
print(json.dumps({"pkg": sys.argv[1], "outputs": which, "numpy_f32_kernel_s": round(tk, 3),
                  "check_best_s": round(best, 3), "check_cpu_s": round(bestc, 3), "threads": th, "reps": reps, "passed": r.passed,
                  "judge": d.get("judge"), "groups": [(g["output"], g["n"], g["max_ulp"], g["correctly_rounded"]) for g in d["groups"]]}))
