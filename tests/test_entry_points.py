"""Ops from installed packages: the `modelspec.ops` entry-point group.

The registry looks for the group in the installed distributions' metadata
without importing `importlib.metadata` (it costs more than linting a small spec
takes), so this checks, with a distribution made here, that an installed op is
still found, and that without one nothing is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ("modelspec: 1\nname: Noisy\ninputs: {x: [B, 4]}\n"
        "layers:\n  - {op: Linear, features: 3}\n  - {op: MyNoise, std: 0.2}\n")


def lint(tmp: Path, site: Path) -> subprocess.CompletedProcess[str]:
    (tmp / "noisy.yaml").write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "tests" / "plugins"), str(ROOT)]),
           "NO_COLOR": "1"}
    code = ("import sys\nfrom modelspec.entry import main\nmain(['lint', 'noisy.yaml'])")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=120)


def test_an_installed_op_is_found(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "noise_ops-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: noise-ops\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[console_scripts]\nx = y:z\n\n[modelspec.ops]\nnoise = noise_plugin\n")
    r = lint(tmp_path, site)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 error(s)" in r.stdout


def test_without_the_distribution_the_op_is_unknown(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "other-1.0.dist-info"  # an entry point of another group is not an op
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: other\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[console_scripts]\nnoise = noise_plugin\n")
    r = lint(tmp_path, site)
    assert r.returncode == 1
    assert "MyNoise" in r.stdout
