"""`modelspec lint`: check many spec files, report in the chosen format."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..diagnostics import Diagnostic, Diagnostics, Pos
from ..expand.blocks import Importer
from ..load import MAX_TEXT_BYTES, inside, load_document, read_bytes
from ..pipeline import check_document, quiet_gc
from ..trust import Trust, find_root
from . import colour as colours, report

SPEC_SUFFIXES = (".yaml", ".yml", ".toml")
FORMATS = ("text", "github", "sarif", "json")


@dataclass
class LintResult:
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    #: set when the command line itself is wrong (a missing path, no spec found): exit 2
    usage_error: str | None = None
    seen: set[tuple[object, ...]] = field(default_factory=set, repr=False)

    def failed(self, strict: bool) -> bool:
        return any(d.is_error or strict for d in self.diagnostics)


def spec_files(paths: Iterable[str], root: str | None = None) -> tuple[list[tuple[str, str | None]], list[Diagnostic]]:
    """The spec files named or found under directories, each with the directory it was found under.

    Walking never follows a symlinked directory out of the tree (it reports
    MS006 instead) and never enters the same directory twice, so a symlink loop
    ends.  Hidden files and directories (``.git``, ``.venv``) are skipped.
    """
    files: list[tuple[str, str | None]] = []
    problems: list[Diagnostic] = []
    for p in paths:
        if os.path.isdir(p):
            top = root or find_root(p, fallback=p)
            found: list[str] = []
            _walk(p, top, set(), found, problems)
            files.extend((f, p) for f in sorted(found))
        elif os.path.lexists(p):
            files.append((p, None))
        else:
            problems.append(Diagnostic("MS001", f"no such file or directory: {p}", Pos(p, 1, 1)))
    return files, problems


def _walk(d: str, top: str, seen: set[tuple[int, int]], found: list[str], problems: list[Diagnostic]) -> None:
    try:
        st = os.stat(d)
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError as exc:
        problems.append(Diagnostic("MS001", f"cannot read the directory {d}: {exc.strerror or exc}", Pos(d, 1, 1)))
        return
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            is_dir = e.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            if e.is_symlink() and not inside(e.path, top):
                problems.append(Diagnostic("MS006", f"`{e.path}` is a symlink to a directory outside the tree "
                                           f"being checked, `{top}`; not followed", Pos(e.path, 1, 1),
                                           suggestion="pass `--root DIR` to widen the tree"))
                continue
            _walk(e.path, top, seen, found, problems)
        elif os.path.splitext(e.name)[1].lower() in SPEC_SUFFIXES:
            found.append(e.path)


#: a top-level `modelspec:` (YAML) or `modelspec =` (TOML) key, at the start of a line
_SPEC_KEY = re.compile(rb"""^(?:\xef\xbb\xbf)?["']?modelspec["']?[ \t]*[:=]""", re.MULTILINE)


def is_spec(path: str, root: str) -> bool:
    """Whether ``path`` declares itself a spec (a top-level `modelspec` key).

    A file that cannot be read safely (outside the tree, not a regular file) counts
    as a spec, so the normal check reports why; nothing outside the tree is read.
    """
    raw = read_bytes(path, path, Diagnostics(), limit=MAX_TEXT_BYTES, root=root)
    return raw is None or _SPEC_KEY.search(raw) is not None


def lint(paths: Iterable[str], overrides: Mapping[str, Any] | None = None, trust: Trust | None = None,
         only_specs: bool = False) -> LintResult:
    """Check every spec file named or found; block libraries (blocks, no `layers`) are checked as libraries.

    ``only_specs`` (the pre-commit hook) skips, silently, files without a top-level
    `modelspec` key: the hook is handed every YAML file of a commit, most of them not specs.
    """
    trust = trust or Trust()
    paths = list(paths)
    files, problems = spec_files(paths, trust.root)
    if only_specs:
        files = [(f, under) for f, under in files if is_spec(f, trust.for_spec(f, fallback=under).root)]
        if not files and not problems:
            return LintResult()
    res = LintResult(files=[f for f, _ in files], diagnostics=list(problems))
    for d in getattr(overrides, "docs", {}).values():  # the `--set` arguments, echoed under their problems
        if len(d.text) <= 200:
            res.sources[d.file] = d.text
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        res.usage_error = f"no such file or directory: {', '.join(missing)}"
    elif not files:
        res.usage_error = f"no spec files (.yaml, .yml, .toml) found in {', '.join(paths) or 'no paths'}"
    if res.usage_error:
        return res
    with quiet_gc():
        for f, under in files:
            _check(f, under, overrides, trust, res)
    return res


def _check(f: str, under: str | None, overrides: Mapping[str, Any] | None, trust: Trust, res: LintResult) -> None:
    """Load ``f`` once; check it as a spec, or as a block library when it has blocks but no `layers`."""
    spec_trust = trust.for_spec(f, fallback=under)
    d = Diagnostics()
    doc = load_document(f, d, root=spec_trust.root)
    if doc is not None:
        res.sources[doc.file] = doc.text
        if isinstance(doc.data, dict) and "layers" not in doc.data and "blocks" in doc.data:
            Importer(d, spec_trust.root, spec_trust).load_library(f, d, doc)
        else:
            check_document(doc, d, overrides, spec_trust)
    for x in d.sorted():  # once, not per file: a problem of the project's pyproject.toml
        key = (x.code, x.message, x.pos)
        if key not in res.seen:
            res.seen.add(key)
            res.diagnostics.append(x)


def render(res: LintResult, fmt: str, strict: bool, colour: bool = False) -> str:
    if fmt == "github":
        return report.github(res.diagnostics, strict)
    if fmt == "sarif":
        return report.sarif(res.diagnostics, strict)
    if fmt == "json":
        return report.as_json(res.diagnostics, strict)
    body = report.text(res.diagnostics, res.sources, strict, colour=colour)
    n_err = sum(1 for d in res.diagnostics if d.is_error or strict)
    n_warn = len(res.diagnostics) - n_err
    tail = f"{len(res.files)} file(s) checked: {n_err} error(s), {n_warn} warning(s)"
    return (body + "\n" + tail) if body else tail


#: ``echo(message, err=False, color=None)``: typer's, or the console script's own (modelspec.entry)
Echo = Callable[..., Any]


def run(paths: list[str], overrides: Mapping[str, Any], trust: Trust, fmt: str, strict: bool,
        output: str | None, only_specs: bool, echo: Echo) -> int:
    """The `lint` command once its options are read: print (or write) the report, return the exit code."""
    res = lint(paths, overrides, trust, only_specs)
    if res.usage_error:
        if res.diagnostics:
            on = colours.wants_colour(sys.stderr)
            echo(report.text(res.diagnostics, {}, colour=on), err=True, color=on)
        echo(f"error: {report.printable(res.usage_error)}", err=True)
        return 2
    on = fmt == "text" and not output and colours.wants_colour(sys.stdout)
    out = render(res, fmt, strict, on) if res.files or not only_specs else ""
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(out + "\n")
    elif out:
        echo(out, color=on)
    return 1 if res.failed(strict) else 0
