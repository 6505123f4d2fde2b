"""Printing diagnostics: text with source line and caret, GitHub annotations, SARIF, JSON."""

from __future__ import annotations

import json
from typing import Iterable, Sequence

from .. import __version__
from ..codes import CODES
from ..diagnostics import Diagnostic, Severity

DOCS_URL = "https://github.com/modelspec/modelspec/blob/main/docs/errors.md"


def severity_of(d: Diagnostic, strict: bool) -> str:
    return "error" if d.is_error or strict else "warning"


def text(diags: Sequence[Diagnostic], sources: dict[str, str], strict: bool = False) -> str:
    """``FILE:LINE:COL: MS### message``, the source line, a caret, hints."""
    out: list[str] = []
    for d in diags:
        where = f"{d.pos}: " if d.pos else ""
        sev = severity_of(d, strict)
        out.append(f"{where}{d.code} {sev}: {d.message}")
        if d.pos and d.pos.file in sources:
            lines = sources[d.pos.file].splitlines()
            if 0 < d.pos.line <= len(lines):
                line = lines[d.pos.line - 1].replace("\t", " ")
                out.append(f"  {d.pos.line:>4} | {line}")
                out.append("       | " + " " * max(d.pos.col - 1, 0) + "^")
        if d.suggestion:
            out.append(f"  = help: {d.suggestion}")
        for n in d.notes:
            out.append(f"  = note: {n}")
    return "\n".join(out)


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s


def github(diags: Iterable[Diagnostic], strict: bool = False) -> str:
    """GitHub Actions workflow commands (``::error file=...::message``)."""
    out = []
    for d in diags:
        sev = severity_of(d, strict)
        props = []
        if d.pos:
            props += [f"file={_gh_escape(d.pos.file, True)}", f"line={d.pos.line}", f"col={d.pos.col}"]
        props.append(f"title={_gh_escape(d.code + ' ' + CODES[d.code].title if d.code in CODES else d.code, True)}")
        msg = d.message + (f" ({d.suggestion})" if d.suggestion else "")
        out.append(f"::{sev} {','.join(props)}::{_gh_escape(msg)}")
    return "\n".join(out)


def as_json(diags: Iterable[Diagnostic], strict: bool = False) -> str:
    items = [
        {
            "code": d.code,
            "severity": severity_of(d, strict),
            "message": d.message,
            "file": d.pos.file if d.pos else None,
            "line": d.pos.line if d.pos else None,
            "col": d.pos.col if d.pos else None,
            "suggestion": d.suggestion,
            "notes": d.notes,
        }
        for d in diags
    ]
    return json.dumps(items, indent=2)


def sarif(diags: Sequence[Diagnostic], strict: bool = False) -> str:
    """SARIF 2.1.0, as GitHub code scanning accepts it."""
    used = sorted({d.code for d in diags} | set(CODES))
    rules = [
        {
            "id": code,
            "name": CODES[code].title.title().replace(" ", "").replace("-", "") if code in CODES else code,
            "shortDescription": {"text": CODES[code].title if code in CODES else code},
            "fullDescription": {"text": CODES[code].explanation if code in CODES else code},
            "helpUri": f"{DOCS_URL}#{code.lower()}",
            "defaultConfiguration": {
                "level": "error" if code not in CODES or CODES[code].severity is Severity.ERROR else "warning"
            },
        }
        for code in used
    ]
    index = {code: i for i, code in enumerate(used)}
    results = []
    for d in diags:
        r: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": severity_of(d, strict),
            "message": {"text": d.message + (f" ({d.suggestion})" if d.suggestion else "")},
        }
        if d.pos:
            r["locations"] = [{
                "physicalLocation": {
                    "artifactLocation": {"uri": d.pos.file.replace("\\", "/").removeprefix("./")},
                    "region": {"startLine": d.pos.line, "startColumn": d.pos.col},
                }
            }]
        results.append(r)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "modelspec", "version": __version__,
                                "informationUri": "https://github.com/modelspec/modelspec", "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2)
