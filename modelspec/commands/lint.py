"""`modelspec lint`: check many spec files, report in the chosen format."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..diagnostics import Diagnostic, Diagnostics, Pos
from ..pipeline import compile_file
from . import report

SPEC_SUFFIXES = (".yaml", ".yml", ".toml")
FORMATS = ("text", "github", "sarif", "json")


@dataclass
class LintResult:
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def failed(self, strict: bool) -> bool:
        return any(d.is_error or strict for d in self.diagnostics)


def spec_files(paths: Iterable[str]) -> tuple[list[str], list[Diagnostic]]:
    """Expand directories into the spec files under them, sorted."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(str(f) for f in Path(p).rglob("*") if f.suffix in SPEC_SUFFIXES and f.is_file()
                           and not any(part.startswith(".") for part in f.parts))
            files.extend(found)
        elif os.path.exists(p):
            files.append(p)
        else:
            problems.append(Diagnostic("MS001", f"no such file or directory: {p}", Pos(p, 1, 1)))
    return files, problems


def is_library(path: str) -> bool:
    """A file with blocks but no `layers` is a block library, linted on import."""
    from ..load import load_document

    doc = load_document(path, Diagnostics())
    return doc is not None and isinstance(doc.data, dict) and "layers" not in doc.data and "blocks" in doc.data


def lint(paths: Iterable[str], overrides: Mapping[str, Any] | None = None) -> LintResult:
    files, problems = spec_files(paths)
    res = LintResult(files=files, diagnostics=list(problems))
    for f in files:
        if is_library(f):
            from ..expand.blocks import Importer

            d = Diagnostics()
            Importer(d).load_library(f, d)
            res.diagnostics.extend(d.sorted())
            continue
        r = compile_file(f, overrides)
        if r.doc is not None:
            res.sources[r.doc.file] = r.doc.text
        res.diagnostics.extend(r.diags.sorted())
    return res


def render(res: LintResult, fmt: str, strict: bool) -> str:
    if fmt == "github":
        return report.github(res.diagnostics, strict)
    if fmt == "sarif":
        return report.sarif(res.diagnostics, strict)
    if fmt == "json":
        return report.as_json(res.diagnostics, strict)
    body = report.text(res.diagnostics, res.sources, strict)
    n_err = sum(1 for d in res.diagnostics if d.is_error or strict)
    n_warn = len(res.diagnostics) - n_err
    tail = f"{len(res.files)} file(s) checked: {n_err} error(s), {n_warn} warning(s)"
    return (body + "\n" + tail) if body else tail
