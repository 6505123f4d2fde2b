"""Printing diagnostics: text with source line and caret, GitHub annotations, SARIF, JSON."""

from __future__ import annotations

import json
import re
from typing import Iterable, Sequence

from ..codes import CODES
from ..diagnostics import Diagnostic, Severity
from ..version import __version__
from .colour import paint

def severity_of(d: Diagnostic, strict: bool) -> str:
    return "error" if d.is_error or strict else "warning"


#: C0 controls but tab and newline, DEL, C1 controls, bidi overrides and isolates, line separators:
#: characters that make a terminal (or a CI log) do something, or text read differently than it is
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ufeff]")


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(s: str, *, newlines: bool = False) -> str:
    """``s`` with every control character shown as an escape (``\\x1b``, ``\\u202e``).

    A spec is untrusted: an OSC or CSI sequence in a name or comment must not
    reach the terminal that shows the report.  Tabs stay; newlines only when
    ``newlines`` (a message is one line, so a newline in it is escaped too).
    """
    out = _UNSAFE.sub(_escape_char, s)
    return out if newlines else out.replace("\n", "\\n")


#: line breaks as each loader counts lines (YAML's include NEL and the Unicode separators)
_YAML_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_TOML_BREAKS = re.compile("\r?\n")


def _source_line(source: str, file: str, line: int) -> str | None:
    """Line ``line`` of ``source``, split at the line breaks its loader counts."""
    breaks = _TOML_BREAKS if file.lower().endswith(".toml") else _YAML_BREAKS
    lines = breaks.split(source)
    return lines[line - 1] if 0 < line <= len(lines) else None


def text(diags: Sequence[Diagnostic], sources: dict[str, str], strict: bool = False, *,
         colour: bool = False) -> str:
    """``FILE:LINE:COL: MS### message``, the source line, a caret, hints; control characters escaped.

    ``colour`` (a terminal; see `colour.wants_colour`) adds our own escape codes, only
    around text already made printable, so a spec still cannot write one.
    """
    out: list[str] = []
    for d in diags:
        where = paint(f"{printable(str(d.pos))}:", "bold", colour) + " " if d.pos else ""
        sev = severity_of(d, strict)
        tag = paint(f"{d.code} {sev}:", "bold " + ("red" if sev == "error" else "yellow"), colour)
        out.append(f"{where}{tag} {paint(printable(d.message), 'bold', colour)}")
        line = _source_line(sources[d.pos.file], d.pos.file, d.pos.line) if d.pos and d.pos.file in sources else None
        if d.pos and line is not None:
            line = line.replace("\t", " ")
            bar = paint("|", "blue", colour)
            out.append(f"  {paint(f'{d.pos.line:>4}', 'blue', colour)} {bar} {printable(line)}")
            out.append(f"       {bar} " + " " * len(printable(line[:max(d.pos.col - 1, 0)]))
                       + paint("^", "bold " + ("red" if sev == "error" else "yellow"), colour))
        if d.suggestion:
            out.append(f"  = {paint('help:', 'bold cyan', colour)} {printable(d.suggestion)}")
        for n in d.notes:
            out.append(f"  = {paint('note:', 'bold', colour)} "
                       + printable(n, newlines=True).replace("\n", "\n          "))
    return "\n".join(out)


def _gh_escape(s: str, prop: bool = False) -> str:
    """GitHub's workflow-command escaping, after control characters are made visible."""
    s = printable(s, newlines=True)
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
            "help": {"text": f"modelspec explain {code}"},  # no made-up web address: the catalog ships
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
                                "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2)
