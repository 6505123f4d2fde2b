"""Start-up: each command loads only what it runs (what is imported, never how long it takes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelspec.cli import app

ROOT = Path(__file__).resolve().parent.parent
WATCH = ["typer", "pydantic", "rich", "yaml", "modelspec.pipeline", "modelspec.backends", "modelspec.commands.build",
         "modelspec.commands.graph", "modelspec.commands.summary", "modelspec.ir.render", "torch", "jax"]


def _process(argv: list[str], entry: str = "modelspec.entry", env: dict[str, str] | None = None,
             cwd: Path = ROOT) -> tuple[int, str, str, list[str], bool]:
    """Run ``entry.main(argv)`` in a fresh interpreter: exit code, stdout, stderr, the watched modules
    it imported, and whether the training section's models were built."""
    code = (
        "import json, sys\n"
        f"from {entry} import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code or 0\n"
        "ts = sys.modules.get('modelspec.validate.train_section')\n"
        "built = bool(ts and ts.TrainSpec.__pydantic_complete__)\n"
        f"print(json.dumps([code, [m for m in {WATCH!r} if m in sys.modules], built]), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                       capture_output=True, text=True, timeout=120)
    err, _, marker = r.stderr.rstrip("\n").rpartition("\n")
    code_, loaded, built = json.loads(marker)
    return code_, r.stdout, err, loaded, built


def _run(argv: list[str], entry: str = "modelspec.entry") -> tuple[int, str, list[str], dict]:
    code, out, _, loaded, built = _process(argv, entry)
    return code, out, loaded, {"train_models_built": built}


def test_version_answers_before_the_command_line_loads() -> None:
    code, out, loaded, _ = _run(["--version"])
    assert code == 0 and [m for m in loaded if m != "yaml"] == []  # yaml: `import modelspec` loads the loaders
    via_typer = CliRunner().invoke(app, ["--version"])
    assert via_typer.exit_code == 0 and out == via_typer.output  # the same line either way
    assert _run(["-V"])[1] == out


def test_help_loads_no_front_end() -> None:
    code, out, loaded, _ = _run(["--help"])
    assert code == 0 and "lint" in out and "summary" in out
    assert "typer" in loaded
    assert not set(loaded) & {"pydantic", "modelspec.pipeline", "modelspec.backends", "torch", "jax"}, loaded


def test_lint_loads_the_front_end_only() -> None:
    code, out, loaded, built = _run(["lint", "specs/mlp.yaml"])
    assert code == 0 and "0 error(s)" in out
    assert "modelspec.pipeline" in loaded and "typer" not in loaded
    assert not set(loaded) & {"pydantic", "modelspec.backends", "modelspec.commands.build", "modelspec.commands.graph",
                              "modelspec.commands.summary", "modelspec.ir.render", "torch", "jax"}, loaded
    assert built == {"train_models_built": False}  # no `train:` section, no training models


def test_a_train_section_is_still_checked(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text((ROOT / "specs" / "mlp.yaml").read_text() + "train: {epochs: 0, optimzer: adam}\n")
    code, out, _, built = _run(["lint", str(spec)])
    assert code == 1 and built == {"train_models_built": True}
    assert "`train.epochs`: input should be greater than or equal to 1" in out
    assert "unknown key `optimzer`" in out


BAD = "modelspec: 1\nname: Bad\ninputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, featurs: 3}\n"
WARN = "modelspec: 1\nname: Warn\ninputs: {x: [B, 4], y: [B, 4]}\nlayers:\n  - {op: Linear, features: 3}\n"
FAST = [  # argument lists the console script reads itself
    ["lint", "specs/mlp.yaml"], ["lint", "specs"], ["lint", "bad.yaml"], ["lint", "bad.yaml", "specs/mlp.yaml"],
    ["lint", "warn.yaml"], ["lint", "warn.yaml", "--strict"], ["lint", "--format", "json", "bad.yaml"],
    ["lint", "-f", "github", "bad.yaml"], ["lint", "--format=sarif", "warn.yaml"], ["lint", "missing.yaml"],
    ["lint", "bad.yaml", "-o", "out.txt"], ["lint", "--only-specs", "other.yaml"], ["lint", "--only-specs", "bad.yaml"],
    ["lint", "--no-project-plugins", "specs/mlp.yaml"], ["lint", "--plugin", "no_such_mod", "bad.yaml"],
    ["lint", "--allow-plugins", "--project-plugins", "warn.yaml"], ["lint", "nospec.txt"],
]
SLOW = [  # ... and those it leaves to typer
    ["lint"], ["lint", "--help"], ["lint", "bad.yaml", "--set", "x=1"], ["lint", "bad.yaml", "--format", "bogus"],
    ["lint", "-fjson", "bad.yaml"], ["lint", "bad.yaml", "--strict", "--strict"], ["lint", "--", "bad.yaml"],
    ["lint", "bad.yaml", "--format"], ["lint", "bad.yaml", "--unknown"], ["lint", "bad.yaml", "--root", "."],
]


@pytest.mark.parametrize("argv", FAST + SLOW, ids=lambda a: " ".join(a[1:]) or "no-args")
@pytest.mark.parametrize("colour", [False, True], ids=["plain", "FORCE_COLOR"])
def test_console_script_answers_as_typer_does(argv: list[str], colour: bool, tmp_path: Path) -> None:
    """Same stdout, stderr, exit code and written file through the console script as through typer."""
    results = []
    for entry in ("modelspec.entry", "modelspec.cli"):
        work = tmp_path / entry
        (work / "specs").mkdir(parents=True)
        (work / "specs" / "mlp.yaml").write_text((ROOT / "specs" / "mlp.yaml").read_text())
        (work / "bad.yaml").write_text(BAD)
        (work / "warn.yaml").write_text(WARN)
        (work / "other.yaml").write_text("a: 1\n")
        (work / "nospec.txt").write_text("x\n")
        env = {"FORCE_COLOR": "1"} if colour else {"NO_COLOR": "1"}
        code, out, err, loaded, _ = _process(argv, entry, env=env, cwd=work)
        written = (work / "out.txt").read_text() if (work / "out.txt").exists() else None
        results.append((code, out.replace(str(work), "<dir>"), err.replace(str(work), "<dir>"), written))
        if entry == "modelspec.entry":
            assert ("typer" in loaded) == (argv in SLOW), loaded
    assert results[0] == results[1]
