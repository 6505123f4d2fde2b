"""Hardswish, Hardsigmoid, ELU, Softplus and Mish: rows of the activation table.

Both backends are compared with torch.nn.functional called directly (the
independent truth), on inputs on both sides of every kink and of Softplus's
threshold, and at hand-worked points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelspec.ops import get_op
from modelspec.pipeline import compile_text

torch = pytest.importorskip("torch")
F = torch.nn.functional


def spec(layer: str) -> str:
    return f"modelspec: 1\nname: T\ninputs:\n  x: [B, 3, 6]\nlayers:\n  - {layer}\n"


def graph(layer: str):  # noqa: ANN201
    r = compile_text(spec(layer))
    assert r.ok, [str(d) for d in r.diags.sorted()]
    return r.graph


# both sides of -3 and 3 (hard*), 0 (ELU), 10 and 20 (Softplus's thresholds for beta 2 and 1), large values
X = np.array([[[-30.0, -4.0, -3.0, -2.5, -1.0, -0.1], [0.0, 0.2, 1.0, 2.9, 3.0, 3.5],
               [4.99, 5.01, 9.99, 10.01, 19.9, 20.5]]] * 2, np.float32)

CASES = [
    ("{op: Hardswish}", lambda t: F.hardswish(t)),
    ("{op: Hardsigmoid}", lambda t: F.hardsigmoid(t)),
    ("{op: ELU}", lambda t: F.elu(t)),
    ("{op: ELU, alpha: 0.5}", lambda t: F.elu(t, 0.5)),
    ("{op: Softplus}", lambda t: F.softplus(t)),
    ("{op: Softplus, beta: 2, threshold: 10}", lambda t: F.softplus(t, 2.0, 10.0)),
    ("{op: Mish}", lambda t: F.mish(t)),
]


@pytest.mark.parametrize("layer, truth", CASES)
def test_torch_backend_matches_torch_functional(layer: str, truth) -> None:  # noqa: ANN001
    from modelspec.build import build_graph

    model = build_graph(graph(layer), "torch").eval()
    got = model(torch.from_numpy(X))
    np.testing.assert_array_equal(got.detach().numpy(), truth(torch.from_numpy(X)).numpy())


@pytest.mark.parametrize("layer, truth", CASES)
def test_jax_backend_matches_torch_functional(layer: str, truth) -> None:  # noqa: ANN001
    pytest.importorskip("jax")
    from modelspec.build import build_graph
    from modelspec.parity import jax_outputs

    mod = build_graph(graph(layer), "jax")
    got = np.asarray(jax_outputs(mod, {}, {}, {"x": X}))
    np.testing.assert_allclose(got, truth(torch.from_numpy(X)).numpy(), rtol=2e-6, atol=1e-6)


def test_hand_worked_values() -> None:
    """Points worked out by hand from the definitions, in both backends."""
    from modelspec.build import build_graph

    x = np.array([[-3.0, 0.0, 1.5, 3.0]], np.float32)
    want = {
        "{op: Hardswish}": [0.0, 0.0, 1.5 * 4.5 / 6, 3.0],
        "{op: Hardsigmoid}": [0.0, 0.5, 0.75, 1.0],
        "{op: ELU, alpha: 2}": [2 * (math.exp(-3) - 1), 0.0, 1.5, 3.0],
        "{op: Softplus}": [math.log1p(math.exp(-3)), math.log(2), math.log1p(math.exp(1.5)), math.log1p(math.exp(3))],
        "{op: Mish}": [v * math.tanh(math.log1p(math.exp(v))) for v in (-3.0, 0.0, 1.5, 3.0)],
    }
    for layer, values in want.items():
        text = f"modelspec: 1\nname: T\ninputs:\n  x: [B, 4]\nlayers:\n  - {layer}\n"
        r = compile_text(text)
        assert r.ok
        t = build_graph(r.graph, "torch").eval()(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(t[0], values, rtol=1e-6, atol=1e-7, err_msg=layer)


def test_rules_shape_params_macs() -> None:
    for name in ("Hardswish", "Hardsigmoid", "ELU", "Softplus", "Mish"):
        op = get_op(name)
        assert op is not None and op.category == "activation"
        a = op.Attrs()
        assert op.shape(a, [("B", 3, 5)]) == ("B", 3, 5)
        assert op.params(a, [("B", 3, 5)], ("B", 3, 5)) == {}
        assert op.macs(a, [("B", 3, 5)], ("B", 3, 5)) == 0


def test_a_non_positive_beta_is_a_located_error() -> None:
    r = compile_text(spec("{op: Softplus, beta: 0}"))
    assert not r.ok
    d = r.diags.sorted()[0]
    assert d.code == "MS012" and "beta" in d.message and "greater than 0" in d.message
    assert d.pos is not None and d.pos.line == 6
