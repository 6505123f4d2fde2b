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

from ..exceptions import ModelspecError
from ..shapes.dims import Dim, Shape, concrete, fmt_shape


class Attrs(BaseModel):
    """Base of every op's attribute schema: unknown attributes are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ShapeError(ModelspecError):
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
    """Base class of all ops.  Subclasses set the class variables and rules.

    Torch backend (optional methods; the emitter looks them up by name, so a plugin
    op implements exactly the same ones).  All return *source text* for the
    generated module, which imports ``torch``, ``nn``, ``F`` (torch.nn.functional),
    ``Tensor``, ``math``, and defines ``Scope`` (a folder of submodules built from a
    ``{name: module}`` dict) and ``Params`` (a ``{name: tensor}`` dict of parameters):

    - ``torch_layer(a, ins, out) -> str | None``: an expression building the node's
      parameter holder in ``__init__``, e.g. ``"nn.Linear(784, 256)"``; its
      state_dict keys must equal ``params()`` and ``buffers()``.  Prefer a plain
      torch layer (PyTorch's names and default initialisation).  ``None`` (or no
      method) when the op holds nothing.
    - ``torch_call(a, args, m, ctx) -> str``: the expression of the node's output
      at one step.  ``args``: the inputs as local names, in input order; ``m``: the
      local bound to the holder (``""`` without one); ``ctx``: a
      `modelspec.backends.torch.TorchContext` (``ins``/``out`` shapes, ``dim()``
      and ``shape()`` for runtime sizes, ``training``, ``dt``, ``prev()`` for a
      stateful op's own value one step back, ``stmt()`` for lines that must run
      first, ``can_overwrite(i)`` whether input ``i`` may be updated in place).
      The expression is only ever assigned (``y = <expr>``), so it needs
      no outer parentheses.  Write every string value with ``repr()`` (never
      paste attribute text into code unquoted).
    - ``torch_helpers(a) -> dict[str, str]``: module-level functions the code
      calls, name -> source; emitted once per file, sorted by name.  Helper names
      start with ``_``; two ops may share a helper only with identical source.

    JAX backend (same idea; see `modelspec.backends.jax.context`).  The generated
    module imports ``jax``, ``jnp``, ``lax``, ``np``, ``math`` and copies in the
    ``_helpers`` it calls (``_conv``, ``_linear``, ... from ``backends/jax/lib_*``):

    - ``jax_init(a, ins, out) -> dict[str, str]``: per parameter of ``params()``, an
      expression of its initial value (PyTorch's default distribution), in which
      ``{uniform}`` / ``{normal}`` stand for a U(-1, 1) / N(0, 1) array of the
      parameter's shape and ``{key}`` for a PRNG key of its own (e.g.
      ``"{uniform} / math.sqrt(784)"``).  Needed when the op has params.
    - ``jax_init_state(a, ins, out) -> dict[str, str]``: the same for ``buffers()``.
    - ``jax_call(a, args, p, ctx) -> str``: the expression of the node's output at
      one step.  ``p`` maps local parameter names to expressions
      (``params["conv1.weight"]``); ``ctx`` is a ``JaxContext`` (``ins``/``out``,
      ``dim()``/``shape()``, ``train`` (a Python bool at trace time), ``dt``,
      ``prev()``, ``key()`` (a PRNG key for this node and step, valid under
      ``train``), ``state`` (the node's buffers), ``hoist()`` (a parameter-only
      expression computed once, outside the time loop), ``stmt()``, ``fresh()``).
      An op with buffers returns ``(y, (new buffer values, in buffers() order))``.
    - ``jax_helpers(a) -> dict[str, str]``: extra ``_helper`` functions, name ->
      source (or the function itself), as for Torch.
    """

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
