"""lpcert._lib: loading liblpcert.so and the C structs of include/lpcert.h, lpcert_check.h and
lpcert_plugin.h as ctypes types (field for field; the C headers are the reference)."""
import ctypes
import ctypes.util
import os
import sys

c_int64, c_int32, c_uint32, c_double = ctypes.c_int64, ctypes.c_int32, ctypes.c_uint32, ctypes.c_double
c_void_p, c_char_p, c_size_t, c_int = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int

F64, F32, F16, BF16 = 0, 1, 2, 3
FORMAT_NAMES = ("f64", "f32", "f16", "bf16")
LP_OK, LP_ERR_USAGE, LP_ERR_INPUT, LP_ERR_IO, LP_ERR_NOMEM, LP_ERR_INTERNAL = range(6)
LP_REF_DD = 1 << 4


class lp_error(ctypes.Structure):
    _fields_ = [("status", c_int), ("msg", ctypes.c_char * 256)]


class lp_shape(ctypes.Structure):
    _fields_ = [("B", c_int64), ("T", c_int64), ("V", c_int64)]


class lp_sampling(ctypes.Structure):
    _fields_ = [("softcap", c_double), ("top_k", c_int64), ("top_p", c_double), ("min_p", c_double)]


class lp_problem(ctypes.Structure):
    _fields_ = [("shape", lp_shape), ("fmt", c_int), ("logits", c_void_p), ("label_type", c_int),
                ("labels", c_void_p), ("mask", c_void_p), ("shift", c_int),
                ("ignore_index", c_int64), ("temperature", c_double), ("empty_mean", c_int),
                ("sampling", lp_sampling)]


class lp_dd(ctypes.Structure):
    _fields_ = [("hi", c_double), ("lo", c_double)]


class lp_value(ctypes.Structure):
    _fields_ = [("f64", c_double), ("f32", ctypes.c_float), ("f16", ctypes.c_uint16),
                ("bf16", ctypes.c_uint16), ("dd", lp_dd)]


class lp_ref_stats(ctypes.Structure):
    _fields_ = [("tokens", c_int64), ("exact", c_int64), ("retries", c_int64),
                ("max_prec", ctypes.c_long), ("fast", c_int64), ("fallback", c_int64),
                ("seq_fallback", c_int64)]


class lp_ref_result(ctypes.Structure):
    _fields_ = [("B", c_int64), ("Ts", c_int64), ("logp", ctypes.POINTER(lp_value)),
                ("counted", ctypes.POINTER(ctypes.c_uint8)), ("sum", ctypes.POINTER(lp_value)),
                ("mean", ctypes.POINTER(lp_value)), ("count", ctypes.POINTER(c_int64)),
                ("token_mean", lp_value), ("stats", lp_ref_stats)]


PROGRESS_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int64, c_int64)


class lp_ref_options(ctypes.Structure):
    _fields_ = [("threads", c_int), ("progress", PROGRESS_FN), ("user", c_void_p), ("slow", c_int),
                ("formats", ctypes.c_uint)]


class lp_check_options(ctypes.Structure):
    _fields_ = [("max_ulp", c_double * 3), ("max_abs", c_double * 3), ("baseline", c_char_p),
                ("factor", c_double), ("masking", c_int), ("empty_mean", c_int), ("threads", c_int),
                ("no_default_bound", c_int)]


class lp_candidate(ctypes.Structure):
    _fields_ = [("fmt", c_int), ("logp", c_void_p), ("sum", c_void_p), ("mean", c_void_p)]


class lp_check_group(ctypes.Structure):
    _fields_ = [("cls", c_char_p), ("output", c_int), ("format", c_int), ("formats", ctypes.c_uint),
                ("n", c_int64), ("correctly_rounded", c_int64), ("max_ulp", c_double),
                ("max_abs", c_double), ("median_ulp", c_double), ("class_mismatches", c_int64),
                ("nan_leaks", c_int64), ("over_bound", c_int64), ("base_max_ulp", c_double),
                ("failed", c_int)]


class lp_certify_options(ctypes.Structure):
    _fields_ = [("plugin", c_char_p), ("kernel", c_char_p), ("suite", c_char_p), ("cases", c_char_p),
                ("seconds", c_double), ("seed", ctypes.c_uint64), ("batch_invariance", c_int),
                ("progress", PROGRESS_FN), ("user", c_void_p)]


# ---- lpcert_plugin.h (ABI version 2: version 1 plus the optional backward entry) ----
PLUGIN_ABI_VERSION = 2
OUT_LOGP, OUT_SUM, OUT_MEAN = 1, 2, 4
CAP_MASK, CAP_IGNORE_INDEX, CAP_SHIFT_NONE, CAP_TEMPERATURE = 1, 2, 4, 8
CAP_BACKWARD = 16


class lp_plugin_problem(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("abi_version", c_uint32), ("B", c_int64), ("T", c_int64),
                ("V", c_int64), ("Ts", c_int64), ("format", c_int32), ("shift", c_int32),
                ("logits", c_void_p), ("labels", c_void_p), ("mask", c_void_p),
                ("ignore_index", c_int64), ("temperature", c_double), ("empty_mean", c_int32),
                ("reserved", c_int32)]


class lp_plugin_outputs(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("reserved", c_uint32), ("logp", c_void_p),
                ("sum", c_void_p), ("mean", c_void_p), ("logp_format", c_int32),
                ("sum_format", c_int32), ("mean_format", c_int32), ("reserved2", c_int32)]


RUN_FN = ctypes.CFUNCTYPE(c_int, c_void_p, ctypes.POINTER(lp_plugin_problem),
                          ctypes.POINTER(lp_plugin_outputs), ctypes.c_void_p, c_size_t)


class lp_plugin_grad(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("reduction", c_int32), ("grad", c_void_p),
                ("grad_format", c_int32), ("reserved", c_int32)]


BACKWARD_FN = ctypes.CFUNCTYPE(c_int, c_void_p, ctypes.POINTER(lp_plugin_problem),
                               ctypes.POINTER(lp_plugin_grad), ctypes.c_void_p, c_size_t)


class lp_plugin(ctypes.Structure):
    _fields_ = [("abi_version", c_uint32), ("struct_size", c_uint32), ("name", c_char_p),
                ("description", c_char_p), ("formats", c_uint32), ("outputs", c_uint32),
                ("logp_format", c_int32), ("sum_format", c_int32), ("mean_format", c_int32),
                ("caps", c_uint32), ("run", RUN_FN), ("state", c_void_p)]


class lp_plugin_v2(ctypes.Structure):
    """Version 2: lp_plugin followed by the backward entry (used only with CAP_BACKWARD)."""
    _fields_ = [("base", lp_plugin), ("backward", BACKWARD_FN), ("grad_format", c_int32),
                ("reductions", c_uint32)]


def _candidates():
    """The places looked at for liblpcert.so, in order, with where each comes from."""
    out = []
    env = os.environ.get("LPCERT_LIBRARY")
    if env:
        return [(env, "LPCERT_LIBRARY")]
    pre = os.environ.get("LPCERT_PREFIX")
    if pre:
        out.append((os.path.join(pre, "lib", "liblpcert.so"), "LPCERT_PREFIX"))
    for p in (os.path.expanduser("~/.local"), sys.prefix, "/usr/local"):
        out.append((os.path.join(p, "lib", "liblpcert.so"), "prefix " + p))
    found = ctypes.util.find_library("lpcert")
    if found:
        out.append((found, "the system library path"))
    return out


_LIB = None


def lib():
    """liblpcert, loaded once. OSError with every place tried when it is nowhere."""
    global _LIB
    if _LIB is not None:
        return _LIB
    tried = []
    for path, why in _candidates():
        if why != "the system library path" and not os.path.exists(path):
            tried.append("%s (%s): no such file" % (path, why))
            continue
        try:
            L = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s): %s" % (path, why, e))
            continue
        _declare(L)
        L._lpcert_path = path
        _LIB = L
        return L
    raise OSError("lpcert: liblpcert.so not found; tried " + "; ".join(tried) +
                  ". Build and install the C library (./test or ./run install it into ~/.local; "
                  "or cmake --install build --prefix PREFIX and set LPCERT_PREFIX=PREFIX), or set "
                  "LPCERT_LIBRARY=/path/to/liblpcert.so")


def _declare(L):
    P = ctypes.POINTER
    sig = {
        "lp_ref_compute_opts": (c_int, [P(lp_ref_result), P(lp_problem), P(lp_ref_options), P(lp_error)]),
        "lp_ref_result_free": (None, [P(lp_ref_result)]),
        "lp_problem_check": (c_int, [P(lp_problem), P(lp_error)]),
        "lp_check_new": (c_int, [P(c_void_p), P(lp_check_options), P(lp_error)]),
        "lp_check_free": (None, [c_void_p]),
        "lp_check_problem": (c_int, [c_void_p, c_char_p, c_char_p, P(lp_problem), c_void_p,
                                     P(lp_candidate), P(lp_error)]),
        "lp_check_one": (c_int, [c_void_p, c_char_p, c_char_p, P(lp_problem), P(lp_candidate),
                                 P(lp_error)]),
        "lp_check_failed": (c_int, [c_void_p]),
        "lp_check_write_table": (None, [c_void_p, c_void_p]),
        "lp_check_write_json": (c_int, [c_void_p, c_char_p, P(lp_error)]),
        "lp_check_write_certificate": (c_int, [c_void_p, c_char_p, P(lp_error)]),
        "lp_check_group_count": (c_size_t, [c_void_p]),
        "lp_check_group_get": (c_int, [c_void_p, c_size_t, P(lp_check_group), P(lp_error)]),
        "lp_check_values": (c_int64, [c_void_p]),
        "lp_check_certify": (c_int, [c_void_p, P(lp_certify_options), P(lp_error)]),
        "lp_check_certify_kernel": (c_int, [c_void_p, P(lp_plugin), P(lp_certify_options), P(lp_error)]),
    }
    for name, (res, args) in sig.items():
        try:
            f = getattr(L, name)
        except AttributeError:
            if name == "lp_check_certify_kernel":   # an older library: certify() says so
                continue
            if name == "lp_check_one":              # an older library: check() uses lp_check_problem
                continue
            raise
        f.restype = res
        f.argtypes = args


_LIBC = None


def libc():
    global _LIBC
    if _LIBC is None:
        C = ctypes.CDLL(None)
        C.open_memstream.restype = c_void_p
        C.open_memstream.argtypes = [ctypes.POINTER(c_void_p), ctypes.POINTER(c_size_t)]
        C.fclose.argtypes = [c_void_p]
        C.free.argtypes = [c_void_p]
        _LIBC = C
    return _LIBC


def fail(cmd, err):
    """The exception for an lp_error: the CLI's line `lpcert CMD: MSG`."""
    msg = "lpcert %s: %s" % (cmd, err.msg.decode("utf-8", "replace"))
    if err.status == LP_ERR_NOMEM:
        return MemoryError(msg)
    if err.status == LP_ERR_INTERNAL:
        return RuntimeError(msg)
    return ValueError(msg)
