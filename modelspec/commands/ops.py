"""`modelspec ops`: the op catalog as a user reads it, generated from the op definitions.

Everything shown comes from the registry: the one-line `doc`, the class
docstring, the attribute model (types from its JSON Schema, defaults and
descriptions from its fields), the arity, and a worked shape example got by
running the op's own shape rule.  So a new op (or a plugin op) is listed
without a line written here, and no text about a particular op lives outside
`modelspec/ops/`.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from typing import Any

from ..diagnostics import Diagnostic, did_you_mean
from ..ops.base import Op, ShapeError, backends_of
from ..ops.registry import all_ops
from ..shapes.dims import fmt_shape
from . import report
from .colour import paint, wants_colour

FORMATS = ("text", "json")

#: input shapes tried, in order, to show what the shape rule does (the first the op accepts)
_PROBES: tuple[tuple[Any, ...], ...] = (
    ("B", 16, 32, 32), ("B", 16, 32), ("B", 16), ("B", 4, 8, 16, 16), ("B",),
)


# ---- types, defaults, examples from the attribute model ---------------------------

def _type(s: dict[str, Any], defs: dict[str, Any]) -> str:
    """A JSON Schema fragment as a short type: ``int >= 1 | [int, int]``, ``'zeros' | 'reflect'``."""
    if "$ref" in s:
        return _type(defs.get(s["$ref"].rpartition("/")[2], {}), defs)
    if "anyOf" in s or "oneOf" in s:
        return " | ".join(dict.fromkeys(_type(x, defs) for x in s.get("anyOf", s.get("oneOf", []))))
    if "enum" in s:
        return " | ".join(json.dumps(v) if not isinstance(v, str) else v for v in s["enum"])
    if "const" in s:
        return str(s["const"])
    t = s.get("type")
    if t == "array":
        if "prefixItems" in s:
            return "[" + ", ".join(_type(x, defs) for x in s["prefixItems"]) + "]"
        item = _type(s.get("items", {}), defs) or "any"
        lo, hi = s.get("minItems"), s.get("maxItems")
        if lo is not None and lo == hi:
            return "[" + ", ".join([item] * lo) + "]"
        return f"list of {item}"
    base = {"integer": "int", "number": "float", "boolean": "bool", "string": "str", "null": "null",
            "object": "mapping"}.get(str(t), "any")
    bounds = []
    for key, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in s:
            bounds.append(f"{sym} {s[key]:g}" if isinstance(s[key], float) else f"{sym} {s[key]}")
    return " ".join([base, *bounds])


def yaml_value(v: Any) -> str:
    """A value as it is written in a spec (flow YAML)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}" if v == v and abs(v) != float("inf") else str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    return str(v)


def attributes(op: Op) -> list[dict[str, Any]]:
    """One entry per attribute: name, type, required, default (JSON), description."""
    model = op.Attrs
    schema = model.model_json_schema()
    props, defs = schema.get("properties", {}), schema.get("$defs", {})
    out = []
    for name, f in model.model_fields.items():
        default = None if f.is_required() else f.get_default(call_default_factory=True)
        out.append({
            "name": name, "type": _type(props.get(name, {}), defs), "required": f.is_required(),
            "default": list(default) if isinstance(default, tuple) else default,
            "description": f.description or "",
        })
    return out


def _guess(s: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small valid-looking value of a schema fragment (for required attributes in the example)."""
    if "$ref" in s:
        return _guess(defs.get(s["$ref"].rpartition("/")[2], {}), defs)
    for key in ("anyOf", "oneOf"):
        if key in s:
            return _guess(s[key][0], defs)
    if "enum" in s:
        return s["enum"][0]
    t = s.get("type")
    if t == "integer":
        lo = s.get("minimum", s.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in s else 1)
        return max(int(lo), 3)
    if t == "number":
        return 1.0
    if t == "boolean":
        return True
    if t == "array":
        return [_guess(x, defs) for x in s.get("prefixItems", [s.get("items", {})] * max(s.get("minItems", 1), 1))]
    return "x"


def example_attrs(op: Op) -> dict[str, Any]:
    """Values for the required attributes: the op's own `example` when it declares one, else
    a guess from their types (the test suite checks that each one validates)."""
    declared = dict(getattr(op, "example", None) or {})
    schema = op.Attrs.model_json_schema()
    props, defs = schema.get("properties", {}), schema.get("$defs", {})
    out = {}
    for name, f in op.Attrs.model_fields.items():
        if name in declared:
            out[name] = declared[name]
        elif f.is_required():
            out[name] = _guess(props.get(name, {}), defs)
    return out


def example_snippet(op: Op) -> str:
    """A layer entry using the op, as written in a spec's `layers:`."""
    attrs = example_attrs(op)
    lo = op.arity[0]
    ins = {"in": [chr(ord("a") + k) for k in range(lo)]} if lo > 1 else {}
    if not attrs and not ins:
        return f"- {op.name}"
    items = [f"op: {op.name}", *(f"{k}: {yaml_value(v)}" for k, v in {**attrs, **ins}.items())]
    return "- {" + ", ".join(items) + "}"


def shape_example(op: Op) -> tuple[list[Any], Any] | None:
    """(input shapes, output shape) from running the op's shape rule on the first probe it accepts."""
    try:
        a = op.Attrs(**example_attrs(op))
    except Exception:  # noqa: BLE001 - an example the op refuses shows no shape line (the tests catch it)
        return None
    n = max(op.arity[0], 1)
    # the rank the op's one-line doc names first (`over [B, C, H, W]`) is tried first
    named = re.search(r"\[B(?:, [\w.]+)*\]", op.doc)
    rank = named.group().count(",") + 1 if named else 0
    for probe in sorted(_PROBES, key=lambda p: len(p) != rank):
        ins = [tuple(probe)] * n
        try:
            return [list(s) for s in ins], list(op.shape(a, ins))
        except (ShapeError, ValueError, TypeError, IndexError, ArithmeticError):
            continue
    return None


# ---- formats -------------------------------------------------------------------

def _arity(op: Op) -> str:
    lo, hi = op.arity
    if hi == lo:
        return f"{lo} input" + ("s" if lo != 1 else "")
    return f"{lo}+ inputs" if hi is None else f"{lo} to {hi} inputs"


def op_dict(op: Op) -> dict[str, Any]:
    """The stable JSON of one op."""
    shape = shape_example(op)
    return {
        "name": op.name, "category": op.category, "doc": op.doc,
        "description": inspect.cleandoc(type(op).__doc__ or "").replace("``", "`"),
        "inputs": {"min": op.arity[0], "max": op.arity[1]}, "stateful": op.stateful,
        "backends": backends_of(op), "attributes": attributes(op), "example": example_snippet(op),
        "shape_example": None if shape is None else {"inputs": shape[0], "output": shape[1]},
    }


def list_text(ops: dict[str, Op], colour: bool) -> str:
    width = max(len(n) for n in ops)
    cat = max(len(op.category) for op in ops.values())
    lines = [f"{paint(n.ljust(width), 'bold', colour)}  {paint(op.category.ljust(cat), 'dim', colour)}  {op.doc}"
             for n, op in ops.items()]
    lines.append(f"{len(ops)} ops; `modelspec ops NAME` shows one with its attributes")
    return "\n".join(lines)


def detail_text(op: Op, colour: bool) -> str:
    d = op_dict(op)
    flags = [op.category, _arity(op), *(["stateful (needs `time:`)"] if op.stateful else []),
             "backends: " + ", ".join(d["backends"])]
    out = [f"{paint(op.name, 'bold', colour)}  ({'; '.join(flags)})", "", op.doc]
    if d["description"] and d["description"] != op.doc:
        out += ["", *d["description"].splitlines()]
    out += ["", paint("Attributes", "bold", colour)]
    attrs = d["attributes"]
    if not attrs:
        out.append("  (none)")
    rows = [(a["name"], a["type"], "required" if a["required"] else yaml_value(a["default"]), a["description"])
            for a in attrs]
    widths = [max([len(h)] + [len(r[k]) for r in rows]) for k, h in enumerate(("name", "type", "default"))]
    if rows:
        out.append("  " + "  ".join(paint(h.ljust(w), "dim", colour)
                                    for h, w in zip(("name", "type", "default"), widths)) + "  description")
    for name, typ, default, desc in rows:
        cells = [paint(name.ljust(widths[0]), "cyan", colour), typ.ljust(widths[1]),
                 paint(default.ljust(widths[2]), "yellow" if default == "required" else "", colour)]
        out.append("  " + "  ".join(cells) + ("  " + desc if desc else ""))
    if d["shape_example"]:
        ins = ", ".join(fmt_shape(tuple(s)) for s in d["shape_example"]["inputs"])
        out += ["", paint("Shape", "bold", colour) + " (the example below, run through the op's shape rule)",
                f"  {ins} -> {fmt_shape(tuple(d['shape_example']['output']))}"]
    out += ["", paint("Example", "bold", colour), "  layers:", "    " + d["example"]]
    return "\n".join(out)


def ops_command(name: str | None, fmt: str) -> tuple[int, str, str]:
    """(exit code, stdout text, stderr text) of `modelspec ops [NAME]`."""
    if fmt not in FORMATS:
        return 2, "", f"error: --format must be one of {', '.join(FORMATS)}, not {fmt!r}"
    ops = all_ops()
    colour = wants_colour()
    if name is None:
        if fmt == "json":
            return 0, json.dumps([op_dict(op) for op in ops.values()], indent=2), ""
        return 0, list_text(ops, colour), ""
    op = ops.get(name)
    if op is None:
        hint = did_you_mean(name, ops)
        diag = Diagnostic("MS030", f"unknown op `{name}`",
                          suggestion=(hint + " " if hint else "") + "(`modelspec ops` lists them all)")
        return 2, "", report.text([diag], {}, colour=wants_colour(sys.stderr))
    if fmt == "json":
        return 0, json.dumps(op_dict(op), indent=2), ""
    return 0, detail_text(op, colour), ""
