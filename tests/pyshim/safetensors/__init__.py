"""A stand-in for the `safetensors` package (PyPI), used by tests/e2e_pytorch.py only when the real
package is not installed (Debian 12 packages torch but not safetensors). It implements the calls
README.md's PyTorch route makes, from the file format (an 8-byte little-endian header length, a
JSON header of name -> {dtype, shape, data_offsets} and "__metadata__", then the data); the real
package is used instead whenever `import safetensors` finds it."""
import json
import struct

_DTYPES = ("F64", "F32", "F16", "BF16", "I64", "I32", "U8", "BOOL")


def read(path):
    """-> (header dict without __metadata__, metadata dict, data bytes)"""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None) or {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError("%s: tensor %s: dtype %s not handled here" % (path, name, e["dtype"]))
    return header, meta, raw[8 + n:]


class safe_open:  # noqa: N801 (the real package's name)
    def __init__(self, path, framework="pt", device="cpu"):
        if framework not in ("pt", "torch"):
            raise ValueError("this stand-in handles framework='pt' only")
        self._header, self._meta, self._data = read(path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def metadata(self):
        return dict(self._meta)

    def keys(self):
        return list(self._header)
