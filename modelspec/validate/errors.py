"""Turn pydantic validation errors into located, coded diagnostics."""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any, Sequence

from ..diagnostics import Diagnostics, Pos, did_you_mean
from ..load.document import Path

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


def data_path(data: Any, loc: Sequence[Any]) -> Path:
    """Drop pydantic's union tags from ``loc``, keeping only real keys and indices."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
    return tuple(out)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from pydantic import BaseModel  # lazy: errors are only reported once pydantic's models have run

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            found.extend(_models_in(arg))
    return found


def allowed_keys(root: type[BaseModel], data: Any, path: Path) -> list[str]:
    """The keys the schema allows in the mapping at ``path``."""
    models: list[type[BaseModel]] = [root]
    for part in path:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for m in models:
            for fname, f in m.model_fields.items():
                if (f.alias or fname) == part:
                    nxt.extend(_models_in(f.annotation))
        models = nxt or models
    keys: set[str] = set()
    for m in models:
        keys.update(f.alias or n for n, f in m.model_fields.items())
    return sorted(keys)


def report(
    exc: ValidationError,
    root: type[BaseModel],
    data: Any,
    pos_of: Any,
    diags: Diagnostics,
    *,
    prefix: Path = (),
    what: str = "",
    loc_prefix: tuple[str, ...] = (),
) -> None:
    """Add one diagnostic per problem.  ``pos_of(path, key=...)`` locates.

    A value that matches no member of a union (an int or an expression) gives
    pydantic one error per member; they are merged into one message.  ``loc_prefix``:
    the key path of the part of ``data`` that ``exc`` validated (see `validate_file`).
    """
    merged: dict[Path, list[Any]] = {}
    errors = []
    for err in exc.errors():
        if loc_prefix:
            err = dict(err, loc=loc_prefix + tuple(err["loc"]))
        if err["type"] not in ("extra_forbidden", "missing"):
            key = data_path(data, err["loc"])
            if key in merged:
                merged[key].append(err)
                continue
            merged[key] = [err]
        errors.append(err)
    for err in errors:
        loc = tuple(err["loc"])
        typ = err["type"]
        group = merged.get(data_path(data, loc), [err]) if typ not in ("extra_forbidden", "missing") else [err]
        if len(group) > 1:
            err = dict(err, msg=" or ".join(dict.fromkeys(_member(e["msg"]) for e in group)))
        if typ == "extra_forbidden":
            path = data_path(data, loc)
            key = str(path[-1]) if path else str(loc[-1])
            choices = [k for k in allowed_keys(root, data, path[:-1]) if k != "$schema"]
            where = f" in {what}" if what else ""
            diags.add("MS011", f"unknown key `{key}`{where}", pos_of(prefix + path, key=True),
                      suggestion=did_you_mean(key, choices) or _known(choices))
            continue
        path = data_path(data, loc)
        if typ == "missing":
            key = str(loc[-1])
            where = _describe(prefix + path)
            diags.add("MS010", f"missing required key `{key}`{where}", pos_of(prefix + path))
        elif typ == "literal_error" and path == ("modelspec",):
            diags.add("MS013", f"unsupported format version {data.get('modelspec')!r}: this modelspec reads version 1",
                      pos_of(prefix + path), suggestion="write `modelspec: 1`")
        else:
            msg = err["msg"]
            if len(group) > 1:
                msg = "Expected " + msg.replace("'\\$\\{'", "a ${...} expression")
            got = err.get("input")
            shown = _short(got)
            name = ".".join(str(p) for p in path if isinstance(p, str)) or "value"
            diags.add("MS012", f"`{name}`: {msg[0].lower() + msg[1:]}, got {shown}", pos_of(prefix + path))


def _member(msg: str) -> str:
    return msg.removeprefix("Input should be ").removeprefix("String should match pattern ")


def _known(choices: list[str]) -> str | None:
    if not choices:
        return None
    return "known keys here: " + ", ".join(f"`{c}`" for c in choices)


def _describe(path: Path) -> str:
    if not path:
        return " at the top level"
    return " in `" + ".".join(str(p) for p in path) + "`"


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def pos_finder(doc: Any) -> Any:
    """A ``pos_of`` callable for a Document."""

    def pos_of(path: Path, key: bool = False) -> Pos:
        return doc.pos(path, key=key)

    return pos_of
