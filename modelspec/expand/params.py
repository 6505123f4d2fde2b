"""Params: `--set` overrides, block param declarations and durations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..diagnostics import Diagnostics, Pos, did_you_mean
from ..load.document import Document
from ..load import load_yaml
from .names import is_identifier, listing
from .setpath import is_path

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|us)\s*$")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001}
TYPES = {"int", "float", "bool", "str", "list", "op", "duration"}


class Overrides(dict):  # type: ignore[type-arg]
    """NAME -> value from ``--set`` arguments, remembering where each was written.

    A plain dict to everyone else (the trainer stores it as JSON); the front end
    uses ``docs`` so that a problem with an override points into the argument
    (``<--set 2>:1:8``), not at the top of the spec.
    """

    def __init__(self) -> None:
        super().__init__()
        #: per name: the argument loaded as a document (positions are columns in the argument)
        self.docs: dict[str, Document] = {}
        #: per name: where the name is written
        self.names: dict[str, Pos] = {}


def set_label(k: int) -> str:
    """The file name of the `k`-th (0-based) ``--set`` argument in diagnostics."""
    return f"<--set {k + 1}>"


def parse_overrides(items: list[str], diags: Diagnostics) -> Overrides:
    """Parse ``NAME=VALUE`` strings; values are read as YAML by the spec loader (with its limits)."""
    out = Overrides()
    for k, item in enumerate(items):
        label = set_label(k)
        name, sep, text = item.partition("=")
        lead = len(name) - len(name.lstrip())
        name = name.strip()
        if not sep or not name:
            diags.add("MS024", f"`--set {_short(item)}` is not of the form NAME=VALUE", Pos(label, 1, 1),
                      suggestion="for example `--set hidden=[512,256]`")
            continue
        if not is_identifier(name) and not is_path(name):
            diags.add("MS024", f"`--set {_short(item)}`: `{_short(name)}` is neither a param name nor a dotted path",
                      Pos(label, 1, 1 + lead),
                      suggestion="a param: `--set hidden=[512,256]`; any key by its path of keys and 0-based "
                      "indices: `--set time.steps=40`, `--set layers.2.features=64`")
            continue
        inner = Diagnostics()
        # pad with blanks where `NAME=` stands, so positions are columns of the whole argument
        doc = load_yaml(" " * (len(item) - len(text)) + text, label, inner) if text.strip() else \
            Document(label, "", {(): Pos(label, 1, len(item) - len(text) + 1)})
        diags.extend(inner)
        if doc is None or inner.has_errors:
            continue
        doc.text = item
        out[name] = doc.data
        out.docs[name] = doc
        out.names[name] = Pos(label, 1, 1 + lead)
    return out


def apply_overrides(params: dict[str, Any], overrides: Mapping[str, Any], file: str,
                    diags: Diagnostics) -> dict[str, Any]:
    merged = dict(params)
    names = getattr(overrides, "names", {})
    for name, value in overrides.items():
        if is_path(name):  # a dotted path: applied to the document before validation (setpath)
            continue
        if name not in params:
            where = names.get(name) or Pos("<overrides>", 1, 1)  # a plain dict from the Python API
            diags.add("MS024", f"`--set {name}=...`: the spec has no param `{name}`", where,
                      suggestion=did_you_mean(name, params) or _listing(params))
            continue
        merged[name] = value
    return merged


def _short(text: str) -> str:
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= 60 else text[:57] + "..."


def _listing(params: Mapping[str, Any]) -> str | None:
    return ("params of this spec: " + listing(sorted(params))) if params else "this spec has no params"


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
