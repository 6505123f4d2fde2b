"""The op contract: one class per op holds everything the compiler knows of it.

An op defines, in one place, its attribute schema (`attrs.Attrs`), its
shape rule, its parameter and buffer rule, its cost rule (MACs per step) and
the code each backend emits for it (the `TorchRules` and `JaxRules` mix-ins).
Adding an op touches one module; plugins subclass `Op` and the mix-ins of the
backends they support, and call `register` exactly like the built-ins.

Shapes seen by the rules are *per step*: in a time model the time axis is
handled by the compiler, never by an op.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, Sequence

from ..exceptions import ModelspecError
from ..shapes.dims import Dim, Shape, concrete, fmt_shape
from .attrs import Attrs


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


class TorchCtx(Protocol):
    """What a Torch rule sees of the code around its node (the Torch emitter's view).

    ``ins``/``out``: the node's per-step shapes; ``dt``: the time step in ms (None
    without ``time:``); ``training``: the module's training flag as an expression.
    """

    path: str
    ins: list[Shape]
    out: Shape
    dt: float | None
    training: str

    def dim(self, d: Dim) -> str:
        """A runtime expression of an IR dim (symbols are bound from the inputs)."""
        ...

    def shape(self, s: Shape) -> str:
        """A runtime tuple expression of an IR shape."""
        ...

    def prev(self) -> str:
        """The node's own value one step back (zeros at t = 0); stateful ops only."""
        ...

    def stmt(self, code: str) -> None:
        """Lines that must run before the node's assignment."""
        ...

    def can_overwrite(self, i: int) -> bool:
        """Whether input ``i`` is a fresh temporary the op may update in place."""
        ...

    def fresh(self, hint: str) -> str:
        """A new local name, unique in the emitted function."""
        ...

    def lit(self, value: Any) -> str:
        """Python source of a plain attribute value."""
        ...


class JaxCtx(Protocol):
    """What a JAX rule sees of the code around its node (the JAX emitter's view).

    As `TorchCtx`, plus ``train`` (a Python bool at trace time), ``state`` (the
    node's buffers as expressions), ``key()`` (a PRNG key for this node and step,
    valid under ``train``), ``hoist()`` (a parameter-only expression computed
    once, outside the time loop) and ``layout`` (of the values the op reads and
    writes).  ``ins``/``out`` are always the IR's channels-first shapes.
    """

    path: str
    ins: list[Shape]
    out: Shape
    dt: float | None
    train: str
    state: dict[str, str]
    #: how values of rank 3 or more are laid out: ``"channels_first"`` ([B, C, *spatial], the
    #: IR's and Torch's layout) or ``"channels_last"`` ([B, *spatial, C]); the emitter picks
    #: one per model, and only picks channels-last where every op said it can (`JaxRules`)
    layout: str

    def dim(self, d: Dim) -> str: ...

    def shape(self, s: Shape) -> str: ...

    def prev(self) -> str: ...

    def key(self) -> str: ...

    def hoist(self, expr: str, hint: str = "w") -> str: ...

    def stmt(self, code: str) -> None: ...

    def fresh(self, hint: str) -> str: ...

    def lit(self, value: Any) -> str: ...


class Op:
    """Base class of all ops: the front-end rules and the facts the compiler asks of an op.

    Everything the compiler knows of an op is a class variable or method here, so
    no other module needs to know any op by name: its attribute schema, arity,
    shape, parameter, buffer and cost rules, whether it keeps state, which input
    holds integer indices, and whether it can serve as an edge adapter.  The code
    each backend emits comes from the backend mix-ins `TorchRules` and `JaxRules`:
    an op supports exactly the backends whose mix-in it derives from, and
    `register` checks that it provides what each of them needs.
    """

    #: the op's name in specs: the class's name unless the class sets another
    name: ClassVar[str]
    Attrs: ClassVar[type[Attrs]] = Attrs
    #: (fewest, most) inputs; ``None`` means unbounded.
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    #: the op keeps state across time steps (needs ``time:``).
    stateful: ClassVar[bool] = False
    #: short category used by docs and the summary ("dense", "conv", ...).
    category: ClassVar[str] = "other"
    doc: ClassVar[str] = ""
    #: values for the required attributes in `modelspec ops NAME`'s example (guessed from
    #: their types when left out); the tests check each example validates
    example: ClassVar[dict[str, Any]] = {}
    #: attributes that only the call reads, never the parameters: nodes that share one set of
    #: parameters (`share:`, `params_at:`) may differ in these and must agree in all others.
    #: Only attributes every backend's call rule reads from the node itself belong here.
    call_attrs: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

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

    # ---- facts other passes ask ------------------------------------------
    def index_inputs(self, a: Any) -> dict[int, int]:
        """Inputs that carry integer indices: input position -> exclusive upper bound.

        Random test inputs and the training data checks draw indices below it.
        """
        return {}

    def channel_adapter(self, want: Shape) -> dict[str, Any] | None:
        """Attributes that make this op map axis 1 of a rank-``len(want)`` value to
        ``want[1]`` on an edge whose shapes differ, or None if it cannot.

        Only built-in ops are asked; exactly one must answer for each rank.
        """
        return None

    def resize_adapter(self, want: Shape) -> dict[str, Any] | None:
        """Attributes that make this op resize the spatial axes (2 onwards) of a
        rank-``len(want)`` value to ``want[2:]``, or None if it cannot."""
        return None

    def __repr__(self) -> str:
        return f"<op {self.name}>"


class TorchRules:
    """Mix-in of an op the Torch backend can emit.  All rules return *source text*.

    The generated module imports ``torch``, ``nn``, ``F`` (torch.nn.functional),
    ``Tensor``, ``math``, and defines ``Scope`` (a folder of submodules built from a
    ``{name: module}`` dict) and ``Params`` (a ``{name: tensor}`` dict of parameters).
    Write every string value with ``repr()`` or `kit.q` (never paste attribute text
    into code unquoted).
    """

    #: the output is a fresh tensor that the op's backward does not read, so its sole
    #: consumer may overwrite it in place (as torchvision's ReLU(inplace=True) does).
    fresh_output: ClassVar[bool] = False

    def torch_layer(self, a: Any, ins: Sequence[Shape], out: Shape) -> str | None:
        """An expression building the node's parameter holder in ``__init__``, e.g.
        ``"nn.Linear(784, 256)"``; its state_dict keys must equal ``params()`` and
        ``buffers()``.  Prefer a plain torch layer (PyTorch's names and default
        initialisation).  ``None`` when the op holds nothing; required when it does."""
        return None

    def torch_call(self, a: Any, args: list[str], m: str, ctx: TorchCtx) -> str:
        """The expression of the node's output at one step (required).

        ``args``: the inputs as local names, in input order; ``m``: the local bound
        to the holder (``""`` without one).  The expression is only ever assigned
        (``y = <expr>``), so it needs no outer parentheses.
        """
        raise NotImplementedError

    def torch_helpers(self, a: Any) -> dict[str, str]:
        """Module-level functions the code calls, name -> source; emitted once per
        file, sorted by name.  Names start with ``_``; two ops may share a helper
        only with identical source."""
        return {}


class JaxRules:
    """Mix-in of an op the JAX backend can emit.  All rules return *source text*.

    The generated module imports ``jax``, ``jnp``, ``lax``, ``np``, ``math`` and
    copies in the ``_helpers`` it calls (``_conv``, ``_linear``, ... from the JAX
    backend's library).  `modelspec.ops.kit` writes the common pieces.
    """

    def jax_init(self, a: Any, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        """Per parameter of ``params()``, an expression of its initial value (PyTorch's
        default distribution), in which ``{uniform}`` / ``{normal}`` stand for a
        U(-1, 1) / N(0, 1) array of the parameter's shape and ``{key}`` for a PRNG key
        of its own (e.g. ``kit.uniform(784)``).  Required when the op has params."""
        return {}

    def jax_init_state(self, a: Any, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        """The same for ``buffers()``; required when the op has buffers."""
        return {}

    def jax_call(self, a: Any, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """The expression of the node's output at one step (required).

        ``p`` maps local parameter names to expressions (``params["conv1.weight"]``).
        An op with buffers returns ``(y, (new buffer values, in buffers() order))``.
        """
        raise NotImplementedError

    def jax_helpers(self, a: Any) -> dict[str, Any]:
        """Extra ``_helper`` functions, name -> source (or the function itself)."""
        return {}

    def jax_channels_last(self, a: Any, ins: Sequence[Shape], out: Shape) -> bool:
        """Whether ``jax_call`` also handles ``ctx.layout == "channels_last"`` (values of
        rank 3 or more laid out ``[B, *spatial, C]``).  The emitter runs a time loop
        channels-last only if every node with such a value says yes; an op that ignores
        the layout must answer no (the default), an elementwise op may answer yes."""
        return False


#: backend name -> (its mix-in, the rule every op of it must define)
BACKEND_RULES: dict[str, tuple[type, str]] = {
    "torch": (TorchRules, "torch_call"),
    "jax": (JaxRules, "jax_call"),
}


def _overrides(cls: type, base: type, method: str) -> bool:
    return getattr(cls, method, None) is not getattr(base, method, None)


def contract_problems(cls: type) -> list[str]:
    """What ``cls`` lacks to be registered as an op (empty when it is complete).

    Checked once, at registration, so a plugin learns of a missing rule when it is
    loaded, with the op and the backend named, not from an AttributeError mid-build.
    """
    if not (isinstance(cls, type) and issubclass(cls, Op)):
        return [f"{getattr(cls, '__qualname__', cls)!s} is not a subclass of modelspec.ops.Op"]
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        return [f"op class {cls.__qualname__} needs a `name` that is an identifier, got {name!r}"]
    if not (isinstance(cls.Attrs, type) and issubclass(cls.Attrs, Attrs)):
        return [f"op `{name}`: `Attrs` must be a subclass of modelspec.ops.Attrs"]
    problems = []
    has_params = _overrides(cls, Op, "params")
    has_buffers = _overrides(cls, Op, "buffers")
    for backend, (mixin, required) in BACKEND_RULES.items():
        if not issubclass(cls, mixin):
            if any(k.startswith(f"{backend}_") for k in vars(cls)):
                problems.append(f"op `{name}` defines {backend}_* rules but does not derive from "
                                f"{mixin.__name__}, so the {backend} backend would not use them")
            continue
        if not _overrides(cls, mixin, required):
            problems.append(f"op `{name}` derives from {mixin.__name__} but has no `{required}`: "
                            f"the {backend} backend cannot emit it")
    if issubclass(cls, TorchRules) and (has_params or has_buffers) and not _overrides(cls, TorchRules, "torch_layer"):
        problems.append(f"op `{name}` has params() or buffers() but no `torch_layer`: "
                        "the torch backend cannot hold them")
    if issubclass(cls, JaxRules):
        if has_params and not _overrides(cls, JaxRules, "jax_init"):
            problems.append(f"op `{name}` has params() but no `jax_init`: the jax backend cannot initialise them")
        if has_buffers and not _overrides(cls, JaxRules, "jax_init_state"):
            problems.append(f"op `{name}` has buffers() but no `jax_init_state`: "
                            "the jax backend cannot initialise them")
    if issubclass(cls, TorchRules) and not isinstance(cls.fresh_output, bool):
        problems.append(f"op `{name}`: `fresh_output` must be a bool")
    return problems


def torch_rules(op: Op) -> TorchRules | None:
    """The op's Torch rules, or None when it does not support the Torch backend."""
    return op if isinstance(op, TorchRules) else None


def jax_rules(op: Op) -> JaxRules | None:
    """The op's JAX rules, or None when it does not support the JAX backend."""
    return op if isinstance(op, JaxRules) else None


def backends_of(op: Op) -> list[str]:
    """The backends an op can be emitted for."""
    return [b for b, (mixin, _) in BACKEND_RULES.items() if isinstance(op, mixin)]


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
