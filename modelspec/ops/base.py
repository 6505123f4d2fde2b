"""The op contract: one class per op holds everything the compiler knows of it.

An op defines, in one place, its attribute schema (a pydantic model), its
shape rule, its parameter and buffer rule, its cost rule (MACs per step) and
the code each backend emits for it.  Adding an op touches one module; plugins
subclass `Op` and call `register` exactly like the built-ins.

Shapes seen by the rules are *per step*: in a time model the time axis is
handled by the compiler, never by an op.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from pydantic import BaseModel, ConfigDict

from ..shapes.dims import Dim, Shape, concrete, fmt_shape


class Attrs(BaseModel):
    """Base of every op's attribute schema: unknown attributes are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ShapeError(Exception):
    """Raised by a shape rule; the checker adds the node path and position.

    ``code`` is MS050 (mismatch), MS051 (input count), MS052 (dimension
    conflict) or MS055 (empty dimension).
    """

    def __init__(self, message: str, code: str = "MS050", suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.suggestion = suggestion


class Op:
    """Base class of all ops.  Subclasses set the class variables and rules."""

    name: ClassVar[str]
    Attrs: ClassVar[type[Attrs]] = Attrs
    #: (fewest, most) inputs; ``None`` means unbounded.
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    #: the op keeps state across time steps (needs ``time:``).
    stateful: ClassVar[bool] = False
    #: short category used by docs and the summary ("dense", "conv", ...).
    category: ClassVar[str] = "other"
    doc: ClassVar[str] = ""

    # ---- front end -------------------------------------------------------
    def shape(self, a: Any, ins: Sequence[Shape]) -> Shape:
        """The output shape (per step) from the input shapes."""
        return tuple(ins[0])

    def params(self, a: Any, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        """Trainable parameters, in the order torch registers them."""
        return {}

    def buffers(self, a: Any, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        """Non-trainable state saved with the weights (BatchNorm running stats)."""
        return {}

    def macs(self, a: Any, ins: Sequence[Shape], out: Shape) -> Dim:
        """Multiply-accumulates per sample and step (batch dim excluded)."""
        return 0

    def __repr__(self) -> str:
        return f"<op {self.name}>"


# ---- helpers shared by the shape rules --------------------------------------

def need_rank(ins: Sequence[Shape], rank: int | tuple[int, ...], what: str, index: int = 0) -> Shape:
    """Input ``index`` must have one of the given ranks (batch dim included)."""
    ranks = (rank,) if isinstance(rank, int) else rank
    s = tuple(ins[index])
    if len(s) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"expects a rank-{want} input {what}, got {fmt_shape(s)} (rank {len(s)})")
    return s


def need_concrete(d: Dim, what: str) -> int:
    """A dim a parameter shape depends on must be a number, not a symbol."""
    if not concrete(d):
        raise ShapeError(f"needs a concrete {what} to size its parameters, got symbolic `{d}`")
    return int(d)  # type: ignore[arg-type]


def pair(v: int | Sequence[int], n: int = 2) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    t = tuple(v)
    return t if len(t) == n else (t[0],) * n


def numel(shape: Sequence[int]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total
