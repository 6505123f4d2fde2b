"""`summary --input-size 8,3,224,224`, as torchinfo takes it: the free sizes come from whole input shapes.

The truth is the same summary with the sizes given one by one (`--dim`), and
shapes worked out by hand from the specs."""

from __future__ import annotations

import pathlib

import pytest
from typer.testing import CliRunner

from modelspec.cli import app

SPECS = pathlib.Path(__file__).parent.parent / "specs"
runner = CliRunner()

TWO = """\
modelspec: 1
name: Two
inputs:
  a: [B, L]
  b: [B, L, M]
layers:
  - {name: flat, op: Flatten, in: b}
  - {name: cat, op: Concat, in: [a, flat], axis: 1}
"""


def summary(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["summary", *args])
    return res.exit_code, res.output


def test_an_input_size_binds_what_dim_binds() -> None:
    code, given = summary(str(SPECS / "resnet18.yaml"), "--input-size", "8,3,224,224", "--depth", "0")
    assert code == 0
    assert given == summary(str(SPECS / "resnet18.yaml"), "--dim", "B=8", "--depth", "0")[1]
    assert "[8, 1000]" in given and "[8, 64, 112, 112]" in given  # the stem: 224 / 2 with stride 2


def test_one_input_size_per_input_in_order_or_by_name(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO, encoding="utf-8")
    code, out = summary(str(spec), "--input-size", "4,5", "--input-size", "4,5,3")
    assert code == 0 and "[4, 20]" in out  # L + L*M = 5 + 15
    assert summary(str(spec), "--input-size", "b=4,5,3")[1] == out
    code, out = summary(str(spec), "--input-size", "4,5", "--input-size", "4,6,3")
    assert code == 2 and "`L` is given as 5 and as 6" in out


@pytest.mark.parametrize("args, words", [
    (["--input-size", "8,3,224"], ["has 3 sizes", "has 4 dims: [B, 3, 224, 224]"]),
    (["--input-size", "8,4,224,224"], ["this dim is 3, not 4"]),
    (["--input-size", "X=8,3,224,224"], ["no input `X`", "did you mean `x`?"]),
    (["--input-size", "8,3,224,224", "--input-size", "8,3,224,224"], ["given 2 times", "1 input(s)"]),
    (["--input-size", "8,3,224,224", "--dim", "B=4"], ["`--dim B=4` and `--input-size`", "B=8"]),
    (["--input-size", "8,x,224,224"], ["[INPUT=]SIZE,SIZE,..."]),
    (["--input-size", "8,0,224,224"], ["every SIZE >= 1"]),
])
def test_bad_input_sizes_are_usage_errors(args: list[str], words: list[str]) -> None:
    code, out = summary(str(SPECS / "resnet18.yaml"), *args)
    assert code == 2
    for w in words:
        assert w in out, out
