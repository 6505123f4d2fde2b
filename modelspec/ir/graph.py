"""The IR: the single source of truth every later stage reads.

Everything is flattened into nodes with dotted paths that mirror the spec's
scopes (``layer1.0.conv1``).  Edges are nodes too: an edge's ``via`` op and
its adapters become ordinary nodes under ``<scope>.edges.<name>``, so cycle
checks, shapes, parameter names and emitters treat them uniformly.  Every
object carries the source position it came from.  A node's parameters live at
its path unless the spec places them (`params_at`) or shares another node's
(`share`); `Node.at` is where they are, whatever the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, TypeVar

from ..diagnostics import Pos
from ..shapes.dims import Dim, Shape


_T = TypeVar("_T")
_new = object.__new__
_copiers: dict[type, Any] = {}


def _copier(cls: type) -> Any:
    """A function that copies every slot of a ``cls`` instance into a new one, spelled out.

    Compiled once per class from its own field names (no spec text is involved): one
    attribute load and store per field, about three times faster than a loop of
    `getattr`/`setattr`, and the copy `dataclasses.replace` makes without re-running
    ``__init__``."""
    names = [n for c in reversed(cls.__mro__) for n in getattr(c, "__slots__", ())]
    if not names:  # an unslotted dataclass: its instance dict is the copy
        return lambda obj, new: new.__dict__.update(obj.__dict__)
    body = "".join(f"    new.{n} = obj.{n}\n" for n in names)
    scope: dict[str, Any] = {}
    exec(f"def copy(obj, new):\n{body}", scope)  # noqa: S102 - field names of our own dataclasses
    return scope["copy"]


def evolve(obj: _T, **changes: Any) -> _T:
    """A shallow copy of ``obj`` with ``changes``: `dataclasses.replace` for the IR's slotted dataclasses.

    Passes copy every node of the graph they return, and `replace` (a call of ``__init__`` with
    every field) costs about three times this; these classes have only init fields and no
    ``__post_init__``, so copying the slots is the same copy.  Unlike `replace`, a misspelt
    field in ``changes`` is not caught: name only real fields.
    """
    cls = type(obj)
    copy = _copiers.get(cls)
    if copy is None:
        copy = _copiers[cls] = _copier(cls)
    new = _new(cls)
    copy(obj, new)
    for k, v in changes.items():
        setattr(new, k, v)
    return new


@dataclass(slots=True)
class Conn:
    """One input connection: read ``source``'s value from ``delay`` steps back."""

    source: str
    delay: int = 0
    pos: Pos | None = None


@dataclass(slots=True)
class Node:
    path: str
    op: str
    attrs: Any  # the op's validated Attrs instance
    inputs: list[Conn]
    pos: Pos | None = None
    doc: str | None = None
    #: "layer" for spec nodes, "via" and "adapter" for nodes an edge created.
    role: str = "layer"
    #: the edge that owns this node (for role via/adapter)
    edge: str | None = None
    shape: Shape | None = None
    in_shapes: list[Shape] = field(default_factory=list)
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)
    buffers: dict[str, tuple[int, ...]] = field(default_factory=dict)
    macs: Dim = 0
    #: declared: the node whose parameters this one uses (`share:`), as written
    share: str | None = None
    share_pos: Pos | None = None
    #: the share came from an enclosing block instance or group (pairing by path), not the node
    share_scope: bool = False
    #: declared: the module path that holds this node's parameters (`params_at:`), absolute
    params_at: str | None = None
    params_at_pos: Pos | None = None
    #: computed (`ir.share`): the module path of the parameters it uses, and the node that
    #: owns them when that is another node (then ``params`` is empty and ``shared`` has them)
    holder: str = ""
    owner: str | None = None
    shared: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def at(self) -> str:
        """The module path of the parameters and buffers it uses (its own path by default)."""
        return self.holder or self.params_at or self.path

    @property
    def scope(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def local_name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def n_params(self) -> int:
        total = 0
        for s in self.params.values():
            n = 1
            for d in s:
                n *= d
            total += n
        return total


@dataclass
class InputTerm:
    name: str
    shape: Shape
    dtype: str = "float32"
    static: bool = False
    pos: Pos | None = None
    doc: str | None = None


@dataclass
class OutputTerm:
    name: str
    source: str
    declared: Shape | None = None
    steps: str = "all"
    pos: Pos | None = None
    shape: Shape | None = None  # inferred, per step (without the time axis)


@dataclass
class Edge:
    """Adds ``out``'s value (source delayed, then via, then adapters) to ``target``."""

    name: str  # module path, e.g. "V1.edges.recurrence"
    source: str
    target: str
    delay: int
    out: str  # the node whose value is added: last of ``chain``, or ``source``
    chain: list[str] = field(default_factory=list)
    kind: str = "skip"
    declared_kind: str | None = None
    adapt: str = "auto"
    pos: Pos | None = None
    #: declared (`params_at:`): the module path that holds the via's parameters, absolute
    params_at: str | None = None


@dataclass
class Time:
    steps: int
    dt: float = 1.0
    idle: int = 0


@dataclass
class Scope:
    """A block instance, group or repeat: a folder in the summary and a submodule."""

    path: str
    kind: str  # "block" | "group" | "repeat"
    label: str = ""  # block name for block instances
    pos: Pos | None = None
    doc: str | None = None
    #: declared (`params_at:`): the module path that holds the scope's parameters, absolute
    params_at: str | None = None


@dataclass
class Graph:
    name: str
    doc: str | None = None
    inputs: dict[str, InputTerm] = field(default_factory=dict)
    outputs: dict[str, OutputTerm] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    scopes: dict[str, Scope] = field(default_factory=dict)
    time: Time | None = None
    params: dict[str, Any] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)
    train: dict[str, Any] = field(default_factory=dict)
    file: str = ""
    #: nodes in evaluation order (topological over zero-delay connections)
    order: list[str] = field(default_factory=list)
    #: symbol bindings found while checking shapes (e.g. {"H": 32})
    symbols: dict[str, Dim] = field(default_factory=dict)
    #: cycles (node lists) of the graph; all carry a delay when checked
    cycles: list[list[str]] = field(default_factory=list)
    #: declaration order of nodes (decides skip versus feedback)
    creation: dict[str, int] = field(default_factory=dict)
    #: shapes read by `in.shape` while expanding: (node or input, the shape read, where), checked by inference
    shape_reads: list[tuple[str, Shape, Pos | None]] = field(default_factory=list)

    def edges_into(self, target: str) -> list[Edge]:
        return [e for e in self.edges if e.target == target]

    def layer_nodes(self) -> Iterator[Node]:
        return (n for n in self.nodes.values() if n.role == "layer")

    @property
    def n_params(self) -> int:
        return sum(n.n_params for n in self.nodes.values())

    def param_names(self) -> dict[str, tuple[int, ...]]:
        """Flat parameter names as in the Torch state_dict (buffers excluded), with their shapes."""
        return {f"{n.at}.{k}": s for n in self.nodes.values() for k, s in n.params.items()}

    def buffer_names(self) -> dict[str, tuple[int, ...]]:
        """Flat buffer names as in the Torch state_dict, with their shapes."""
        return {f"{n.at}.{k}": s for n in self.nodes.values() for k, s in n.buffers.items()}


def enclosing(path: str, known: Mapping[str, object] | set[str]) -> str:
    """The nearest proper prefix of dotted ``path`` that is in ``known`` ("" for the model).

    The scope tree that summaries and graphs draw: a node or scope belongs to the
    closest enclosing scope they show.
    """
    p = path
    while "." in p:
        p = p.rpartition(".")[0]
        if p in known:
            return p
    return ""
