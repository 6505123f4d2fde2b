"""`summary --dim B=32 --columns ...`: concrete shapes, activation memory, dtype and trainable columns.

Every number is worked out by hand from the spec (elements x 4 bytes for float32)."""

from __future__ import annotations

import json
import pathlib

import pytest
from typer.testing import CliRunner

from modelspec.cli import app
from tests.helpers import two_cells

SPECS = pathlib.Path(__file__).parent.parent / "specs"
runner = CliRunner()

CELLS = two_cells("Cells", back_delay="1")

TOKENS = """\
modelspec: 1
name: Tok
inputs:
  tokens: {shape: [B, L], dtype: int64}
  feats: [B, 6]
layers:
  - {name: emb, op: Embedding, num: 100, features: 16, in: tokens}
  - {name: norm, op: LayerNorm, elementwise_affine: false}
  - {name: fc, op: Linear, features: 4}
  - {name: bn, op: BatchNorm1d, affine: false, in: feats}
outputs:
  y: fc
  z: bn
"""


def _summary(*args: str) -> str:
    res = runner.invoke(app, ["summary", *args])
    assert res.exit_code == 0, res.output
    return res.output


def _spec(tmp_path: pathlib.Path, text: str, name: str = "s.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_mlp_with_a_batch_of_32() -> None:
    d = json.loads(_summary(str(SPECS / "mlp.yaml"), "--dim", "B=32", "--format", "json"))
    assert d["dims"] == {"B": 32}
    nodes = {n["path"]: n for n in d["nodes"]}
    assert nodes["linear_0"]["shape"] == [32, 256] and nodes["head"]["shape"] == [32, 10]
    assert nodes["linear_0"]["activation_bytes"] == 32 * 256 * 4
    # three [32, 256] values (Linear, ReLU, Dropout), three [32, 128], three [32, 64], the [32, 10] head
    assert d["activation_bytes"] == 4 * (3 * 32 * 256 + 3 * 32 * 128 + 3 * 32 * 64 + 32 * 10) == 173_312
    assert d["input_bytes"] == 32 * 784 * 4
    assert d["outputs"][0]["shape"] == [32, 10]
    assert d["macs"] == 242_304 and d["params"] == 242_762  # MACs stay per sample; params do not move
    text = _summary(str(SPECS / "mlp.yaml"), "--dim", "B=32")
    assert "Activations: 173.31 KB (float32, one forward pass)" in text
    assert "Input size: 100.35 KB" in text and "Sizes: B=32 (--dim)" in text
    assert " [32, 784] " in text and "[B," not in text


def test_without_dims_activations_are_per_sample() -> None:
    text = _summary(str(SPECS / "mlp.yaml"))
    assert "Activations: 5.42 KB per sample (float32, one forward pass)" in text  # 173,312 / 32
    assert "Input size" not in text
    d = json.loads(_summary(str(SPECS / "mlp.yaml"), "--format", "json"))
    assert d["activation_bytes"] == "5416*B" and d["dims"] == {}


def test_a_time_model_counts_activations_per_step(tmp_path: pathlib.Path) -> None:
    spec = _spec(tmp_path, CELLS)
    # per step: a.fc, a.leak, a.act, b.fc, b.leak, b.act, mix and the edge's Linear: 8 values of [2, 8]
    text = _summary(spec, "--dim", "B=2")
    assert f"Activations: {8 * 2 * 8 * 4} B per step (x 6 steps = 3.07 KB) (float32, one forward pass)" in text
    assert f"Input size: {2 * 6 * 8 * 4} B" in text  # the input has every step
    d = json.loads(_summary(spec, "--dim", "B=2", "--format", "json"))
    assert d["activation_bytes"] == 512 and d["input_bytes"] == 384


def test_columns_dtype_and_trainable(tmp_path: pathlib.Path) -> None:
    spec = _spec(tmp_path, TOKENS)
    text = _summary(spec, "--dim", "B=4", "--dim", "L=10", "--columns", "node,shape,dtype,params,trainable,activations")
    lines = text.splitlines()
    assert lines[2].split() == ["node", "output", "shape", "dtype", "params", "trainable", "activations"]
    rows = {ln.split()[0]: ln.split() for ln in lines[4:11] if ln.strip()}
    assert rows["tokens"] == ["tokens", "[4,", "10]", "int64", f"{4 * 10 * 8}", "B"]  # int64 indices
    assert rows["emb"] == ["emb", "[4,", "10,", "16]", "float32", "1,600", "yes", "2.56", "KB"]  # 100 x 16
    assert rows["norm"][-3:] == ["0", "2.56", "KB"]  # no affine: nothing to learn, no buffers
    assert rows["bn"][-4:] == ["0", "no", f"{4 * 6 * 4}", "B"]  # running statistics only
    assert rows["fc"][-4:] == ["68", "yes", "640", "B"]  # 16 x 4 + 4
    assert "inputs" not in lines[2] and "MACs" not in lines[2]


def test_a_free_size_left_unbound_stays_symbolic(tmp_path: pathlib.Path) -> None:
    spec = _spec(tmp_path, TOKENS)
    text = _summary(spec, "--dim", "B=4", "-c", "node,shape,activations")
    assert "[4, L, 16]" in text and "256·L B" in text
    assert "Activations: 576·L + 96 bytes (float32, one forward pass; `--dim NAME=SIZE` binds the sizes)" in text


def test_markdown_takes_the_columns_too() -> None:
    md = _summary(str(SPECS / "mlp.yaml"), "--format", "markdown", "--dim", "B=8", "-c", "name,shape,memory")
    assert "| node | output shape | activations |\n|---|---|--:|\n" in md
    assert "| linear_0 | [8, 256] | 8.19 KB |" in md  # 8 x 256 x 4


@pytest.mark.parametrize("args, words", [
    (["--columns", "nodes"], ["unknown column `nodes`", "did you mean `node`?"]),
    (["--columns", ","], ["names no column"]),
    (["--dim", "C=3"], ["`C` is not a free size", "(B)"]),
    (["--dim", "b=3"], ["did you mean `B`?"]),
    (["--dim", "B=0"], ["NAME=SIZE"]),
    (["--dim", "B"], ["NAME=SIZE"]),
])
def test_bad_options_are_usage_errors(args: list[str], words: list[str]) -> None:
    res = runner.invoke(app, ["summary", str(SPECS / "mlp.yaml"), *args])
    assert res.exit_code == 2
    for w in words:
        assert w in res.output


@pytest.mark.parametrize("spec, columns, dims", [
    ("mlp.yaml", ["node", "shape", "dtype", "params", "trainable", "activations"], {"B": 32}),
    ("resnet18.yaml", ["node", "macs", "activations", "op"], {"B": 2}),
    ("dyrcnn_x4.yaml", ["node", "first_step", "shape", "history"], {}),
])
def test_plain_table_is_what_rich_draws_for_any_columns(spec: str, columns: list[str], dims: dict[str, int]) -> None:
    import io

    from rich.console import Console

    from modelspec.commands.bind import bind_graph
    from modelspec.commands.summary import _table, layout, plain_table
    from modelspec.pipeline import load

    g = bind_graph(load(SPECS / spec), dims)
    for width in (None, 80, 140):
        lay = layout(g, None, width, columns)
        plain = plain_table(lay)
        if plain is None:
            continue
        buf = io.StringIO()
        Console(file=buf, width=lay.width, color_system=None, highlight=False).print(_table(lay))
        assert plain == buf.getvalue(), (spec, width)
