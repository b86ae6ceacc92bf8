"""lpcert._api: ref, check, certify and Report over liblpcert (include/lpcert.h, lpcert_check.h)."""
import ctypes
import json
import math
import os
import tempfile
import traceback

import numpy as np

from . import _lib
from ._inputs import InputError, Problem, as_array, dtype_name, shape_str

_VALUE = np.dtype({"names": ["f64", "f32", "f16", "bf16", "hi", "lo"],
                   "formats": ["<f8", "<f4", "<u2", "<u2", "<f8", "<f8"],
                   "offsets": [0, 8, 12, 14, 16, 24], "itemsize": 32})
_OUTPUT_NAMES = ("token", "sum", "mean")


def _named(cmd, err):
    """lp_problem_check's messages name labels[b,t] and mask[b,t]; the CLI's start with the tensor's
    file (lp_bind): here the argument's name, as for the other input errors."""
    m = err.msg.decode("utf-8", "replace")
    for w in ("labels", "mask"):
        if m.startswith(w + "["):
            err.msg = ("%s: %s" % (w, m)).encode()[:255]
    return _lib.fail(cmd, err)


def _reraise(cmd, e):
    """An InputError from argument binding as the CLI's ValueError line."""
    return ValueError("lpcert %s: %s" % (cmd, e))


def _formats_mask(formats):
    if formats is None:
        return 0
    if isinstance(formats, str):
        formats = formats.split(",")
    m = 0
    for f in formats:
        if f == "dd":
            m |= _lib.LP_REF_DD
        elif f in _lib.FORMAT_NAMES:
            m |= 1 << _lib.FORMAT_NAMES.index(f)
        else:
            raise ValueError("lpcert ref: formats: '%s' is not one of f64, f32, f16, bf16, dd" % f)
    if not m:
        raise ValueError("lpcert ref: formats: empty list")
    return m


def _sampling(pb, cmd, softcap, top_k, top_p, min_p):
    """SPEC A7's parameters into the problem (None or 0: not set); their ranges are checked by
    the library (lp_problem_check), which names the parameter."""
    vals = []
    for name, v, kind in (("softcap", softcap, float), ("top_k", top_k, int), ("top_p", top_p, float),
                          ("min_p", min_p, float)):
        if v is None:
            v = 0
        if isinstance(v, bool) or (kind is int and not isinstance(v, (int, np.integer))) or \
                (kind is float and not isinstance(v, (int, float, np.integer, np.floating))):
            raise ValueError("lpcert %s: %s: '%s' is not %s" % (cmd, name, v,
                             "an integer" if kind is int else "a number"))
        if kind is int and not -2**63 <= int(v) < 2**63:   # ctypes would keep the low 64 bits
            raise ValueError("lpcert %s: %s: '%s' is not a 64-bit integer" % (cmd, name, v))
        vals.append(kind(v))
    pb.pb.sampling = _lib.lp_sampling(*vals)


def _threads(threads, cmd):
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 0 <= threads <= 64:
        raise ValueError("lpcert %s: threads: '%s' is not an integer in [0, 64]" % (cmd, threads))
    return int(threads)


def _values(ptr, n, stem, out):
    """The lp_value array [n] as the six columns <stem>.f64 ... <stem>.lo (copies)."""
    if n:
        raw = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_uint8)), shape=(n * 32,))
        v = raw.view(_VALUE)
    else:
        v = np.zeros(0, _VALUE)
    out[stem + ".f64"] = np.array(v["f64"])
    out[stem + ".f32"] = np.array(v["f32"])
    out[stem + ".f16"] = np.array(v["f16"]).view(np.float16)
    out[stem + ".bf16"] = np.array(v["bf16"])
    out[stem + ".hi"] = np.array(v["hi"])
    out[stem + ".lo"] = np.array(v["lo"])


def to_torch(arr, bf16=False):
    import torch
    if bf16:
        return torch.from_numpy(np.ascontiguousarray(arr).view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(arr))


def ref(logits, labels, *, mask=None, shift="next", ignore_index=-100, temperature=1.0,
        empty_mean="nan", formats=None, threads=None, dtype=None, softcap=None, top_k=None,
        top_p=None, min_p=None):
    """The exact reference, as `lpcert ref` writes it: a dict with the tensors of its output file
    (logp.f64 .. logp.lo and counted [B, T_s]; sum.*, mean.*, count [B]; token_mean.* [1]).
    f16 results are float16; bf16 results uint16 bit patterns (torch.bfloat16 when logits is a
    torch tensor: then every value is a CPU torch tensor). formats: the outputs to compute
    ("f32,bf16" or a list from f64, f32, f16, bf16, dd; default all), the others are NaN; dd (the
    .hi/.lo columns, canonical) costs the triple-double tier: about 2.5x tier 1 alone.
    softcap, top_k, top_p, min_p (None: not set): processed log-probs (SPEC A7, `lpcert ref
    --softcap --top-k --top-p --min-p`): -inf for a label filtered out, and its sequence too."""
    L = _lib.lib()
    try:
        pb = Problem(logits, labels, mask, shift, ignore_index, temperature, empty_mean, dtype)
    except InputError as e:
        raise _reraise("ref", e) from None
    _sampling(pb, "ref", softcap, top_k, top_p, min_p)
    opt = _lib.lp_ref_options()
    opt.threads = _threads(threads, "ref")
    opt.formats = _formats_mask(formats)
    res = _lib.lp_ref_result()
    err = _lib.lp_error()
    s = L.lp_ref_compute_opts(ctypes.byref(res), ctypes.byref(pb.pb), ctypes.byref(opt), ctypes.byref(err))
    try:
        if s != _lib.LP_OK:
            raise _named("ref", err)
        B, Ts = res.B, res.Ts
        out = {}
        _values(res.logp, B * Ts, "logp", out)
        for k in list(out):
            out[k] = out[k].reshape(B, Ts)
        out["counted"] = np.ctypeslib.as_array(res.counted, shape=(B * Ts,)).copy().reshape(B, Ts) \
            if B * Ts else np.zeros((B, Ts), np.uint8)
        _values(res.sum, B, "sum", out)
        _values(res.mean, B, "mean", out)
        out["count"] = np.ctypeslib.as_array(res.count, shape=(B,)).copy()
        _values(ctypes.pointer(res.token_mean), 1, "token_mean", out)
    finally:
        L.lp_ref_result_free(ctypes.byref(res))
    if pb.torch:
        out = {k: to_torch(v, k.endswith(".bf16")) for k, v in out.items()}
    return out


# ---- reports ----------------------------------------------------------------------------------

class Report:
    """The verdict of lpcert.check or lpcert.certify: passed, groups (per class and output: output,
    format, n, correctly_rounded, max_ulp, median_ulp, max_abs, class_mismatches, nan_leaks,
    over_bound, failed, and worst: the repro of its worst value), worst (the worst value of the
    run), diagnoses; str(report) is the CLI's text report, to_json() its JSON."""

    def __init__(self, handle, keep=(), kernel_errors=()):
        self._h = handle
        self._keep = keep
        self.kernel_errors = list(kernel_errors)
        L = _lib.lib()
        self.passed = not L.lp_check_failed(handle)
        self.values = int(L.lp_check_values(handle))
        self._json = None
        data = self.data
        self.diagnoses = data.get("diagnoses", [])
        jg = data.get("groups", [])
        self.groups = []
        err = _lib.lp_error()
        for i in range(L.lp_check_group_count(handle)):
            g = _lib.lp_check_group()
            if L.lp_check_group_get(handle, i, ctypes.byref(g), ctypes.byref(err)) != _lib.LP_OK:
                raise _lib.fail("check", err)
            d = {"class": g.cls.decode(), "output": _OUTPUT_NAMES[g.output],
                 "format": _lib.FORMAT_NAMES[g.format], "n": g.n,
                 "correctly_rounded": g.correctly_rounded, "max_ulp": g.max_ulp,
                 "median_ulp": g.median_ulp, "max_abs": g.max_abs,
                 "class_mismatches": g.class_mismatches, "nan_leaks": g.nan_leaks,
                 "over_bound": g.over_bound, "base_max_ulp": g.base_max_ulp, "failed": bool(g.failed)}
            d["worst"] = jg[i].get("worst") if i < len(jg) else None
            self.groups.append(d)
        self.worst = self._worst()

    def _worst(self):
        best, key = None, None
        for g in self.groups:
            w = g["worst"]
            if not w:
                continue
            e = w.get("err_ulp")
            e = float(e) if isinstance(e, (int, float)) else (math.inf if e == "inf" else 0.0)
            k = (g["failed"], w.get("class") == "mismatch", e)
            if key is None or k > key:
                best, key = dict(w, group=g["class"]), k
        return best

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h and _lib is not None and _lib._LIB is not None:
            _lib._LIB.lp_check_free(h)

    def __bool__(self):
        return self.passed

    def __str__(self):
        C = _lib.libc()
        buf, size = ctypes.c_void_p(), ctypes.c_size_t()
        f = C.open_memstream(ctypes.byref(buf), ctypes.byref(size))
        if not f:
            raise MemoryError("lpcert: open_memstream failed")
        _lib.lib().lp_check_write_table(f, self._h)
        C.fclose(f)
        try:
            return ctypes.string_at(buf, size.value).decode("utf-8", "replace")
        finally:
            C.free(buf)

    def __repr__(self):
        return "<lpcert.Report %s: %d groups, %d values>" % ("PASS" if self.passed else "FAIL",
                                                            len(self.groups), self.values)

    def _write(self, fn, path):
        err = _lib.lp_error()
        if fn(self._h, os.fsencode(path), ctypes.byref(err)) != _lib.LP_OK:
            raise _lib.fail("check", err)

    def to_json(self):
        """The CLI's JSON report (--json FILE), as a string."""
        if self._json is None:
            with tempfile.TemporaryDirectory(prefix="lpcert_") as d:
                p = os.path.join(d, "report.json")
                self._write(_lib.lib().lp_check_write_json, p)
                with open(p, encoding="utf-8") as f:
                    self._json = f.read()
        return self._json

    @property
    def data(self):
        """to_json() parsed."""
        return json.loads(self.to_json())

    def write_json(self, path):
        self._write(_lib.lib().lp_check_write_json, path)

    def write_certificate(self, path):
        """The Markdown certificate (--certificate FILE); written to PATH.tmp and renamed."""
        self._write(_lib.lib().lp_check_write_certificate, path)

    def worst_text(self):
        """The worst value in one paragraph: where, got, want, the error and the repro line."""
        w = self.worst
        if not w:
            return "no value compared" if not self.values else "every value is exact"
        where = "b=%s" % w["b"] + (", t=%s (label %s at t=%s)" % (w["t"], w["label"], w["label_t"])
                                   if w["output"] == "token" else ", count %s" % w.get("count"))
        lines = ["worst value: %s %s (group %s) %s, V=%s, %s" % (w["case"], w["output"], w["group"], where,
                                                                 w["V"], w["format"]),
                 "  got  %s (%s)" % (w.get("got"), w.get("got_decimal")),
                 "  want %s (%s), exact %s + %s" % (w.get("want"), w.get("want_decimal"),
                                                    w.get("exact_hi"), w.get("exact_lo")),
                 "  class %s, err %s ulp, %s abs" % (w.get("class"), w.get("err_ulp"), w.get("err_abs"))]
        if w.get("note"):
            lines.append("  note: %s" % w["note"])
        return "\n".join(lines)


# ---- check --------------------------------------------------------------------------------------

def _bounds(v, what, cmd):
    """max_ulp / max_abs: a number (every output) or a dict {token|sum|mean: number}."""
    out = [-1.0, -1.0, -1.0]
    if v is None:
        return out
    items = v.items() if isinstance(v, dict) else [(k, v) for k in _OUTPUT_NAMES]
    for k, x in items:
        if k not in _OUTPUT_NAMES:
            raise ValueError("lpcert %s: %s: output '%s' is not token, sum or mean" % (cmd, what, k))
        try:
            x = float(x)
        except (TypeError, ValueError):
            raise ValueError("lpcert %s: %s: '%s' is not a number >= 0" % (cmd, what, x)) from None
        if not x >= 0:
            raise ValueError("lpcert %s: %s: '%s' is not a number >= 0" % (cmd, what, x))
        out[_OUTPUT_NAMES.index(k)] = x
    return out


def _new_check(cmd, max_ulp, max_abs, baseline, factor, masking, empty_mean, threads, no_default_bound):
    L = _lib.lib()
    o = _lib.lp_check_options()
    o.max_ulp[:] = _bounds(max_ulp, "max_ulp", cmd)
    o.max_abs[:] = _bounds(max_abs, "max_abs", cmd)
    o.baseline = baseline.encode() if baseline else None
    if factor is not None and not baseline:
        raise ValueError("lpcert %s: factor goes with baseline" % cmd)
    o.factor = float(factor) if factor is not None else -1.0
    if masking not in ("spec", "mul"):
        raise ValueError("lpcert %s: masking: '%s' is not spec or mul" % (cmd, masking))
    o.masking = 0 if masking == "spec" else 1
    if empty_mean not in ("case", "nan", "zero"):
        raise ValueError("lpcert %s: empty_mean: '%s' is not case, nan or zero" % (cmd, empty_mean))
    o.empty_mean = ("case", "nan", "zero").index(empty_mean)
    o.threads = _threads(threads, cmd)
    o.no_default_bound = 1 if no_default_bound else 0
    h = ctypes.c_void_p()
    err = _lib.lp_error()
    if L.lp_check_new(ctypes.byref(h), ctypes.byref(o), ctypes.byref(err)) != _lib.LP_OK:
        raise _lib.fail(cmd, err)
    return h


def _output(x, what, want, lenient_b1, shift):
    """A candidate output as (array, lp_format), checked as `lpcert check` does (ck_output_load)."""
    t = as_array(x, what, contiguous=False)
    a = t.arr
    if t.bf16 or a.dtype == np.uint16:
        fmt = _lib.BF16
    elif a.dtype in (np.float64, np.float32, np.float16):
        fmt = {np.dtype(np.float64): 0, np.dtype(np.float32): 1, np.dtype(np.float16): 2}[a.dtype]
    else:
        raise InputError("%s: dtype %s is not a float format (F64, F32, F16, BF16)"
                         % (what, dtype_name(a.dtype)))
    ok = a.shape == tuple(want)
    if not ok and lenient_b1:
        ok = [d for d in a.shape if d != 1] == [d for d in want if d != 1]
    if not ok:
        hint = ""
        if what == "logp":
            hint = " ([B, T_s], T_s = %s with shift %s)" % ("T-1" if shift == "next" else "T", shift)
        raise InputError("%s: shape %s, expected %s%s" % (what, shape_str(a.shape), shape_str(want), hint))
    return np.ascontiguousarray(a).reshape(-1), fmt


def check(logits, labels, *, logp=None, sum=None, mean=None, mask=None, shift="next",
          ignore_index=-100, temperature=1.0, empty_mean="case", dtype=None, max_ulp=None,
          max_abs=None, baseline=None, factor=None, masking="spec", no_default_bound=False,
          threads=None, softcap=None, top_k=None, top_p=None, min_p=None):
    """`lpcert check --logits --labels --logp --sum --mean` in memory: a kernel's outputs on one
    problem against the exact reference, judged with the same bounds (max_ulp, max_abs: a number,
    or a dict per output token/sum/mean; baseline/factor; with none, the default bound) and
    semantics (masking spec|mul, empty_mean case|nan|zero). Returns a Report; the groups are
    input/<format> per output, as the CLI names them. softcap, top_k, top_p, min_p (None: not
    set): the reference is the processed log-prob of SPEC A7 (`lpcert check --top-p ...`)."""
    L = _lib.lib()
    if logp is None and sum is None and mean is None:
        raise ValueError("lpcert check: at least one of logp, sum, mean is required")
    pe = empty_mean if empty_mean in ("nan", "zero") else "nan"
    try:
        pb = Problem(logits, labels, mask, shift, ignore_index, temperature, pe, dtype)
        _sampling(pb, "check", softcap, top_k, top_p, min_p)
        outs = {}
        for k, x, want in (("logp", logp, (pb.B, pb.Ts)), ("sum", sum, (pb.B,)), ("mean", mean, (pb.B,))):
            if x is not None:
                outs[k] = _output(x, k, want, pb.ndim == 2, shift)
    except InputError as e:
        raise _reraise("check", e) from None
    h = _new_check("check", max_ulp, max_abs, baseline, factor, masking, empty_mean, threads,
                   no_default_bound)
    try:
        err = _lib.lp_error()
        name = b"input"
        cls = ("input/%s" % _lib.FORMAT_NAMES[pb.fmt]).encode()
        # one call per candidate format (lp_candidate has one format; they are usually all the same)
        fmts = sorted({f for _, f in outs.values()})
        # one format: the CLI's one-case route (lp_check_one, judged from the fast reference's
        # enclosures; the same report); several: lp_check_problem per format
        one = len(fmts) == 1 and hasattr(L, "lp_check_one") and L.lp_check_one.argtypes is not None
        for fmt in fmts:
            c = _lib.lp_candidate()
            c.fmt = fmt
            for k, (a, f) in outs.items():
                if f == fmt:
                    setattr(c, k, a.ctypes.data)
            if one:
                st = L.lp_check_one(h, name, cls, ctypes.byref(pb.pb), ctypes.byref(c), ctypes.byref(err))
            else:
                st = L.lp_check_problem(h, name, cls, ctypes.byref(pb.pb), None, ctypes.byref(c),
                                        ctypes.byref(err))
            if st != _lib.LP_OK:
                raise _named("check", err)
    except BaseException:
        L.lp_check_free(h)
        raise
    return Report(h, keep=(pb, outs))


# ---- certify ------------------------------------------------------------------------------------

def _np_format(a):
    if a.dtype == np.float64:
        return 0
    if a.dtype == np.float32:
        return 1
    if a.dtype == np.float16:
        return 2
    return None


class _Kernel:
    """A Python callable behind the plugin ABI's run function (lpcert_plugin.h)."""

    def __init__(self, fn, use_torch, device, outputs, formats):
        self.fn, self.use_torch, self.device = fn, use_torch, device
        self.outputs, self.formats = outputs, formats
        self.errors = []
        self.interrupted = False
        self.cb = _lib.RUN_FN(self._run)

    def inputs(self, B, T, V, fmt, logits_p, labels_p, mask_p):
        n = B * T * V
        dt = {0: np.float64, 1: np.float32, 2: np.float16, 3: np.uint16}[fmt]
        esz = np.dtype(dt).itemsize
        x = np.frombuffer(ctypes.string_at(logits_p, n * esz), dtype=dt).reshape(B, T, V) if n \
            else np.zeros((B, T, V), dt)
        y = np.frombuffer(ctypes.string_at(labels_p, B * T * 8), dtype=np.int64).reshape(B, T).copy()
        m = np.frombuffer(ctypes.string_at(mask_p, B * T), dtype=np.uint8).reshape(B, T).copy() \
            if mask_p else None
        if self.use_torch:
            import torch
            x = to_torch(x.copy(), fmt == 3)
            y, m = torch.from_numpy(y), (torch.from_numpy(m) if m is not None else None)
            if self.device is not None:
                x, y = x.to(self.device), y.to(self.device)
                m = m.to(self.device) if m is not None else None
        else:
            x = x.copy()
        return x, y, m

    def call(self, x, y, m, shift, ignore_index, temperature):
        r = self.fn(x, y, m, shift, ignore_index, temperature)
        if isinstance(r, (tuple, list)):
            r = dict(zip(("logp", "sum", "mean"), r))
        if not isinstance(r, dict):
            raise TypeError("fn returned %s; expected a dict logp=, sum=, mean= (or a tuple)"
                            % type(r).__name__)
        out = {}
        for k, v in r.items():
            if v is None or k not in ("logp", "sum", "mean"):
                continue
            t = as_array(v, k, contiguous=False)
            a = t.arr
            out[k] = (a, 3 if (t.bf16 or a.dtype == np.uint16) else _np_format(a))
        return out

    def _run(self, state, ppb, pout, msg, msg_size):
        try:
            if self.interrupted:   # Ctrl-C: the remaining cases fail fast, certify() re-raises
                raise KeyboardInterrupt()
            pb, po = ppb.contents, pout.contents
            x, y, m = self.inputs(pb.B, pb.T, pb.V, pb.format, pb.logits, pb.labels, pb.mask)
            out = self.call(x, y, m, "next" if pb.shift == 0 else "none", int(pb.ignore_index),
                            float(pb.temperature))
            for k, n in (("logp", pb.B * pb.Ts), ("sum", pb.B), ("mean", pb.B)):
                dst = getattr(po, k)
                if not dst:
                    continue
                if k not in out:
                    raise ValueError("fn returned no '%s'" % k)
                a, f = out[k]
                want = getattr(po, k + "_format")
                if f != want:
                    raise ValueError("fn returned %s as %s; on the first problem of these logits' format "
                                     "it returned %s (the format declared for it)" % (
                                         k, dtype_name(a.dtype, f == 3), _lib.FORMAT_NAMES[want].upper()))
                if a.size != n:
                    raise ValueError("fn returned %s of shape %s, expected %d values ([B, T_s] or [B])"
                                     % (k, shape_str(a.shape), n))
                a = np.ascontiguousarray(a).reshape(-1)
                ctypes.memmove(dst, a.ctypes.data, a.nbytes)
            return 0
        except BaseException as e:   # noqa: B902 - a callback must not unwind into C
            if isinstance(e, KeyboardInterrupt):
                self.interrupted = True
            elif len(self.errors) < 8:
                self.errors.append(traceback.format_exc())
            text = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")
            data = text.encode("utf-8", "replace")[: max(0, msg_size - 1)] + b"\0"
            ctypes.memmove(msg, data, len(data))
            return 1


def _probe(k, formats):
    """Runs fn on a small problem in each format: the outputs it returns and their formats, which
    become the kernel's declaration (a format the same as the logits' -> SAME_AS_LOGITS)."""
    rng = np.random.default_rng(7)
    B, T, V = 2, 4, 5
    seen = {}
    for fmt in formats:
        x64 = rng.standard_normal((B, T, V))
        if fmt == 3:
            x = (x64.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        else:
            x = x64.astype({0: np.float64, 1: np.float32, 2: np.float16}[fmt])
        y = rng.integers(0, V, (B, T)).astype(np.int64)
        xt, yt, mt = k.inputs(B, T, V, fmt, x.ctypes.data, y.ctypes.data, None)
        out = k.call(xt, yt, mt, "next", -100, 1.0)
        for name, (a, f) in out.items():
            if f is None:
                raise TypeError("fn returned %s of dtype %s; expected a float format" % (name, a.dtype))
            seen.setdefault(name, {})[fmt] = f
    if not seen:
        raise TypeError("fn returned none of logp, sum, mean")
    decl = {}
    for name, per in seen.items():
        if len(per) != len(formats):
            raise TypeError("fn returns %s for some logits formats only" % name)
        if all(per[f] == f for f in per):
            decl[name] = -1
        elif len(set(per.values())) == 1:
            decl[name] = next(iter(per.values()))
        else:
            raise TypeError("fn returns %s in formats that follow the logits' only partly (%s)"
                            % (name, {_lib.FORMAT_NAMES[a]: _lib.FORMAT_NAMES[b] for a, b in per.items()}))
    return decl


def certify(fn, *, families=None, dtypes=None, cases=None, seconds=0, seed=0x5eed, max_ulp=None,
            max_abs=None, baseline=None, factor=None, masking="spec", empty_mean="case",
            no_default_bound=False, batch_invariance="require", name=None, torch=None, device=None,
            suite=None, threads=None):
    """`lpcert certify` on a Python callable: fn(logits, labels, mask, shift, ignore_index,
    temperature) -> dict(logp=[B, T_s], sum=[B], mean=[B]) (any subset; or a tuple logp, sum,
    mean), NumPy or torch in and out. Runs the standard suite in memory (families, dtypes: lists
    or comma-separated; cases: globs as --cases), then seeded random problems for `seconds`, with
    batch invariance (require|report|off). Torch tensors are given when torch is importable
    (torch=False: NumPy; device="cuda": moved there). Which outputs fn gives, and in which format
    for each logits format, is learnt by calling it on a small problem first (an exception there
    is raised as is); later exceptions are the kernel's errors on that case (the report's
    kernel_error diagnosis; tracebacks in Report.kernel_errors). Returns a Report."""
    L = _lib.lib()
    if not hasattr(L, "lp_check_certify_kernel") or L.lp_check_certify_kernel.argtypes is None:
        raise RuntimeError("lpcert certify: %s has no lp_check_certify_kernel (an older liblpcert)"
                           % L._lpcert_path)
    if not callable(fn):
        raise ValueError("lpcert certify: fn is not callable")
    if torch is None:
        try:
            import torch as _t  # noqa: F401
            torch = True
        except ImportError:
            torch = False
    lst = lambda v: [s for s in (v.split(",") if isinstance(v, str) else v) if s]  # noqa: E731
    fams = lst(families) if families else None
    dts = lst(dtypes) if dtypes else list(_lib.FORMAT_NAMES)
    for d in dts:
        if d not in _lib.FORMAT_NAMES:
            raise ValueError("lpcert certify: dtypes: '%s' is not one of f64, f32, f16, bf16" % d)
    globs = []
    if fams:
        globs = ["%s/%s" % (f, d) for f in fams for d in dts] if dtypes else list(fams)
    elif dtypes:
        globs = ["*/%s/*" % d for d in dts]
    if cases:
        if fams:
            raise ValueError("lpcert certify: give families or cases, not both")
        globs = lst(cases)
    fmts = [_lib.FORMAT_NAMES.index(d) for d in dts]
    if batch_invariance not in ("require", "report", "off"):
        raise ValueError("lpcert certify: batch_invariance: '%s' is not require, report or off"
                         % batch_invariance)
    try:
        secs = float(seconds)
    except (TypeError, ValueError):
        secs = -1.0
    if not 0 <= secs <= 1e6:
        raise ValueError("lpcert certify: seconds: '%s' is not a number in [0, 1e6]" % (seconds,))
    seconds = secs
    k = _Kernel(fn, torch, device, None, fmts)
    decl = _probe(k, fmts)
    pname = (name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "fn")
    mod = getattr(fn, "__module__", None)
    desc = "a Python callable through lpcert.certify (%s), %s" % (
        (mod + "." if mod else "") + pname, "torch tensors" if torch else "NumPy arrays")
    p = _lib.lp_plugin()
    p.abi_version = _lib.PLUGIN_ABI_VERSION
    p.struct_size = ctypes.sizeof(_lib.lp_plugin)
    p.name = pname.encode()
    p.description = desc.encode()
    p.formats = sum(1 << f for f in fmts)
    p.outputs = sum(bit for n, bit in (("logp", 1), ("sum", 2), ("mean", 4)) if n in decl)
    p.logp_format = decl.get("logp", -1)
    p.sum_format = decl.get("sum", -1)
    p.mean_format = decl.get("mean", -1)
    p.caps = _lib.CAP_MASK | _lib.CAP_IGNORE_INDEX | _lib.CAP_SHIFT_NONE | _lib.CAP_TEMPERATURE
    p.run = k.cb
    o = _lib.lp_certify_options()
    o.suite = os.fsencode(suite) if suite else None
    o.cases = ",".join(globs).encode() if globs else None
    o.seconds = seconds
    o.seed = int(seed)
    o.batch_invariance = ("require", "report", "off").index(batch_invariance)
    h = _new_check("certify", max_ulp, max_abs, baseline, factor, masking, empty_mean, threads,
                   no_default_bound)
    err = _lib.lp_error()
    try:
        if L.lp_check_certify_kernel(h, ctypes.byref(p), ctypes.byref(o), ctypes.byref(err)) != _lib.LP_OK:
            raise _lib.fail("certify", err)
    except BaseException:
        L.lp_check_free(h)
        raise
    if k.interrupted:
        L.lp_check_free(h)
        raise KeyboardInterrupt()
    return Report(h, keep=(p, k, o), kernel_errors=k.errors)


# ---- audit (SPEC A9) ------------------------------------------------------------------------------

def audit(a, b, labels, *, mask=None, shift="next", ignore_index=-100, logits_a=None, logits_b=None,
          a_semantics=None, b_semantics=None, bands=(), threads=None):
    """`lpcert audit` in memory: the gap a - b between two sources of per-token log-probs [B, T_s]
    (f64/f32/f16/bf16 arrays, torch tensors or file specs). logits_a / logits_b: the logits
    [B, T, V] each side saw; a_semantics / b_semantics: a dict of temperature, softcap, top_k,
    top_p, min_p (SPEC A7) for exact(La) / exact(Lb). bands: extra (lo, hi) ratio bands beside
    (0.9, 1.1). Returns the JSON report as a dict (tokens, sequences.sum, sequences.mean, split;
    README.md, "Auditing a rollout-vs-trainer gap"), with the Markdown report under "report".
    Input errors raise ValueError with the CLI's one-line message."""
    L = _lib.lib()
    if not _lib.declare_audit(L):
        raise RuntimeError("lpcert audit: this liblpcert has no lp_audit_run (an older library)")
    keep = []
    try:
        Y = as_array(labels, "labels", contiguous=False).arr
        if Y.ndim not in (1, 2):
            raise InputError("labels: %d dimensions; expected [B, T] or [T]" % Y.ndim)
        # the tokens problem: labels and mask bound as ref binds them, over a stand-in V = 1 whose
        # values the audit never reads
        tk = Problem(np.zeros(Y.shape + (1,), np.float32), labels, mask, shift, ignore_index)
        keep.append(tk)
        sides = []
        for k, (x, lg, sem) in enumerate(((a, logits_a, a_semantics), (b, logits_b, b_semantics))):
            nm = "ab"[k]
            sem = dict(sem or {})
            unknown = set(sem) - {"temperature", "softcap", "top_k", "top_p", "min_p"}
            if unknown:
                raise InputError("%s_semantics: unknown key %s" % (nm, sorted(unknown)[0]))
            if sem and lg is None:
                raise InputError("%s_semantics are the semantics of exact(L%s): give logits_%s" % (nm, nm, nm))
            arr, fmt = _output(x, nm, (tk.B, tk.Ts), tk.B == 1, shift)
            keep.append(arr)
            sd = _lib.lp_audit_side()
            sd.name = nm.encode()
            sd.fmt = fmt
            sd.logp = arr.ctypes.data_as(ctypes.c_void_p)
            if lg is not None:
                lt = as_array(lg, "logits_" + nm)   # '<u2' logits: bf16 bit patterns, as the CLI reads them
                pb = Problem(lt.arr if not lt.torch else lg, labels, mask, shift, ignore_index,
                             sem.get("temperature", 1.0), "nan",
                             "bf16" if lt.arr.dtype == np.uint16 and not lt.torch else None)
                keep.append(pb)
                # the types and ranges of ref's keywords (int() truncated top_k 2.5 to 2)
                _sampling(pb, "audit: %s_semantics" % nm, sem.get("softcap"), sem.get("top_k"),
                          sem.get("top_p"), sem.get("min_p"))
                sd.logits = ctypes.pointer(pb.pb)
            sides.append(sd)
        opt = _lib.lp_audit_options()
        bands = list(bands)
        if len(bands) > _lib.LP_AUDIT_MAX_BANDS - 1:
            raise InputError("bands: at most %d" % (_lib.LP_AUDIT_MAX_BANDS - 1))
        for i, (lo, hi) in enumerate(bands):
            opt.band_lo[i], opt.band_hi[i] = float(lo), float(hi)
        opt.nbands = len(bands)
        opt.threads = _threads(threads, "audit")
    except InputError as e:
        raise _reraise("audit", e) from None
    h = ctypes.c_void_p()
    err = _lib.lp_error()
    s = L.lp_audit_run(ctypes.byref(h), ctypes.byref(tk.pb), ctypes.byref(sides[0]), ctypes.byref(sides[1]),
                       ctypes.byref(opt), ctypes.byref(err))
    if s != _lib.LP_OK:
        raise _named("audit", err)
    try:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "audit.json")
            if L.lp_audit_write_json(h, path.encode(), ctypes.byref(err)) != _lib.LP_OK:
                raise _lib.fail("audit", err)
            with open(path) as f:
                out = json.load(f)
        md = ctypes.c_void_p()
        if L.lp_audit_markdown(ctypes.byref(md), h, ctypes.byref(err)) != _lib.LP_OK:
            raise _lib.fail("audit", err)
        out["report"] = ctypes.string_at(md).decode()
        _lib.libc().free(md)
    finally:
        L.lp_audit_free(h)
    return out
