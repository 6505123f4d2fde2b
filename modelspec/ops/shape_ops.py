"""Shape and arithmetic ops: Flatten, Reshape, Permute, Add, Mul, Concat,
Identity, Dropout, StochasticDepth and GaussianNoise.

Axes count the batch axis as 0, as in PyTorch; negative axes count from the
end.  None of these ops holds parameters and all count 0 MACs (elementwise or
pure data movement).
"""

from __future__ import annotations

from typing import ClassVar, Literal, Sequence, Union

from .attrs import Field, field_validator

from ..shapes.dims import Dim, Shape, add, concrete, floordiv, fmt_shape, mul, product
from .base import Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules
from .registry import register


def normalize_axis(axis: int, rank: int, shape: Shape, what: str = "axis") -> int:
    """``axis`` as a non-negative index into a rank-``rank`` shape, or a ShapeError."""
    if not -rank <= axis < rank:
        raise ShapeError(
            f"{what} {axis} is out of range for the rank-{rank} input {fmt_shape(shape)} "
            f"(valid: {-rank} .. {rank - 1})"
        )
    return axis % rank


def _elements(dims: Sequence[Dim]) -> str:
    return str(product(dims))


def _split(dims: Sequence[Dim]) -> tuple[int, list[Dim]]:
    """(product of the concrete dims, list of the symbolic ones)."""
    num, sym = 1, []
    for d in dims:
        if concrete(d):
            num *= d  # type: ignore[operator]
        else:
            sym.append(d)
    return num, sym


def _cancel(a: Sequence[Dim], b: Sequence[Dim]) -> tuple[list[Dim], list[Dim]]:
    """Drop the symbolic dims that occur in both (as a multiset)."""
    a, b = list(a), list(b)
    for d in list(a):
        if not concrete(d) and d in b:
            a.remove(d)
            b.remove(d)
    return a, b


# ---- attributes --------------------------------------------------------------

class FlattenAttrs(Attrs):
    start: int = Field(1, description="First axis flattened (0 is the batch axis); PyTorch's start_dim.")
    end: int = Field(-1, description="Last axis flattened, inclusive; PyTorch's end_dim.")


class ReshapeAttrs(Attrs):
    shape: tuple[Union[int, str], ...] = Field(
        min_length=1,
        description="The full target shape including the batch axis: ints, symbols such as `B`, "
        "and at most one -1 whose size is inferred.",
    )

    @field_validator("shape")
    @classmethod
    def _check(cls, v: tuple[Union[int, str], ...]) -> tuple[Union[int, str], ...]:
        out: list[Union[int, str]] = []
        for d in v:
            if isinstance(d, str):
                d = d.strip()
                if not d:
                    raise ValueError("an empty string is not a dimension")
                if d.lstrip("-").isdigit():
                    d = int(d)
            if isinstance(d, int) and d < 1 and d != -1:
                raise ValueError(f"dimension {d} must be positive, or -1 to infer it")
            out.append(d)
        if out.count(-1) > 1:
            raise ValueError("at most one dimension may be -1")
        return tuple(out)


class PermuteAttrs(Attrs):
    dims: tuple[int, ...] = Field(
        min_length=1, description="A permutation of all axes, the batch axis (0) included."
    )

    @field_validator("dims")
    @classmethod
    def _unique(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"dims {list(v)} repeat an axis")
        return v


class ConcatAttrs(Attrs):
    axis: int = Field(1, description="The axis joined along (0 is the batch axis).")


class DropoutAttrs(Attrs):
    p: float = Field(0.5, ge=0, lt=1, description="Probability of zeroing an element during training.")


class StochasticDepthAttrs(Attrs):
    p: float = Field(ge=0, le=1, description="Probability of dropping the input during training "
                     "(torchvision.ops.stochastic_depth's p).")
    mode: Literal["row", "batch"] = Field(
        "row", description="`row`: each sample is dropped on its own; `batch`: the whole batch at once."
    )


class GaussianNoiseAttrs(Attrs):
    std: float = Field(0.1, ge=0, description="Standard deviation of the noise added during training.")


class NoAttrs(Attrs):
    pass


# ---- ops ---------------------------------------------------------------------

@register
class Flatten(Op, TorchRules, JaxRules):
    """Merges axes ``start`` .. ``end`` into one (PyTorch's nn.Flatten)."""

    Attrs = FlattenAttrs
    category = "shape"
    doc = "Merges axes start..end (default: all but the batch axis) into one."

    def torch_call(self, a: FlattenAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        end = "" if a.end == -1 else f", {a.end}"
        return f"{args[0]}.flatten({a.start}{end})"

    def shape(self, a: FlattenAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        s = normalize_axis(a.start, len(x), x, "start")
        e = normalize_axis(a.end, len(x), x, "end")
        if s > e:
            raise ShapeError(f"start axis {a.start} comes after end axis {a.end} in {fmt_shape(x)}")
        return (*x[:s], product(x[s:e + 1]), *x[e + 1:])

    def jax_call(self, a: FlattenAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        x, rank = args[0], len(ctx.ins[0])
        s, e = a.start % rank, a.end % rank
        tail = f" + {x}.shape[{e + 1}:]" if e + 1 < rank else ""
        return f"{x}.reshape({x}.shape[:{s}] + (-1,){tail})"


@register
class Reshape(Op, TorchRules, JaxRules):
    """Reshape to a full target shape (PyTorch's ``x.reshape(shape)``).

    A -1 entry is inferred from the element count.  When both element counts
    are concrete (after cancelling symbols present on both sides, such as
    ``B``) they must match; otherwise the reshape is taken on trust.
    """

    Attrs = ReshapeAttrs
    category = "shape"
    doc = "Reshape to `shape` (batch axis included; one -1 may be inferred)."
    example = {"shape": ["B", -1]}

    def torch_call(self, a: ReshapeAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        dims = ", ".join(str(d) if isinstance(d, int) else ctx.dim(d) for d in a.shape)
        return f"{args[0]}.reshape({dims})"

    def shape(self, a: ReshapeAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        target = tuple(a.shape)
        known = [d for d in target if d != -1]
        rest_in, rest_known = _cancel(x, known)
        n_in, sym_in = _split(rest_in)
        n_known, sym_known = _split(rest_known)

        def mismatch() -> ShapeError:
            return ShapeError(
                f"cannot reshape {fmt_shape(x)} ({_elements(x)} elements) into {fmt_shape(target)}"
                + ("" if -1 in target else f" ({_elements(target)} elements)")
            )

        if -1 not in target:
            if not sym_in and not sym_known and n_in != n_known:
                raise mismatch()
            return target
        if sym_known:
            inferred: Dim = floordiv(product([*sym_in, n_in]), product([*sym_known, n_known]))
        elif n_in % n_known:
            if not sym_in:
                raise mismatch()
            inferred = floordiv(mul(product(sym_in), n_in), n_known)
        else:
            inferred = mul(product(sym_in), n_in // n_known)
        return tuple(inferred if d == -1 else d for d in target)

    def jax_call(self, a: ReshapeAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        dims = [str(d) if isinstance(d, int) else ctx.dim(d) for d in a.shape]
        return f"{args[0]}.reshape(({', '.join(dims)}{',' if len(dims) == 1 else ''}))"


@register
class Permute(Op, TorchRules, JaxRules):
    """Reorders all axes, the batch axis included (PyTorch's ``x.permute(dims)``)."""

    Attrs = PermuteAttrs
    category = "shape"
    doc = "Reorders the axes; `dims` is a permutation of all axes including the batch axis."
    example = {"dims": [0, 2, 1]}

    def torch_call(self, a: PermuteAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f"{args[0]}.permute({', '.join(str(d) for d in a.dims)})"

    def shape(self, a: PermuteAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        if len(a.dims) != len(x):
            raise ShapeError(
                f"dims {list(a.dims)} name {len(a.dims)} axes, but the input {fmt_shape(x)} has {len(x)}"
            )
        order = [normalize_axis(d, len(x), x, "dims entry") for d in a.dims]
        if len(set(order)) != len(order):
            raise ShapeError(f"dims {list(a.dims)} is not a permutation of the axes of {fmt_shape(x)}")
        return tuple(x[i] for i in order)

    def jax_call(self, a: PermuteAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return f"jnp.transpose({args[0]}, {ctx.lit(tuple(a.dims))})"


def broadcast(shapes: Sequence[Shape]) -> Shape:
    """PyTorch broadcasting: per axis (aligned at the end) sizes are equal or 1.

    Symbolic sizes must be identical (or the other side 1): ``B`` and 64 may
    be equal at run time, but the checker cannot prove it, so that is an error.
    """
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for i in range(rank):
        sizes: list[Dim] = []
        for s in shapes:
            j = i - rank + len(s)
            if j >= 0 and s[j] != 1 and s[j] not in sizes:
                sizes.append(s[j])
        if len(sizes) > 1:
            shown = " and ".join(fmt_shape(s) for s in shapes)
            raise ShapeError(
                f"expects inputs of the same shape (or size 1 to broadcast), got {shown}: "
                f"axis {i - rank} is {sizes[0]} in one and {sizes[1]} in another"
            )
        out.append(sizes[0] if sizes else 1)
    return tuple(out)


class _Broadcasting(Op, TorchRules, JaxRules):
    """An infix operator over two or more inputs, with PyTorch broadcasting of size-1 axes."""

    Attrs = NoAttrs
    arity = (2, None)
    category = "arithmetic"
    #: the Python operator joining the inputs, the same source in both backends
    infix: ClassVar[str]

    def shape(self, a: NoAttrs, ins: Sequence[Shape]) -> Shape:
        return broadcast(ins)

    def torch_call(self, a: NoAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f" {self.infix} ".join(args)

    def jax_call(self, a: NoAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return f" {self.infix} ".join(args)

    def jax_channels_last(self, a: NoAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        """Inputs of the output's rank broadcast alike in either layout; lower ranks would not."""
        return all(len(x) == len(out) for x in ins)


@register
class Add(_Broadcasting):
    """Elementwise sum of two or more inputs (with PyTorch broadcasting of size-1 axes)."""

    infix = "+"
    fresh_output = True
    doc = "Elementwise sum of 2+ inputs of equal shape (size-1 axes broadcast)."


@register
class Mul(_Broadcasting):
    """Elementwise product of two or more inputs (with PyTorch broadcasting of size-1 axes)."""

    infix = "*"
    doc = "Elementwise product of 2+ inputs of equal shape (size-1 axes broadcast)."


@register
class Concat(Op, TorchRules, JaxRules):
    """Joins two or more inputs along ``axis`` (PyTorch's ``torch.cat``)."""

    Attrs = ConcatAttrs
    arity = (2, None)
    category = "arithmetic"
    doc = "Joins 2+ inputs along `axis` (default 1, the channels); other axes must be equal."

    def torch_call(self, a: ConcatAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f"torch.cat([{', '.join(args)}], dim={a.axis})"

    def shape(self, a: ConcatAttrs, ins: Sequence[Shape]) -> Shape:
        first = tuple(ins[0])
        shown = ", ".join(fmt_shape(s) for s in ins)
        for s in ins[1:]:
            if len(s) != len(first):
                raise ShapeError(f"expects inputs of the same rank, got {shown}")
        ax = normalize_axis(a.axis, len(first), first)
        total: Dim = 0
        for s in ins:
            for i, (d, e) in enumerate(zip(first, s)):
                if i != ax and d != e:
                    raise ShapeError(
                        f"expects inputs equal on every axis but {a.axis}, got {shown}: axis {i} differs"
                    )
            total = add(total, s[ax])
        return (*first[:ax], total, *first[ax + 1:])

    def jax_call(self, a: ConcatAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return f"jnp.concatenate([{', '.join(args)}], axis={a.axis})"


@register
class Identity(Op, TorchRules, JaxRules):
    """Passes its input through unchanged."""

    Attrs = NoAttrs
    category = "shape"
    doc = "Passes its input through."

    def torch_call(self, a: NoAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return args[0]

    def jax_call(self, a: NoAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return args[0]

    def jax_channels_last(self, a: NoAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        return True


@register
class Dropout(Op, TorchRules, JaxRules):
    """Zeroes elements with probability ``p`` while training, scaling the rest by 1/(1-p)."""

    Attrs = DropoutAttrs
    category = "regularization"
    doc = "Randomly zeroes elements with probability p during training; identity in evaluation."

    def torch_call(self, a: DropoutAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f"F.dropout({args[0]}, {a.p!r}, {ctx.training})"

    def jax_channels_last(self, a: DropoutAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        """Elementwise: a mask of the input's own shape."""
        return True

    def jax_call(self, a: DropoutAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        if a.p == 0:
            return args[0]
        return f"_dropout({args[0]}, {a.p!r}, {ctx.key()}) if {ctx.train} else {args[0]}"


_TORCH_STOCHASTIC_DEPTH = '''
def _stochastic_depth(x, p, row, training):
    """torchvision.ops.stochastic_depth: zero whole samples (row) or the batch with probability p."""
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if row else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise
'''

_JAX_STOCHASTIC_DEPTH = '''
def _stochastic_depth(x, p, row, key):
    """torchvision.ops.stochastic_depth: zero whole samples (row) or the batch with probability p."""
    survival = 1.0 - p
    size = (x.shape[0],) + (1,) * (x.ndim - 1) if row else (1,) * x.ndim
    keep = jax.random.bernoulli(key, survival, size)
    scale = 1.0 / survival if survival > 0.0 else 1.0
    return jnp.where(keep, x * scale, 0.0).astype(x.dtype)
'''


@register
class StochasticDepth(Op, TorchRules, JaxRules):
    """Drops whole residual branches while training (torchvision.ops.StochasticDepth).

    Per sample (``mode: row``) or for the whole batch, with probability ``p``; the kept
    values are scaled by 1/(1-p).  Identity in evaluation.
    """

    Attrs = StochasticDepthAttrs
    category = "regularization"
    doc = "Zeroes each sample (mode row) or the batch with probability p during training, scaling by 1/(1-p)."

    def torch_call(self, a: StochasticDepthAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        if a.p == 0:
            return args[0]
        return f"_stochastic_depth({args[0]}, {a.p!r}, {a.mode == 'row'}, {ctx.training})"

    def torch_helpers(self, a: StochasticDepthAttrs) -> dict[str, str]:
        return {} if a.p == 0 else {"_stochastic_depth": _TORCH_STOCHASTIC_DEPTH}

    def jax_call(self, a: StochasticDepthAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        if a.p == 0:
            return args[0]
        return f"_stochastic_depth({args[0]}, {a.p!r}, {a.mode == 'row'}, {ctx.key()}) if {ctx.train} else {args[0]}"

    def jax_helpers(self, a: StochasticDepthAttrs) -> dict[str, str]:
        return {} if a.p == 0 else {"_stochastic_depth": _JAX_STOCHASTIC_DEPTH}


@register
class GaussianNoise(Op, TorchRules, JaxRules):
    """Adds zero-mean Gaussian noise of standard deviation ``std`` while training."""

    Attrs = GaussianNoiseAttrs
    category = "regularization"
    doc = "Adds N(0, std^2) noise during training; identity in evaluation."

    def torch_call(self, a: GaussianNoiseAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        x = args[0]
        return f"{x} + torch.randn_like({x}) * {a.std!r} if {ctx.training} else {x}" if a.std else x

    def jax_channels_last(self, a: GaussianNoiseAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        """Elementwise: noise of the input's own shape."""
        return True

    def jax_call(self, a: GaussianNoiseAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        if a.std == 0:
            return args[0]
        return f"_gaussian_noise({args[0]}, {a.std!r}, {ctx.key()}) if {ctx.train} else {args[0]}"
