"""The typed result of validation, as the expander reads it.

`parse_file` gives the whole `SpecFile` model when a spec is valid.  A spec
with errors still gets expanded, so that one run reports everything that is
wrong: for it, each top-level section (each import) is taken on its own, and
a section that failed is left out (its problem is already reported).  Either way the expander reads one typed view, with the defaults
the models declare, instead of reading the raw mapping a second time.

What stays raw, on purpose: values that may be `${...}` expressions (`params:`,
`time:`, shapes, nodes, edges, blocks).  The models accept those in lax mode,
which coerces (`true` -> 1, `3.0` -> 3), while the expander must evaluate and
report exactly what was written (MS060 "`time.steps` must be a finite positive
integer, got True"); op attributes are validated per op after expansion, by
that op's own model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter


@dataclass(frozen=True)
class TopLevel:
    """A spec's top-level sections, typed; what the expander reads besides the nodes."""

    name: str | None = None
    doc: str | None = None
    imports: dict[str, str] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)


def plain_top_level(data: dict[str, Any]) -> TopLevel:
    """The typed view of a spec `plain.spec_is_plain` accepted: its values as written, or the defaults."""
    return TopLevel(name=data.get("name"), doc=data.get("doc"), imports=dict(data.get("imports") or {}),
                    plugins=list(data.get("plugins") or []))


def top_level(data: Any, valid: BaseModel | None) -> TopLevel:
    """The typed view of a spec: from the validated model, or section by section from ``data``."""
    if valid is not None:
        return TopLevel(name=valid.name, doc=valid.doc, imports=dict(valid.imports), plugins=list(valid.plugins))
    if not isinstance(data, dict):
        return TopLevel()
    return TopLevel(
        name=_one(_adapter(str), data.get("name")),
        doc=_one(_adapter(str), data.get("doc")),
        imports=_entries(_adapter(str), data.get("imports")),
        plugins=_one(_adapter(list[str]), data.get("plugins")) or [],
    )


@lru_cache(maxsize=None)
def _adapter(kind: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter  # lazy: only a spec that failed validation is typed section by section

    return TypeAdapter(kind)


def _one(adapter: TypeAdapter[Any], value: Any) -> Any:
    """``value`` validated, or None when it is absent or wrong (already reported)."""
    if value is None:
        return None
    from pydantic import ValidationError  # lazy: as `_adapter`

    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _entries(adapter: TypeAdapter[Any], section: Any) -> dict[str, Any]:
    """The entries of a mapping section that validate on their own, in their order."""
    if not isinstance(section, dict):
        return {}
    kept = ((k, _one(adapter, v)) for k, v in section.items() if isinstance(k, str))
    return {k: v for k, v in kept if v is not None}
