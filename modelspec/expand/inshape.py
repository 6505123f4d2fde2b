"""`in.shape`: the inferred shape of a block's input, read while the spec expands.

Expansion comes before shape inference, but a block body is expanded after
everything that feeds it, so its input's shape can be inferred on demand:
resolve the input with the names defined so far, then run the ops' shape
rules (`ir.infer.output_shape`) over the nodes it depends on, once each.
What cannot be known yet (an input defined further down, a loop through a
delay) is a located MS027.  The finished graph is inferred again as always,
and `ir.infer.check_shape_reads` reports a read that the final names
contradict (MS028), so an early answer is never silently wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostics, Pos
from ..ir.infer import output_shape
from ..ops.base import ShapeError
from ..shapes.dims import Shape, concrete
from .expressions import ExprError, ShapeSource, Sym
from .scope import Ref, Resolver

if TYPE_CHECKING:
    from .expander import Expander, Link


class InputShape(ShapeSource):
    """`in` of one block instance (or of the model's top level): its first input."""

    def __init__(self, x: "Expander", link: "Link | None", pos: Pos | None, what: str) -> None:
        self.x = x
        self.link = link
        self.pos = pos
        self.what = what  # "block `Dense` (instance `features.denseblock1.denselayer1`)"
        self._shape: Shape | None = None

    def final(self, resolver: Resolver) -> tuple[str, Shape, Pos | None] | None:
        """What the finished graph must confirm: (the input by the final names, the shape read, where)."""
        if self._shape is None or self.link is None:
            return None
        got = resolver.resolve(self.link) if isinstance(self.link, Ref) else (self.link, 0)
        return (got[0], self._shape, self.pos) if got and got[0] else None

    def shape(self) -> list[Any]:
        if self._shape is None:
            if self.link is None:
                raise ExprError("MS027", f"`in.shape`: {self.what} has no input")
            path = _resolve(self.link)
            if path is None:
                name = self.link.name if isinstance(self.link, Ref) else self.link
                raise ExprError("MS027", f"`in.shape`: the input of {self.what}, `{name}`, is not defined before "
                                "it; a block reads the shape of what comes before it", suggestion=_LATER)
            self._shape = ShapePeek.of(self.x).shape(path)
            self.x.shape_reads.append(self)
        return [d if concrete(d) else Sym(str(d)) for d in self._shape]


_LATER = "write the size as a param instead, or move the block after the nodes that feed it"


def _resolve(link: "Link") -> str | None:
    """The node or input a link leads to with the names defined so far (None: not yet)."""
    if isinstance(link, str):
        return link
    got = Resolver(Diagnostics()).resolve(link)  # failures here are not the spec's errors (yet)
    return got[0] if got and got[0] else None


class ShapePeek:
    """Output shapes of nodes expanded so far, inferred on demand and remembered (one per expansion)."""

    def __init__(self, x: "Expander") -> None:
        self.x = x
        self.shapes: dict[str, Shape] = {}

    @staticmethod
    def of(x: "Expander") -> "ShapePeek":
        if x.peek is None:
            x.peek = ShapePeek(x)
        return x.peek

    def shape(self, path: str) -> Shape:
        """Iterative, so that a block after a chain of thousands of nodes does not exhaust the stack."""
        g, shapes = self.x.g, self.shapes
        stack, opened = [path], set()
        while stack:
            p = stack[-1]
            if p in shapes:
                stack.pop()
                continue
            if p in g.inputs:
                shapes[p] = g.inputs[p].shape
                stack.pop()
                continue
            node = g.nodes.get(p)
            if node is None:
                raise ExprError("MS027", f"`in.shape`: `{p}` is not defined before this block", suggestion=_LATER)
            sources = []
            for c in node.inputs:
                link = self.x.link_of.get(id(c))
                src = _resolve(link) if link is not None else (c.source or None)
                if src is None:
                    name = link.name if isinstance(link, Ref) else link
                    raise ExprError("MS027", f"`in.shape`: `{p}` reads `{name}`, which is not defined before this "
                                    "block (a feedback connection)", suggestion=_LATER)
                sources.append(src)
            missing = [s for s in sources if s not in shapes]
            if missing:
                if p in opened:
                    raise ExprError("MS027", f"`in.shape`: `{p}` depends on itself through a delay, so its shape "
                                    "is known only once the whole graph is", suggestion=_LATER)
                opened.add(p)
                stack.extend(missing)
                continue
            try:
                shapes[p] = output_shape(node, [shapes[s] for s in sources])
            except ShapeError:  # the finished graph's inference reports it, at the node
                raise ExprError("", f"`{p}` has a shape error of its own") from None
            stack.pop()
        return shapes[path]
