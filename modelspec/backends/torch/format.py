"""Line wrapping for emitted statements, so the module stays within 100 columns.

The emitter writes every statement on one line; `wrap` splits a line that is too
long the way black does: at the last bracket pair that closes at the end of the
line, first with the whole bracket body on one indented line, else one item per
line with a trailing comma, recursing into items that are still too long.
Strings are skipped while scanning, so quoted names never confuse the split.
"""

from __future__ import annotations

from typing import Iterator

LIMIT = 100
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}


def _skip_string(s: str, i: int) -> int:
    """Index just past the string literal starting at ``s[i]`` (a quote)."""
    quote = s[i]
    i += 1
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s[i] == quote:
            return i + 1
        i += 1
    return i


def _code_chars(s: str) -> Iterator[tuple[int, str]]:
    """(index, character) of ``s`` outside its string literals."""
    i = 0
    while i < len(s):
        if s[i] in "'\"":
            i = _skip_string(s, i)
            continue
        yield i, s[i]
        i += 1


def _brackets(s: str) -> list[tuple[int, int]]:
    """(open, close) index pairs of the depth-0 brackets of ``s``."""
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    for i, c in _code_chars(s):
        if c in _OPEN:
            stack.append(i)
        elif c in _CLOSE and stack:
            start = stack.pop()
            if not stack:
                pairs.append((start, i))
    return pairs


def split_items(body: str) -> list[str]:
    """``body`` split at its top-level commas (items stripped, empty tail dropped)."""
    items: list[str] = []
    depth = start = 0
    for i, c in _code_chars(body):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c == "," and depth == 0:
            items.append(body[start:i].strip())
            start = i + 1
    tail = body[start:].strip()
    if tail:
        items.append(tail)
    return items


def wrap(line: str, limit: int = LIMIT) -> list[str]:
    """``line`` (one statement with its indentation) as lines of at most ``limit`` columns."""
    if len(line) <= limit:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    pairs = _brackets(line)
    if not pairs:
        return [line]  # nothing to split at; emitted names are short enough in practice
    for start, end in reversed(pairs):  # the rightmost split whose head and tail fit
        head, body, tail = line[: start + 1], line[start + 1: end], line[end:]
        if len(head) <= limit and len(indent + tail) <= limit and body.strip():
            break
    else:
        return [line]
    inner = indent + "    "
    one = inner + body.strip()
    if len(one) <= limit:
        return [head, one, indent + tail]
    out = [head]
    items = split_items(body)
    comma = "," if len(items) > 1 else ""  # never turn a parenthesised value into a tuple
    for item in items:
        out.extend(wrap(f"{inner}{item}{comma}", limit))
    out.append(indent + tail)
    return out


def wrap_all(lines: list[str], limit: int = LIMIT) -> list[str]:
    out: list[str] = []
    for line in lines:
        out.extend(wrap(line, limit))
    return out
