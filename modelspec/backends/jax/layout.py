"""The layout of a time model's loop: channels-first ([B, C, *spatial], the IR's) or channels-last.

XLA:CPU convolves channels-last ([B, *spatial, C], HWIO weights); on channels-first
values every convolution needs a transpose on either side, which XLA folds away in
straight-line code but not inside a loop body.  So `apply` runs the time loop
channels-last when the model convolves and every op in it can (`JaxRules.jax_channels_last`):
time inputs are transposed once on entry, outputs once on exit, delay buffers are
kept channels-last.  The decision is made here, once per model, and handed to every
op through `JaxContext.layout`; no op guesses it.  Values of rank 2 or less ([B, F])
look the same in both layouts, so their ops are not asked.
"""

from __future__ import annotations

from typing import Sequence

from ...ir.graph import Graph, Node
from ...ops.kit import CHANNELS_FIRST, CHANNELS_LAST
from .body import rules

__all__ = ["CHANNELS_FIRST", "CHANNELS_LAST", "choose_layout", "from_loop", "loop_shape", "to_loop"]


def _rank(n: Node) -> int:
    """The largest rank among the values the node reads and writes."""
    return max(len(s) for s in [*n.in_shapes, n.shape or ()])


def choose_layout(g: Graph) -> str:
    """Channels-last for a time model that handles images or volumes (rank 4 or 5, where
    convolutions are), when every op with a channel axis (rank 3 or more) supports it."""
    if g.time is None or not any(_rank(n) >= 4 for n in g.nodes.values()):
        return CHANNELS_FIRST
    for n in g.nodes.values():
        if _rank(n) >= 3 and not rules(n).jax_channels_last(n.attrs, list(n.in_shapes), n.shape or ()):
            return CHANNELS_FIRST
    return CHANNELS_LAST


def loop_shape(shape: Sequence[object], layout: str) -> tuple[object, ...]:
    """A per-step shape [B, C, *spatial] as the loop holds it."""
    shape = tuple(shape)
    if layout == CHANNELS_LAST and len(shape) >= 3:
        return (shape[0], *shape[2:], shape[1])
    return shape


def to_loop(rank: int, layout: str) -> tuple[int, ...] | None:
    """The permutation of a time input [B, T, C, *spatial] (per-step rank ``rank``) into the
    scanned [T, B, ...] of the loop's layout; None when it is a plain moveaxis."""
    if layout == CHANNELS_LAST and rank >= 3:
        return (1, 0, *range(3, rank + 1), 2)
    return None


def from_loop(rank: int, layout: str) -> tuple[int, ...] | None:
    """The permutation of a stacked output [T, B, ...] (per-step rank ``rank``) back into
    [B, T, C, *spatial]; None when it is a plain moveaxis."""
    if layout == CHANNELS_LAST and rank >= 3:
        return (1, 0, rank, *range(2, rank))
    return None
