"""Colour on a terminal, none in a pipe or with NO_COLOR; a spec still cannot write an escape code."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from modelspec.commands.colour import paint, wants_colour
from modelspec.commands.report import text
from modelspec.diagnostics import Diagnostic, Pos

ROOT = Path(__file__).resolve().parents[1]
SGR = re.compile(r"\x1b\[[0-9;]*m")
BAD = "modelspec: 1\nname: X\ninputs: {x: [B, 3]}\nlayers: [{op: Linear, featurs: 3}]\n"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    return {**env, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "120", **extra}


def _on_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run modelspec with stdout and stderr on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "modelspec", *args], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side closed: the process ended
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(master)
    return out.decode("utf-8", "replace")


def _in_pipe(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "modelspec", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)
    return done.stdout + done.stderr


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    (tmp_path / "bad.yaml").write_text(BAD)
    return tmp_path


@pytest.mark.parametrize("args", [["lint", "bad.yaml"], ["summary", "bad.yaml"]])
def test_diagnostics_are_coloured_on_a_terminal_only(bad: Path, args: list[str]) -> None:
    tty = _on_terminal(args, _env(), bad)
    assert "\x1b[1;31mMS011 error:\x1b[0m" in tty  # the code and severity in bold red
    assert "did you mean `features`?" in SGR.sub("", tty)
    for out in (_on_terminal(args, _env(NO_COLOR="1"), bad), _in_pipe(args, _env(), bad)):
        assert "\x1b" not in out and "MS011 error: `featurs` is not an attribute of Linear" in out


def test_the_summary_table_is_coloured_on_a_terminal_only(tmp_path: Path) -> None:
    spec = str(ROOT / "specs/mlp.yaml")
    tty = _on_terminal(["summary", spec], _env(), tmp_path)
    assert SGR.search(tty) and "Total params: 242,762" in SGR.sub("", tty)
    for out in (_on_terminal(["summary", spec], _env(NO_COLOR="1"), tmp_path),
                _in_pipe(["summary", spec], _env(), tmp_path)):
        assert "\x1b" not in out and "Total params: 242,762" in out


def test_params_inspect_is_coloured_on_a_terminal_only(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    np.savez(tmp_path / "w.npz", **{"fc.weight": np.zeros((3, 4), np.float32)})
    args = ["params", "inspect", "w.npz"]
    assert SGR.search(_on_terminal(args, _env(), tmp_path))
    for out in (_on_terminal(args, _env(NO_COLOR="1"), tmp_path), _in_pipe(args, _env(), tmp_path)):
        assert "\x1b" not in out and "fc.weight" in out and "12" in out


def test_force_colour_colours_a_pipe_and_no_colour_wins(bad: Path) -> None:
    assert "\x1b[" in _in_pipe(["lint", "bad.yaml"], _env(FORCE_COLOR="1"), bad)
    assert "\x1b[" in _in_pipe(["ops", "Linear"], _env(FORCE_COLOR="1"), bad)
    assert "\x1b" not in _in_pipe(["lint", "bad.yaml"], _env(FORCE_COLOR="1", NO_COLOR="1"), bad)


def test_machine_formats_never_carry_colour(bad: Path) -> None:
    for fmt in ("json", "sarif", "github"):
        assert "\x1b" not in _in_pipe(["lint", "bad.yaml", "--format", fmt], _env(FORCE_COLOR="1"), bad)
    assert "\x1b" not in _in_pipe(["ops", "--format", "json"], _env(FORCE_COLOR="1"), bad)


def test_a_spec_cannot_smuggle_an_escape_code_into_coloured_output() -> None:
    evil = "x\x1b]0;pwned\x07\x1b[2J"
    d = Diagnostic("MS011", f"`{evil}` is not an attribute", Pos("s.yaml", 1, 3), suggestion=evil)
    out = text([d], {"s.yaml": f"a: {evil}\n"}, colour=True)
    assert SGR.search(out)
    assert "\x1b" not in SGR.sub("", out) and "\\x1b]0;pwned\\x07" in out


def test_wants_colour_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    for k in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(k, raising=False)
    assert wants_colour(Tty()) and not wants_colour(Pipe())
    monkeypatch.setenv("TERM", "dumb")
    assert not wants_colour(Tty())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert wants_colour(Pipe())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(Tty())
    assert paint("x", "bold red", True) == "\x1b[1;31mx\x1b[0m" and paint("x", "bold", False) == "x"
