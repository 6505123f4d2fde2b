"""Checks on the hand-written reference models in ``tests/reference``.

They are the truth that generated models are compared against, so they are pinned here:
parameter counts (published figures: torchvision, DynVision), state_dict names, output shapes,
DyRCNN's delay semantics and the local-recurrence sheet layout, and determinism.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

try:  # rootdir on sys.path (e.g. `python -m pytest` or pythonpath = ["."])
    from tests.reference import cornet, densenet, dynvision, lstm, mithril, mobilenet, resnet
except ImportError:  # pytest's default "prepend" import mode puts tests/ itself on sys.path
    from reference import cornet, densenet, dynvision, lstm, mithril, mobilenet, resnet  # type: ignore[no-redef]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def seeded(factory: Callable[[], nn.Module], seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return factory().eval()


# --- MobileNetV2 and DenseNet-121 ---------------------------------------------------------

def test_mobilenet_v2_matches_torchvision_layout() -> None:
    model = seeded(mobilenet.mobilenet_v2)
    sd = model.state_dict()
    assert n_params(model) == 3_504_872  # torchvision's documented figure
    assert sd["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)  # no expansion: the depthwise conv first
    assert sd["features.1.conv.1.weight"].shape == (16, 32, 1, 1)
    assert sd["features.2.conv.0.0.weight"].shape == (96, 16, 1, 1)  # 16 * 6
    assert sd["features.17.conv.2.weight"].shape == (320, 960, 1, 1)
    assert sd["features.18.0.weight"].shape == (1280, 320, 1, 1)
    assert sd["classifier.1.weight"].shape == (1000, 1280)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_densenet121_matches_torchvision_layout() -> None:
    model = seeded(densenet.densenet121)
    sd = model.state_dict()
    assert n_params(model) == 7_978_856  # torchvision's documented figure
    assert sd["features.denseblock1.denselayer1.norm1.weight"].shape == (64,)
    assert sd["features.denseblock1.denselayer6.conv1.weight"].shape == (128, 64 + 5 * 32, 1, 1)
    assert sd["features.transition1.conv.weight"].shape == (128, 256, 1, 1)
    assert sd["features.denseblock4.denselayer16.conv2.weight"].shape == (32, 128, 3, 3)
    assert sd["features.norm5.weight"].shape == (1024,)
    assert "features.transition4.conv.weight" not in sd
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


# --- ResNet-18 ---------------------------------------------------------------------------

def torchvision_resnet18_keys() -> list[str]:
    """torchvision's resnet18 state_dict keys, in order, spelled out from its source."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["conv1.weight", *(f"bn1.{k}" for k in bn)]
    for layer in range(1, 5):
        for block in range(2):
            p = f"layer{layer}.{block}"
            keys += [f"{p}.conv1.weight", *(f"{p}.bn1.{k}" for k in bn),
                     f"{p}.conv2.weight", *(f"{p}.bn2.{k}" for k in bn)]
            if layer > 1 and block == 0:
                keys += [f"{p}.downsample.0.weight", *(f"{p}.downsample.1.{k}" for k in bn)]
    return keys + ["fc.weight", "fc.bias"]


def test_resnet18_matches_torchvision_layout() -> None:
    model = resnet.resnet18()
    sd = model.state_dict()
    assert n_params(model) == 11_689_512
    assert list(sd) == torchvision_resnet18_keys()
    assert len(sd) == 122
    assert sd["conv1.weight"].shape == (64, 3, 7, 7)
    assert sd["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert sd["layer4.1.conv2.weight"].shape == (512, 512, 3, 3)
    assert sd["fc.weight"].shape == (1000, 512)
    assert n_params(resnet.resnet18(num_classes=10)) == 11_689_512 - 990 * 513


def test_resnet18_forward_shape() -> None:
    model = seeded(resnet.resnet18)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


# --- Mithril examples ----------------------------------------------------------------------

def test_mithril_mlp() -> None:
    model = seeded(mithril.MLP)
    # 784*256+256 + 256*128+128 + 128*64+64 + 64*10+10
    assert n_params(model) == 242_762
    assert [k for k in model.state_dict()][::2] == [
        "hidden.0.weight", "hidden.1.weight", "hidden.2.weight", "output.weight"]
    assert model(torch.randn(5, 784)).shape == (5, 10)


@pytest.mark.parametrize("activation", sorted(mithril.ACTIVATIONS))
@pytest.mark.parametrize("use_batchnorm", [False, True])
def test_mithril_configurable_network(activation: str, use_batchnorm: bool) -> None:
    model = seeded(lambda: mithril.ConfigurableNetwork(20, [32, 16], 4, activation, use_batchnorm))
    # 20*32+32 + 32*16+16 + 16*4+4 = 1268, plus BatchNorm affine 2*(32+16) = 96
    assert n_params(model) == 1268 + (96 if use_batchnorm else 0)
    assert ("norms.0.running_mean" in model.state_dict()) == use_batchnorm
    assert model(torch.randn(3, 20)).shape == (3, 4)
    with pytest.raises(ValueError):
        mithril.ConfigurableNetwork(20, [8], 4, "swish")


def test_mithril_resnet_and_factory() -> None:
    model = seeded(lambda: mithril.build_model("resnet", input_size=784, dim=128, n_blocks=3,
                                               num_classes=10))
    assert isinstance(model, mithril.ResNet)
    # projection 784*128+128 + 3 blocks * 2*(128*128+128) + head 128*10+10
    assert n_params(model) == 100_480 + 99_072 + 1_290
    assert "blocks.2.fc2.bias" in model.state_dict()
    assert model(torch.randn(2, 784)).shape == (2, 10)
    block = mithril.ResidualBlock(4)
    for p in block.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 4)
    assert torch.equal(block(x), x)  # zero residual branch: the block is the identity


def test_mithril_transformer() -> None:
    model = seeded(lambda: mithril.TransformerClassifier(16, 32, 4, 64, 2, 5))
    # input_proj 544 + 2 layers * (in_proj 3168 + out_proj 1056 + ffn 2112+2080 + norms 128)
    # + head 165; the positional table is not a parameter and not in the state_dict
    assert n_params(model) == 544 + 2 * 8_544 + 165
    assert not any("pos" in k for k in model.state_dict())
    assert "layers.1.self_attn.in_proj_weight" in model.state_dict()
    with torch.no_grad():
        assert model(torch.randn(3, 7, 16)).shape == (3, 5)
    pe = mithril.sinusoidal_table(4, 6)
    assert torch.allclose(pe[0], torch.tensor([0.0, 1.0] * 3))
    assert torch.isclose(pe[2, 2], torch.sin(torch.tensor(2.0 / 10000 ** (2 / 6))))
    assert torch.isclose(pe[2, 3], torch.cos(torch.tensor(2.0 / 10000 ** (2 / 6))))


def test_gaussian_noise_only_in_training() -> None:
    noise = mithril.GaussianNoise(0.5)
    x = torch.zeros(20_000)
    torch.manual_seed(0)
    y = noise.train()(x)
    assert 0.45 < y.std().item() < 0.55 and abs(y.mean().item()) < 0.02
    assert torch.equal(noise.eval()(x), x)


# --- LSTM -----------------------------------------------------------------------------------

def test_lstm_classifier() -> None:
    model = seeded(lambda: lstm.LSTMClassifier(8, 16, 2, 3))
    # layer 0: 4*16*(8+16) + 2*4*16; layer 1: 4*16*(16+16) + 2*4*16; fc 16*3+3
    assert n_params(model) == 1_664 + 2_176 + 51
    x = torch.randn(4, 6, 8)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (4, 3)
        seq, _ = model.lstm(x)
        assert torch.equal(out, model.fc(seq[:, -1]))


# --- DynVision DyRCNNx4 -----------------------------------------------------------------------

DYRCNN_PARAMS = {
    "full": 1_164_950, "self": 394_360, "depthpointwise": 485_168, "pointdepthwise": 485_168,
    "local": 394_408, "localdepthwise": 399_178, "none": 394_352,
}


@pytest.mark.parametrize("kind", dynvision.RECURRENCE_TYPES)
def test_dyrcnn_counts_and_shapes(kind: str) -> None:
    model = seeded(lambda: dynvision.DyRCNNx4(num_classes=10, recurrence=kind))
    assert n_params(model) == DYRCNN_PARAMS[kind]
    with torch.no_grad():
        out = model(torch.randn(2, 4, 3, 32, 32))
    assert out.shape == (2, 4, 10)
    assert torch.isfinite(out).all()


def test_dyrcnn_feedback() -> None:
    model = seeded(lambda: dynvision.DyRCNNx4(num_classes=10, recurrence="full", feedback=True))
    assert n_params(model) == 1_185_790
    plain = dynvision.DyRCNNx4(num_classes=10, recurrence="full").eval()
    plain.load_state_dict(model.state_dict(), strict=False)
    x = torch.randn(1, 5, 3, 32, 32)
    with torch.no_grad():
        a, b = model(x), plain(x)
    assert a.shape == (1, 5, 10)
    assert torch.equal(a[:, :3], b[:, :3])  # feedback has delay 3: nothing before t = 3
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_dyrcnn_recurrence_starts_at_delay() -> None:
    full = seeded(lambda: dynvision.DyRCNNx4(recurrence="full"))
    none = dynvision.DyRCNNx4(recurrence="none").eval()
    none.load_state_dict(full.state_dict(), strict=False)
    x = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        a, b = full(x), none(x)
    assert torch.equal(a[:, :3], b[:, :3])  # R(r_{t-3}), bias included, absent while t < 3
    assert not torch.allclose(a[:, 3], b[:, 3])


def test_dyrcnn_step_zero_is_a_scaled_feedforward_pass() -> None:
    """At t = 0 there is no history: r_0 = relu((dt/tau) u_0) through the plain wiring."""
    m = seeded(lambda: dynvision.DyRCNNx4(recurrence="full"))
    x = torch.randn(2, 1, 3, 32, 32)
    a, relu = 2.0 / 5.0, torch.relu
    F = torch.nn.functional
    with torch.no_grad():
        r1 = relu(a * m.V1.conv(x[:, 0]))
        r2 = relu(a * m.V2.conv(F.max_pool2d(r1, 3, 2, 1)))
        u4 = m.V4.conv(F.max_pool2d(r2, 3, 2, 1))
        r4 = relu(a * (u4 + F.interpolate(m.skip_V1_V4(r1), size=u4.shape[-2:])))
        uit = m.IT.conv(r4)
        rit = relu(a * (uit + F.interpolate(m.skip_V2_IT(r2), size=uit.shape[-2:])))
        assert rit.shape == (2, 256, 4, 4)
        expected = m.classifier(rit.mean(dim=(2, 3)))
        assert torch.allclose(m(x)[:, 0], expected, atol=1e-6)


@pytest.mark.parametrize(("channels", "side", "kernel"),
                         [(36, 6, 3), (64, 8, 3), (121, 11, 3), (256, 16, 5), (10, 4, 3),
                          (1024, 32, 9)])
def test_local_recurrence_layout(channels: int, side: int, kernel: int) -> None:
    local = dynvision.LocalRecurrence(channels)
    assert local.side == side and local.conv.kernel_size == (kernel, kernel)
    h, w = 3, 4
    ids = torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1).expand(2, -1, h, w)
    sheet = local.to_sheet(ids)
    assert sheet.shape == (2, 1, side * h, side * w)
    # Cells that touch across a tile border hold the same channel (tiles are mirrored).
    for x in range(1, w):
        assert torch.equal(sheet[..., x * side - 1], sheet[..., x * side])
    for y in range(1, h):
        assert torch.equal(sheet[..., y * side - 1, :], sheet[..., y * side, :])
    # Pixel (0, 0) is laid out row-major; padding channels mirror C-1, C-2, ...
    expect = list(range(channels)) + list(range(channels - 1, 2 * channels - side**2 - 1, -1))
    assert sheet[0, 0, :side, :side].flatten().tolist() == expect
    x = torch.randn(2, channels, h, w)
    assert torch.equal(local.from_sheet(local.to_sheet(x)), x)


# --- CORnet-RT -------------------------------------------------------------------------------

def test_cornet_rt() -> None:
    model = seeded(cornet.CORnet_RT)
    assert n_params(model) == cornet.CORNET_RT_PARAMS == 5_208_936
    assert model.times == 5
    assert {k.split(".", 1)[1] for k in model.state_dict() if k.startswith("V2.")} == {
        "conv_input.weight", "conv_input.bias", "norm_input.weight", "norm_input.bias",
        "conv1.weight", "norm1.weight", "norm1.bias"}
    assert n_params(cornet.CORnet_RT(times=2, num_classes=10)) == 5_208_936 - 990 * 513
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


# --- determinism ------------------------------------------------------------------------------

@pytest.mark.parametrize(("factory", "shape"), [
    (lambda: resnet.resnet18(num_classes=10), (1, 3, 32, 32)),
    (mithril.MLP, (2, 784)),
    (lambda: mithril.TransformerClassifier(8, 16, 2, 32, 1, 3), (2, 5, 8)),
    (lambda: lstm.LSTMClassifier(4, 8, 1, 2), (2, 3, 4)),
    (lambda: dynvision.DyRCNNx4(recurrence="localdepthwise", feedback=True), (1, 4, 3, 16, 16)),
    (lambda: cornet.CORnet_RT(times=2, num_classes=10), (1, 3, 224, 224)),
])
def test_deterministic(factory: Callable[[], nn.Module], shape: tuple[int, ...]) -> None:
    a, b = seeded(factory, seed=1), seeded(factory, seed=1)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    x = torch.randn(shape)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
        assert torch.equal(a(x), a(x))
