"""Cross-backend checks: the same weights in the Torch and JAX models give the same outputs.

Used by the test suite and the benchmark; handy when adding an op.  Imports
torch and jax (only call these where both are installed).

    g = modelspec.load("specs/dyrcnn_x4.yaml", {"size": 16})
    report = compare(g)            # torch init -> safetensors -> JAX, eval mode
    assert report.max_err < 1e-4
"""

from __future__ import annotations

import os
import tempfile
import types
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import weights as pio
from .build import build_graph
from .ir.graph import Graph

__all__ = ["Comparison", "compare", "example_inputs", "jax_outputs", "torch_outputs"]


def example_inputs(g: Graph, batch: int = 2, length: int = 5, seed: int = 0,
                   dims: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Random inputs for every input terminal: time inputs ``[B, T, ...]``, static ``[B, ...]``.

    ``B`` is ``batch``, any other symbol ``dims[sym]`` or ``length``; integer inputs
    draw indices below 2 (safe for any Embedding).
    """
    rs = np.random.RandomState(seed)
    sizes = {"B": batch, **(dims or {})}
    out: dict[str, np.ndarray] = {}
    for name, t in g.inputs.items():
        shape = [d if isinstance(d, int) else sizes.get(str(d), length) for d in t.shape]
        if g.time is not None and not t.static:
            shape.insert(1, g.time.steps)
        if t.dtype.startswith("int"):
            out[name] = rs.randint(0, 2, size=shape).astype(t.dtype)
        else:
            out[name] = rs.randn(*shape).astype(np.float32)
    return out


def torch_outputs(model: Any, inputs: Mapping[str, np.ndarray]) -> Any:
    """Outputs of a torch model (positional inputs in spec order) as numpy."""
    import torch

    with torch.no_grad():
        y = model(*[torch.from_numpy(np.asarray(v)) for v in inputs.values()])
    if isinstance(y, dict):
        return {k: v.numpy() for k, v in y.items()}
    return y.numpy()


def jax_outputs(mod: types.ModuleType, params: Any, state: Any, inputs: Mapping[str, np.ndarray],
                jit: bool = True) -> Any:
    """Outputs of an emitted JAX module (eval mode) as numpy."""
    import jax

    fn = jax.jit(mod.apply, static_argnames="train") if jit else mod.apply
    y, _ = fn(params, state, dict(inputs))
    if isinstance(y, dict):
        return {k: np.asarray(v) for k, v in y.items()}
    return np.asarray(y)


@dataclass
class Comparison:
    torch: Any
    jax: Any
    max_err: float
    scale: float


def _max_err(a: Any, b: Any) -> tuple[float, float]:
    if isinstance(a, dict):
        pairs = [(a[k], b[k]) for k in a]
    else:
        pairs = [(a, b)]
    err = max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in pairs)
    scale = max(float(np.max(np.abs(np.asarray(x)))) for x, _ in pairs)
    return err, scale


def compare(g: Graph, inputs: Mapping[str, np.ndarray] | None = None, seed: int = 0,
            via_file: bool = True, batch: int = 2) -> Comparison:
    """Build both backends, copy the Torch weights into JAX (through a safetensors file
    when ``via_file``) and run both in eval mode on the same inputs."""
    import torch

    torch.manual_seed(seed)
    model = build_graph(g, "torch").eval()
    mod = build_graph(g, "jax")
    sd = pio.from_torch(model)
    if via_file:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "params.safetensors")
            pio.save(path, sd)
            sd = pio.load(path)
    params, state = mod.split_state_dict(sd)
    x = dict(inputs) if inputs is not None else example_inputs(g, batch=batch, seed=seed)
    yt, yj = torch_outputs(model, x), jax_outputs(mod, params, state, x)
    err, scale = _max_err(yt, yj)
    return Comparison(yt, yj, err, scale)
