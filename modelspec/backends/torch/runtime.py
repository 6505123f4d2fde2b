"""Running an emitted Torch model on made-up inputs: ``build --check`` and ``summary --backend torch``.

Inputs are random tensors of the inferred shapes (with the time axis for time
models); integer inputs feeding an ``Embedding`` stay below its table size.
The framework-free part (sizes, expected shapes) is `modelspec.backends.checking`.
"""

from __future__ import annotations

from typing import Any

from ...ir.graph import Graph
from ..checking import input_shape
from ...ops import index_bound


def _index_bound(g: Graph, name: str) -> int:
    """The bound the ops reading this input put on its indices (2 without one)."""
    return index_bound(g.nodes.values(), name) or 2


def random_inputs(g: Graph, env: dict[str, int], seed: int = 0) -> list[Any]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = []
    for name, term in g.inputs.items():
        shape = input_shape(g, name, env)
        if term.dtype in ("int32", "int64"):
            high = _index_bound(g, name)
            t = torch.randint(0, high, shape, generator=gen, dtype=getattr(torch, term.dtype))
        elif term.dtype == "bool":
            t = torch.rand(shape, generator=gen) > 0.5
        else:
            t = torch.randn(shape, generator=gen).to(getattr(torch, term.dtype))
        out.append(t)
    return out
