"""The worked example of docs/adding-an-op.md: Hardtanh and ReLU6, one table row each.

Both backends' output is compared with torch.nn.functional called directly (the
independent truth), the rules with hand-worked values, and bad attributes with
their diagnostics.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelspec.ops import get_op
from modelspec.pipeline import compile_text
from tests.helpers import assert_elementwise_rules, one_layer, run_backend

torch = pytest.importorskip("torch")
F = torch.nn.functional


def spec(layer: str) -> str:
    return f"modelspec: 1\nname: T\ninputs:\n  x: [B, 3, 5]\nlayers:\n  - {layer}\n"


# inputs on both sides of every kink, and exactly on them
X = np.array([[[-7.0, -1.0, -0.5, 0.0, 0.25], [0.5, 1.0, 2.0, 5.9, 6.0], [6.5, -3.0, 3.0, -2.0, 9.0]]] * 2,
             np.float32)

CASES = [
    ("{op: Hardtanh}", lambda t: F.hardtanh(t)),
    ("{op: Hardtanh, min_val: -2, max_val: 0.5}", lambda t: F.hardtanh(t, -2.0, 0.5)),
    ("{op: ReLU6}", lambda t: F.relu6(t)),
]


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("layer, truth", CASES)
def test_each_backend_matches_torch_functional(layer: str, truth, backend: str) -> None:  # noqa: ANN001
    pytest.importorskip(backend)
    got = run_backend(one_layer(layer, "[B, 3, 5]"), backend, X)
    np.testing.assert_array_equal(got, truth(torch.from_numpy(X)).numpy())  # clipping is exact in both


def test_rules_shape_params_macs() -> None:
    for name in ("Hardtanh", "ReLU6"):
        assert_elementwise_rules(name)
    a = get_op("Hardtanh").Attrs(min_val=-2, max_val=0.5)  # type: ignore[union-attr]
    assert (a.min_val, a.max_val) == (-2.0, 0.5)


def test_an_empty_range_is_a_located_error() -> None:
    r = compile_text(spec("{op: Hardtanh, min_val: 1, max_val: 1}"))
    assert not r.ok
    d = r.diags.sorted()[0]
    assert d.code == "MS012" and "min_val (1.0) must be smaller than max_val (1.0)" in d.message
    assert d.pos is not None and d.pos.line == 6
