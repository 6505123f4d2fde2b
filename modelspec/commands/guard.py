"""Run a command so that no traceback reaches a user: the exit codes every entry point shares."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable


def guarded(command: Callable[[], Any]) -> None:
    """Call ``command``; exit with its code (2 for a code that is not a number), 130 on Ctrl-C, and 2
    with a one-line report (the traceback with MODELSPEC_DEBUG=1) when it crashes."""
    try:
        command()
    except SystemExit as exc:
        code = exc.code
        if code not in (0, 1, None) and not isinstance(code, int):
            code = 2
        sys.exit(code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user
        if os.environ.get("MODELSPEC_DEBUG"):
            import traceback  # lazy: only a crash with MODELSPEC_DEBUG set prints one

            traceback.print_exc()
        print(f"modelspec: internal error: {type(exc).__name__}: {exc}\n"
              "  this is a bug in modelspec; set MODELSPEC_DEBUG=1 for the traceback and please report it",
              file=sys.stderr)
        sys.exit(2)
