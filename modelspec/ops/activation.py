"""Activations from one table: ReLU, ReLU6, Hardtanh, Hardswish, Hardsigmoid, LeakyReLU,
ELU, GELU, SiLU, Mish, Softplus, Tanh, Sigmoid, Softmax, LogSoftmax and SupraLinear.

Each is a row of `TABLE` -- its name, attributes, the Torch and the JAX
expression, the MACs it counts per element -- and `_register_row` turns the
row into a registered op class.  All are shape-preserving and hold no
parameters; Softmax and LogSoftmax check their axis against the input's rank.
A new elementwise op is one more row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Literal, Sequence, Union

from .attrs import Field, model_validator

from ..shapes.dims import Dim, Shape, mul, product
from .base import Attrs, JaxCtx, JaxRules, Op, TorchCtx, TorchRules
from .registry import register
from .shape_ops import NoAttrs, normalize_axis


class LeakyReLUAttrs(Attrs):
    negative_slope: float = Field(0.01, description="Slope for negative inputs.")


class HardtanhAttrs(Attrs):
    min_val: float = Field(-1.0, description="Lower end of the linear region; smaller inputs give min_val.")
    max_val: float = Field(1.0, description="Upper end of the linear region; larger inputs give max_val.")

    @model_validator(mode="after")
    def _check(self) -> "HardtanhAttrs":
        if not self.min_val < self.max_val:
            raise ValueError(f"min_val ({self.min_val}) must be smaller than max_val ({self.max_val})")
        return self


class ELUAttrs(Attrs):
    alpha: float = Field(1.0, description="Scale of the negative part: alpha * (exp(x) - 1) for x <= 0.")


class SoftplusAttrs(Attrs):
    beta: float = Field(1.0, gt=0, description="Sharpness: log(1 + exp(beta * x)) / beta.")
    threshold: float = Field(
        20.0, description="Above beta * x > threshold the output is x (PyTorch's overflow guard)."
    )


class GELUAttrs(Attrs):
    approximate: Literal["none", "tanh"] = Field(
        "none", description="`none`: the exact erf form; `tanh`: the tanh approximation."
    )


class SoftmaxAttrs(Attrs):
    axis: int = Field(-1, description="The axis normalised over (0 is the batch axis; negative counts from the end).")


class SupraLinearAttrs(Attrs):
    n: float = Field(2.0, gt=0, description="Exponent: y = relu(x) ** n.")


#: the common output expression, written as data: a function name (``"F.silu"``: ``F.silu(x)``), or a
#: function and the attributes that follow the input (``("F.elu", "alpha")``: ``F.elu(x, <alpha>)``)
Call = Union[str, tuple[str, ...]]
#: the output expression: (input expression, attributes, the Torch context) -> source, or a `Call`
TorchExpr = Union[Callable[[str, Any, TorchCtx], str], Call]
#: the output expression: (input expression, attributes) -> source, or a `Call`
JaxExpr = Union[Callable[[str, Any], str], Call]


def _called(fn: Call, x: str, a: Any) -> str:
    """The source of a `Call` on the input ``x`` with the attributes ``a``."""
    name, *attrs = (fn,) if isinstance(fn, str) else fn
    return f"{name}({', '.join([x, *(repr(getattr(a, k)) for k in attrs)])})"


@dataclass(frozen=True)
class Row:
    """One elementwise op: everything that differs between two activations."""

    name: str
    doc: str
    torch: TorchExpr
    jax: JaxExpr
    attrs: type[Attrs] = NoAttrs
    #: multiply-accumulates counted per input element
    macs: int = 0
    #: checks the attribute `axis` against the input's rank (Softmax-like ops)
    has_axis: bool = False


def _relu(x: str, a: Any, ctx: TorchCtx) -> str:
    return f"F.relu({x}, inplace=True)" if ctx.can_overwrite(0) else f"F.relu({x})"


TABLE: tuple[Row, ...] = (
    Row("ReLU", "max(x, 0).", _relu, "jax.nn.relu"),
    Row("ReLU6", "min(max(x, 0), 6).", "F.relu6", lambda x, a: f"jnp.clip({x}, 0.0, 6.0)"),
    Row("Hardtanh", "x clipped to [min_val, max_val] (default [-1, 1]).",
        ("F.hardtanh", "min_val", "max_val"), ("jnp.clip", "min_val", "max_val"), HardtanhAttrs),
    Row("Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3).", "F.hardswish", "_hardswish"),
    Row("Hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3's gate).", "F.hardsigmoid", "_hardsigmoid"),
    Row("LeakyReLU", "x where x >= 0, else negative_slope * x.",
        ("F.leaky_relu", "negative_slope"), ("jax.nn.leaky_relu", "negative_slope"), LeakyReLUAttrs),
    Row("ELU", "x where x > 0, else alpha * (exp(x) - 1) (default alpha 1).",
        ("F.elu", "alpha"), ("jax.nn.elu", "alpha"), ELUAttrs),
    Row("GELU", "x * Phi(x), exact or with the tanh approximation.",
        lambda x, a, ctx: f"F.gelu({x})" if a.approximate == "none" else f'F.gelu({x}, approximate="tanh")',
        lambda x, a: f"jax.nn.gelu({x}, approximate={a.approximate == 'tanh'})", GELUAttrs),
    Row("SiLU", "x * sigmoid(x).", "F.silu", "jax.nn.silu"),
    Row("Mish", "x * tanh(softplus(x)).", "F.mish", "_mish"),
    Row("Softplus", "log(1 + exp(beta * x)) / beta, x where beta * x > threshold (default 1, 20).",
        ("F.softplus", "beta", "threshold"), ("_softplus", "beta", "threshold"), SoftplusAttrs),
    Row("Tanh", "tanh(x).", "torch.tanh", "jnp.tanh"),
    Row("Sigmoid", "1 / (1 + exp(-x)).", "torch.sigmoid", "jax.nn.sigmoid"),
    Row("Softmax", "exp(x) / sum(exp(x)) over `axis` (default -1).", lambda x, a, ctx: f"F.softmax({x}, dim={a.axis})",
        lambda x, a: f"jax.nn.softmax({x}, axis={a.axis})", SoftmaxAttrs, has_axis=True),
    Row("LogSoftmax", "log(softmax(x)) over `axis` (default -1).", lambda x, a, ctx: f"F.log_softmax({x}, dim={a.axis})",
        lambda x, a: f"jax.nn.log_softmax({x}, axis={a.axis})", SoftmaxAttrs, has_axis=True),
    Row("SupraLinear", "relu(x) ** n (default n = 2).", lambda x, a, ctx: f"F.relu({x}) ** {a.n!r}",
        ("_supra_linear", "n"), SupraLinearAttrs),
)


class Elementwise(Op, TorchRules, JaxRules):
    """An op made from a `Row`: the rules read the row, so one class serves all."""

    row: ClassVar[Row]
    category = "activation"

    def shape(self, a: Any, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        if self.row.has_axis:
            normalize_axis(a.axis, len(x), x)
        return x

    def macs(self, a: Any, ins: Sequence[Shape], out: Shape) -> Dim:
        return mul(product(ins[0][1:]), self.row.macs) if self.row.macs else 0

    def torch_call(self, a: Any, args: list[str], m: str, ctx: TorchCtx) -> str:
        fn = self.row.torch
        return fn(args[0], a, ctx) if callable(fn) else _called(fn, args[0], a)

    def jax_call(self, a: Any, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        fn = self.row.jax
        return fn(args[0], a) if callable(fn) else _called(fn, args[0], a)

    def jax_channels_last(self, a: Any, ins: Sequence[Shape], out: Shape) -> bool:
        """Elementwise, so any layout, unless the op normalises along an axis (Softmax)."""
        return not self.row.has_axis


def _register_row(row: Row) -> type[Op]:
    """A registered op class for ``row``, named after the op (so reprs and errors read well)."""
    cls = type(row.name, (Elementwise,), {
        "name": row.name, "doc": row.doc, "Attrs": row.attrs, "row": row,
        "__doc__": row.doc, "__module__": __name__, "__qualname__": row.name,
    })
    return register(cls)


for _row in TABLE:
    globals()[_row.name] = _register_row(_row)
