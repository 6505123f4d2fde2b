"""Cross-backend parity: the Torch and JAX models built from one spec compute the same thing.

For every spec of the catalog both backends are built, the Torch weights are
copied into the JAX parameters through a safetensors file, and the eval-mode
outputs must agree in float32 (atol = rtol = 1e-4), static and time models
alike.  Gradients of a scalar loss must agree for the MLP and DyRCNNx4; every
DyRCNN recurrence type and the feedback variant are checked against both the
Torch backend and the hand-written reference in ``tests/reference``.  Builds
and jit compiles are cached per spec so the file stays fast.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")

import jax.numpy as jnp  # noqa: E402

from modelspec import weights as pio  # noqa: E402
from modelspec.parity import compare, example_inputs  # noqa: E402
from modelspec.build import build_graph  # noqa: E402
from modelspec.pipeline import load  # noqa: E402

try:
    from tests.reference import dynvision
except ImportError:  # pytest's "prepend" import mode
    from reference import dynvision  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p.name for p in (ROOT / "specs").iterdir() if p.suffix in (".yaml", ".toml"))
TOL = {"atol": 1e-4, "rtol": 1e-4}
#: small sizes where a spec has a size param (DyRCNN's 20 steps stay)
SMALL = {"dyrcnn_x4": {"size": 16}, "simple_rcnn": {"size": 16}, "mobilenet_v2": {"size": 32},
         "densenet121": {"size": 32}, "cornet_s": {"size": 64}}
#: the 224 x 224 ImageNet models run one image
BATCH = {"resnet18": 1, "cornet_rt": 1, "mobilenet_v2": 1, "densenet121": 1, "cornet_s": 1}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Any:
    """Torch on one thread here: right after a JAX computation, XLA's idle pool threads
    compete with torch's OpenMP team and small torch calls slow down a hundredfold."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def overrides(name: str) -> dict[str, Any]:
    return dict(SMALL.get(name.split(".")[0], {}))


@lru_cache(maxsize=None)
def jitted(path: str, frozen: tuple[tuple[str, Any], ...]) -> tuple[Any, Any, Any]:
    """(graph, JAX module, jitted apply) per spec and overrides: one compile per shape."""
    g = load(path, dict(frozen))
    mod = build_graph(g, "jax")
    return g, mod, jax.jit(mod.apply, static_argnames="train")


@pytest.mark.parametrize("spec", SPECS)
def test_catalog_outputs_agree(spec: str) -> None:
    """Torch init -> safetensors file -> JAX; eval-mode outputs equal."""
    g = load(ROOT / "specs" / spec, overrides(spec))
    r = compare(g, via_file=True, batch=BATCH.get(spec.split(".")[0], 2))
    for name in g.outputs:
        got = r.jax[name] if isinstance(r.jax, dict) else r.jax
        want = r.torch[name] if isinstance(r.torch, dict) else r.torch
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOL, err_msg=f"{spec}: output {name}")


def dyrcnn_name(key: str) -> str:
    """A reference DyRCNNx4 state_dict key -> the spec's parameter name."""
    key = re.sub(r"^(V1|V2|V4|IT)\.recurrence\.", r"\1.edges.recurrence.via.", key)
    return re.sub(r"^(skip_\w+|feedback_\w+)\.", r"edges.\1.adapt.", key)


DYRCNN = [(t, False) for t in dynvision.RECURRENCE_TYPES] + [("full", True), ("local", True)]


@pytest.mark.parametrize(("kind", "feedback"), DYRCNN, ids=[f"{k}{'+feedback' if f else ''}" for k, f in DYRCNN])
def test_dyrcnn_variants_agree_with_reference_and_torch(kind: str, feedback: bool) -> None:
    path = str(ROOT / "specs" / "dyrcnn_x4.yaml")
    g, mod, apply = jitted(path, (("size", 16), ("recurrence", kind), ("feedback", feedback), ("steps", 8)))
    torch.manual_seed(1)
    ref = dynvision.DyRCNNx4(recurrence=kind, feedback=feedback).eval()
    params, state = mod.split_state_dict({dyrcnn_name(k): v for k, v in pio.from_torch(ref).items()})
    x = example_inputs(g, batch=2, seed=2)["x"]
    got = np.asarray(apply(params, state, x)[0])
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
        emitted = build_graph(g, "torch").eval()
        pio.to_torch(emitted, {dyrcnn_name(k): v for k, v in ref.state_dict().items()})
        also = emitted(torch.from_numpy(x)).numpy()
    assert got.shape == (2, 8, 10)
    np.testing.assert_allclose(got, want, **TOL)
    np.testing.assert_allclose(got, also, **TOL)


def grads_agree(path: str, ov: dict[str, Any], batch: int = 2) -> None:
    """d(sum(y^2))/d(params) from jax.grad and from torch's backward, same weights."""
    g, mod, _ = jitted(path, tuple(sorted(ov.items())))
    torch.manual_seed(0)
    model = build_graph(g, "torch").eval()
    params, state = mod.split_state_dict(pio.from_torch(model))
    x = example_inputs(g, batch=batch, seed=4)

    def loss(p: Any) -> Any:
        y, _ = mod.apply(p, state, x)
        return jnp.sum(jnp.square(y))

    got = jax.jit(jax.grad(loss))(params)
    y = model(*[torch.from_numpy(v) for v in x.values()])
    (y ** 2).sum().backward()
    for name, p in model.named_parameters():
        want = p.grad.numpy()
        np.testing.assert_allclose(np.asarray(got[name]), want, atol=1e-4 * max(1.0, np.abs(want).max()),
                                   rtol=1e-4, err_msg=name)


def test_mlp_gradients_agree() -> None:
    grads_agree(str(ROOT / "specs" / "mlp.yaml"), {}, batch=8)


def test_dyrcnn_gradients_agree() -> None:
    grads_agree(str(ROOT / "specs" / "dyrcnn_x4.yaml"), {"size": 16, "steps": 10})


def test_jax_weights_run_in_torch(tmp_path: Path) -> None:
    """The other direction: JAX init -> safetensors (params and state) -> Torch."""
    g, mod, apply = jitted(str(ROOT / "specs" / "configurable_network.yaml"), ())
    params, state = mod.init(jax.random.PRNGKey(3)), mod.init_state()
    x = example_inputs(g, batch=4, seed=5)
    _, state = apply(params, state, x, train=True, key=jax.random.PRNGKey(0))  # non-trivial running stats
    pio.save(tmp_path / "p.safetensors", {**params, **state})
    model = build_graph(g, "torch").eval()
    pio.to_torch(model, pio.load(tmp_path / "p.safetensors"))
    assert int(model.state_dict()["batch_norm1d_0.num_batches_tracked"]) == 1
    with torch.no_grad():
        want = model(torch.from_numpy(x["x"])).numpy()
    np.testing.assert_allclose(np.asarray(apply(params, state, x)[0]), want, **TOL)
