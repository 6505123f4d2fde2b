"""What a newcomer tries first: --version, shell completion, the pre-commit hook, no made-up addresses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.version import __version__

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelspec", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_version_prints_the_package_version() -> None:
    for flag in ("--version", "-V"):
        res = runner.invoke(app, [flag])
        assert res.exit_code == 0 and res.output == f"modelspec {__version__}\n"
    assert __version__ in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_show_completion_prints_a_bash_script() -> None:
    done = _run("--show-completion", "bash")
    assert done.returncode == 0, done.stderr
    assert "complete -o default -F _modelspec_completion modelspec" in done.stdout
    assert "_MODELSPEC_COMPLETE=complete_bash" in done.stdout


def test_install_completion_writes_the_shell_config(tmp_path: Path) -> None:
    done = _run("--install-completion", "bash", env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    rc = (tmp_path / ".bashrc").read_text(encoding="utf-8")
    assert "modelspec" in rc
    script = next((tmp_path / ".bash_completions").glob("modelspec*"))
    assert "_modelspec_completion" in script.read_text(encoding="utf-8")


def test_completion_completes_command_names() -> None:
    done = _run(env={"_MODELSPEC_COMPLETE": "complete_bash", "COMP_WORDS": "modelspec su", "COMP_CWORD": "1"})
    assert done.stdout.split() == ["summary"], done.stdout + done.stderr


# ---- no made-up web addresses ----------------------------------------------------

def test_render_and_schema_name_no_placeholder_domain() -> None:
    res = runner.invoke(app, ["render", str(ROOT / "specs/mlp.yaml")])
    assert res.exit_code == 0 and "modelspec.dev" not in res.output and "http" not in res.output
    res = runner.invoke(app, ["schema"])
    assert "modelspec.dev" not in res.output and "$id" not in json.loads(res.output)


def test_sarif_rules_point_at_explain_not_a_made_up_repository(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("modelspec: 1\nname: X\ninputs: {x: [B, 3]}\nlayers: [{op: Linear, featurs: 3}]\n")
    res = runner.invoke(app, ["lint", str(bad), "--format", "sarif"])
    assert res.exit_code == 1
    log = json.loads(res.output)
    assert "github.com/modelspec" not in res.output
    driver = log["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver
    rule = next(r for r in driver["rules"] if r["id"] == "MS011")
    assert "helpUri" not in rule and rule["help"]["text"] == "modelspec explain MS011"
    assert log["runs"][0]["results"][0]["ruleId"] == "MS011"


# ---- the pre-commit hook ---------------------------------------------------------

def _tree(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir(parents=True)
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / "compose.yaml").write_text("services: [\n")  # not a spec, and not even valid YAML
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "good.yaml").write_text((ROOT / "specs/mlp.yaml").read_text(encoding="utf-8"))
    (tmp_path / "good.toml").write_text((ROOT / "specs/mlp.toml").read_text(encoding="utf-8"))
    (tmp_path / "bad.yaml").write_text("modelspec: 1\nname: X\ninputs: {x: [B, 3]}\n"
                                       "layers: [{op: Linear, featurs: 3}]\n")
    return tmp_path


def test_hook_entry_lints_only_specs() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hooks[0]["entry"].split() == ["modelspec", "lint", "--only-specs"]


def test_only_specs_skips_other_yaml_silently(tmp_path: Path) -> None:
    t = _tree(tmp_path)
    others = [".pre-commit-config.yaml", "compose.yaml", "pyproject.toml"]
    done = _run("lint", "--only-specs", *others, cwd=t)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    done = _run("lint", "--only-specs", *others, "good.yaml", "good.toml", cwd=t)
    assert done.returncode == 0 and done.stdout.strip() == "2 file(s) checked: 0 error(s), 0 warning(s)"
    done = _run("lint", "--only-specs", *others, "bad.yaml", cwd=t)
    assert done.returncode == 1 and "bad.yaml:4:23: MS011" in done.stdout
    assert "compose.yaml" not in done.stdout and "1 file(s) checked: 1 error(s)" in done.stdout
    done = _run("lint", "--only-specs", ".", cwd=t)  # a directory: the same filter
    assert done.returncode == 1 and "3 file(s) checked" in done.stdout and "compose" not in done.stdout


def test_non_specs_named_explicitly_are_still_reported(tmp_path: Path) -> None:
    t = _tree(tmp_path)
    done = _run("lint", ".pre-commit-config.yaml", "compose.yaml", cwd=t)
    assert done.returncode == 1
    assert ".pre-commit-config.yaml:1:1: MS010" in done.stdout and "compose.yaml:" in done.stdout


def test_only_specs_never_reads_outside_the_tree(tmp_path: Path) -> None:
    t = _tree(tmp_path / "repo")
    outside = tmp_path / "secret.yaml"
    outside.write_text("token: hunter2\n")
    (t / "link.yaml").symlink_to(outside)
    done = _run("lint", "--only-specs", "link.yaml", cwd=t)
    assert done.returncode == 1 and "MS006" in done.stdout and "hunter2" not in done.stdout + done.stderr
