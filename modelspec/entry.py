"""The `modelspec` console script: the commonest calls are answered before the command line loads.

The command line (typer, which builds a validator for every option of every
command) costs more to start than `modelspec --version` or a plain
`modelspec lint PATH...` takes to run.  So `--version`, and `lint` with paths
and options written in the forms below, are read here; every other argument
list (`--help`, `--set`, `--root`, an unknown or repeated option, `--`,
anything typer would read differently or reject) goes to `modelspec.cli`,
unchanged.  Both run the same command code (`commands.lint.run`), so output
and exit codes are the same (tests/test_startup.py compares them).
"""

from __future__ import annotations

import codecs
import os
import re
import sys
from typing import Any, List, Optional

from .commands.guard import guarded
from .version import __version__

#: `lint`'s flags: option -> (parameter, value)
_FLAGS = {"--strict": ("strict", True), "--allow-plugins": ("allow_plugins", True),
          "--project-plugins": ("project_plugins", True), "--no-project-plugins": ("project_plugins", False),
          "--only-specs": ("only_specs", True)}
#: `lint`'s options with a value: option -> parameter (`--plugin` repeats)
_VALUES = {"--format": "format", "-f": "format", "--output": "output", "-o": "output", "--plugin": "plugin"}
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")  # what click.echo strips


def lint_args(args: List[str]) -> Optional[dict[str, Any]]:
    """The options of ``modelspec lint ARGS``, or None where typer should read them."""
    opts: dict[str, Any] = {"paths": [], "format": "text", "strict": False, "output": None,
                            "allow_plugins": False, "plugin": [], "project_plugins": True, "only_specs": False}
    seen: set[str] = set()
    k = 0
    while k < len(args):
        arg = args[k]
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if arg in _FLAGS:
            key, flag = _FLAGS[arg]
            if key in seen:
                return None
            seen.add(key)
            opts[key] = flag
        elif name in _VALUES:
            if not eq:
                k += 1
                if k == len(args):
                    return None
                value = args[k]
            if not value or value.startswith("-"):
                return None
            key = _VALUES[name]
            if key == "plugin":
                opts["plugin"].append(value)
            elif key in seen:
                return None
            else:
                seen.add(key)
                opts[key] = value
        elif arg.startswith("-"):
            return None
        else:
            opts["paths"].append(arg)
        k += 1
    return opts if opts["paths"] else None


def echo(message: str, err: bool = False, color: Optional[bool] = None) -> None:
    """click.echo, for the text streams `plain_streams` accepts: escape codes go where it strips them."""
    stream = sys.stderr if err else sys.stdout
    if (not stream.isatty()) if color is None else not color:
        message = _ANSI.sub("", message)
    stream.write(message + "\n")
    stream.flush()


def plain_streams() -> bool:
    """UTF-8 text streams, which click writes to as they are (it re-wraps misconfigured ones)."""
    try:
        return all(codecs.lookup(s.encoding).name == "utf-8" for s in (sys.stdout, sys.stderr))
    except (AttributeError, LookupError, TypeError):
        return False


def _cli(argv: Optional[List[str]]) -> None:
    from .cli import main as run  # lazy: a heavy command (typer and every command's options)

    run(argv)


def _lint(opts: dict[str, Any], argv: List[str]) -> None:
    from .commands import lint  # lazy: a heavy command (the front end), loaded once it is known to run

    if opts["format"] not in lint.FORMATS:
        _cli(argv)  # typer reports the bad value, as it always has
        return
    trust = lint.Trust(opts["allow_plugins"], frozenset(opts["plugin"]), None,
                       project_config=opts["project_plugins"])
    sys.exit(lint.run(opts["paths"], {}, trust, opts["format"], opts["strict"], opts["output"],
                      opts["only_specs"], echo))


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        print(f"modelspec {__version__}")
        sys.exit(0)
    if args[:1] == ["lint"] and "_MODELSPEC_COMPLETE" not in os.environ and plain_streams():
        opts = lint_args(args[1:])
        if opts is not None:
            guarded(lambda: _lint(opts, args))
            return
    _cli(argv)
