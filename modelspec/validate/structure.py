"""The structure check the front end runs on a loaded file: plain Python when it is certainly
well formed, pydantic's models (`validate.models`) otherwise.

Most files checked are fine, and building the models costs more than linting a
small spec takes; so `plain.spec_is_plain` answers first, and only a file it is
not sure of (or one with a `train:` section, which its own models check) loads
the models, which decide and give the located messages.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..diagnostics import Diagnostics
from .errors import pos_finder, report
from .plain import spec_is_plain
from .typed import TopLevel, plain_top_level, top_level


def _models() -> ModuleType:
    from . import models  # lazy: pydantic and the language's models, for files the plain check is not sure of

    return models


def check_spec(doc: Any, diags: Diagnostics) -> TopLevel | None:
    """A spec's structure: the typed view the expander reads, None when it failed (problems in ``diags``)."""
    data = doc.data
    plain = spec_is_plain(data, library=False)
    if plain and data.get("train") is None:
        return plain_top_level(data)
    m = _models()
    valid, problems = m.parse_file(m.SpecFile, data, plain=plain)  # the plain check runs once
    for exc, where in problems:
        report(exc, m.SpecFile, data, pos_finder(doc), diags, loc_prefix=where)
    return top_level(data, valid) if valid is not None else None


def check_file(doc: Any, diags: Diagnostics) -> None:
    """An imported file's structure: a spec when it has `layers`, else a block library."""
    library = "layers" not in doc.data
    plain = spec_is_plain(doc.data, library=library)
    if plain and doc.data.get("train") is None:
        return
    m = _models()
    model = m.LibraryFile if library else m.SpecFile
    for exc, where in m.validate_file(model, doc.data, plain=plain):
        report(exc, model, doc.data, pos_finder(doc), diags, loc_prefix=where)
