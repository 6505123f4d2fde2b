"""Sizes no machine can hold: tensors past int64 (errors) and layers past any memory (warnings).

Attributes and input dims are bounded when they are read, but ops multiply:
a Flatten of two 2**40 axes, or a Linear of 2**40 by 2**40 weights, is built
from legal numbers.  Every node's output dims, its parameter and buffer
tensors, and the model's parameter total are checked here, after each shape
rule ran, so nothing above int64 reaches the emitters.
"""

from __future__ import annotations

from typing import Iterable

from ..diagnostics import Diagnostics
from ..ir.graph import Node
from ..shapes.dims import Dim
from ..validate.limits import BYTES, MAX_INT, MAX_TENSOR, WARN_ELEMENTS, WARN_TOTAL, fmt_bytes, fmt_int


def numel(dims: Iterable[Dim]) -> int:
    """Elements of a shape, symbolic dims counted as 1."""
    n = 1
    for d in dims:
        if isinstance(d, int) and not isinstance(d, bool):  # `concrete`, inlined: called per tensor per node
            n *= int(d)
    return n


def check_node(node: Node, diags: Diagnostics) -> bool:
    """False (with an MS012) when a size of the node cannot exist; MS026 when it is huge."""
    out = node.shape or ()
    sample = numel(out[1:])
    tensors = {name: numel(shape) for name, shape in node.params.items()}  # elements
    if node.buffers:
        tensors.update((name, numel(shape)) for name, shape in node.buffers.items())
    held = sum(tensors.values())
    # nearly every node: nothing near a limit, and no message to build.  `0 < sample`: a zero axis would
    # hide a huge one beside it from the product, so such a shape takes the axis-by-axis check
    if 0 < sample <= WARN_ELEMENTS and held <= WARN_ELEMENTS and (not out or numel(out[:1]) <= MAX_INT):
        return True
    label = f"`{node.path}` ({node.op})"
    for k, d in enumerate(out):
        if isinstance(d, int) and not isinstance(d, bool) and d > MAX_INT:  # `concrete`, inlined
            diags.add("MS012", f"{label} gives axis {k} a size of {fmt_int(int(d))}, larger than 2**63-1, "  # type: ignore[arg-type]
                      "the largest size torch and jax can hold", node.pos)
            return False
    for name, n in tensors.items():
        if n > MAX_INT:
            diags.add("MS012", f"{label}: its `{name}` would have {fmt_int(n)} elements, more than "
                      "2**63-1, the most a torch or jax tensor can hold", node.pos)
            return False
    if sample > MAX_INT:
        diags.add("MS012", f"{label}: its output would have {fmt_int(sample)} values per sample, more than "
                  "2**63-1, the most a torch or jax tensor can hold", node.pos)
        return False
    big = [(f"its `{name}`", n) for name, n in tensors.items() if n > MAX_TENSOR]
    if sample > MAX_TENSOR:
        big.append(("its output per sample", sample))
    if big:
        what, n = big[0]
        diags.add("MS012", f"{label}: {what} would have {fmt_int(n)} elements, {fmt_bytes(n * BYTES)} as float32; "
                  f"one tensor may have at most 2**40 elements (4 TiB)", node.pos,
                  suggestion="check the sizes of this layer; a typo such as an extra 000 is likely")
        return False
    if max(held, sample) > WARN_ELEMENTS and _warned(node, diags):
        return True  # once per place in the spec, not once per repeated copy
    if held > WARN_ELEMENTS:
        diags.add("MS026", f"{label} has {fmt_int(held)} parameters: {fmt_bytes(held * BYTES)} as float32",
                  node.pos, suggestion="check the sizes of this layer; a typo such as an extra 000 is likely")
    elif sample > WARN_ELEMENTS:
        diags.add("MS026", f"{label} gives {fmt_int(sample)} values per sample: {fmt_bytes(sample * BYTES)} "
                  "as float32 for each sample (and step)", node.pos,
                  suggestion="check the sizes that lead here; a typo such as an extra 000 is likely")
    return True


class Totals:
    """The model's parameter count, checked as nodes are added."""

    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.params = 0
        self.warned = False

    def add(self, node: Node) -> bool:
        """False (with an MS012) when the model's parameters pass int64 at this node."""
        before = self.params
        for s in node.params.values():
            self.params += numel(s)
        for s in node.buffers.values():
            self.params += numel(s)
        if self.params > MAX_INT:
            self.diags.add("MS012", f"with `{node.path}` the model would have {fmt_int(self.params)} parameters, "
                           "more than 2**63-1", node.pos)
            return False
        if before <= WARN_TOTAL < self.params and not self.warned and not _warned(node, self.diags):
            self.warned = True
            self.diags.add("MS026", f"with `{node.path}` the model has {fmt_int(self.params)} parameters: "
                           f"{fmt_bytes(self.params * BYTES)} as float32", node.pos,
                           suggestion="check the sizes of the largest layers (`modelspec summary`)")
        return True


def _warned(node: Node, diags: Diagnostics) -> bool:
    return any(d.code == "MS026" and d.pos == node.pos for d in diags)
