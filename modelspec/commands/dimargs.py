"""`--dim NAME=SIZE` and `--input-size` as the command line writes them: one parser for every command.

Light on purpose (no IR, no expressions): the CLI imports it at start-up, and
`build`, `summary`, `train`, `eval` and `predict` all read their sizes through it.
"""

from __future__ import annotations

from ..exceptions import ModelspecError


class DimsError(ModelspecError):
    """A `--dim` or `--input-size` that is malformed or names no size of the model."""


def parse_dims(items: list[str]) -> dict[str, int]:
    """``["B=32", "L=16"]`` -> ``{"B": 32, "L": 16}``; a malformed item raises DimsError."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier() or not value.isdigit() or int(value) < 1:
            raise DimsError(f"`--dim {item}` is not of the form NAME=SIZE with SIZE >= 1 (for example `--dim B=32`)")
        out[name] = int(value)
    return out


def parse_input_sizes(items: list[str]) -> list[tuple[str | None, tuple[int, ...]]]:
    """``["32,3,224,224"]`` or ``["image=32,3,224,224"]`` -> ``[(None | "image", (32, 3, 224, 224))]``."""
    out: list[tuple[str | None, tuple[int, ...]]] = []
    for item in items:
        name, sep, sizes = item.rpartition("=")
        parts = [p.strip() for p in sizes.split(",")]
        if (sep and not name.strip().isidentifier()) or not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise DimsError(f"`--input-size {item}` is not of the form [INPUT=]SIZE,SIZE,... with every SIZE >= 1 "
                            "(for example `--input-size 32,3,224,224`)")
        out.append((name.strip() if sep else None, tuple(int(p) for p in parts)))
    return out
