"""CORnet-S: shared weights across passes, against the hand-written reference in tests/reference.

The reference (`tests/reference/cornet_s.py`) follows dicarlolab/CORnet's ``cornet_s.py``; its
parameter count is worked out by hand in its docstring.  The spec must have that count, the
reference's state_dict must load into the built Torch model with ``strict=True`` as it is (so
the published checkpoint does), and the outputs must agree: Torch within 1e-5, JAX within 1e-5 of the outputs' scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelspec.pipeline import load

torch = pytest.importorskip("torch")

try:
    from tests.reference import cornet_s
except ImportError:  # pytest's "prepend" import mode
    from reference import cornet_s  # type: ignore[no-redef]

SPEC = Path(__file__).resolve().parents[1] / "specs" / "cornet_s.yaml"
SMALL = {"size": 64}  # 64 x 64 images: V1 16 x 16, IT 2 x 2


def test_parameter_count_is_the_references() -> None:
    g = load(SPEC)
    ref = cornet_s.CORnet_S()
    assert sum(p.numel() for p in ref.parameters()) == cornet_s.CORNET_S_PARAMS == 53_416_616
    assert g.n_params == 53_416_616
    names = {**g.param_names(), **g.buffer_names()}
    assert names == {k: tuple(v.shape) for k, v in ref.state_dict().items()}


def test_passes_share_conv_weights_and_keep_their_norms() -> None:
    g = load(SPEC, SMALL)
    sites = [p for p in g.nodes if p.startswith("V4.conv2_")]
    assert sites == [f"V4.conv2_{t}" for t in range(4)]
    assert {g.nodes[p].at for p in sites} == {"V4.conv2"}
    assert [g.nodes[p].owner for p in sites] == [None] + ["V4.conv2_0"] * 3
    assert [g.nodes[p].attrs.stride for p in sites] == [2, 1, 1, 1]  # stride on the first pass only
    assert [g.nodes[f"V4.norm2_{t}"].at for t in range(4)] == [f"V4.norm2_{t}" for t in range(4)]
    assert g.nodes["IT.pass2"].shape == ("B", 512, 2, 2)


def _copied() -> tuple[object, object]:
    from modelspec.build import build_graph

    torch.manual_seed(0)
    ref = cornet_s.CORnet_S().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics and affines, so each pass's norm matters
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    model = build_graph(load(SPEC, SMALL), "torch").eval()
    model.load_state_dict(ref.state_dict(), strict=True)  # the repository's names, as they are
    return ref, model


def test_torch_equals_reference_with_its_weights() -> None:
    ref, model = _copied()
    assert sum(p.numel() for p in model.parameters()) == 53_416_616  # one Parameter per shared conv
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = ref(x), model(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_jax_agrees_with_torch_on_the_reference_weights() -> None:
    pytest.importorskip("jax")
    from modelspec import weights as pio
    from modelspec.build import build_graph
    from modelspec.parity import example_inputs, jax_outputs

    ref, _ = _copied()
    g = load(SPEC, SMALL)
    mod = build_graph(g, "jax")
    params, state = mod.split_state_dict(pio.from_torch(ref))
    assert set(params) == set(g.param_names())  # one pytree entry per shared conv
    x = example_inputs(g, batch=1, seed=3)
    out = jax_outputs(mod, params, state, x)
    got = np.asarray(out["logits"] if isinstance(out, dict) else out)
    with torch.no_grad():
        want = ref(torch.from_numpy(x["x"])).numpy()
    # float32 sums over up to 18,432 terms per output: agree to 1e-5 of the output's scale
    np.testing.assert_allclose(got, want, atol=1e-5 * float(np.abs(want).max()), rtol=1e-5)
