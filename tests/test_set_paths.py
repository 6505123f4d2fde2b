"""`--set` by dotted path: every kind of path reaches its key, and every bad path is located.

The truth for each override is the same spec with the value written into the
file by hand: both must compile to the same graph facts.
"""

from __future__ import annotations

import pathlib

from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.diagnostics import Diagnostics
from modelspec.expand.params import parse_overrides
from modelspec.expand.setpath import is_path
from modelspec.pipeline import compile_file, compile_text

SPECS = pathlib.Path(__file__).resolve().parent.parent / "specs"
runner = CliRunner()

SPEC = """modelspec: 1
name: P
params: {hidden: 8}
time: {steps: 4}
inputs:
  x: [B, 3]
blocks:
  Lin:
    params: {n: 2}
    layers:
      - {name: fc, op: Linear, features: "${n}"}
layers:
  - {name: a, op: Linear, features: "${hidden}"}
  - {name: b, block: Lin}
  - ReLU
  - {name: c, op: Linear, features: 5}
edges:
  - {from: a, to: c, delay: 1, via: {op: Linear, features: 5}}
train:
  epochs: 2
"""


def compiled(sets: list[str], text: str = SPEC):  # noqa: ANN201
    diags = Diagnostics()
    over = parse_overrides(sets, diags)
    assert not diags.has_errors, [str(d) for d in diags]
    return compile_text(text, overrides=over)


def same_as(sets: list[str], old: str, new: str) -> None:
    """The override gives what editing the file by hand gives."""
    assert old in SPEC
    got, want = compiled(sets), compile_text(SPEC.replace(old, new, 1))
    assert got.ok and want.ok, [str(d) for d in got.diags.sorted()]
    g, h = got.graph, want.graph
    assert {p: n.shape for p, n in g.nodes.items()} == {p: n.shape for p, n in h.nodes.items()}
    assert g.n_params == h.n_params and g.time == h.time and g.train == h.train
    assert [(e.name, e.delay) for e in g.edges] == [(e.name, e.delay) for e in h.edges]


def test_every_kind_of_path() -> None:
    same_as(["time.steps=40"], "time: {steps: 4}", "time: {steps: 40}")
    same_as(["time.idle=2"], "time: {steps: 4}", "time: {steps: 4, idle: 2}")  # a new key
    same_as(["train.epochs=3"], "epochs: 2", "epochs: 3")
    same_as(["layers.3.features=7"], "{name: c, op: Linear, features: 5}", "{name: c, op: Linear, features: 7}")
    same_as(["layers.0.features=${hidden * 2}"], 'features: "${hidden}"}', 'features: "${hidden * 2}"}')
    same_as(["blocks.Lin.params.n=6"], "params: {n: 2}", "params: {n: 6}")
    same_as(["blocks.Lin.layers.0.features=9"], 'features: "${n}"}', "features: 9}")
    same_as(["edges.0.delay=2"], "delay: 1,", "delay: 2,")
    same_as(["edges.0.via.features=4"], "features: 5}}", "features: 4}}")  # an adapter appears, in both
    same_as(["params.hidden=16"], "params: {hidden: 8}", "params: {hidden: 16}")
    same_as(["layers.2=Tanh"], "  - ReLU\n", "  - Tanh\n")  # a whole list entry
    same_as(["layers.1={name: b, block: Lin, n: 3}"], "{name: b, block: Lin}", "{name: b, block: Lin, n: 3}")


def test_a_missing_section_is_created() -> None:
    r = compiled(["time.steps=3"], SPEC.replace("time: {steps: 4}\n", "").replace(", delay: 1", ""))
    assert r.ok and r.graph.time is not None and r.graph.time.steps == 3


def test_the_file_document_is_left_as_it_was() -> None:
    r = compiled(["time.steps=40"])
    assert r.doc.data["time"] == {"steps": 4}


def test_a_plain_name_is_still_a_param() -> None:
    r = compiled(["hidden=32"])
    assert r.ok and r.graph.nodes["a"].shape == ("B", 32)
    assert is_path("layers.2.features") and not is_path("hidden") and not is_path("a..b") and not is_path("a.")


def first_error(sets: list[str]) -> tuple[str, str, str]:
    r = compiled(sets)
    d = next(d for d in r.diags.sorted() if d.is_error)
    return d.code, str(d.pos), d.message


def test_bad_paths_are_located_at_the_failing_part() -> None:
    assert first_error(["layers.9.features=3"]) == (
        "MS024", "<--set 1>:1:8",
        "`--set layers.9.features=...`: `layers` has 4 item(s), so there is no index 9 (valid: 0 .. 3)")
    assert first_error(["layers.x=3"]) == (
        "MS024", "<--set 1>:1:8", "`--set layers.x=...`: `layers` is a list, so `x` must be an index (0 .. 3)")
    assert first_error(["time.steps.x=1"]) == (
        "MS024", "<--set 1>:1:12",
        "`--set time.steps.x=...`: `time.steps` is the value 4, not a mapping or a list, so it has no `x`")
    assert first_error(["layers.2.x=1"])[:2] == ("MS024", "<--set 1>:1:10")  # layers.2 is the string ReLU
    assert first_error(["x=1", "name.first=1"])[:2] == ("MS024", "<--set 1>:1:1")  # no param x
    code, pos, msg = first_error(["name.first=1"])
    assert (code, pos) == ("MS024", "<--set 1>:1:6") and "`name` is the value 'P'" in msg


def test_bad_keys_and_values_are_the_files_errors_located_in_the_argument() -> None:
    code, pos, msg = first_error(["time.stpes=4"])
    assert (code, pos) == ("MS011", "<--set 1>:1:6") and "stpes" in msg
    code, pos, msg = first_error(["layers.3.featrues=4"])
    assert (code, pos) == ("MS011", "<--set 1>:1:10") and "featrues" in msg
    code, pos, msg = first_error(["foo.bar=1"])
    assert (code, pos) == ("MS011", "<--set 1>:1:1") and "foo" in msg
    code, pos, _ = first_error(["time.steps=abc"])
    assert (code, pos) == ("MS012", "<--set 1>:1:12")
    code, pos, _ = first_error(["train.epochs=-1"])
    assert code in ("MS012", "MS070", "MS071") or pos.startswith("<--set 1>:1:")


def test_a_malformed_path_is_a_usage_error() -> None:
    diags = Diagnostics()
    parse_overrides(["a..b=1", "layers.-1.x=2"], diags)
    got = [(d.code, str(d.pos)) for d in diags.sorted()]
    assert got == [("MS024", "<--set 1>:1:1"), ("MS024", "<--set 2>:1:1")]
    assert "neither a param name nor a dotted path" in next(iter(diags)).message


def test_on_the_command_line() -> None:
    res = runner.invoke(app, ["summary", str(SPECS / "dyrcnn_x4.yaml"), "--set", "time.steps=40", "--depth", "0"])
    assert res.exit_code == 0, res.output
    assert "Time: 40 steps, dt 2 ms" in res.output and "[B, 40, 10]" in res.output
    res = runner.invoke(app, ["lint", str(SPECS / "mlp.yaml"), "--set", "layers.99.features=3"])
    assert res.exit_code == 1
    assert "<--set 1>:1:8: MS024" in res.output and "layers.99.features=3" in res.output  # the argument echoed
    g = compile_file(SPECS / "dyrcnn_x4.yaml", {"time.steps": 7}).graph  # the Python API takes paths too
    assert g is not None and g.time.steps == 7
