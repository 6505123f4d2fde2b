"""StochasticDepth: torchvision.ops.stochastic_depth's behaviour in both backends.

Evaluation is the identity. In training, Torch draws exactly what torchvision's
function draws from the same generator state (written out below from its
definition, since torchvision is not a dependency); JAX drops whole samples
(mode row) or the whole batch (mode batch) and scales the kept ones by
1/(1-p), reproducibly for a key.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelspec.ops import get_op
from modelspec.pipeline import compile_text

torch = pytest.importorskip("torch")


def graph(layer: str):  # noqa: ANN201
    r = compile_text(f"modelspec: 1\nname: T\ninputs:\n  x: [B, 3, 4]\nlayers:\n  - {layer}\n")
    assert r.ok, [str(d) for d in r.diags.sorted()]
    return r.graph


def torchvision_stochastic_depth(x, p: float, mode: str, training: bool):  # noqa: ANN001, ANN201
    """torchvision.ops.stochastic_depth (v0.15+), as published."""
    if not training or p == 0.0:
        return x
    survival_rate = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return x * noise


X = np.random.default_rng(0).standard_normal((64, 3, 4)).astype(np.float32) + 5.0  # no zeros


@pytest.mark.parametrize("p, mode", [(0.3, "row"), (0.5, "batch"), (1.0, "row"), (0.0, "row")])
def test_torch_training_draws_what_torchvision_draws(p: float, mode: str) -> None:
    from modelspec.build import build_graph

    model = build_graph(graph(f"{{op: StochasticDepth, p: {p}, mode: {mode}}}"), "torch").train()
    x = torch.from_numpy(X)
    torch.manual_seed(7)
    got = model(x)
    torch.manual_seed(7)
    want = torchvision_stochastic_depth(x, p, mode, True)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    model.eval()
    assert torch.equal(model(x), x)


def _kept(y: np.ndarray, p: float) -> np.ndarray:
    """Per sample: True where kept (x / (1-p)), False where zeroed; fails on anything else."""
    kept = np.all(np.isclose(y, X / (1 - p), rtol=1e-6), axis=(1, 2))
    dropped = np.all(y == 0, axis=(1, 2))
    assert np.all(kept | dropped)
    return kept


def test_jax_drops_whole_samples_and_scales_the_rest() -> None:
    jax = pytest.importorskip("jax")
    from modelspec.build import build_graph

    mod = build_graph(graph("{op: StochasticDepth, p: 0.5}"), "jax")
    apply = jax.jit(mod.apply, static_argnames="train")
    a = np.asarray(apply({}, {}, {"x": X}, train=True, key=jax.random.PRNGKey(1))[0])
    b = np.asarray(apply({}, {}, {"x": X}, train=True, key=jax.random.PRNGKey(1))[0])
    c = np.asarray(apply({}, {}, {"x": X}, train=True, key=jax.random.PRNGKey(2))[0])
    kept = _kept(a, 0.5)
    assert 10 < kept.sum() < 54  # 64 fair coins: far outside this with probability < 1e-7
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(_kept(c, 0.5), kept)
    np.testing.assert_array_equal(np.asarray(apply({}, {}, {"x": X})[0]), X)  # evaluation: identity


def test_jax_batch_mode_drops_all_or_nothing() -> None:
    jax = pytest.importorskip("jax")
    from modelspec.build import build_graph

    mod = build_graph(graph("{op: StochasticDepth, p: 0.5, mode: batch}"), "jax")
    seen = set()
    for k in range(12):
        kept = _kept(np.asarray(mod.apply({}, {}, {"x": X}, train=True, key=jax.random.PRNGKey(k))[0]), 0.5)
        assert kept.all() or not kept.any()
        seen.add(bool(kept.all()))
    assert seen == {True, False}


def test_rules_and_bad_p() -> None:
    op = get_op("StochasticDepth")
    assert op is not None and op.category == "regularization"
    a = op.Attrs(p=0.2)
    assert a.mode == "row"
    assert op.shape(a, [("B", 3, 4)]) == ("B", 3, 4)
    assert op.params(a, [("B", 3, 4)], ("B", 3, 4)) == {} and op.macs(a, [("B", 3, 4)], ("B", 3, 4)) == 0
    r = compile_text("modelspec: 1\nname: T\ninputs:\n  x: [B, 3]\nlayers:\n  - {op: StochasticDepth, p: 1.5}\n")
    d = r.diags.sorted()[0]
    assert d.code == "MS012" and "less than or equal to 1" in d.message and d.pos.line == 6
    r = compile_text("modelspec: 1\nname: T\ninputs:\n  x: [B, 3]\nlayers:\n  - {op: StochasticDepth}\n")
    d = r.diags.sorted()[0]
    assert d.code == "MS010" and "needs the attribute `p`" in d.message and d.pos.line == 6
