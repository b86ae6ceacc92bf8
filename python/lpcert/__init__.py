"""lpcert: exact log-probabilities and kernel verdicts from NumPy and PyTorch, over liblpcert.

    lpcert.ref(logits, labels)                 # the exact reference, as `lpcert ref` writes it
    lpcert.check(logits, labels, logp=..., sum=..., mean=...)   # -> Report, as `lpcert check`
    lpcert.certify(fn)                         # -> Report, as `lpcert certify --plugin`
    lpcert.audit(a, b, labels, logits_a=..., logits_b=...)      # -> dict, as `lpcert audit --json`
    lpcert.testing.assert_logps(fn, logits, labels)             # for pytest

The C library is found through LPCERT_LIBRARY (its path), LPCERT_PREFIX (an install prefix),
~/.local, sys.prefix, /usr/local, then the system's library path; lpcert.library_path() says which.
Semantics: docs/SPEC.md of lpcert. Bad input raises ValueError with the CLI's one-line message.
"""
from . import _lib
from ._api import Report, audit, certify, check, ref

__version__ = "0.1.0"
__all__ = ["ref", "check", "certify", "audit", "Report", "library_path", "testing"]


def library_path():
    """The liblpcert.so in use (loads it)."""
    return _lib.lib()._lpcert_path


from . import testing  # noqa: E402
