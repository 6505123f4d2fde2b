"""Loading spec files: YAML or TOML text -> `Document` (data + positions).

Every failure (missing file, bad encoding, syntax, limits) becomes a
diagnostic; these functions never raise for bad input.
"""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import Callable

from ..diagnostics import Diagnostics, Pos, did_you_mean
from .document import Document, Path
from .files import inside, read_bytes
from .toml_loader import load_toml
from .yaml_loader import MAX_DEPTH, MAX_TEXT_BYTES, MAX_VALUES, load_yaml

__all__ = [
    "Document", "Path", "load_document", "load_text", "load_yaml", "load_toml",
    "MAX_DEPTH", "MAX_TEXT_BYTES", "MAX_VALUES", "LOADERS", "inside", "read_bytes",
]

Loader = Callable[[str, str, Diagnostics], "Document | None"]
LOADERS: dict[str, Loader] = {".yaml": load_yaml, ".yml": load_yaml, ".toml": load_toml}


def _loader_for(name: str, file: str, diags: Diagnostics) -> Loader | None:
    """The loader for `name`'s extension, or MS001 with a hint."""
    ext = PurePath(name).suffix.lower()
    loader = LOADERS.get(ext)
    if loader is None:
        what = f"extension `{ext}`" if ext else "no extension"
        hint = did_you_mean(ext, LOADERS) if ext else None
        diags.add("MS001", f"cannot tell the format of a file with {what}: spec files are "
                  ".yaml, .yml or .toml", Pos(file, 1, 1),
                  suggestion=hint or "rename the file to end in .yaml or .toml")
    return loader


def _run(loader: Loader, text: str, file: str, diags: Diagnostics) -> Document | None:
    """Call a loader; a crash of ours becomes a diagnostic, never a traceback."""
    if text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte order mark is not part of the spec
    try:
        return loader(text, file, diags)
    except (RecursionError, MemoryError):
        diags.add("MS004", "the file is too large or nests too deeply to load", Pos(file, 1, 1))
    except Exception as exc:  # noqa: BLE001 - last line of defence, reported as MS090
        diags.add("MS090", f"loading failed unexpectedly: {type(exc).__name__}: {exc}",
                  Pos(file, 1, 1))
    return None


def load_text(text: str, file: str, diags: Diagnostics) -> Document | None:
    """Load spec `text`, choosing YAML or TOML by the extension of `file`."""
    loader = _loader_for(file, file, diags)
    return None if loader is None else _run(loader, text, file, diags)


def load_document(
    path: str | os.PathLike[str], diags: Diagnostics, *, display_name: str | None = None,
    root: str | None = None, at: Pos | None = None,
) -> Document | None:
    """Read and load the spec file at `path`; positions name `display_name` or `path`.

    With `root`, a file that resolves outside it (a symlink, `..`) is refused
    with MS006; only regular files are read, so a FIFO never blocks.  `at` is
    where a file that cannot be read is reported (an `imports:` entry).
    """
    file = display_name if display_name is not None else os.fspath(path)
    loader = _loader_for(os.fspath(path), file, diags)
    if loader is None:
        return None
    raw = read_bytes(path, file, diags, limit=MAX_TEXT_BYTES, root=root, at=at)
    if raw is None:
        return None
    if len(raw) > MAX_TEXT_BYTES:
        diags.add("MS004", "file is larger than the 8 MiB limit for spec files", at or Pos(file, 1, 1))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        diags.add("MS001", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} on line {line})",
                  at or Pos(file, 1, 1), suggestion="save the file as UTF-8")
        return None
    return _run(loader, text, file, diags)
