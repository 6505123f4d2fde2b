"""The JSON Schema of the spec language, for editors (completion, hover, squiggles).

It is generated from the same pydantic models the compiler validates with
(`modelspec.validate.models`), so it cannot drift from the language; only the
node definition is replaced: pydantic sees a node as "any mapping", while an
editor is far more useful when it knows each op's attributes.  So a node is
`anyOf` a bare op name, one strict object per registered op, a fallback for
`op: ${expr}` and plugin ops, a block instance and a group.

The committed copy lives in `schemas/modelspec-1.schema.json`; a test
regenerates it and fails on drift (`modelspec schema -o schemas/modelspec-1.schema.json`).
"""

from __future__ import annotations

import json
from typing import Any

from ..ops.registry import builtin_ops
from .models import SpecFile, complete

DRAFT = "https://json-schema.org/draft/2020-12/schema"

#: node keys every kind of node accepts (docs/language.md, section 3), besides op/block/layers
RESERVED = ("name", "in", "repeat", "foreach", "when", "share", "params_at", "doc")
_REF = "#/$defs/"
_EXPR = {"$ref": _REF + "Expr"}
_IDENT_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
#: same syntax as `modelspec.expand.params._DURATION` (float attributes accept "5ms")
_DURATION = r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|us)\s*$"
_META = ("title", "description", "default", "examples")


def build_schema() -> dict[str, Any]:
    """The whole schema as a dict (deterministic: ops sorted, no plugins)."""
    complete()
    schema = SpecFile.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.pop("$defs")
    node_spec = defs.pop("NodeSpec")
    for k in RESERVED:  # shared by every kind of node: defined once, referenced
        defs[f"Node_{k}"] = node_spec["properties"][k]
    reserved = {k: {"$ref": f"{_REF}Node_{k}"} for k in RESERVED}
    schema, defs = _swap_node_refs(schema), _swap_node_refs(defs)
    ops = builtin_ops()
    names = list(ops)

    defs["Expr"] = {"type": "string", "pattern": r"\$\{", "description": "A ${...} expression (docs/language.md, section 5)."}
    defs["Duration"] = {"type": "string", "pattern": _DURATION,
                        "description": "A duration such as \"5ms\", \"0.5s\" or \"200us\"."}
    defs["BareNode"] = {
        "description": "A bare op name (an op without attributes), a block name, or an expression giving one.",
        "anyOf": [
            {"enum": names, "description": "A built-in op."},
            _EXPR,
            {"type": "string", "pattern": _IDENT_PATH,
             "description": "A block (`Residual`, `lib.Residual`) or a plugin op."},
        ],
    }
    for name, op in ops.items():
        _add_op(defs, name, op, reserved)
    defs["OpNodeOther"] = {
        "type": "object",
        "title": "op node (expression or plugin op)",
        "description": "An op given by an expression (`op: ${act}`) or registered by a plugin; "
                       "its attributes are checked by the compiler.",
        "required": ["op"],
        "properties": {"op": {"anyOf": [_EXPR, {"type": "string", "not": {"enum": names}}]}, **reserved},
        "not": {"anyOf": [{"required": ["block"]}]},
        "additionalProperties": True,
    }
    defs["BlockInstance"] = {
        "type": "object",
        "title": "block instance",
        "description": "An instance of a block from `blocks` (or `lib.Block` from `imports`); "
                       "every other key is a param of the block.",
        "required": ["block"],
        "properties": {"block": {"type": "string", "description": "Block name, `lib.Block` for imported ones."},
                       **reserved},
        "not": {"anyOf": [{"required": ["op"]}, {"required": ["layers"]}]},
        "additionalProperties": True,
    }
    defs["Group"] = {
        "type": "object",
        "title": "group",
        "description": "An inline sequence of nodes; named, it becomes a scope (`stem.conv`).",
        "required": ["layers"],
        "properties": {"layers": {"type": "array", "items": {"$ref": _REF + "Node"},
                                  "description": "The group's nodes, in order."}, **reserved},
        "additionalProperties": False,
    }
    defs["Node"] = {
        "description": "A node: an op, a block instance or a group (docs/language.md, section 3).",
        "anyOf": [{"$ref": _REF + "BareNode"}]
        + [{"$ref": _REF + _op_def(n)} for n in names]
        + [{"$ref": _REF + k} for k in ("OpNodeOther", "BlockInstance", "Group")],
    }
    out: dict[str, Any] = {
        "$schema": DRAFT,
        "title": "modelspec spec file, version 1",
        "description": "A declarative neural-network spec: params, time, input and output terminals, blocks, "
                       "layers and edges. See docs/language.md.",
    }
    schema.pop("title", None)
    schema.pop("description", None)
    out.update(schema)
    out["$defs"] = defs
    return _any_of(out)


def schema_text() -> str:
    """The schema as committed: JSON, indent 2, sorted keys, trailing newline."""
    return json.dumps(build_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _op_def(name: str) -> str:
    return f"Op_{name}"


def _add_op(defs: dict[str, Any], name: str, op: Any, reserved: dict[str, Any]) -> None:
    """One strict object per op: `op: {const: NAME}`, the reserved keys, the op's attributes."""
    attrs = op.Attrs.model_json_schema()
    for k, sub in _rename_defs(attrs.pop("$defs", {}), name).items():
        defs[k] = sub
    attrs = _rewrite_refs(attrs, name)
    props: dict[str, Any] = {
        "op": {"const": name, "description": (op.doc or name).strip().split("\n")[0]},
        **reserved,
    }
    for attr, prop in attrs.get("properties", {}).items():
        field = op.Attrs.model_fields.get(attr)
        durations = field is not None and "float" in str(field.annotation)
        props[attr] = _with_expr(prop, durations)
    desc = (op.doc or op.Attrs.__doc__ or "").strip()
    defs[_op_def(name)] = {
        "type": "object",
        "title": name,
        **({"description": desc} if desc else {}),
        "required": ["op", *attrs.get("required", [])],
        "properties": props,
        "additionalProperties": False,
    }


def _with_expr(prop: dict[str, Any], durations: bool) -> dict[str, Any]:
    """An attribute's schema, also accepting `${...}` (and durations for float attributes)."""
    meta = {k: prop[k] for k in _META if k in prop}
    body = {k: v for k, v in prop.items() if k not in _META}
    options = list(body["anyOf"]) if set(body) == {"anyOf"} else [body]
    options.append(_EXPR)
    if durations:
        options.append({"$ref": _REF + "Duration"})
    return {**meta, "anyOf": options}


def _swap_node_refs(obj: Any) -> Any:
    """Point every `string | NodeSpec` union (and bare NodeSpec ref) at the new `Node` definition."""
    if isinstance(obj, list):
        return [_swap_node_refs(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    for key in ("oneOf", "anyOf"):
        alts = obj.get(key)
        if isinstance(alts, list) and {"$ref": _REF + "NodeSpec"} in alts and {"type": "string"} in alts \
                and len(alts) == 2:
            rest = {k: _swap_node_refs(v) for k, v in obj.items() if k != key}
            return {**rest, "$ref": _REF + "Node"}
    if obj.get("$ref") == _REF + "NodeSpec":
        return {**obj, "$ref": _REF + "Node"}
    return {k: _swap_node_refs(v) for k, v in obj.items()}


def _any_of(obj: Any) -> Any:
    """`oneOf` -> `anyOf`: pydantic writes its tagged unions as `oneOf`, but their branches overlap
    for JSON Schema (`in: {from: a}` is both an input and a port mapping), so `oneOf` would reject them."""
    if isinstance(obj, list):
        return [_any_of(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in obj.items()}


def _rename_defs(defs: dict[str, Any], op_name: str) -> dict[str, Any]:
    """An op schema's own `$defs` (nested models), prefixed so two ops cannot collide."""
    return {f"{_op_def(op_name)}_{k}": _rewrite_refs(v, op_name) for k, v in defs.items()}


def _rewrite_refs(obj: Any, op_name: str) -> Any:
    if isinstance(obj, list):
        return [_rewrite_refs(x, op_name) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _rewrite_refs(v, op_name) for k, v in obj.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        out["$ref"] = f"{_REF}{_op_def(op_name)}_{ref[len(_REF):]}"
    return out
