"""An example plugin: Mithril's custom primitive GaussianNoise as the op `MyNoise`.

A spec loads it with ``plugins: [noise_plugin]`` when the user trusts it
(``--plugin noise_plugin``, ``--allow-plugins`` or ``[tool.modelspec] plugins``
in pyproject.toml; a spec alone cannot); it is found beside the spec, at the
repository root, on ``sys.path``, or installed and registered under the
``modelspec.ops`` entry-point group.  Importing the module registers the op;
from then on `MyNoise` is used like any built-in op::

    layers:
      - {op: Linear, features: 64}
      - {op: MyNoise, std: 0.2}

The op adds N(0, std^2) noise while training and is the identity in evaluation,
exactly like ``tests/reference/mithril.py``'s ``GaussianNoise``.  Everything the
compiler knows of the op lives in the class below: attributes, shape rule,
parameter rule (none), the Torch code (`TorchRules`: ``torch_*`` methods) and the
JAX code (`JaxRules`: ``jax_*`` methods).  The op supports exactly the backends
whose rules it derives from, and ``register`` checks that it defines what each
needs (see docs/adding-an-op.md).
"""

from __future__ import annotations

from typing import Sequence

from pydantic import Field

from modelspec.ops import Attrs, JaxCtx, JaxRules, Op, TorchCtx, TorchRules, register
from modelspec.shapes.dims import Shape


class MyNoiseAttrs(Attrs):
    std: float = Field(0.1, ge=0, description="Standard deviation of the noise added while training.")


@register
class MyNoise(Op, TorchRules, JaxRules):
    """Adds zero-mean Gaussian noise of standard deviation ``std`` while training."""

    name = "MyNoise"
    Attrs = MyNoiseAttrs
    category = "regularization"
    doc = "Adds N(0, std^2) noise during training; identity in evaluation (a plugin op)."

    def shape(self, a: MyNoiseAttrs, ins: Sequence[Shape]) -> Shape:
        """Elementwise: the output has the input's shape."""
        return tuple(ins[0])

    # No params() or buffers(): the op holds nothing, so it needs no torch_layer either.

    def torch_call(self, a: MyNoiseAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        """``x + randn_like(x) * std`` while training, else ``x`` (std 0: always ``x``)."""
        x = args[0]
        if a.std == 0:
            return x
        return f"{x} + torch.randn_like({x}) * {a.std!r} if {ctx.training} else {x}"

    def jax_call(self, a: MyNoiseAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """``x + std * normal(key)`` while training, else ``x``; ``ctx.key()`` is this node's
        PRNG key for the step (the caller's ``key`` split deterministically per node)."""
        x = args[0]
        if a.std == 0:
            return x
        return f"{x} + jax.random.normal({ctx.key()}, {x}.shape, {x}.dtype) * {a.std!r} if {ctx.train} else {x}"
