"""Hardswish, Hardsigmoid, ELU, Softplus and Mish: rows of the activation table.

Both backends are compared with torch.nn.functional called directly (the
independent truth), on inputs on both sides of every kink and of Softplus's
threshold, and at hand-worked points.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from modelspec.pipeline import compile_text
from tests.helpers import assert_elementwise_rules, one_layer, run_backend

torch = pytest.importorskip("torch")
F = torch.nn.functional


def spec(layer: str) -> str:
    return f"modelspec: 1\nname: T\ninputs:\n  x: [B, 3, 6]\nlayers:\n  - {layer}\n"


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


@pytest.mark.parametrize("backend, tol", [("torch", 0.0), ("jax", 1e-6)])  # torch: bit for bit
@pytest.mark.parametrize("layer, truth", CASES)
def test_each_backend_matches_torch_functional(layer: str, truth, backend: str, tol: float) -> None:  # noqa: ANN001
    pytest.importorskip(backend)
    got = run_backend(one_layer(layer, "[B, 3, 6]"), backend, X)
    np.testing.assert_allclose(got, truth(torch.from_numpy(X)).numpy(), rtol=2 * tol, atol=tol)


def test_hand_worked_values() -> None:
    """Points worked out by hand from the definitions, in both backends."""
    backends = ["torch"] + (["jax"] if importlib.util.find_spec("jax") else [])
    x = np.array([[-3.0, 0.0, 1.5, 3.0]], np.float32)
    want = {
        "{op: Hardswish}": [0.0, 0.0, 1.5 * 4.5 / 6, 3.0],
        "{op: Hardsigmoid}": [0.0, 0.5, 0.75, 1.0],
        "{op: ELU, alpha: 2}": [2 * (math.exp(-3) - 1), 0.0, 1.5, 3.0],
        "{op: Softplus}": [math.log1p(math.exp(-3)), math.log(2), math.log1p(math.exp(1.5)), math.log1p(math.exp(3))],
        "{op: Mish}": [v * math.tanh(math.log1p(math.exp(v))) for v in (-3.0, 0.0, 1.5, 3.0)],
    }
    for layer, values in want.items():
        for backend in backends:
            got = run_backend(one_layer(layer, "[B, 4]"), backend, x)
            np.testing.assert_allclose(got[0], values, rtol=2e-6, atol=1e-7, err_msg=f"{layer} ({backend})")


def test_rules_shape_params_macs() -> None:
    for name in ("Hardswish", "Hardsigmoid", "ELU", "Softplus", "Mish"):
        assert_elementwise_rules(name)


def test_a_non_positive_beta_is_a_located_error() -> None:
    r = compile_text(spec("{op: Softplus, beta: 0}"))
    assert not r.ok
    d = r.diags.sorted()[0]
    assert d.code == "MS012" and "beta" in d.message and "greater than 0" in d.message
    assert d.pos is not None and d.pos.line == 6
