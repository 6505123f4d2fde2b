"""Front-end scaling and start-up: `python bench/bench_frontend.py`.

1. Time from spec text to checked IR (load, validate, expand, check, shapes)
   for generated MLP specs of 10, 100, 1,000 and 10,000 Linear+ReLU layers,
   written out one node per layer (no foreach), so every layer is parsed.
   Growth should be linear: the per-layer column stays flat.
2. Whole-process time of `modelspec lint` on one spec against `python -c pass`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modelspec.pipeline import compile_file  # noqa: E402


def mlp_spec(layers: int) -> str:
    lines = ["modelspec: 1", "name: Deep", "inputs:", "  x: [B, 64]", "layers:"]
    for k in range(layers):
        lines.append(f"  - {{name: fc{k}, op: Linear, features: 64}}")
        lines.append(f"  - {{name: act{k}, op: ReLU}}")
    lines.append("  - {name: head, op: Linear, features: 10}")
    return "\n".join(lines) + "\n"


def time_frontend(path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = compile_file(path)
        times.append(time.perf_counter() - t0)
        assert res.graph is not None and not res.diags.has_errors, [str(d.message) for d in res.diags]
    return statistics.median(times)


def time_process(cmd: list[str], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    compile_file(ROOT / "specs" / "mlp.yaml")  # warm imports
    print("front end: spec file -> checked IR (median)")
    print(f"{'layers':>8} {'nodes':>7} {'time ms':>10} {'us/layer':>10}")
    with tempfile.TemporaryDirectory() as d:
        for n in (10, 100, 1_000, 10_000):
            p = Path(d, f"mlp_{n}.yaml")
            p.write_text(mlp_spec(n))
            t = time_frontend(p, 9 if n <= 1000 else 3)
            print(f"{n:>8} {2 * n + 1:>7} {t * 1e3:>10.1f} {t / n * 1e6:>10.1f}")
    spec = str(ROOT / "specs" / "dyrcnn_x4.yaml")
    exe = os.path.join(os.path.dirname(sys.executable), "modelspec")
    base = time_process([sys.executable, "-c", "pass"])
    lint = time_process([exe, "lint", spec])
    print("\nwhole process (median of 7)")
    print(f"  python -c pass            {base * 1e3:8.1f} ms")
    print(f"  modelspec lint dyrcnn_x4  {lint * 1e3:8.1f} ms   ({lint - base:.3f} s above the interpreter)")


if __name__ == "__main__":
    main()
