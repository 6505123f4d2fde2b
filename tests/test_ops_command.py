"""`modelspec ops`: the catalog, generated from the op definitions (a new op is listed with no text written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from pydantic import Field
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.commands.ops import example_attrs, example_snippet, shape_example
from modelspec.ops import Attrs, JaxRules, Op, TorchRules, register, registry
from modelspec.ops.registry import all_ops
from modelspec.pipeline import compile_text
from modelspec.shapes.dims import fmt_shape

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _ops(*args: str) -> Any:
    return runner.invoke(app, ["ops", *args])


def test_the_list_has_one_line_per_registered_op_with_its_doc() -> None:
    res = _ops()
    assert res.exit_code == 0
    lines = res.output.splitlines()
    ops = all_ops()
    assert len(lines) == len(ops) + 1 and lines[-1].startswith(f"{len(ops)} ops")
    for line, (name, op) in zip(lines, ops.items()):
        assert line.split()[0] == name and line.split()[1] == op.category and line.endswith(op.doc)


def test_conv2d_shows_types_defaults_shape_and_example() -> None:
    res = _ops("Conv2d")
    assert res.exit_code == 0, res.output
    rows = {ln.split()[0]: ln for ln in res.output.split("Attributes\n", 1)[1].split("\n\n")[0].splitlines()[1:]}
    assert list(rows) == ["channels", "kernel", "stride", "padding", "dilation", "groups", "bias", "padding_mode"]
    assert rows["channels"].split()[1:5] == ["int", ">", "0", "required"]
    assert "int >= 1 | [int >= 1, int >= 1]" in rows["kernel"] and "required" in rows["kernel"]
    assert rows["padding"].split()[1:16] == "int >= 0 | [int >= 0, int >= 0] | same | valid 0".split()
    assert rows["bias"].split()[1:3] == ["bool", "true"]
    assert rows["padding_mode"].split()[1:9] == "zeros | reflect | replicate | circular zeros".split()
    # 32 - 3 + 1 = 30 per spatial axis, 32 output channels: worked out by hand
    assert "  [B, 16, 32, 32] -> [B, 32, 30, 30]" in res.output
    assert "    - {op: Conv2d, channels: 32, kernel: 3}" in res.output
    assert "2-d convolution over [B, C, H, W]" in res.output and "backends: torch, jax" in res.output


def test_a_multi_input_op_example_names_its_inputs() -> None:
    res = _ops("Concat")
    assert "- {op: Concat, in: [a, b]}" in res.output
    assert "[B, 16, 32, 32], [B, 16, 32, 32] -> [B, 32, 32, 32]" in res.output  # channels add up


@pytest.mark.parametrize("name", sorted(all_ops()))
def test_every_example_compiles_to_the_shape_shown(name: str) -> None:
    """The example of each op, put in a spec after an input of the shown shape, compiles and
    infers the output shape the command prints."""
    op = all_ops()[name]
    op.Attrs(**example_attrs(op))
    shown = shape_example(op)
    assert shown is not None, f"{name}: no input shape accepted by its shape rule"
    ins, out = shown
    dtype = "int64" if op.index_inputs(op.Attrs(**example_attrs(op))) else "float32"
    names = [chr(ord("a") + k) for k in range(len(ins))]
    inputs = {n: {"shape": s, "dtype": dtype} for n, s in zip(names, ins)}
    layer = yaml.safe_load(example_snippet(op))[0]
    if isinstance(layer, str):
        layer = {"op": layer}
    layer["name"] = "y"
    layer.setdefault("in", names[0] if len(names) == 1 else names)
    spec = {"modelspec": 1, "name": "T", "inputs": inputs, "outputs": {"out": "y"}, "layers": [layer]}
    if op.stateful:
        spec["time"] = {"steps": 2}
    r = compile_text(yaml.safe_dump(spec))
    assert r.ok, [str(d) for d in r.diags.sorted()]
    assert fmt_shape(r.graph.nodes["y"].shape) == fmt_shape(tuple(out))


def test_unknown_op_is_a_coded_error_with_a_suggestion() -> None:
    res = runner.invoke(app, ["ops", "Conv2"])
    assert res.exit_code == 2
    assert "MS030 error: unknown op `Conv2`" in res.output and "did you mean `Conv2d`?" in res.output
    res = runner.invoke(app, ["ops", "relu"])
    assert res.exit_code == 2 and "did you mean `ReLU`?" in res.output
    assert runner.invoke(app, ["ops", "--format", "xml"]).exit_code == 2


def test_json_is_the_same_catalog() -> None:
    listed = json.loads(_ops("--format", "json").output)
    assert [o["name"] for o in listed] == list(all_ops())
    one = json.loads(_ops("Linear", "--format", "json").output)
    assert one == next(o for o in listed if o["name"] == "Linear")
    assert one["attributes"][0] == {"name": "features", "type": "int > 0", "required": True, "default": None,
                                    "description": all_ops()["Linear"].Attrs.model_fields["features"].description}
    assert one["shape_example"] == {"inputs": [["B", 16, 32, 32]], "output": ["B", 16, 32, 128]}
    assert {"name", "category", "doc", "description", "inputs", "stateful", "backends", "attributes",
            "example", "shape_example"} == set(one)


@pytest.fixture
def scratch_op() -> Iterator[None]:
    class ScaleAttrs(Attrs):
        factor: float = Field(description="What the input is multiplied by.")
        offset: int = Field(0, ge=0, description="Added after.")

    @register
    class TScale(Op, TorchRules, JaxRules):
        """Multiplies by a constant."""

        Attrs = ScaleAttrs
        doc = "x * factor + offset over any shape."

        def torch_call(self, a: Any, args: list[str], m: str, ctx: Any) -> str:
            return args[0]

        def jax_call(self, a: Any, args: list[str], p: str, ctx: Any) -> str:
            return args[0]

    yield
    registry._REGISTRY.pop("TScale", None)


def test_a_new_op_is_listed_without_a_line_written_for_it(scratch_op: None) -> None:
    assert any(ln.startswith("TScale ") and ln.endswith("x * factor + offset over any shape.")
               for ln in _ops().output.splitlines())
    res = _ops("TScale")
    assert res.exit_code == 0 and "Multiplies by a constant." in res.output
    assert "  factor  float     required  What the input is multiplied by." in res.output
    assert "  offset  int >= 0  0         Added after." in res.output
    assert "- {op: TScale, factor: 1}" in res.output


def test_ops_imports_neither_torch_nor_jax() -> None:
    code = ("import sys; from modelspec.cli import main\n"
            "try:\n    main(['ops', 'Conv2d'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules and 'jax' not in sys.modules, 'backend imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "Conv2d" in done.stdout
