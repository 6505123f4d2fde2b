"""Pydantic models of the spec language (docs/language.md, sections 1 to 7).

These check the structure of a file before expansion: which keys exist where
and what kind of value each takes.  Values may still be `${...}`
expressions here, so numeric fields accept an expression string too; op
attributes are checked per op after expansion (see `modelspec.ops`).
The JSON Schema for editors is generated from these same models.

Each model is built on first use (``defer_build``): a well-formed file is
checked by `plain.spec_is_plain` and builds none of them, so `modelspec lint`
does not wait for schemas it does not use.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from .plain import spec_is_plain
from .train_section import TrainSpec

Expr = Annotated[str, Field(pattern=r"\$\{", description="A ${...} expression.")]
IntOrExpr = Union[int, Expr]
NumOrExpr = Union[float, int, Expr]
Dim = Union[int, str]
Identifier = Annotated[str, Field(description="An identifier: letters, digits, underscores.")]
DTypes = Literal["float32", "float16", "bfloat16", "float64", "int32", "int64", "bool"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class InputLong(Strict):
    shape: Union[list[Dim], Expr] = Field(description="Per-step shape, batch axis first, e.g. [B, 3, 32, 32].")
    dtype: DTypes = Field("float32", description="Element type.")
    static: Union[bool, Expr] = Field(False, description="Time models: the same value at every step (no time axis).")
    doc: str | None = None


def _shape_or_long(v: Any) -> str:
    return "long" if isinstance(v, dict) else "short"


InputSpec = Annotated[
    Union[Annotated[Union[list[Dim], Expr], Tag("short")], Annotated[InputLong, Tag("long")]],
    Discriminator(_shape_or_long),
]


class OutputLong(Strict):
    from_: str = Field(alias="from", description="The node whose value is exposed.")
    shape: Union[list[Dim], Expr, None] = Field(None, description="Declared shape, checked against the inferred one.")
    steps: Union[Literal["all", "last"], Expr] = Field("all", description="Time models: every step [B, T, ...] or the last [B, ...].")
    doc: str | None = None


OutputSpec = Annotated[
    Union[Annotated[str, Tag("short")], Annotated[OutputLong, Tag("long")]],
    Discriminator(_shape_or_long),
]


class InLong(Strict):
    from_: str = Field(alias="from", description="Source node, dotted path or terminal.")
    delay: Union[int, str] = Field(0, description="Steps (or a duration such as \"30ms\") to look back.")


InItem = Annotated[
    Union[Annotated[str, Tag("short")], Annotated[InLong, Tag("long")]],
    Discriminator(_shape_or_long),
]


def _in_kind(v: Any) -> str:
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict) and "from" not in v:
        return "ports"
    return "one"


InSpec = Annotated[
    Union[
        Annotated[InItem, Tag("one")],
        Annotated[list[InItem], Tag("list")],
        Annotated[dict[str, InItem], Tag("ports")],
    ],
    Discriminator(_in_kind),
]


class RepeatLong(Strict):
    count: IntOrExpr = Field(description="How many copies.")
    index: Identifier = Field("i", description="The name the copy index is bound to inside the copies.")


class NodeSpec(BaseModel):
    """A node: an op, a block instance or a group.  Other keys are attributes."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    name: Identifier | int | None = Field(None, description="Unique in its scope; default from op and position.")
    op: str | None = Field(None, description="Op name (section 8) or an expression giving one.")
    block: str | None = Field(None, description="Block name, `lib.Block` for imported ones.")
    layers: Union[list["NodeItem"], int, Expr, None] = Field(
        None, description="A group: an inline sequence of nodes (beside `op`: the op's attribute, e.g. LSTM).")
    in_: InSpec | None = Field(None, alias="in", description="Inputs; default: the previous node.")
    repeat: Union[IntOrExpr, RepeatLong, None] = Field(
        None, description="Chain N copies; `${i}` is the index (`{count: N, index: j}` names it).")
    foreach: dict[str, Union[list[Any], str]] | None = Field(
        None, description="One copy per item: {VAR: LIST}, and `index: j` to name the index (default `i`).")
    when: Union[bool, Expr, None] = Field(None, description="Keep the node only where true.")
    share: str | None = Field(None, description="Use the parameters of this node (or block instance): one set, "
                              "several call sites.")
    params_at: str | None = Field(None, description="Where the parameters live (state_dict path, relative to the "
                                  "enclosing scope; `.` is the scope itself). Nodes placed at one path share them.")
    doc: str | None = None


def _node_kind(v: Any) -> str:
    return "bare" if isinstance(v, str) else "node"


NodeItem = Annotated[
    Union[Annotated[str, Tag("bare")], Annotated[NodeSpec, Tag("node")]],
    Discriminator(_node_kind),
]


class EdgeSpec(Strict):
    from_: str = Field(alias="from", description="Source node (dotted path).")
    to: str = Field(description="Target node: the edge adds into its output.")
    delay: Union[int, str] = Field(0, description="Steps, or a duration such as \"30ms\" (divided by time.dt).")
    via: NodeItem | None = Field(None, description="An op or block applied to the source first.")
    adapt: Literal["auto", "none"] = Field("auto", description="auto: 1x1 conv / linear and nearest resize to fit.")
    kind: Literal["skip", "feedback"] | None = Field(None, description="Documentation; checked against the layer order.")
    name: Identifier | None = Field(None, description="Parameter scope name; default SOURCE_to_TARGET.")
    when: Union[bool, Expr, None] = Field(None, description="Keep the edge only where true.")
    params_at: str | None = Field(None, description="Where the via's parameters live instead of "
                                  "SCOPE.edges.NAME.via (relative to the edge's scope; `.` is the scope itself).")
    doc: str | None = None


class ParamDecl(Strict):
    type: Literal["int", "float", "bool", "str", "list", "op", "duration"] | None = None
    default: Any = None
    doc: str | None = None


class BlockSpec(Strict):
    doc: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Block params: a default, or {type, default, doc}; null = required.")
    inputs: list[Identifier] = Field(default_factory=lambda: ["x"], description="Input ports, in order.")
    outputs: dict[str, str] | None = Field(None, description="Output ports; default: the last node.")
    layers: list[NodeItem] = Field(description="The block's nodes.")
    edges: list[EdgeSpec] = Field(default_factory=list)


class TimeSpec(Strict):
    steps: IntOrExpr = Field(description="Number of evaluated steps T.")
    dt: NumOrExpr = Field(1.0, description="Step length in ms (for durations).")
    idle: IntOrExpr = Field(0, description="Zero-input steps run first, outputs dropped.")


class _SpecBody(Strict):
    """A whole spec file, the `train:` section taken as it is (`SpecFile` checks it)."""

    schema_: str | None = Field(None, alias="$schema", description="JSON Schema reference (ignored).")
    modelspec: Literal[1] = Field(description="Format version.")
    name: Identifier = Field(description="Model name; the generated class name.")
    doc: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Defaults overridable with --set.")
    imports: dict[str, str] = Field(default_factory=dict, description="alias: path of a spec whose blocks become alias.Block.")
    plugins: list[str] = Field(default_factory=list, description="Python modules that register ops.")
    time: TimeSpec | None = None
    inputs: dict[str, InputSpec] = Field(description="Named input terminals.")
    outputs: dict[str, OutputSpec] | None = Field(None, description="Named outputs; default: the last node.")
    blocks: dict[str, BlockSpec] = Field(default_factory=dict)
    layers: list[NodeItem] = Field(description="The graph, in order.")
    edges: list[EdgeSpec] = Field(default_factory=list)
    train: Any = None


class SpecFile(_SpecBody):
    """A whole spec file.

    Its schema (with the `train:` section's) is built only when asked for: the
    JSON Schema, an error's list of allowed keys.  Validation goes through
    `validate_file`, so a spec without `train:` never builds the training models.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    train: TrainSpec | None = Field(None, description="Training defaults (see docs/train.md).")


class LibraryFile(Strict):
    """An imported file may hold only blocks (and params they use)."""

    schema_: str | None = Field(None, alias="$schema")
    modelspec: Literal[1]
    name: Identifier | None = None
    doc: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    imports: dict[str, str] = Field(default_factory=dict)
    plugins: list[str] = Field(default_factory=list)
    blocks: dict[str, BlockSpec] = Field(default_factory=dict)


def complete() -> None:
    """Resolve `NodeSpec`'s reference to itself (through `NodeItem`), once, before any model is used:
    `errors.allowed_keys` reads the field annotations, which stay unresolved until then."""
    global _complete
    if not _complete:
        NodeSpec.model_rebuild()
        _complete = True


_complete = False


def validate_file(model: type[BaseModel], data: Any, *, plain: bool | None = None
                  ) -> list[tuple[ValidationError, tuple[str, ...]]]:
    """The problems of ``data`` as a ``model`` (`SpecFile` or `LibraryFile`): pydantic's errors, each
    with the key path its locations are relative to (see `parse_file`)."""
    return parse_file(model, data, plain=plain)[1]


def parse_file(model: type[BaseModel], data: Any, *, plain: bool | None = None
               ) -> tuple[BaseModel | None, list[tuple[ValidationError, tuple[str, ...]]]]:
    """``data`` as a ``model``: the typed result (None when it failed) and the problems.

    The `train:` section is validated by its own model only when the spec has one,
    so a spec without it never builds the training models; in the result of a
    `SpecFile` it is the validated `TrainSpec`.

    A file `plain.spec_is_plain` accepts is valid as written, so its result is
    constructed without running the models (``model_construct``): the top-level
    fields are the values written (or the defaults), exactly what validation gives
    for such a file; the sections whose fields are models (`time`, `inputs`,
    `outputs`, `blocks`, `layers`, `edges`) stay as written, as the expander reads them.
    ``plain`` is that check's answer when the caller already has it (`validate.structure`).
    """
    found: list[tuple[ValidationError, tuple[str, ...]]] = []
    result: BaseModel | None = None
    body = _SpecBody if model is SpecFile else model
    if plain is None:
        plain = model in (SpecFile, LibraryFile) and spec_is_plain(data, library=model is LibraryFile)
    if plain:
        result = body.model_construct(**data)
    else:
        complete()
        try:
            result = body.model_validate(data)
        except ValidationError as exc:
            found.append((exc, ()))
    if model is SpecFile and isinstance(data, dict) and data.get("train") is not None:
        try:
            train = TrainSpec.model_validate(data["train"])
        except ValidationError as exc:
            found.append((exc, ("train",)))
            result = None
        else:
            if result is not None:
                result.train = train
    return result, found
