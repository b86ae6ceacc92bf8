"""lpcert.testing: assertions for pytest."""
from ._api import check

__all__ = ["assert_logps"]


def assert_logps(fn_or_outputs, logits, labels, *, mask=None, shift="next", ignore_index=-100,
                 temperature=1.0, empty_mean="nan", max_ulp=None, max_abs=None, baseline=None,
                 factor=None, masking="spec", no_default_bound=False, dtype=None, threads=None):
    """Asserts that a kernel's outputs on (logits, labels) meet the bounds against the exact
    reference (lpcert.check; with no bound given, the default bound). fn_or_outputs: a callable
    fn(logits, labels, mask, shift, ignore_index, temperature) -> dict(logp=, sum=, mean=) (or a
    tuple), called here on the inputs as given, or such a dict of outputs. On failure an
    AssertionError whose message is the worst value with its repro, then the report's table.
    Returns the Report."""
    outs = fn_or_outputs
    if callable(fn_or_outputs):
        outs = fn_or_outputs(logits, labels, mask, shift, ignore_index, temperature)
    if isinstance(outs, (tuple, list)):
        outs = dict(zip(("logp", "sum", "mean"), outs))
    if not isinstance(outs, dict):
        raise TypeError("assert_logps: expected a callable or a dict logp=, sum=, mean=; got %s"
                        % type(outs).__name__)
    unknown = set(outs) - {"logp", "sum", "mean"}
    if unknown:
        raise TypeError("assert_logps: unknown outputs %s (logp, sum, mean)" % sorted(unknown))
    r = check(logits, labels, logp=outs.get("logp"), sum=outs.get("sum"), mean=outs.get("mean"),
              mask=mask, shift=shift, ignore_index=ignore_index, temperature=temperature,
              empty_mean=empty_mean, dtype=dtype, max_ulp=max_ulp, max_abs=max_abs,
              baseline=baseline, factor=factor, masking=masking,
              no_default_bound=no_default_bound, threads=threads)
    if not r.passed:
        raise AssertionError("lpcert: the outputs fail\n" + r.worst_text() + "\n\n" + str(r))
    return r

