"""The example catalog: every spec compiles clean, with independently known counts."""

from __future__ import annotations

import pathlib

import pytest

from modelspec.ir.graph import Graph
from modelspec.pipeline import compile_file, load

SPECS = pathlib.Path(__file__).parent.parent / "specs"
ALL = sorted(p for p in SPECS.iterdir() if p.suffix in (".yaml", ".toml"))


def n_params(module: object) -> int:
    return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_spec_compiles_without_problems(path: pathlib.Path) -> None:
    res = compile_file(path)
    assert res.graph is not None
    assert [f"{d.pos}: {d.code} {d.message}" for d in res.diags] == []
    assert all(n.shape is not None for n in res.graph.nodes.values())


# Published figures (torchvision for ResNet-18, DynVision for DyRCNNx4) where they exist.
PUBLISHED = {
    ("resnet18.yaml", ()): 11_689_512,
    ("dyrcnn_x4.yaml", ()): 1_164_950,
    ("dyrcnn_x4.yaml", (("recurrence", "self"),)): 394_360,
    ("dyrcnn_x4.yaml", (("recurrence", "depthpointwise"),)): 485_168,
    ("dyrcnn_x4.yaml", (("recurrence", "pointdepthwise"),)): 485_168,
    ("dyrcnn_x4.yaml", (("recurrence", "local"),)): 394_408,
    ("dyrcnn_x4.yaml", (("recurrence", "localdepthwise"),)): 399_178,
    ("dyrcnn_x4.yaml", (("recurrence", "none"),)): 394_352,
    ("dyrcnn_x4.yaml", (("feedback", True),)): 1_185_790,
    ("mlp.yaml", ()): 784 * 256 + 256 + 256 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10,
    # torchvision's mobilenet_v2 and densenet121 (their documentation's "num_params")
    ("mobilenet_v2.yaml", ()): 3_504_872,
    ("densenet121.yaml", ()): 7_978_856,
}


@pytest.mark.parametrize("key", list(PUBLISHED), ids=[f"{k[0]}{dict(k[1])}" for k in PUBLISHED])
def test_published_parameter_counts(key: tuple[str, tuple[tuple[str, object], ...]]) -> None:
    name, sets = key
    assert load(SPECS / name, dict(sets)).n_params == PUBLISHED[key]


def _reference_counts() -> dict[str, tuple[dict[str, object], object]]:
    torch = pytest.importorskip("torch")
    from tests.reference import cornet, cornet_s, densenet, dynvision, lstm, mithril, mobilenet, resnet

    torch.manual_seed(0)
    return {
        "mlp.yaml": ({}, mithril.MLP()),
        "configurable_network.yaml": ({}, mithril.ConfigurableNetwork(784, [512, 256], 10, "relu", True)),
        "residual_mlp.yaml": ({}, mithril.ResNet(784, 256, 4, 10)),
        "resnet18.yaml": ({}, resnet.resnet18(1000)),
        "mobilenet_v2.yaml": ({}, mobilenet.mobilenet_v2(1000)),
        "densenet121.yaml": ({}, densenet.densenet121(1000)),
        "dyrcnn_x4.yaml": ({}, dynvision.DyRCNNx4(10, "full")),
        "cornet_rt.yaml": ({}, cornet.CORnet_RT()),
        "cornet_s.yaml": ({}, cornet_s.CORnet_S()),
        "lstm_classifier.yaml": ({}, lstm.LSTMClassifier(28, 128, 2, 10)),
        "transformer_classifier.yaml": ({}, mithril.TransformerClassifier(32, 64, 4, 128, 2, 10)),
    }


def test_counts_equal_hand_written_pytorch() -> None:
    for name, (sets, module) in _reference_counts().items():
        g = load(SPECS / name, sets)
        assert g.n_params == n_params(module), name


def test_resnet18_names_equal_torchvision() -> None:
    pytest.importorskip("torch")
    from tests.reference import resnet

    ref = resnet.resnet18(1000).state_dict()
    g = load(SPECS / "resnet18.yaml")
    ours = {**g.param_names(), **g.buffer_names()}
    assert set(ours) == set(ref)
    for k, shape in ours.items():
        assert tuple(ref[k].shape) == tuple(shape), k


@pytest.mark.parametrize("spec,factory", [("mobilenet_v2.yaml", "mobilenet.mobilenet_v2"),
                                          ("densenet121.yaml", "densenet.densenet121")])
def test_torchvision_names_and_shapes(spec: str, factory: str) -> None:
    """Every state_dict key and shape of the hand-written torchvision model, and no other."""
    pytest.importorskip("torch")
    from tests.reference import densenet, mobilenet

    module, fn = factory.split(".")
    ref = getattr({"mobilenet": mobilenet, "densenet": densenet}[module], fn)().state_dict()
    g = load(SPECS / spec)
    ours = {**g.param_names(), **g.buffer_names()}
    assert set(ours) == set(ref)
    for k, shape in ours.items():
        assert tuple(ref[k].shape) == tuple(shape), k


def _ir_signature(g: Graph) -> list[tuple[object, ...]]:
    return [
        (p, n.op, n.attrs.model_dump() if n.attrs else None, [(c.source, c.delay) for c in n.inputs], n.shape,
         n.params, n.role)
        for p, n in g.nodes.items()
    ] + [(e.name, e.source, e.target, e.delay, e.out, tuple(e.chain)) for e in g.edges]


@pytest.mark.parametrize("stem", ["mlp", "dyrcnn_x4"])
def test_yaml_and_toml_twins_give_the_same_ir(stem: str) -> None:
    a, b = load(SPECS / f"{stem}.yaml"), load(SPECS / f"{stem}.toml")
    assert _ir_signature(a) == _ir_signature(b)
    assert a.time == b.time and a.params == b.params


def test_dyrcnn_structure() -> None:
    g = load(SPECS / "dyrcnn_x4.yaml")
    assert g.time is not None and (g.time.steps, g.time.dt) == (20, 2.0)
    rec = next(e for e in g.edges if e.name == "V1.edges.recurrence")
    assert (rec.source, rec.target, rec.delay, rec.kind) == ("V1.relu", "V1.conv", 3, "feedback")
    skip = next(e for e in g.edges if e.name == "edges.skip_V1_V4")
    assert skip.kind == "skip" and skip.delay == 0
    assert [g.nodes[c].op for c in skip.chain] == ["Interpolate", "Conv2d"]  # 1x1 map on the small grid
    assert g.nodes["IT.conv"].shape == ("B", 256, 4, 4)
    assert g.outputs["logits"].shape == ("B", 10)
    assert len(g.cycles) == 4  # one per area (recurrence and the Euler state)


def test_cornet_input_edges_start_after_their_delay() -> None:
    g = load(SPECS / "cornet_rt.yaml")
    e = next(e for e in g.edges if e.name == "V2.edges.input")
    assert (e.source, e.delay) == ("V1.nonlin1", 1)
    assert g.nodes["V2.edges.input.via.conv_input"].params["weight"] == (128, 64, 3, 3)
    assert g.nodes["V2.edges.input.via.conv_input"].at == "V2.conv_input"  # params_at: . (the repository's name)
