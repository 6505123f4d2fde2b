"""The submodule tree: holders placed at the nodes' dotted paths.

A node whose op holds parameters or buffers gets a holder (``op.torch_layer``:
usually a plain torch layer, so names and default initialisation are PyTorch's)
at the module path of its parameters (`Node.at`: its own path unless the spec
places or shares them); every path prefix becomes a ``Scope``.  ``state_dict()`` keys are
then exactly ``Graph.param_names()`` and ``buffer_names()``.  Children are
registered in node order, so ResNet-18's keys come out in torchvision's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...ir.graph import Graph
from .context import TorchEmitError
from .format import wrap
from .forward import rules
from .naming import is_attr_name, q


@dataclass
class Tree:
    """A folder of children: a nested ``Tree`` (a Scope) or a holder's source."""

    children: dict[str, "Tree | str"] = field(default_factory=dict)


def holders(g: Graph) -> dict[str, str]:
    """Node path -> construction source of its holder, for nodes that have one.

    A node that shares another's parameters (``owner``) has none: it calls the owner's.
    """
    out: dict[str, str] = {}
    for n in g.nodes.values():
        if n.owner is not None:
            continue
        src = rules(n).torch_layer(n.attrs, n.in_shapes, n.shape)
        if src is None and (n.params or n.buffers):
            raise TorchEmitError(
                f"op `{n.op}` (node `{n.path}`) has parameters but no `torch_layer` to hold them")
        if src is not None:
            out[n.path] = src
    return out


def build_tree(paths: dict[str, str]) -> Tree:
    root = Tree()
    for path, src in paths.items():
        parts = path.split(".")
        node = root
        for part in parts[:-1]:
            child = node.children.setdefault(part, Tree())
            if not isinstance(child, Tree):
                raise TorchEmitError(
                    f"node `{path}` lies inside node `{part}`, which holds parameters")
            node = child
        if parts[-1] in node.children:
            raise TorchEmitError(f"node `{path}` is also a scope of other nodes")
        node.children[parts[-1]] = src
    return root


def _bound(head: str, child: "Tree | str", indent: str, end: str) -> list[str]:
    """``head`` followed by a child: a nested ``Scope({...})``, or the layer's source."""
    if isinstance(child, Tree):
        return [f"{indent}{head}Scope({{", *_entries(child, indent + "    "), f"{indent}}}){end}"]
    return wrap(f"{indent}{head}{child}{end}")


def _entries(tree: Tree, indent: str) -> list[str]:
    """The dict items of a ``Scope({...})`` literal, one child per line."""
    return [line for name, child in tree.children.items() for line in _bound(f"{q(name)}: ", child, indent, ",")]


def init_lines(root: Tree, indent: str) -> list[str]:
    """The body of ``__init__`` after ``super().__init__()``."""
    lines: list[str] = []
    for name, child in root.children.items():
        target = f"self.{name}" if is_attr_name(name) else f"self._modules[{q(name)}]"
        lines += _bound(f"{target} = ", child, indent, "")
    return lines


def access(path: str) -> str:
    """The expression reaching the submodule at ``path`` from ``self``."""
    parts = path.split(".")
    first = parts[0]
    expr = f"self.{first}" if is_attr_name(first) else f"self._modules[{q(first)}]"
    for part in parts[1:]:
        expr += f".{part}" if is_attr_name(part) else f"[{q(part)}]"
    return expr
