"""Params: `--set` overrides, block param declarations and durations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from ..diagnostics import Diagnostics, Pos, did_you_mean

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|us)\s*$")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001}
TYPES = {"int", "float", "bool", "str", "list", "op", "duration"}


def parse_overrides(items: list[str], diags: Diagnostics) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` strings; values are read as YAML scalars or lists."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            diags.add("MS024", f"`--set {item}` is not of the form NAME=VALUE", None,
                      suggestion="for example `--set hidden=[512,256]`")
            continue
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            diags.add("MS024", f"`--set {item}`: the value does not parse: {exc}", None)
            continue
        out[name] = value
    return out


def apply_overrides(params: dict[str, Any], overrides: Mapping[str, Any], file: str,
                    diags: Diagnostics) -> dict[str, Any]:
    merged = dict(params)
    for name, value in overrides.items():
        if name not in params:
            diags.add("MS024", f"`--set {name}=...`: the spec has no param `{name}`", Pos(file, 1, 1),
                      suggestion=did_you_mean(name, params) or _listing(params))
            continue
        merged[name] = value
    return merged


def _listing(params: Mapping[str, Any]) -> str | None:
    return ("params of this spec: " + ", ".join(sorted(params))) if params else "this spec has no params"


@dataclass
class ParamDecl:
    name: str
    type: str | None
    default: Any
    required: bool
    doc: str | None = None


def block_params(raw: Mapping[str, Any]) -> dict[str, ParamDecl]:
    """Read a block's ``params`` mapping: a default, or ``{type, default, doc}``."""
    decls: dict[str, ParamDecl] = {}
    for name, v in raw.items():
        if isinstance(v, dict) and "type" in v and set(v) <= {"type", "default", "doc"}:
            decls[name] = ParamDecl(name, v.get("type"), v.get("default"), v.get("default") is None, v.get("doc"))
        else:
            decls[name] = ParamDecl(name, None, v, v is None)
    return decls


def check_type(decl: ParamDecl, value: Any) -> str | None:
    """None when ``value`` fits the declared type, else what was expected."""
    t = decl.type
    if not isinstance(t, str) or t not in TYPES or value is None:
        return None
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list": isinstance(value, list),
        "op": isinstance(value, str),
        "duration": (isinstance(value, (int, float)) and not isinstance(value, bool))
        or (isinstance(value, str) and _DURATION.match(value) is not None),
    }.get(t, True)
    return None if ok else f"a value of type {t}"


def duration_ms(value: Any) -> float | None:
    """``"30ms"``, ``"0.5s"`` or a plain number (already in ms); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNIT_MS[m.group(2)]
    return None


def is_duration_text(value: Any) -> bool:
    return isinstance(value, str) and _DURATION.match(value) is not None
