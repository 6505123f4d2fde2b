"""A CSV or TSV table as training data: a header row, feature columns and a label column.

`train.table` names the label column (default `label`) and, optionally, the
feature columns (default: every other column, in file order).  Features must
be numbers; a value that is not is an error at its `file:line:col`.  Labels
are integers (class ids), numbers (for `mse`), or names: then the sorted
distinct names are the classes.  The whole table is read into memory (tables
are small next to images).
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from .config import TableSpec
from .sources import DataError, Raw

SUFFIXES = (".csv", ".tsv")


def looks_like(path: str) -> bool:
    return os.path.isfile(path) and path.lower().endswith(SUFFIXES)


def _delimiter(path: str, spec: TableSpec) -> str:
    if spec.delimiter != "auto":
        return "\t" if spec.delimiter == "\\t" else spec.delimiter
    return "\t" if path.lower().endswith(".tsv") else ","


def _number(text: str, path: str, line: int, col: int, column: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise DataError(f"{path}:{line}:{col}: column `{column}`: {text.strip()!r} is not a number"
                        + (" (the cell is empty)" if not text.strip() else "")) from None
    if not math.isfinite(v):
        raise DataError(f"{path}:{line}:{col}: column `{column}`: {text.strip()!r} is not a finite number")
    return v


def read(path: str, spec: TableSpec | None, loss: str) -> Raw:
    """The table at ``path`` as arrays `x` [N, F] (float32) and the label column."""
    spec = spec or TableSpec()
    delim = _delimiter(path, spec)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh, delimiter=delim))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read table {path}: {exc}") from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise DataError(f"{path}: the table is empty; its first row names the columns")
    header = [c.strip() for c in rows[0]]
    where = {name: k for k, name in enumerate(header)}
    shown = ", ".join(header[:12]) + (" ..." if len(header) > 12 else "")
    if spec.label not in where:
        raise DataError(f"{path}:1: no label column `{spec.label}` (columns: {shown}); name it with "
                        "`train.table.label`")
    features = spec.features or [c for c in header if c != spec.label]
    missing = [c for c in features if c not in where]
    if missing:
        raise DataError(f"{path}:1: no feature column(s) {', '.join(f'`{c}`' for c in missing)} (columns: {shown})")
    if spec.label in features:
        raise DataError(f"{path}: `{spec.label}` is the label column and cannot be a feature too")
    if not features:
        raise DataError(f"{path}: no feature columns besides the label `{spec.label}`")
    body = [(i + 2, r) for i, r in enumerate(rows[1:]) if any(c.strip() for c in r)]  # blank lines skipped
    if not body:
        raise DataError(f"{path}: the table has a header but no rows")
    cols = [where[c] for c in features]
    lab = where[spec.label]
    x = np.empty((len(body), len(cols)), np.float32)
    labels: list[str] = []
    for r, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: {len(row)} values, but the header names {len(header)} columns")
        for j, c in enumerate(cols):
            x[r, j] = _number(row[c], path, line, _col(row, c, delim), header[c])
        labels.append(row[lab].strip())
    y, notes = _labels(labels, body, path, spec.label, lab, loss, delim)
    return Raw({"x": x}, y, f"table {path}", notes=notes)


def _col(row: list[str], c: int, delim: str) -> int:
    """1-based character column of cell ``c`` (exact for unquoted cells)."""
    return 1 + sum(len(v) + len(delim) for v in row[:c])


def _labels(labels: list[str], body: list[tuple[int, list[str]]], path: str, column: str, lab: int,
            loss: str, delim: str) -> tuple[np.ndarray, list[str]]:
    def num(s: str) -> float | None:
        try:
            return float(s)
        except ValueError:
            return None

    vals = [num(s) for s in labels]
    if all(v is not None for v in vals):
        return np.asarray(vals, dtype=np.float64), []
    if loss != "cross_entropy":
        k = next(i for i, v in enumerate(vals) if v is None)
        line, row = body[k]
        raise DataError(f"{path}:{line}:{_col(row, lab, delim)}: column `{column}`: {labels[k]!r} is not a number "
                        f"(`loss: {loss}` needs numeric targets)")
    names = sorted(set(labels))
    index = {n: i for i, n in enumerate(names)}
    note = f"{path}: labels are names; classes {', '.join(f'{i}={n}' for i, n in enumerate(names[:10]))}" + \
        (" ..." if len(names) > 10 else "")
    return np.asarray([index[s] for s in labels], dtype=np.int64), [note]
