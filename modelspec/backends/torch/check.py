"""Checks of a built Torch model against its IR (``build --check``, ``summary --backend torch``)."""

from __future__ import annotations

import types
from typing import Any

from ...ir.graph import Graph
from ..checking import CheckFailed, as_dict, bind, shape_problems, shape_text
from .runtime import random_inputs


def run_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    """Instantiate, run one forward and one backward pass in training mode, check output shapes.

    Returns a one-line verdict; raises `CheckFailed` (or `DimError` for a free size).
    """
    import torch

    env = bind(g, dims)
    model = getattr(mod, mod.__all__[0])()
    model.train()
    inputs = random_inputs(g, env)
    try:
        outputs = as_dict(g, model(*inputs))
    except Exception as exc:
        raise CheckFailed(f"forward failed: {type(exc).__name__}: {exc}") from exc
    problems = shape_problems(g, outputs, env)
    if problems:
        raise CheckFailed("; ".join(problems))
    loss = sum(o.float().sum() for o in outputs.values() if o.is_floating_point())
    if isinstance(loss, torch.Tensor) and loss.requires_grad:
        try:
            loss.backward()
        except Exception as exc:
            raise CheckFailed(f"backward failed: {type(exc).__name__}: {exc}") from exc
    grads = sum(1 for p in model.parameters() if p.grad is not None)
    n = sum(1 for _ in model.parameters())
    shown = ", ".join(f"{k} {shape_text(tuple(v.shape))}" for k, v in outputs.items())
    size = ", ".join(f"{k}={v}" for k, v in env.items())
    return f"ok: forward and backward ran ({size}); {shown}; gradients reach {grads}/{n} parameters"


def verify(g: Graph, model: Any, env: dict[str, int]) -> list[str]:
    """Differences between a built model and the IR: counts, state_dict, output shapes."""
    import torch

    problems = []
    n = sum(p.numel() for p in model.parameters())
    if n != g.n_params:
        problems.append(f"{n:,} parameters, the IR says {g.n_params:,}")
    want = {**g.param_names(), **g.buffer_names()}
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for k in sorted(set(want) - set(got)):
        problems.append(f"state_dict lacks `{k}`")
    for k in sorted(set(got) - set(want)):
        problems.append(f"state_dict has unexpected `{k}`")
    for k in sorted(set(want) & set(got)):
        if tuple(want[k]) != got[k]:
            problems.append(f"`{k}` is {shape_text(got[k])}, the IR says {shape_text(want[k])}")
    model.eval()
    with torch.no_grad():
        outputs = as_dict(g, model(*random_inputs(g, env)))
    problems += shape_problems(g, outputs, env)
    return problems


def run_stream_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    """``build --stateful --check``: one whole run and the same steps in two chunks must agree.

    Evaluation mode, random inputs; the split falls in the middle of the steps.
    """
    import torch

    assert g.time is not None
    env = bind(g, dims)
    model = getattr(mod, mod.__all__[0])().eval()
    inputs = random_inputs(g, env)
    static = [term.static for term in g.inputs.values()]
    total = g.time.steps
    cut = max(1, total // 2)
    kw = [{"steps": total}, {"steps": cut}, {"steps": total - cut}] if all(static) else [{}, {}, {}]
    with torch.no_grad():
        try:
            whole, _ = model(*inputs, **kw[0])
            first, state = model(*[x if s else x[:, :cut] for x, s in zip(inputs, static)], **kw[1])
            second, _ = model(*[x if s else x[:, cut:] for x, s in zip(inputs, static)], state, **kw[2])
        except Exception as exc:
            raise CheckFailed(f"forward failed: {type(exc).__name__}: {exc}") from exc
    whole, first, second = as_dict(g, whole), as_dict(g, first), as_dict(g, second)
    worst = 0.0
    for name, o in g.outputs.items():
        got = second[name] if o.steps == "last" else torch.cat([first[name], second[name]], dim=1)
        worst = max(worst, float((got.float() - whole[name].float()).abs().max()))
    if worst > 1e-5:
        raise CheckFailed(f"chunks of {cut} and {total - cut} steps differ from one run of {total} by {worst:g}")
    size = ", ".join(f"{k}={v}" for k, v in env.items())
    return f"ok: chunks of {cut} + {total - cut} steps equal one run of {total} ({size}; largest difference {worst:g})"
