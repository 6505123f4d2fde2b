"""Parameter files: safetensors round trips from torch and JAX, torch helpers, other
formats, and the `modelspec params` commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from modelspec import weights as pio
from modelspec.cli import app

torch = pytest.importorskip("torch")

try:
    from tests.reference import mithril, resnet
except ImportError:  # pytest's "prepend" import mode
    from reference import mithril, resnet  # type: ignore[no-redef]


def test_numpy_round_trip_keeps_dtypes_shapes_and_scalars(tmp_path: Path) -> None:
    arrays = {
        "w": np.random.RandomState(0).randn(3, 4).astype(np.float32),
        "h": np.arange(6, dtype=np.float16).reshape(2, 3),
        "count": np.array(7, dtype=np.int64),  # a 0-d buffer, like num_batches_tracked
        "view": np.arange(12, dtype=np.float64).reshape(3, 4).T,  # not C-contiguous
    }
    pio.save(tmp_path / "a.safetensors", arrays, {"epoch": 3})
    back = pio.load(tmp_path / "a.safetensors")
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)
    assert pio.metadata(tmp_path / "a.safetensors") == {"format": "pt", "epoch": "3"}


def test_torch_state_dict_round_trip_with_buffers(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = resnet.resnet18(num_classes=10)
    model.train()(torch.randn(2, 3, 32, 32))  # running statistics move, num_batches_tracked = 1
    pio.save(tmp_path / "r.safetensors", model.state_dict())
    back = pio.load(tmp_path / "r.safetensors")
    sd = model.state_dict()
    assert list(sorted(back)) == sorted(sd) and len(back) == 122
    assert back["bn1.num_batches_tracked"].shape == () and int(back["bn1.num_batches_tracked"]) == 1
    fresh = resnet.resnet18(num_classes=10)
    pio.to_torch(fresh, back)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_bfloat16_survives_both_ways(tmp_path: Path) -> None:
    t = torch.randn(4, 5).to(torch.bfloat16)
    pio.save(tmp_path / "b.safetensors", {"t": t})
    arr = pio.load(tmp_path / "b.safetensors")["t"]
    assert arr.dtype.name == "bfloat16"
    layer = torch.nn.Linear(5, 4, bias=False).to(torch.bfloat16)
    pio.to_torch(layer, {"weight": arr})
    assert torch.equal(layer.weight.detach(), t)


def test_jax_arrays_save_and_cast_into_torch(tmp_path: Path) -> None:
    jnp = pytest.importorskip("jax.numpy")
    bn = torch.nn.BatchNorm1d(3)
    state = {"weight": jnp.ones(3), "bias": jnp.zeros(3), "running_mean": jnp.full(3, 0.5),
             "running_var": jnp.full(3, 2.0), "num_batches_tracked": jnp.asarray(4, jnp.int32)}
    pio.save(tmp_path / "j.safetensors", state)
    pio.to_torch(bn, pio.load(tmp_path / "j.safetensors"))
    assert bn.num_batches_tracked.dtype == torch.int64 and int(bn.num_batches_tracked) == 4
    assert torch.equal(bn.running_var, torch.full((3,), 2.0))


def test_to_torch_is_strict_about_names_and_shapes() -> None:
    model = mithril.MLP()
    sd = pio.from_torch(model)
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    with pytest.raises(RuntimeError, match="Missing key"):
        pio.to_torch(model, {k: v for k, v in sd.items() if k != "output.bias"})
    result = pio.to_torch(model, {k: v for k, v in sd.items() if k != "output.bias"}, strict=False)
    assert result.missing_keys == ["output.bias"]
    with pytest.raises(ValueError, match="output.bias: shape"):
        pio.to_torch(model, {**sd, "output.bias": np.zeros(3, np.float32)})


def test_other_formats(tmp_path: Path) -> None:
    sd = pio.from_torch(mithril.MLP())
    torch.save({"epoch": 1, "state_dict": mithril.MLP().state_dict()}, tmp_path / "ckpt.pt")
    assert set(pio.read_any(tmp_path / "ckpt.pt")) == set(sd)  # a checkpoint dict is unwrapped
    for ext in ("npz", "pt", "safetensors"):
        pio.write_any(tmp_path / f"m.{ext}", sd)
        back = pio.read_any(tmp_path / f"m.{ext}")
        assert all(np.array_equal(back[k], v) for k, v in sd.items()), ext
    with pytest.raises(ValueError, match="unknown parameter file type"):
        pio.read_any(tmp_path / "m.h5")


def test_cli_convert_and_inspect(tmp_path: Path) -> None:
    model = resnet.resnet18(num_classes=10)
    torch.save(model.state_dict(), tmp_path / "r.pt")
    runner = CliRunner()
    res = runner.invoke(app, ["params", "convert", str(tmp_path / "r.pt"), str(tmp_path / "r.safetensors")])
    assert res.exit_code == 0, res.output
    assert "122 arrays" in res.output
    res = runner.invoke(app, ["params", "inspect", str(tmp_path / "r.safetensors")])
    assert res.exit_code == 0, res.output
    n = sum(v.numel() for v in model.state_dict().values())
    assert f"{n:,}" in res.output and "layer4.1.conv2.weight" in res.output and "int64" in res.output
    assert "[512, 512, 3, 3]" in res.output
    assert pio.metadata(tmp_path / "r.safetensors")["source"] == "r.pt"
    res = runner.invoke(app, ["params", "inspect", str(tmp_path / "missing.safetensors")])
    assert res.exit_code == 2
    pio.save(tmp_path / "mixed.safetensors", {"a.10.w": np.zeros(1), "a.2.w": np.zeros(1), "a.b": np.zeros(2)})
    res = runner.invoke(app, ["params", "inspect", str(tmp_path / "mixed.safetensors")])
    assert res.exit_code == 0, res.output
    assert res.output.index("a.2.w") < res.output.index("a.10.w") < res.output.index("a.b")
