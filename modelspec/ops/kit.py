"""Source-text building blocks for the op rules (and the emitters that reuse them).

The rules of an op return Python source; these helpers write the pieces they
share -- safe literals, keyword calls, PyTorch's default initialisers -- so that
no rule pastes attribute text into code unquoted.  They live with the ops
(below every backend), so an op never imports a backend to write its code.
"""

from __future__ import annotations

from typing import Any, Sequence


def q(text: str) -> str:
    """A double-quoted Python string literal for ``text`` (repr() when it needs escapes)."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def literal(value: Any) -> str:
    """Python source for a plain attribute value: numbers, bools, None, strings, tuples.

    Raises ValueError for anything else (an attribute schema admits nothing else).
    """
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return q(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"float({q(repr(value))})"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise ValueError(f"cannot write {type(value).__name__} {value!r} as a literal")


def shape_lit(shape: Sequence[int]) -> str:
    return literal(tuple(int(d) for d in shape))


def uniform(fan_in: int) -> str:
    """PyTorch's default for weights (kaiming_uniform, a=sqrt(5)) and biases: U(+-1/sqrt(fan_in)).

    ``{uniform}`` is the JAX emitter's U(-1, 1) array of the parameter's shape.
    """
    return f"{{uniform}} / math.sqrt({max(int(fan_in), 1)})"


def torch_default(shapes: dict[str, tuple[int, ...]], fan_in: int) -> dict[str, str]:
    """Every parameter uniform in +-1/sqrt(fan_in), as PyTorch's dense, conv and recurrent layers do."""
    return {k: uniform(fan_in) for k in shapes}


def ones(shape: Sequence[int]) -> str:
    return f"jnp.ones({shape_lit(shape)}, jnp.float32)"


def zeros(shape: Sequence[int], dtype: str = "jnp.float32") -> str:
    return f"jnp.zeros({shape_lit(shape)}, {dtype})"


#: XLA:CPU's convolutions (YNNPACK) tile output channels by 16 floats; see `lane_channels`.
LANE = 16


def lane_channels(c: int) -> int:
    """The output channels the JAX rules give a dense 2-d convolution of ``c`` channels.

    XLA:CPU's convolution is slow when the output channels are not a multiple of 8 (one
    core, batch 16: 121 channels take 1.5x the time of 128 and 250 1.3x that of 256), so
    such a convolution gets zero filters up to the next multiple of `LANE` and its result
    is cut back to ``c`` (``_conv(..., out=c)``).  The zero filters add exact zeros to
    nothing that is kept, so the values are unchanged.  Only when they cost at most a
    tenth more work: 36 -> 48 or 100 -> 112 measured slower (`bench/bench_conv_pad.py`).
    """
    padded = next_lane(c)
    return padded if c % 8 and padded - c <= c // 10 else c


def next_lane(c: int) -> int:
    """``c`` rounded up to a multiple of `LANE`."""
    return -(-c // LANE) * LANE


def call(fn: str, *args: str, **kwargs: Any) -> str:
    """``fn(arg, ..., name=literal, ...)``; keyword values are literals unless given as
    `Code` (already source)."""
    parts = list(args)
    for k, v in kwargs.items():
        parts.append(f"{k}={v.src if isinstance(v, Code) else literal(v)}")
    return f"{fn}({', '.join(parts)})"


class Code:
    """Marks a keyword value of `call` as source text rather than a literal."""

    def __init__(self, src: str) -> None:
        self.src = src


def changed(attrs: Any, defaults: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """The attributes named in ``defaults`` (name, default) whose value is not the default,
    in that order: the keyword arguments a call has to spell out."""
    return {k: getattr(attrs, k) for k, default in defaults if getattr(attrs, k) != default}


def keywords(kw: dict[str, Any]) -> str:
    """``, name=literal`` for each item: keyword arguments after a call's other arguments."""
    return "".join(f", {k}={literal(v)}" for k, v in kw.items())


#: `JaxCtx.layout` values: the IR's (and Torch's) [B, C, *spatial], and [B, *spatial, C]
CHANNELS_FIRST, CHANNELS_LAST = "channels_first", "channels_last"


def spatial_axes(rank: int, layout: str) -> tuple[int, ...]:
    """The spatial axes of a rank-``rank`` value ``[B, C, *spatial]`` in ``layout``."""
    return tuple(range(1, rank - 1)) if layout == CHANNELS_LAST else tuple(range(2, rank))
