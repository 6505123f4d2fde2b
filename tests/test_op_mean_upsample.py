"""Mean over named axes and Upsample: both backends against torch called directly.

Mean is compared with ``Tensor.mean(dim, keepdim)``, Upsample with
``torch.nn.Upsample`` built with the same arguments (nearest and bilinear, by
size and by scale factor, with and without align_corners), and the shape and
cost rules with values worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelspec.ops import get_op
from modelspec.pipeline import compile_text

torch = pytest.importorskip("torch")


def spec(shape: str, layer: str) -> str:
    return f"modelspec: 1\nname: T\ninputs:\n  x: {shape}\nlayers:\n  - {layer}\n"


def graph(shape: str, layer: str):  # noqa: ANN201
    r = compile_text(spec(shape, layer))
    assert r.ok, [str(d) for d in r.diags.sorted()]
    return r.graph


def both(shape: str, layer: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from modelspec.build import build_graph
    from modelspec.parity import jax_outputs

    g = graph(shape, layer)
    t = build_graph(g, "torch").eval()(torch.from_numpy(x)).detach().numpy()
    j = np.asarray(jax_outputs(build_graph(g, "jax"), {}, {}, {"x": x}))
    return t, j


RNG = np.random.default_rng(0)
SEQ = RNG.standard_normal((2, 5, 4)).astype(np.float32)
IMG = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)

MEANS = [
    ("[B, 5, 4]", "{op: Mean, axes: [1]}", SEQ, lambda t: t.mean(dim=1)),
    ("[B, 5, 4]", "{op: Mean, axes: [-1], keepdim: true}", SEQ, lambda t: t.mean(dim=-1, keepdim=True)),
    ("[B, 3, 4, 5]", "{op: Mean, axes: [3, 1]}", IMG, lambda t: t.mean(dim=(1, 3))),
    ("[B, 3, 4, 5]", "{op: Mean, axes: [2, 3], keepdim: true}", IMG, lambda t: t.mean(dim=(2, 3), keepdim=True)),
]


@pytest.mark.parametrize("shape, layer, x, truth", MEANS)
def test_mean_matches_torch_in_both_backends(shape: str, layer: str, x: np.ndarray, truth) -> None:  # noqa: ANN001
    pytest.importorskip("jax")
    t, j = both(shape, layer, x)
    want = truth(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(t, want)
    np.testing.assert_allclose(j, want, rtol=1e-6, atol=1e-7)


def test_mean_rules_by_hand() -> None:
    op = get_op("Mean")
    assert op is not None
    a = op.Attrs(axes=[1])
    assert op.shape(a, [("B", "L", 64)]) == ("B", 64)
    assert str(op.macs(a, [("B", "L", 64)], ("B", 64))) == "L*64"
    assert op.params(a, [("B", "L", 64)], ("B", 64)) == {}
    assert op.shape(op.Attrs(axes=[-1, 2], keepdim=True), [("B", 3, 4, 5)]) == ("B", 3, 1, 1)
    assert op.macs(op.Attrs(axes=[2, 3]), [("B", 3, 4, 5)], ("B", 3)) == 60


@pytest.mark.parametrize("layer, message", [
    ("{op: Mean, axes: [0]}", "include the batch axis 0"),
    ("{op: Mean, axes: [1, -2]}", "name the same axis twice"),
    ("{op: Mean, axes: [3]}", "axis 3 is out of range for the rank-3 input"),
])
def test_mean_bad_axes_are_located_errors(layer: str, message: str) -> None:
    r = compile_text(spec("[B, 5, 4]", layer))
    assert not r.ok
    d = r.diags.sorted()[0]
    assert d.code == "MS050" and message in d.message, str(d)
    assert d.pos is not None and d.pos.line == 6


def test_the_transformer_spec_averages_the_sequence_axis_without_a_permute() -> None:
    from pathlib import Path

    from modelspec.pipeline import compile_file

    g = compile_file(Path(__file__).resolve().parent.parent / "specs" / "transformer_classifier.yaml").graph
    assert g is not None
    ops = [g.nodes[p].op for p in g.order]
    assert "Permute" not in ops and g.nodes["mean"].shape == ("B", 64)


UPSAMPLES = [
    ("{op: Upsample, scale_factor: 2}", dict(scale_factor=2)),
    ("{op: Upsample, size: [7, 9]}", dict(size=(7, 9))),
    ("{op: Upsample, scale_factor: 2, mode: bilinear}", dict(scale_factor=2, mode="bilinear")),
    ("{op: Upsample, scale_factor: 1.5, mode: bilinear, align_corners: true}",
     dict(scale_factor=1.5, mode="bilinear", align_corners=True)),
    ("{op: Upsample, size: [7, 3], mode: bilinear, align_corners: false}",
     dict(size=(7, 3), mode="bilinear", align_corners=False)),
    ("{op: Upsample, scale_factor: [2, 3], mode: nearest}", dict(scale_factor=(2.0, 3.0))),
]


@pytest.mark.parametrize("layer, kw", UPSAMPLES)
def test_upsample_matches_torch_nn_upsample(layer: str, kw: dict) -> None:
    pytest.importorskip("jax")
    t, j = both("[B, 3, 4, 5]", layer, IMG)
    want = torch.nn.Upsample(**kw)(torch.from_numpy(IMG)).numpy()
    np.testing.assert_array_equal(t, want)
    np.testing.assert_allclose(j, want, rtol=1e-5, atol=2e-6)


def test_upsample_rules_by_hand() -> None:
    g = graph("[B, 3, 4, 5]", "{op: Upsample, scale_factor: 1.5, mode: bilinear, align_corners: true}")
    n = g.nodes["upsample_0"]
    assert n.shape == ("B", 3, 6, 7)  # floor(4 * 1.5), floor(5 * 1.5)
    op = get_op("Upsample")
    assert op.macs(n.attrs, [("B", 3, 4, 5)], n.shape) == 3 * 6 * 7 * 4  # 2 neighbours per spatial axis
    assert op.macs(op.Attrs(scale_factor=2), [("B", 3, 4, 5)], ("B", 3, 8, 10)) == 0
    assert op.resize_adapter(("B", 3, 8, 10)) is None  # Interpolate adapts edges, alone


@pytest.mark.parametrize("layer, code, message", [
    ("{op: Upsample}", "MS012", "give exactly one of `size` and `scale_factor`"),
    ("{op: Upsample, scale_factor: 2, align_corners: true}", "MS012", "align_corners can only be set"),
    ("{op: Upsample, scale_factor: [2, 2, 2]}", "MS050", "scale_factor [2.0, 2.0, 2.0] gives 3 sizes"),
    ("{op: Upsample, size: 8, mode: linear}", "MS050", "mode linear needs 1 spatial axes"),
])
def test_upsample_bad_attributes_are_located_errors(layer: str, code: str, message: str) -> None:
    r = compile_text(spec("[B, 3, 4, 5]", layer))
    assert not r.ok
    d = r.diags.sorted()[0]
    assert d.code == code and message in d.message, str(d)
    assert d.pos is not None and d.pos.line == 6
