"""lpcert._inputs: NumPy arrays, torch tensors and file specs ("F.safetensors:tensor", "F.npy") to
the arrays of an lp_problem, with the rules and one-line messages of `lpcert ref` (core/bind.c):
logits [B, T, V] or [T, V] in f64/f32/f16/bf16, labels [B, T] (or [T]) int64/int32, mask of the
labels' shape, bool/uint8/int64/int32 of 0 and 1. Logits are used in place (zero copy); they must
be C-contiguous."""
import json
import os
import struct

import numpy as np

from . import _lib

_NP_OF = {0: np.float64, 1: np.float32, 2: np.float16, 3: np.uint16}
_ST_DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
          "U8": "|u1", "BOOL": "|b1", "U16": "<u2", "I16": "<i2", "I8": "|i1"}


def is_torch(x):
    t = type(x)
    return t.__module__.startswith("torch") and t.__name__ in ("Tensor", "Parameter")


def dtype_name(dt, torch_bf16=False):
    """The CLI's name of a dtype (F32, I64, BOOL, U16...)."""
    if torch_bf16:
        return "BF16"
    dt = np.dtype(dt)
    if dt.kind == "b":
        return "BOOL"
    if dt.kind in "fiu":
        return {"f": "F", "i": "I", "u": "U"}[dt.kind] + str(8 * dt.itemsize)
    return str(dt)


def shape_str(shape):
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


class InputError(ValueError):
    pass


def read_safetensors(path, name):
    """Tensor `name` of a safetensors file as a read-only NumPy array (a mapping)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise InputError("%s: not a safetensors file (shorter than 8 bytes)" % path)
        (n,) = struct.unpack("<Q", head)
        if n > os.path.getsize(path) - 8:
            raise InputError("%s: not a safetensors file (header length %d)" % (path, n))
        try:
            header = json.loads(f.read(n))
        except ValueError:
            raise InputError("%s: not a safetensors file (header is not JSON)" % path) from None
    if name is None:
        names = [k for k in header if k != "__metadata__"]
        if len(names) != 1:
            raise InputError("%s: holds %d tensors; name one as %s:TENSOR" % (path, len(names), path))
        name = names[0]
    if name not in header or name == "__metadata__":
        raise InputError("%s: no tensor '%s'" % (path, name))
    e = header[name]
    if e["dtype"] not in _ST_DT:
        raise InputError("%s: tensor '%s' has dtype %s" % (path, name, e["dtype"]))
    a, b = e["data_offsets"]
    dt = np.dtype(_ST_DT[e["dtype"]])
    shape = tuple(e["shape"])
    arr = np.memmap(path, dtype=dt, mode="r", offset=8 + n + a, shape=(b - a) // dt.itemsize)
    return arr.reshape(shape), e["dtype"] == "BF16"


def load_spec(spec):
    """(array, is_bf16) of "F.npy" or "F.safetensors[:tensor]" (the CLI's F[:tensor])."""
    path, name = spec, None
    if not os.path.exists(spec) and ":" in spec:
        path, name = spec.rsplit(":", 1)
    if not os.path.exists(path):
        raise InputError("%s: no such file" % path)
    if path.endswith(".npy"):
        return np.load(path, mmap_mode="r"), False
    return read_safetensors(path, name)


class Tensor:
    """An input as a NumPy array plus what it was: torch (and its device), bf16 bit patterns."""

    def __init__(self, arr, torch=False, bf16=False, what=""):
        self.arr, self.torch, self.bf16, self.what = arr, torch, bf16, what


def as_array(x, what, contiguous=True):
    """x (NumPy, torch, list, or a file spec) as a Tensor; torch CUDA tensors are copied to the host."""
    if isinstance(x, (str, os.PathLike)):
        arr, bf16 = load_spec(os.fspath(x))
        return Tensor(arr, False, bf16, what)
    if is_torch(x):
        import torch
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if contiguous and not t.is_contiguous():
            raise InputError("%s: the tensor is not contiguous (strides %s); pass x.contiguous()"
                             % (what, shape_str(t.stride())))
        if t.dtype == torch.bfloat16:
            return Tensor(t.view(torch.int16).numpy().view(np.uint16), True, True, what)
        if t.dtype == torch.bool:
            return Tensor(t.numpy(), True, False, what)
        try:
            return Tensor(t.numpy(), True, False, what)
        except TypeError:
            raise InputError("%s: dtype %s is not supported" % (what, t.dtype)) from None
    arr = np.asarray(x)
    if contiguous and not arr.flags.c_contiguous:
        raise InputError("%s: the array is not C-contiguous (strides %s); pass "
                         "np.ascontiguousarray(x)" % (what, shape_str(arr.strides)))
    if arr.dtype.byteorder == ">":
        raise InputError("%s: big-endian dtype %s; pass x.astype(x.dtype.newbyteorder('<'))"
                         % (what, arr.dtype))
    return Tensor(arr, False, False, what)


def logits_format(t, dtype):
    """The lp_format of logits t (dtype: "bf16" etc. as --dtype, or None)."""
    a = t.arr
    want = None
    if dtype is not None:
        if dtype not in _lib.FORMAT_NAMES:
            raise InputError("dtype: '%s' is not one of f64, f32, f16, bf16" % dtype)
        want = _lib.FORMAT_NAMES.index(dtype)
    name = dtype_name(a.dtype, t.bf16)
    if t.bf16:
        fmt = _lib.BF16
    elif a.dtype == np.uint16:
        if want != _lib.BF16:
            raise InputError("%s: '<u2' logits are read only as bf16 bit patterns: pass "
                             "dtype='bf16'" % t.what)
        fmt = _lib.BF16
    elif a.dtype in (np.float64, np.float32, np.float16):
        fmt = {np.dtype(np.float64): 0, np.dtype(np.float32): 1, np.dtype(np.float16): 2}[a.dtype]
    else:
        raise InputError("%s: logits dtype %s is not F64, F32, F16 or BF16" % (t.what, name))
    if want is not None and want != fmt:
        raise InputError("%s: logits are %s but dtype says %s" % (t.what, name, dtype))
    return fmt


class Problem:
    """An lp_problem over arrays kept alive here."""

    def __init__(self, logits, labels, mask=None, shift="next", ignore_index=-100, temperature=1.0,
                 empty_mean="nan", dtype=None):
        L = as_array(logits, "logits")
        Y = as_array(labels, "labels", contiguous=False)
        M = as_array(mask, "mask", contiguous=False) if mask is not None else None
        self.torch = L.torch
        if shift not in ("next", "none"):
            raise InputError("shift: '%s' is not next or none" % (shift,))
        if empty_mean not in ("nan", "zero"):
            raise InputError("empty_mean: '%s' is not nan or zero" % (empty_mean,))
        try:
            temperature = float(temperature)
        except (TypeError, ValueError):
            raise InputError("temperature: '%s' is not a positive finite number" % (temperature,)) from None
        if not (0 < temperature < float("inf")):
            raise InputError("temperature: '%s' is not a positive finite number" % (temperature,))
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise InputError("ignore_index: '%s' is not an integer" % (ignore_index,))
        self.fmt = logits_format(L, dtype)
        la = L.arr
        if la.ndim == 3:
            B, T, V = la.shape
        elif la.ndim == 2:
            (T, V), B = la.shape, 1
        else:
            raise InputError("%s: logits have %d dimensions; expected [B, T, V] or [T, V]"
                             % (L.what, la.ndim))
        ya = Y.arr
        want = (B, T) if la.ndim == 3 else (T,)
        if ya.shape != want:
            raise InputError("%s: labels shape does not match logits [B=%d, T=%d, V=%d]: labels are "
                             "%s, expected %s" % (Y.what, B, T, V, shape_str(ya.shape), shape_str(want)))
        if ya.dtype == np.int64:
            itype = 0
        elif ya.dtype == np.int32:
            itype = 1
        else:
            raise InputError("%s: labels dtype %s is not I64 or I32" % (Y.what, dtype_name(ya.dtype, Y.bf16)))
        ya = np.ascontiguousarray(ya)
        ma = None
        if M is not None:
            m = M.arr
            if m.shape != ya.shape:
                raise InputError("%s: mask shape does not match labels: mask %s, labels %s"
                                 % (M.what, shape_str(m.shape), shape_str(ya.shape)))
            if M.bf16 or not (m.dtype == np.bool_ or m.dtype in (np.uint8, np.int64, np.int32)):
                raise InputError("%s: mask dtype %s is not U8, BOOL, I64 or I32"
                                 % (M.what, dtype_name(m.dtype, M.bf16)))
            bad = np.flatnonzero((m.reshape(-1) != 0) & (m.reshape(-1) != 1))
            if bad.size:
                i = int(bad[0])
                where = "b=%d,t=%d" % divmod(i, T) if m.ndim == 2 else "t=%d" % i
                raise InputError("%s: mask[%s] is %d, not 0 or 1" % (M.what, where, int(m.reshape(-1)[i])))
            ma = np.ascontiguousarray(m, dtype=np.uint8)
        self.L, self.la, self.ya, self.ma = L, la, ya, ma
        self.B, self.T, self.V = int(B), int(T), int(V)
        self.Ts = self.T - 1 if shift == "next" else self.T
        self.ndim = la.ndim
        self.shift, self.ignore_index, self.temperature, self.empty_mean = \
            shift, int(ignore_index), temperature, empty_mean
        pb = _lib.lp_problem()
        pb.shape = _lib.lp_shape(self.B, self.T, self.V)
        pb.fmt = self.fmt
        pb.logits = la.ctypes.data if la.size else None
        pb.label_type = itype
        pb.labels = ya.ctypes.data if ya.size else None
        pb.mask = ma.ctypes.data if ma is not None and ma.size else None
        pb.shift = 0 if shift == "next" else 1
        pb.ignore_index = self.ignore_index
        pb.temperature = temperature
        pb.empty_mean = 0 if empty_mean == "nan" else 1
        self.pb = pb
