"""Start-up: each command loads only what it runs (what is imported, never how long it takes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from modelspec.cli import app

ROOT = Path(__file__).resolve().parent.parent
WATCH = ["typer", "pydantic", "rich", "yaml", "modelspec.pipeline", "modelspec.backends", "modelspec.commands.build",
         "modelspec.commands.graph", "modelspec.commands.summary", "modelspec.ir.render", "torch", "jax"]


def _run(argv: list[str], entry: str = "modelspec.entry") -> tuple[int, str, list[str], dict]:
    """Run the console script's ``main`` in a fresh interpreter: exit code, stdout, the watched
    modules it imported, and whether the training section's models were built."""
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
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=120)
    code_, loaded, built = json.loads(r.stderr.strip().splitlines()[-1])
    return code_, r.stdout, loaded, {"train_models_built": built}


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
    assert "modelspec.pipeline" in loaded
    assert not set(loaded) & {"modelspec.backends", "modelspec.commands.build", "modelspec.commands.graph",
                              "modelspec.commands.summary", "modelspec.ir.render", "torch", "jax"}, loaded
    assert built == {"train_models_built": False}  # no `train:` section, no training models


def test_a_train_section_is_still_checked(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text((ROOT / "specs" / "mlp.yaml").read_text() + "train: {epochs: 0, optimzer: adam}\n")
    code, out, _, built = _run(["lint", str(spec)])
    assert code == 1 and built == {"train_models_built": True}
    assert "`train.epochs`: input should be greater than or equal to 1" in out
    assert "unknown key `optimzer`" in out
