"""safetensors.torch's load_file and save_file, for the stand-in package (see __init__.py)."""
import json
import struct

import torch

from . import read

_TO_TORCH = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
             "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8,
             "BOOL": torch.bool}
_FROM_TORCH = {v: k for k, v in _TO_TORCH.items()}


def load_file(path, device="cpu"):
    header, _, data = read(path)
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        buf = bytearray(data[a:b])
        dt = _TO_TORCH[e["dtype"]]
        if b > a:
            t = torch.frombuffer(buf, dtype=torch.uint8).view(dt)
        else:
            t = torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone().to(device)
    return out


def save_file(tensors, path, metadata=None):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _FROM_TORCH[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = dict(metadata)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
