"""Checks of an emitted JAX module against its IR (``build --check``, ``summary --backend jax``).

Sizes of free symbols come from ``--dim`` (B defaults to 2), bound and
evaluated by `modelspec.backends.checking` (no framework import), so both
backends report a missing size the same way.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from ...ir.graph import Graph
from ...ops import index_bound
from ..checking import CheckFailed, bind, input_shape, shape_problems, shape_text

__all__ = ["CheckFailed", "run_check", "run_stream_check", "verify"]


def random_inputs(g: Graph, env: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    rs = np.random.RandomState(seed)
    out: dict[str, np.ndarray] = {}
    for name, term in g.inputs.items():
        shape = input_shape(g, name, env)
        if term.dtype in ("int32", "int64"):
            bound = index_bound(g.nodes.values(), name)
            out[name] = rs.randint(0, bound or 2, size=shape).astype(term.dtype)
        elif term.dtype == "bool":
            out[name] = rs.rand(*shape) > 0.5
        else:
            out[name] = rs.randn(*shape).astype(term.dtype)
    return out


def _as_dict(g: Graph, y: Any) -> dict[str, Any]:
    return y if isinstance(y, dict) else {next(iter(g.outputs)): y}



def run_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    """init, one jitted forward and one gradient in training mode; output shapes checked."""
    import jax
    import jax.numpy as jnp

    env = bind(g, dims)
    params, state = mod.init(jax.random.PRNGKey(0)), mod.init_state()
    inputs = random_inputs(g, env)
    apply = jax.jit(mod.apply, static_argnames="train")
    key = jax.random.PRNGKey(1)
    try:
        outputs = _as_dict(g, apply(params, state, inputs, train=True, key=key)[0])
    except Exception as exc:
        raise CheckFailed(f"forward failed: {type(exc).__name__}: {exc}") from exc
    problems = shape_problems(g, outputs, env)
    if problems:
        raise CheckFailed("; ".join(problems))

    def loss(p: Any) -> Any:
        ys = _as_dict(g, mod.apply(p, state, inputs, train=True, key=key)[0])
        return sum(jnp.sum(y.astype(jnp.float32)) for y in ys.values() if jnp.issubdtype(y.dtype, jnp.floating))

    try:
        grads = jax.jit(jax.grad(loss))(params) if params else {}
    except Exception as exc:
        raise CheckFailed(f"gradient failed: {type(exc).__name__}: {exc}") from exc
    reached = sum(1 for v in grads.values() if bool(jnp.any(v != 0)))
    shown = ", ".join(f"{k} {shape_text(tuple(v.shape))}" for k, v in outputs.items())
    size = ", ".join(f"{k}={v}" for k, v in env.items())
    return (f"ok: jitted forward and gradient ran ({size}); {shown}; "
            f"nonzero gradients reach {reached}/{len(params)} parameters")


def verify(g: Graph, mod: types.ModuleType, env: dict[str, int]) -> list[str]:
    """Differences between the module and the IR: counts, names, shapes, output shapes
    (shapes only, through jax.eval_shape: nothing is computed)."""
    import jax

    env = bind(g, env)
    problems = []
    params = jax.eval_shape(mod.init, jax.random.PRNGKey(0))
    state = jax.eval_shape(mod.init_state)
    n = sum(int(np.prod(v.shape)) for v in params.values())
    if n != g.n_params:
        problems.append(f"{n:,} parameters, the IR says {g.n_params:,}")
    want = {**g.param_names(), **g.buffer_names()}
    got = {k: tuple(v.shape) for k, v in {**params, **state}.items()}
    problems += [f"init lacks `{k}`" for k in sorted(set(want) - set(got))]
    problems += [f"init has unexpected `{k}`" for k in sorted(set(got) - set(want))]
    for k in sorted(set(want) & set(got)):
        if tuple(want[k]) != got[k]:
            problems.append(f"`{k}` is {shape_text(got[k])}, the IR says {shape_text(want[k])}")
    inputs = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in random_inputs(g, env).items()}
    outputs = jax.eval_shape(lambda p, s, x: mod.apply(p, s, x)[0], params, state, inputs)
    return problems + shape_problems(g, _as_dict(g, outputs), env)


def run_stream_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    """``build --stateful --check``: one whole run and the same steps in two chunks must agree."""
    import jax

    assert g.time is not None
    env = bind(g, dims)
    params, state = mod.init(jax.random.PRNGKey(0)), mod.init_state()
    inputs = random_inputs(g, env)
    static = {name: term.static for name, term in g.inputs.items()}
    total = g.time.steps
    cut = max(1, total // 2)
    every = all(static.values())
    kw = [{"steps": total}, {"steps": cut}, {"steps": total - cut}] if every else [{}, {}, {}]

    def part(lo: int, hi: int) -> dict[str, np.ndarray]:
        return {k: x if static[k] else x[:, lo:hi] for k, x in inputs.items()}

    try:
        whole = _as_dict(g, mod.apply(params, state, inputs, **kw[0])[0])
        first, _, carry = mod.apply(params, state, part(0, cut), **kw[1])
        second = _as_dict(g, mod.apply(params, state, part(cut, total), carry, **kw[2])[0])
    except Exception as exc:
        raise CheckFailed(f"forward failed: {type(exc).__name__}: {exc}") from exc
    first = _as_dict(g, first)
    worst = 0.0
    for name, o in g.outputs.items():
        got = second[name] if o.steps == "last" else np.concatenate([first[name], second[name]], axis=1)
        worst = max(worst, float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(whole[name], np.float64)))))
    if worst > 1e-5:
        raise CheckFailed(f"chunks of {cut} and {total - cut} steps differ from one run of {total} by {worst:g}")
    size = ", ".join(f"{k}={v}" for k, v in env.items())
    return f"ok: chunks of {cut} + {total - cut} steps equal one run of {total} ({size}; largest difference {worst:g})"
