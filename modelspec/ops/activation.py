"""Activations: ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softmax, LogSoftmax
and SupraLinear.

All are shape-preserving, hold no parameters and count 0 MACs (elementwise).
Softmax and LogSoftmax check their axis against the input's rank.
"""

from __future__ import annotations

from typing import Literal, Sequence

from pydantic import Field

from ..shapes.dims import Shape
from .base import Attrs, Op
from .registry import register
from .shape_ops import NoAttrs, normalize_axis

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Torch backend's per-node view, for type checkers only
    from ..backends.torch.context import TorchContext

if TYPE_CHECKING:  # the JAX backend's per-node view, for type checkers only
    from ..backends.jax.context import JaxContext


class LeakyReLUAttrs(Attrs):
    negative_slope: float = Field(0.01, description="Slope for negative inputs.")


class GELUAttrs(Attrs):
    approximate: Literal["none", "tanh"] = Field(
        "none", description="`none`: the exact erf form; `tanh`: the tanh approximation."
    )


class SoftmaxAttrs(Attrs):
    axis: int = Field(-1, description="The axis normalised over (0 is the batch axis; negative counts from the end).")


class SupraLinearAttrs(Attrs):
    n: float = Field(2.0, gt=0, description="Exponent: y = relu(x) ** n.")


class _Elementwise(Op):
    category = "activation"
    Attrs = NoAttrs


@register
class ReLU(_Elementwise):
    """max(x, 0)."""

    name = "ReLU"
    doc = "max(x, 0)."

    def torch_call(self, a: NoAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"F.relu({args[0]}, inplace=True)" if ctx.can_overwrite(0) else f"F.relu({args[0]})"

    def jax_call(self, a: NoAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jax.nn.relu({args[0]})"


@register
class LeakyReLU(_Elementwise):
    """x for x >= 0, negative_slope * x otherwise."""

    name = "LeakyReLU"
    Attrs = LeakyReLUAttrs
    doc = "x where x >= 0, else negative_slope * x."

    def torch_call(self, a: LeakyReLUAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"F.leaky_relu({args[0]}, {a.negative_slope!r})"

    def jax_call(self, a: LeakyReLUAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jax.nn.leaky_relu({args[0]}, {a.negative_slope!r})"


@register
class GELU(_Elementwise):
    """Gaussian error linear unit (PyTorch's nn.GELU)."""

    name = "GELU"
    Attrs = GELUAttrs
    doc = "x * Phi(x), exact or with the tanh approximation."

    def torch_call(self, a: GELUAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"F.gelu({args[0]})" if a.approximate == "none" else f'F.gelu({args[0]}, approximate="tanh")'

    def jax_call(self, a: GELUAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jax.nn.gelu({args[0]}, approximate={a.approximate == 'tanh'})"


@register
class SiLU(_Elementwise):
    """x * sigmoid(x) (swish)."""

    name = "SiLU"
    doc = "x * sigmoid(x)."

    def torch_call(self, a: NoAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"F.silu({args[0]})"

    def jax_call(self, a: NoAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jax.nn.silu({args[0]})"


@register
class Tanh(_Elementwise):
    """Hyperbolic tangent."""

    name = "Tanh"
    doc = "tanh(x)."

    def torch_call(self, a: NoAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"torch.tanh({args[0]})"

    def jax_call(self, a: NoAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jnp.tanh({args[0]})"


@register
class Sigmoid(_Elementwise):
    """Logistic sigmoid."""

    name = "Sigmoid"
    doc = "1 / (1 + exp(-x))."

    def torch_call(self, a: NoAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"torch.sigmoid({args[0]})"

    def jax_call(self, a: NoAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jax.nn.sigmoid({args[0]})"


class _AxisOp(_Elementwise):
    Attrs = SoftmaxAttrs

    def shape(self, a: SoftmaxAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        normalize_axis(a.axis, len(x), x)
        return x


@register
class Softmax(_AxisOp):
    """Softmax over ``axis`` (default the last)."""

    name = "Softmax"
    doc = "exp(x) / sum(exp(x)) over `axis` (default -1)."

    def torch_call(self, a: SoftmaxAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"F.softmax({args[0]}, dim={a.axis})"

    def jax_call(self, a: SoftmaxAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jax.nn.softmax({args[0]}, axis={a.axis})"


@register
class LogSoftmax(_AxisOp):
    """Log of the softmax over ``axis`` (default the last)."""

    name = "LogSoftmax"
    doc = "log(softmax(x)) over `axis` (default -1)."

    def torch_call(self, a: SoftmaxAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"F.log_softmax({args[0]}, dim={a.axis})"

    def jax_call(self, a: SoftmaxAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"jax.nn.log_softmax({args[0]}, axis={a.axis})"


@register
class SupraLinear(_Elementwise):
    """Supralinear rectification relu(x) ** n, the stabilised supralinear network's nonlinearity."""

    name = "SupraLinear"
    Attrs = SupraLinearAttrs
    doc = "relu(x) ** n (default n = 2)."

    def torch_call(self, a: SupraLinearAttrs, args: list[str], m: str, ctx: TorchContext) -> str:
        return f"F.relu({args[0]}) ** {a.n!r}"

    def jax_call(self, a: SupraLinearAttrs, args: list[str], p: dict[str, str], ctx: JaxContext) -> str:
        return f"_supra_linear({args[0]}, {a.n!r})"
