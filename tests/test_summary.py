"""`modelspec summary`: the JSON numbers are the IR's, the table and markdown read right."""

from __future__ import annotations

import io
import json
import math
import pathlib
import re

import pytest
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.commands.colour import console
from modelspec.commands.summary import (_table, fit_widths, footer, human, layout, plain_table, poly_text,
                                        render_summary, rows, summary_dict)
from modelspec.pipeline import load

SPECS = pathlib.Path(__file__).parent.parent / "specs"
runner = CliRunner()

MLP = """\
modelspec: 1
name: TinyMLP
inputs:
  x: [B, 784]
outputs:
  logits: head
layers:
  - foreach: {h: [256, 128, 64]}
    layers:
      - {op: Linear, features: "${h}"}
      - ReLU
  - {name: head, op: Linear, features: 10}
"""

BLOCKS = """\
modelspec: 1
name: Nested
inputs:
  x: [B, 3, 8, 8]
blocks:
  Unit:
    params: {c: 4}
    layers:
      - {name: conv, op: Conv2d, channels: "${c}", kernel: 3, padding: 1}
      - {name: bn, op: BatchNorm2d}
      - {name: act, op: ReLU}
layers:
  - {name: stage, block: Unit, repeat: 2}
  - {name: pool, op: GlobalAvgPool}
"""


@pytest.fixture
def mlp(tmp_path: pathlib.Path) -> pathlib.Path:
    p = tmp_path / "mlp.yaml"
    p.write_text(MLP)
    return p


@pytest.fixture
def nested(tmp_path: pathlib.Path) -> pathlib.Path:
    p = tmp_path / "nested.yaml"
    p.write_text(BLOCKS)
    return p


def test_table_shows_exact_total(mlp: pathlib.Path) -> None:
    res = runner.invoke(app, ["summary", str(mlp)])
    assert res.exit_code == 0, res.output
    assert "Total params: 242,762" in res.output
    assert "Linear 256" in res.output and "[B, 256]" in res.output
    assert "200,960" in res.output  # 784*256 + 256


def test_table_stays_within_100_columns(nested: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    res = runner.invoke(app, ["summary", str(SPECS / "dyrcnn_x4.yaml"), "--set", "feedback=true"])
    assert res.exit_code == 0, res.output
    widths = [len(line.rstrip()) for line in res.output.splitlines()]
    assert max(widths) <= 100
    assert "1,185,790" in res.output  # the parameter column is never cut
    assert "(t-3)" in res.output and "Cycles:" in res.output and "Time: 20 steps, dt 2 ms" in res.output


def test_json_numbers_equal_the_ir() -> None:
    g = load(SPECS / "resnet18.yaml")
    d = summary_dict(g)
    assert d["params"] == g.n_params == 11_689_512
    assert d["buffers"] == sum(math.prod(s) for n in g.nodes.values() for s in n.buffers.values()) > 0
    assert [n["path"] for n in d["nodes"]] == (g.order or list(g.nodes))
    assert sum(n["params"] for n in d["nodes"]) == g.n_params
    assert d["macs"] == sum(int(n.macs) for n in g.nodes.values())
    assert d["outputs"] == [{"name": "logits", "from": "fc", "steps": "all", "shape": ["B", 1000],
                             "step_shape": ["B", 1000]}]
    assert d["param_bytes"] == 4 * g.n_params


def test_json_cli_is_parseable_and_stable(nested: pathlib.Path) -> None:
    first = runner.invoke(app, ["summary", str(nested), "--format", "json"])
    second = runner.invoke(app, ["summary", str(nested), "--format", "json"])
    assert first.exit_code == 0 and first.output == second.output
    d = json.loads(first.output)
    assert {"name", "params", "buffers", "macs", "time", "nodes", "edges", "inputs", "outputs"} <= set(d)
    assert d["buffers"] > 0 and d["params"] == load(nested).n_params


def test_time_model_json_has_edges_and_time() -> None:
    d = summary_dict(load(SPECS / "dyrcnn_x4.yaml"))
    assert d["time"] == {"steps": 20, "dt": 2.0, "idle": 0}
    assert d["outputs"][0]["shape"] == ["B", 20, 10] and d["outputs"][0]["step_shape"] == ["B", 10]
    rec = [e for e in d["edges"] if e["name"] == "V1.edges.recurrence"][0]
    assert rec["delay"] == 3 and rec["kind"] == "feedback" and rec["chain"] == ["V1.edges.recurrence.via"]


def test_depth_collapses_scopes(nested: pathlib.Path) -> None:
    g = load(nested)
    full = rows(g, None)
    assert any(r.name == "conv" for r in full)
    top = rows(g, 0)
    stage = [r for r in top if r.name == "stage"]
    assert stage and stage[0].kind == "collapsed" and not any(r.name == "conv" for r in top)
    assert stage[0].params == sum(n.n_params for p, n in g.nodes.items() if p.startswith("stage."))
    one = rows(g, 1)  # `stage` opens, its copies (depth 2) are single rows
    assert [r.name for r in one if r.kind == "collapsed"] == ["0", "1"]
    res = runner.invoke(app, ["summary", str(nested), "--depth", "1"])
    assert res.exit_code == 0 and "conv" not in res.output and "Unit" in res.output


def test_markdown_is_a_pipe_table(nested: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    render_summary(load(nested), "markdown", None)
    lines = capsys.readouterr().out.splitlines()
    table = [ln for ln in lines if ln.startswith("|")]
    assert table[0] == "| node | op | inputs | output shape | params | MACs |"
    assert re.fullmatch(r"\|(-+:?\|){4}(-*:\|){2}", table[1].replace(" ", ""))
    assert all(ln.count("|") - ln.count("\\|") == 7 for ln in table)
    assert any("**stage**" in ln for ln in table)
    assert any(ln.startswith("- Total params: ") for ln in lines)


def test_symbolic_macs_are_simplified() -> None:
    assert poly_text("(L*2+(L*2))*4096+((L*L)*64)*2") == "128*L**2 + 16384*L"
    assert human("(L*L)*128+(L*64)*256") == "128·L² + 16.38K·L"
    assert human(1_164_950) == "1.16M" and human(640) == "640"
    d = summary_dict(load(SPECS / "transformer_classifier.yaml"))
    assert isinstance(d["macs"], str) and "L**2" in d["macs"]


def test_fit_widths_shrinks_words_not_counts() -> None:
    natural = [30, 30, 40, 16, 9, 8]
    got = fit_widths(natural, 100, 12)
    assert sum(got) + 12 <= 100 and got[4] == 9 and got[3] == 16
    assert fit_widths([10, 10, 10, 10, 5, 5], 100, 12) == [10, 10, 10, 10, 5, 5]


def test_summary_exit_codes(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("modelspec: 1\nname: Bad\ninputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, featurs: 3}\n")
    res = runner.invoke(app, ["summary", str(bad)])
    assert res.exit_code == 1 and "MS011" in res.output
    res = runner.invoke(app, ["summary", str(SPECS / "mlp.yaml"), "--format", "html"])
    assert res.exit_code == 2


def _rich(lay: object) -> str:
    buf = io.StringIO()
    console(buf, width=lay.width).print(_table(lay))  # type: ignore[attr-defined]
    return buf.getvalue()


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_plain_table_is_what_rich_draws(spec: str) -> None:
    """Without colour the table is drawn by a plain renderer: it must be rich's output, character
    for character, at every width where it is used (elsewhere it declines and rich draws)."""
    g = load(SPECS / spec)
    drawn = 0
    for width in (None, 60, 100, 137, 200):
        for depth in (None, 1):
            lay = layout(g, depth, width)
            plain = plain_table(lay)
            if plain is None:
                continue
            assert plain == _rich(lay), (spec, width, depth)
            drawn += 1
    assert drawn >= 4  # the wide layouts are always drawn plainly


def test_plain_table_declines_what_it_cannot_measure(mlp: pathlib.Path) -> None:
    lay = layout(load(mlp), None, None)
    lay.cells[1][0] = "名前"  # two cells per character
    assert plain_table(lay) is None
    lay = layout(load(mlp), None, 40)  # wider than the console: rich collapses columns
    assert plain_table(lay) is None


def test_summary_without_colour_prints_table_then_footer(mlp: pathlib.Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    g = load(mlp)
    render_summary(g, "table", None)
    lay = layout(g, None, None)
    assert capsys.readouterr().out == _rich(lay) + "".join(f"{line}\n" for line in footer(g))
