"""Number bounds: the sizes a spec may ask for, and how to report what it implies.

Python integers never overflow, but everything after the front end does:
torch and jax index with int64, and a layer of 10**12 features is a typo, not a
model.  So integers that reach the IR are bounded here (an error), and sizes that
would need more memory than any machine has get a warning that says how much.
"""

from __future__ import annotations

from typing import Any, Iterator

#: the largest integer an attribute, a dim or a tensor size may have (int64)
MAX_INT = 2**63 - 1
#: the most steps `time.steps`, `time.idle` or a delay may ask for
MAX_STEPS = 1_000_000
#: elements one tensor (a weight, or a node's output per sample) may have: 2**40 is 4 TiB as
#: float32, more than any machine holds and ten times the largest embedding tables in use
MAX_TENSOR = 2**40
#: elements of one node's parameters, or of its output per sample, above which MS026 warns
WARN_ELEMENTS = 2**31
#: elements of the whole model's parameters above which MS026 warns
WARN_TOTAL = 2**33
#: bytes per element assumed for the warnings (float32)
BYTES = 4


def too_big(value: Any) -> bool:
    """An integer (not a bool) outside int64."""
    return type(value) is int and not -MAX_INT - 1 <= value <= MAX_INT


def big_ints(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], int]]:
    """(path, value) of every integer outside int64 inside plain data."""
    if too_big(value):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            yield from big_ints(v, path + (k,))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from big_ints(v, path + (k,))


def fmt_int(n: int) -> str:
    """An integer for a message: digits with separators, or a power of ten when huge."""
    if abs(n) < 10**21:
        return f"{n:,}"
    return f"about {'-' if n < 0 else ''}10**{len(str(abs(n))) - 1}"


def fmt_bytes(n: int) -> str:
    """A byte count in the largest binary unit that keeps it above 1 (``1.5 TiB``)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:,.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1024
    return f"{n} B"  # unreachable
