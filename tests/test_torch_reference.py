"""Emitted Torch models against the hand-written references in ``tests/reference``.

Weights are copied by a name mapping (emitted state_dict key -> reference key), the
biases first randomised so that a bias leaking in too early would show; then outputs
must agree to 1e-5 (most agree bit for bit).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from modelspec.build import build_graph  # noqa: E402
from modelspec.pipeline import load  # noqa: E402

try:  # rootdir on sys.path (pythonpath = ["."])
    from tests.reference import cornet, densenet, dynvision, lstm, mithril, mobilenet, resnet
except ImportError:  # pytest's "prepend" import mode puts tests/ itself on sys.path
    from reference import cornet, densenet, dynvision, lstm, mithril, mobilenet, resnet  # type: ignore[no-redef]

SPECS = Path(__file__).resolve().parent.parent / "specs"
TOL = {"rtol": 1e-5, "atol": 1e-5}


def emitted(spec: str, overrides: dict | None = None) -> tuple[object, nn.Module]:
    g = load(SPECS / spec, overrides)
    return g, build_graph(g)


def randomise(model: nn.Module, seed: int = 0) -> None:
    """Non-zero biases and running statistics, so that every term is visible."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.2 - 0.1)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.rand(b.shape, generator=gen) * 0.2 - 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)


def copy_weights(model: nn.Module, ref: nn.Module, to_ref: Callable[[str], str]) -> None:
    """Load ``ref``'s state into ``model`` through the key mapping, strictly both ways."""
    ref_sd = ref.state_dict()
    keys = list(model.state_dict())
    assert sorted(map(to_ref, keys)) == sorted(ref_sd), "the name mapping must cover both sides"
    model.load_state_dict({k: ref_sd[to_ref(k)] for k in keys}, strict=True)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def compare(model: nn.Module, ref: nn.Module, *inputs: object) -> None:
    model.eval()
    ref.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(*inputs), ref(*inputs), **TOL)


# --- Mithril ------------------------------------------------------------------------------

def test_mlp_equals_mithril() -> None:
    g, model = emitted("mlp.yaml")
    ref = mithril.MLP(784, (256, 128, 64), 10)
    randomise(ref)
    copy_weights(model, ref, lambda k: re.sub(r"^linear_(\d)", r"hidden.\1", k).replace("head.", "output."))
    assert n_params(model) == n_params(ref) == g.n_params
    compare(model, ref, torch.randn(4, 784))


def test_residual_mlp_equals_mithril_resnet() -> None:
    g, model = emitted("residual_mlp.yaml", {"blocks": 3})
    ref = mithril.ResNet(784, 256, 3, 10)
    randomise(ref)
    copy_weights(model, ref, lambda k: re.sub(r"^res\.", "blocks.", k).replace("proj.", "projection."))
    assert n_params(model) == g.n_params
    compare(model, ref, torch.randn(4, 784))


@pytest.mark.parametrize("activation,batchnorm", [("ReLU", True), ("GELU", False), ("Tanh", True)])
def test_configurable_network_equals_mithril(activation: str, batchnorm: bool) -> None:
    g, model = emitted("configurable_network.yaml",
                       {"activation": activation, "use_batchnorm": batchnorm, "hidden": [64, 32]})
    ref = mithril.ConfigurableNetwork(784, [64, 32], 10, activation.lower(), batchnorm, 0.2)
    randomise(ref)

    def to_ref(k: str) -> str:
        k = re.sub(r"^linear_(\d)", r"hidden.\1", k)
        return re.sub(r"^batch_norm1d_(\d)", r"norms.\1", k).replace("out.", "output.")

    copy_weights(model, ref, to_ref)
    compare(model, ref, torch.randn(5, 784))
    if batchnorm:  # training mode: batch statistics, and the same running-statistics update
        model.train()
        ref.train()
        torch.manual_seed(1)
        x = torch.randn(5, 784)
        model.linear_0.p = 0.0  # dropout differs in its random draws; compare what is deterministic
        with torch.no_grad():
            model(x)
            ref(x)
        torch.testing.assert_close(model.batch_norm1d_0.running_mean, ref.norms[0].running_mean)
        assert int(model.batch_norm1d_0.num_batches_tracked) == int(ref.norms[0].num_batches_tracked) == 1


def test_transformer_equals_mithril() -> None:
    g, model = emitted("transformer_classifier.yaml")
    ref = mithril.TransformerClassifier(32, 64, 4, 128, 2, 10, dropout=0.1)
    randomise(ref)
    copy_weights(model, ref, lambda k: re.sub(r"^proj\.", "input_proj.", k).replace("encoder.", "layers."))
    assert n_params(model) == n_params(ref) == g.n_params
    compare(model, ref, torch.randn(3, 12, 32))


def test_lstm_classifier_equals_reference() -> None:
    g, model = emitted("lstm_classifier.yaml")
    ref = lstm.LSTMClassifier(28, 128, 2, 10)
    randomise(ref)
    copy_weights(model, ref, lambda k: k.replace("head.", "fc."))
    assert n_params(model) == n_params(ref) == g.n_params
    compare(model, ref, torch.randn(3, 28, 28))


# --- ResNet-18 ----------------------------------------------------------------------------

def test_resnet18_loads_torchvision_weights_strictly_and_agrees() -> None:
    g, model = emitted("resnet18.yaml")
    ref = resnet.resnet18()
    randomise(ref)
    sd = ref.state_dict()
    assert list(model.state_dict()) == list(sd)  # torchvision's keys, in torchvision's order
    model.load_state_dict(sd, strict=True)
    assert n_params(model) == 11_689_512 == g.n_params
    compare(model, ref, torch.randn(1, 3, 64, 64))
    # training mode: batch statistics and identical running-statistics updates
    model.train()
    ref.train()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model(x), ref(x), **TOL)
    torch.testing.assert_close(model.layer3[0].bn2.running_var, ref.layer3[0].bn2.running_var)
    assert int(model.bn1.num_batches_tracked) == int(ref.bn1.num_batches_tracked) == 1


@pytest.mark.parametrize("spec,factory,count", [
    ("mobilenet_v2.yaml", lambda: mobilenet.mobilenet_v2(), 3_504_872),
    ("densenet121.yaml", lambda: densenet.densenet121(), 7_978_856),
], ids=["mobilenet_v2", "densenet121"])
def test_torchvision_weights_load_strictly_and_agree(spec: str, factory: Callable[[], nn.Module], count: int) -> None:
    """Hand-written torchvision models (tests/reference): their state_dicts load as they are."""
    g, model = emitted(spec, {"size": 64})
    torch.manual_seed(0)
    ref = factory()
    randomise(ref)
    sd = ref.state_dict()
    assert list(model.state_dict()) == list(sd)  # torchvision's keys, in torchvision's order
    model.load_state_dict(sd, strict=True)
    assert n_params(model) == count == g.n_params == n_params(ref)
    compare(model, ref, torch.randn(2, 3, 64, 64))
    model.train()
    ref.train()
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(1)  # MobileNetV2's classifier dropout: the same mask on both sides
    got = model(x)
    torch.manual_seed(1)
    torch.testing.assert_close(got, ref(x), **TOL)  # batch statistics, residuals, concatenations


# --- DyRCNNx4 -----------------------------------------------------------------------------

def dyrcnn_to_ref(k: str) -> str:
    k = re.sub(r"^(V1|V2|V4|IT)\.edges\.recurrence\.via\.", r"\1.recurrence.", k)
    return re.sub(r"^edges\.(\w+)\.adapt\.", r"\1.", k)


DYRCNN_COUNTS = {
    "full": 1_164_950, "self": 394_360, "depthpointwise": 485_168, "pointdepthwise": 485_168,
    "local": 394_408, "localdepthwise": 399_178, "none": 394_352,
}


def check_dyrcnn(recurrence: str, feedback: bool, steps: int, size: int = 16) -> None:
    g, model = emitted("dyrcnn_x4.yaml", {"recurrence": recurrence, "feedback": feedback,
                                          "size": size, "steps": steps})
    torch.manual_seed(0)
    ref = dynvision.DyRCNNx4(recurrence=recurrence, feedback=feedback)
    randomise(ref)
    copy_weights(model, ref, dyrcnn_to_ref)
    assert n_params(model) == n_params(ref) == g.n_params
    x = torch.rand(2, steps, 3, size, size)
    compare(model, ref, x)


@pytest.mark.parametrize("recurrence", list(DYRCNN_COUNTS))
def test_dyrcnn_every_recurrence_type(recurrence: str) -> None:
    check_dyrcnn(recurrence, False, steps=6)


def test_dyrcnn_feedback() -> None:
    check_dyrcnn("full", True, steps=6)


def test_dyrcnn_local_feedback_20_steps() -> None:
    """The full-length run: 20 steps, feedback and the local sheet layout."""
    check_dyrcnn("localdepthwise", True, steps=20)


@pytest.mark.parametrize("recurrence,count", list(DYRCNN_COUNTS.items()))
def test_dyrcnn_parameter_counts(recurrence: str, count: int) -> None:
    g, model = emitted("dyrcnn_x4.yaml", {"recurrence": recurrence})
    assert n_params(model) == g.n_params == count


def test_dyrcnn_feedback_parameter_count() -> None:
    g, model = emitted("dyrcnn_x4.yaml", {"feedback": True})
    assert n_params(model) == g.n_params == 1_185_790


# --- CORnet-RT ----------------------------------------------------------------------------

def test_cornet_rt_equals_reference() -> None:
    g, model = emitted("cornet_rt.yaml")
    ref = cornet.CORnet_RT()
    randomise(ref)
    # the spec places its input edges' parameters at the repository's names (`params_at: .`),
    # so the reference's state_dict, as a published checkpoint would be, loads as it is
    model.load_state_dict(ref.state_dict(), strict=True)
    assert n_params(model) == cornet.CORNET_RT_PARAMS == g.n_params
    compare(model, ref, torch.rand(1, 3, 224, 224))
