"""Example outputs in README.md and docs/*.md, produced by the real commands.

A fenced block preceded by a marker comment is generated:

    <!-- output: modelspec summary specs/mlp.yaml -->
    ```
    $ modelspec summary specs/mlp.yaml
    MLP
    ...
    ```

The marker holds one or more shell commands separated by `;`.  Each is shown
as a `$ COMMAND` line followed by what it printed (stdout and stderr);
`echo $?` shows the exit status of the command before it.  Options go before
the colon: `<!-- output head=12: CMD -->` keeps the first 12 lines of the
last command's output and adds a `...` line.  `modelspec` is this checkout's
(run with the interpreter running this script).

The commands run in a scratch directory that links `specs/`, `docs/` and
`schemas/` of the repository, so a command may write files (`-o rcnn.mmd`)
without touching the tree; colour is off and no terminal width is set, so the
output is the same on every machine.

    python tools/docs_outputs.py           # rewrite every generated block (`make docs`)
    python tools/docs_outputs.py --check   # exit 1 and list the stale blocks
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINKED = ("specs", "docs", "schemas")
MARKER = re.compile(r"^<!-- output(?P<opts>(?: [a-z]+=\S+)*): (?P<cmds>.+?) -->\n```[a-z]*\n", re.M)
_SEP = "\x1e--docs-outputs-separator--\x1e"


@dataclass
class Block:
    file: Path
    start: int  # offset of the block's first content line
    end: int  # offset of its closing fence
    commands: list[str]
    options: dict[str, str]
    current: str


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "ARCHITECTURE.md"]


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    out = []
    for m in MARKER.finditer(text):
        close = text.find("\n```", m.end() - 1)
        if close < 0:
            raise SystemExit(f"{path}: the block after `{m.group(0).splitlines()[0]}` is not closed")
        opts = dict(o.split("=", 1) for o in m.group("opts").split())
        cmds = [c.strip() for c in m.group("cmds").split(";") if c.strip()]
        out.append(Block(path, m.end(), close + 1, cmds, opts, text[m.end():close + 1]))
    return out


def _sandbox(tmp: Path) -> dict[str, str]:
    for name in LINKED:
        (tmp / name).symlink_to(ROOT / name, target_is_directory=True)
    bindir = tmp / ".bin"
    bindir.mkdir()
    shim = bindir / "modelspec"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m modelspec "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "MODELSPEC_DEBUG")}
    env.update({"PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}", "PYTHONPATH": str(ROOT),
                "NO_COLOR": "1", "TERM": "dumb", "LC_ALL": "C.UTF-8"})
    return env


def run(block: Block) -> str:
    """The block's text as the commands print it now."""
    with tempfile.TemporaryDirectory(prefix="docs-outputs-") as d:
        tmp = Path(d)
        env = _sandbox(tmp)
        script = "\n".join(f"{cmd} 2>&1; __status=$?; printf '%s\\n' '{_SEP}'; (exit $__status)"
                           for cmd in block.commands)
        done = subprocess.run(["bash", "-c", script], cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=300)
    parts = done.stdout.split(_SEP + "\n")[: len(block.commands)]
    out = []
    for k, (cmd, got) in enumerate(zip(block.commands, parts)):
        lines = got.rstrip("\n").split("\n") if got.strip("\n") else []
        lines = [ln.rstrip() for ln in lines]
        head = block.options.get("head")
        if head and k == len(block.commands) - 1 and len(lines) > int(head):
            lines = lines[: int(head)] + ["..."]
        out += [f"$ {cmd}", *lines]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="report stale blocks, change nothing")
    ap.add_argument("files", nargs="*", type=Path, help="markdown files (default: README.md, docs/*.md)")
    args = ap.parse_args(argv)
    stale = []
    for path in [p.resolve() for p in args.files] or documents():
        found = blocks(path)
        if not found:
            continue
        text = path.read_text(encoding="utf-8")
        for b in reversed(found):  # from the end, so earlier offsets stay valid
            new = run(b)
            if new != b.current:
                stale.append(f"{os.path.relpath(path, ROOT)}: {'; '.join(b.commands)}")
                text = text[: b.start] + new + text[b.end:]
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(("stale example outputs (run `make docs`):\n  " if args.check else "regenerated:\n  ")
              + "\n  ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
