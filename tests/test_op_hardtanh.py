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

torch = pytest.importorskip("torch")
F = torch.nn.functional


def spec(layer: str) -> str:
    return f"modelspec: 1\nname: T\ninputs:\n  x: [B, 3, 5]\nlayers:\n  - {layer}\n"


def graph(layer: str):  # noqa: ANN201
    r = compile_text(spec(layer))
    assert r.ok, [str(d) for d in r.diags.sorted()]
    return r.graph


# inputs on both sides of every kink, and exactly on them
X = np.array([[[-7.0, -1.0, -0.5, 0.0, 0.25], [0.5, 1.0, 2.0, 5.9, 6.0], [6.5, -3.0, 3.0, -2.0, 9.0]]] * 2,
             np.float32)

CASES = [
    ("{op: Hardtanh}", lambda t: F.hardtanh(t)),
    ("{op: Hardtanh, min_val: -2, max_val: 0.5}", lambda t: F.hardtanh(t, -2.0, 0.5)),
    ("{op: ReLU6}", lambda t: F.relu6(t)),
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
    from modelspec.parity import jax_outputs
    from modelspec.build import build_graph

    mod = build_graph(graph(layer), "jax")
    got = np.asarray(jax_outputs(mod, {}, {}, {"x": X}))
    np.testing.assert_array_equal(got, truth(torch.from_numpy(X)).numpy())


def test_rules_shape_params_macs() -> None:
    for name in ("Hardtanh", "ReLU6"):
        op = get_op(name)
        assert op is not None and op.category == "activation"
        a = op.Attrs()
        assert op.shape(a, [("B", 3, 5)]) == ("B", 3, 5)
        assert op.params(a, [("B", 3, 5)], ("B", 3, 5)) == {}
        assert op.macs(a, [("B", 3, 5)], ("B", 3, 5)) == 0
    a = get_op("Hardtanh").Attrs(min_val=-2, max_val=0.5)  # type: ignore[union-attr]
    assert (a.min_val, a.max_val) == (-2.0, 0.5)


def test_an_empty_range_is_a_located_error() -> None:
    r = compile_text(spec("{op: Hardtanh, min_val: 1, max_val: 1}"))
    assert not r.ok
    d = r.diags.sorted()[0]
    assert d.code == "MS012" and "min_val (1.0) must be smaller than max_val (1.0)" in d.message
    assert d.pos is not None and d.pos.line == 6
