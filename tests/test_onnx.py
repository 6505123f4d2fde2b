"""ONNX export (`modelspec build --backend onnx`): every catalog spec, run by onnxruntime, against the
Torch module it came from, at other sizes than the ones it was traced with (the batch dim and the
free sizes stay symbolic); names as in the spec; trained weights; a located error for an op ONNX
cannot express."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from typer.testing import CliRunner  # noqa: E402

from modelspec.backends.checking import free_symbols  # noqa: E402
from modelspec.backends.torch.runtime import random_inputs  # noqa: E402
from modelspec.build import build_graph  # noqa: E402
from modelspec.cli import app  # noqa: E402
from modelspec.commands.onnx_export import export_onnx  # noqa: E402
from modelspec.pipeline import load  # noqa: E402
from modelspec.weights import from_torch, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: every catalog spec, whoever added it
SPECS = sorted(p.name for p in (ROOT / "specs").iterdir() if p.suffix in (".yaml", ".toml"))
#: small sizes where a spec has a size param (the exporter's time grows with the steps, not the image)
SMALL = {"dyrcnn_x4": {"size": 16}, "simple_rcnn": {"size": 16}}
#: specs that cannot export, each with the reason (the test then expects exactly MS080/MS081): none today
CANNOT_EXPORT: dict[str, str] = {}


def session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, float(np.abs(want).max())), rtol=1e-4, err_msg=what)


def torch_outputs(model: Any, g: Any, xs: list[Any]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = model(*xs)
    out = out if isinstance(out, dict) else {next(iter(g.outputs)): out}
    return {k: v.numpy() for k, v in out.items()}


@pytest.mark.parametrize("spec", SPECS)
def test_catalog_spec_matches_onnxruntime(spec: str, tmp_path: Path) -> None:
    """Export with random weights, then run both at a batch of 3 and free sizes of 7 (traced at 2 and 5)."""
    g = load(ROOT / "specs" / spec, SMALL.get(spec.split(".")[0], {}))
    if spec in CANNOT_EXPORT:
        with pytest.raises(Exception) as info:
            export_onnx(g, str(tmp_path / "m.onnx"))
        assert info.value.diagnostic.code in ("MS080", "MS081")  # type: ignore[attr-defined]
        return
    torch.manual_seed(0)
    model = build_graph(g).eval()
    done = export_onnx(g, str(tmp_path / "m.onnx"), weights=from_torch(model))
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    assert list(done.inputs) == list(g.inputs) and list(done.outputs) == list(g.outputs)
    for name, shape in done.inputs.items():  # the batch dim is symbolic and called B; a time axis is unrolled
        assert shape[0] == "B", (name, shape)
        if g.time and not g.inputs[name].static:
            assert shape[1] == g.time.steps
    env = {"B": 3, **{s: 7 for s in free_symbols(g) if s != "B"}}
    xs = random_inputs(g, env, seed=1)
    want = torch_outputs(model, g, xs)
    got = session(tmp_path / "m.onnx").run(list(g.outputs), {n: x.numpy() for n, x in zip(g.inputs, xs)})
    for name, arr in zip(g.outputs, got):
        assert_close(arr, want[name], f"{spec}: output {name}")


def test_cli_writes_trained_weights_and_names(tmp_path: Path) -> None:
    """`build --backend onnx --weights FILE`: the file computes what the Torch model with those weights does."""
    g = load(ROOT / "specs" / "mlp.yaml")
    torch.manual_seed(5)
    model = build_graph(g).eval()
    save(tmp_path / "w.safetensors", from_torch(model))
    out = tmp_path / "mlp.onnx"
    r = CliRunner().invoke(app, ["build", str(ROOT / "specs" / "mlp.yaml"), "--backend", "onnx", "-o", str(out),
                                 "--weights", str(tmp_path / "w.safetensors")])
    assert r.exit_code == 0, r.output
    assert "x [B, 784] -> logits [B, 10]" in r.output
    s = session(out)
    assert [i.name for i in s.get_inputs()] == ["x"] and [o.name for o in s.get_outputs()] == ["logits"]
    x = np.random.default_rng(0).standard_normal((4, 784)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert_close(s.run(None, {"x": x})[0], want, "mlp with trained weights")


def test_fixed_dim_stays_fixed(tmp_path: Path) -> None:
    """`--dim L=9` fixes a free size in the file; B stays symbolic."""
    g = load(ROOT / "specs" / "lstm_classifier.yaml")
    done = export_onnx(g, str(tmp_path / "l.onnx"), {"L": 9})
    assert done.inputs["x"] == ["B", 9, 28]


def test_onnx_needs_an_output_file() -> None:
    r = CliRunner().invoke(app, ["build", str(ROOT / "specs" / "mlp.yaml"), "--backend", "onnx"])
    assert r.exit_code == 2 and "-o model.onnx" in r.output


PLUGIN = '''
from modelspec.ops import Op, TorchRules, register


@register
class Zeta(Op, TorchRules):
    """Hurwitz zeta(|x| + 2, 2): ONNX has no operator for it."""

    name = "Zeta"
    doc = "zeta(|x| + 2, 2), a test op that ONNX cannot express."

    def shape(self, a, ins):
        return tuple(ins[0])

    def torch_call(self, a, args, m, ctx):
        return f"torch.special.zeta({args[0]}.abs() + 2.0, 2.0)"
'''

SPEC = """\
modelspec: 1
name: Z
plugins: [zeta_plugin]
inputs:
  x: [B, 4]
outputs:
  y: head
layers:
  - {op: Linear, features: 3}
  - {name: z, op: Zeta}
  - {name: head, op: Linear, features: 2}
"""


def test_op_without_onnx_equivalent_is_a_located_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporter's failure is traced back to the spec node: file:line:col, MS080, the node and its op."""
    (tmp_path / "zeta_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (tmp_path / "z.yaml").write_text(SPEC)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["build", "z.yaml", "--plugin", "zeta_plugin", "--root", str(tmp_path),
                                 "--backend", "onnx", "-o", "z.onnx"])
    assert r.exit_code == 1, r.output
    first = r.output.strip().splitlines()[0]
    assert first.startswith("z.yaml:10:5: MS080 error: `z` (op Zeta) cannot be exported to ONNX"), r.output
    assert "zeta" in first.split("ONNX:", 1)[1]  # the exporter's reason
    assert "Traceback" not in r.output and not (tmp_path / "z.onnx").exists()


def test_whole_model_failure_is_ms081_with_the_dim_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure no emitted line explains is reported for the model, suggesting to fix the free sizes."""
    import modelspec.commands.onnx_export as ox

    def fail(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("Constraints violated (L)!")

    monkeypatch.setattr(ox.torch.onnx, "export", fail)
    monkeypatch.setattr(ox.torch.export, "export", fail)
    r = CliRunner().invoke(app, ["build", str(ROOT / "specs" / "lstm_classifier.yaml"), "--backend", "onnx",
                                 "-o", str(tmp_path / "l.onnx")])
    assert r.exit_code == 1, r.output
    assert "lstm_classifier.yaml:1:1: MS081 error: LSTMClassifier cannot be exported to ONNX: Constraints " \
           "violated (L)!" in r.output
    assert "--dim L=N" in r.output


@pytest.mark.parametrize("spec, out, docs", [
    ("simple_rcnn.yaml", "rcnn.onnx", ["README.md", "docs/commands.md"]),
    ("lstm_classifier.yaml", "lstm.onnx", ["docs/commands.md"]),
])
def test_the_docs_show_what_the_export_prints(spec: str, out: str, docs: list[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The ONNX examples are too slow for `make docs`; this runs them as written and reads the docs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    command = f"modelspec build specs/{spec} --backend onnx -o {out}"
    r = CliRunner().invoke(app, command.split()[1:])
    assert r.exit_code == 0, r.output
    shown = f"$ {command}\n{r.output}"
    for doc in docs:
        assert shown in (ROOT / doc).read_text(encoding="utf-8"), doc
