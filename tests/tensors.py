"""tests/tensors.py: write and read .npy and safetensors files with the standard library only,
for the end-to-end tests (the files a user's numpy / safetensors would write)."""
import json
import struct

# dtype name -> (struct code, npy descr, safetensors name)
DT = {
    "f64": ("d", "<f8", "F64"), "f32": ("f", "<f4", "F32"), "f16": ("e", "<f2", "F16"),
    "bf16": ("H", "<u2", "BF16"), "i64": ("q", "<i8", "I64"), "i32": ("i", "<i4", "I32"),
    "u8": ("B", "|u1", "U8"), "bool": ("?", "|b1", "BOOL"),
}


def f32_to_bf16_bits(x):
    """bf16 bit pattern of float x, RNE through f32 bits (x should be bf16-exact in tests)."""
    (u,) = struct.unpack("<I", struct.pack("<f", x))
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def pack(dtype, values):
    code = DT[dtype][0]
    if dtype == "bf16":
        values = [f32_to_bf16_bits(v) for v in values]
    return struct.pack("<%d%s" % (len(values), code), *values)


def write_npy(path, dtype, shape, values, descr=None):
    descr = descr or DT[dtype][1]
    shp = "(" + "".join("%d, " % d for d in shape).rstrip(" ") + ")" if len(shape) != 1 else "(%d,)" % shape[0]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shp)
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(pack(dtype, values))


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, values)."""
    header, blobs, off = {}, [], 0
    for name, dtype, shape, values in tensors:
        b = pack(dtype, values)
        header[name] = {"dtype": DT[dtype][2], "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    """-> ({name: (dtype, shape, raw bytes)}, metadata)"""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        out[name] = (e["dtype"], e["shape"], data[base + a:base + b])
    return out, meta


def bits(dtype_st, raw):
    """Unpack raw little-endian data as unsigned bit patterns."""
    size = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "U8": 1, "BOOL": 1}[dtype_st]
    code = {8: "Q", 4: "I", 2: "H", 1: "B"}[size]
    return list(struct.unpack("<%d%s" % (len(raw) // size, code), raw))
