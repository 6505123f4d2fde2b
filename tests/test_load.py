"""The loaders: YAML and TOML agree, every key and value is located, and no
bad input escapes as a traceback (each failure is a coded diagnostic)."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path as FsPath
from typing import Any, Iterator

import pytest
import tomllib
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelspec.diagnostics import Diagnostics
from modelspec.load import load_document, load_text, yaml_loader
from modelspec.load.document import Document


@pytest.fixture(scope="module", autouse=True, params=["libyaml", "pure-python"])
def yaml_parser(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs with libyaml's parser and with PyYAML's pure-Python
    one: the two must give the same data, codes and positions."""
    if request.param == "libyaml" and not hasattr(yaml, "CSafeLoader"):
        pytest.skip("this PyYAML has no libyaml")
    was = yaml_loader._FAST_LOADER
    yaml_loader._FAST_LOADER = yaml.CSafeLoader if request.param == "libyaml" else yaml.SafeLoader
    try:
        yield request.param
    finally:
        yaml_loader._FAST_LOADER = was

MLP_YAML = """\
# yaml-language-server: $schema=../schemas/modelspec-1.schema.json
modelspec: 1                  # format version, required
name: MLP                     # identifier; becomes the generated class name
doc: Multi-layer perceptron.  # optional

params:                       # defaults; `--set hidden=[512,256]` overrides
  input_size: 784
  hidden: [256, 128, 64]
  classes: 10
  dropout: 0.1

inputs:                       # named input terminals
  x: [B, "${input_size}"]     # short form: a shape. B is a symbolic dim
outputs:                      # named output terminals
  logits: head                # short form: the node whose value is exposed

layers:                       # the graph, in order
  - foreach: {h: "${hidden}"}
    layers:
      - {op: Linear, features: "${h}"}
      - ReLU
      - {op: Dropout, p: "${dropout}"}
  - {name: head, op: Linear, features: "${classes}"}
"""

MLP_TOML = """\
modelspec = 1
name = "MLP"
doc = "Multi-layer perceptron."

[params]
input_size = 784
hidden = [256, 128, 64]
classes = 10
dropout = 0.1

[inputs]
x = ["B", "${input_size}"]

[outputs]
logits = "head"

[[layers]]
foreach = { h = "${hidden}" }
layers = [
  { op = "Linear", features = "${h}" },
  "ReLU",
  { op = "Dropout", p = "${dropout}" },
]

[[layers]]
name = "head"
op = "Linear"
features = "${classes}"
"""


def load(text: str, name: str = "spec.yaml") -> tuple[Document | None, Diagnostics]:
    diags = Diagnostics()
    return load_text(text, name, diags), diags


def ok(text: str, name: str = "spec.yaml") -> Document:
    doc, diags = load(text, name)
    assert doc is not None and not list(diags), [str(d) for d in diags]
    return doc


def codes(text: str, name: str = "spec.yaml") -> list[tuple[str, int, int]]:
    _, diags = load(text, name)
    return [(d.code, d.pos.line, d.pos.col) for d in diags if d.pos is not None]


def lc(doc: Document, path: tuple[str | int, ...], *, key: bool = False) -> tuple[int, int]:
    pos = (doc.keys if key else doc.values)[path]
    return pos.line, pos.col


# --- the MLP twins -----------------------------------------------------------


def test_yaml_and_toml_twins_load_to_equal_data() -> None:
    y, t = ok(MLP_YAML), ok(MLP_TOML, "spec.toml")
    assert y.data == t.data
    assert y.data["layers"][0]["layers"][1] == "ReLU"
    assert y.text == MLP_YAML and t.file == "spec.toml"


def test_yaml_positions() -> None:
    doc = ok(MLP_YAML)
    assert lc(doc, ("modelspec",), key=True) == (2, 1)
    assert lc(doc, ("modelspec",)) == (2, 12)
    assert lc(doc, ("params", "hidden", 2)) == (8, 22)  # item of a flow list
    assert lc(doc, ("inputs", "x", 1)) == (13, 10)
    assert lc(doc, ("layers", 0, "layers", 0, "features"), key=True) == (20, 22)
    assert lc(doc, ("layers", 0, "layers", 0, "features")) == (20, 32)
    assert lc(doc, ("layers", 0, "layers", 1)) == (21, 9)
    assert lc(doc, ("layers", 1, "features"), key=True) == (23, 30)
    assert lc(doc, ("layers", 1, "features")) == (23, 40)
    assert doc.line_text(23)[39:41] == '"$'


def test_toml_positions() -> None:
    doc = ok(MLP_TOML, "spec.toml")
    assert lc(doc, ("params",), key=True) == (5, 2)
    assert lc(doc, ("params", "hidden", 2)) == (7, 21)
    assert lc(doc, ("inputs", "x", 1)) == (12, 11)
    assert lc(doc, ("layers", 0, "foreach", "h")) == (18, 17)  # inline-table value
    assert lc(doc, ("layers", 0, "layers", 0, "features"), key=True) == (20, 20)
    assert lc(doc, ("layers", 0, "layers", 0, "features")) == (20, 31)
    assert lc(doc, ("layers", 0, "layers", 1)) == (21, 3)
    assert lc(doc, ("layers", 1)) == (25, 1)  # the 2nd [[layers]] header
    assert lc(doc, ("layers", 1, "op")) == (27, 6)
    assert lc(doc, ("layers", 1, "features"), key=True) == (28, 1)
    assert lc(doc, ("layers", 1, "features")) == (28, 12)


def test_toml_scanner_edge_cases() -> None:
    text = '''\
s = """a = [1
[table] = x \\""" still"""
t = \'\'\'[[x]] = { ''\'\'\'
"a b".'c.d' = 1979-05-27 07:32:00Z   # comment with = and [
arr = [ # comment
  [1, 2,],   { k = "}" },
  "x\\"]",
]
[[fruit]]
name = "apple"
[fruit.physical]
color = "red"
[[fruit.variety]]
name = "red delicious"
[[fruit]]
name = "banana"
[[fruit.variety]]
name = "plantain"
'''
    doc = ok(text, "x.toml")
    assert doc.data["s"] == 'a = [1\n[table] = x """ still'
    assert doc.data["t"] == "[[x]] = { ''"
    assert doc.data["a b"] == {"c.d": "1979-05-27T07:32:00+00:00"}
    assert lc(doc, ("a b", "c.d"), key=True) == (4, 7)
    assert lc(doc, ("a b", "c.d")) == (4, 15)
    assert lc(doc, ("arr", 0, 1)) == (6, 7)
    assert lc(doc, ("arr", 1, "k")) == (6, 20)
    assert lc(doc, ("arr", 2)) == (7, 3)
    assert lc(doc, ("fruit", 0, "physical", "color")) == (12, 9)
    assert lc(doc, ("fruit", 0, "variety", 0, "name")) == (14, 8)
    assert lc(doc, ("fruit", 1, "name")) == (16, 8)
    assert lc(doc, ("fruit", 1, "variety", 0, "name")) == (18, 8)
    assert lc(doc, ("fruit", 1, "variety", 0), key=True) == (17, 1)


def test_multiline_toml_array_of_inline_tables_with_crlf() -> None:
    text = 'layers = [\r\n  {op = "A"},\r\n  # note\r\n  {op = "B", n = 2},\r\n]\r\n'
    doc = ok(text, "x.toml")
    assert doc.data == {"layers": [{"op": "A"}, {"op": "B", "n": 2}]}
    assert lc(doc, ("layers", 1)) == (4, 3)
    assert lc(doc, ("layers", 1, "n")) == (4, 18)


# --- YAML specifics ------------------------------------------------------------


def test_yaml_scalars_are_json_like() -> None:
    doc = ok("a: 2024-01-01\nb: 1e-3\nc: ~\nd: 0x10\ne: '7'\nf: !!str 5\n1: x\n")
    assert doc.data == {"a": "2024-01-01", "b": 0.001, "c": None, "d": 16, "e": "7",
                        "f": "5", "1": "x"}


def test_merge_keys() -> None:
    doc = ok("base: &b {op: Linear, features: 8}\n"
             "more: &m {bias: false}\n"
             "node:\n  <<: [*b, *m]\n  features: 16\n")
    assert doc.data["node"] == {"op": "Linear", "bias": False, "features": 16}
    assert list(doc.data["node"]) == ["op", "features", "bias"]  # as PyYAML orders them
    assert lc(doc, ("node", "op")) == (1, 15)  # where the merged value was written
    assert lc(doc, ("node", "features"), key=True) == (5, 3)


def test_empty_yaml_is_a_document_without_data() -> None:
    for text in ("", "# only a comment\n"):
        doc, diags = load(text)
        assert doc is not None and doc.data is None and not list(diags)


# --- every error code, with its line -------------------------------------------


def test_ms001_unreadable_files(tmp_path: FsPath) -> None:
    diags = Diagnostics()
    assert load_document(tmp_path / "missing.yaml", diags) is None
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'a = "\xff"\n')
    assert load_document(bad, diags, display_name="shown.toml") is None
    json_file = tmp_path / "spec.json"
    json_file.write_text("{}")
    assert load_document(json_file, diags) is None
    assert load_document(tmp_path, diags) is None  # no extension: a directory
    got = [(d.code, d.pos.file, d.pos.line, d.pos.col) for d in diags if d.pos]
    assert [g[0] for g in got] == ["MS001"] * 4
    assert got[1][1:] == ("shown.toml", 1, 1)
    assert all(d.suggestion for d in list(diags)[2:])


def test_load_document_reads_yaml_and_toml(tmp_path: FsPath) -> None:
    (tmp_path / "m.yml").write_text("\ufeff" + MLP_YAML, encoding="utf-8")
    (tmp_path / "m.toml").write_text(MLP_TOML, encoding="utf-8")
    diags = Diagnostics()
    y = load_document(tmp_path / "m.yml", diags)
    t = load_document(str(tmp_path / "m.toml"), diags)
    assert y is not None and t is not None and not list(diags)
    assert y.data == t.data and t.file == str(tmp_path / "m.toml")
    assert lc(y, ("modelspec",), key=True) == (2, 1)


def test_ms002_syntax_errors() -> None:
    assert codes("a: b: c\n") == [("MS002", 1, 5)]
    assert codes("name: x\nlayers: [1, 2\nfoo: 3\n") == [("MS002", 3, 4)]
    assert codes("a:\n\tb: 1\n") == [("MS002", 2, 1)]
    assert codes("a: ok\nb: \x07\n") == [("MS002", 2, 4)]
    assert codes("a: 1\n---\nb: 2\n") == [("MS002", 2, 1)]
    assert codes("a: *nothing\n") == [("MS002", 1, 4)]
    assert codes("a = 1\nb = \n", "x.toml") == [("MS002", 2, 5)]
    assert codes("a = 1\na = 2\n", "x.toml")[0][:2] == ("MS002", 2)  # a TOML duplicate
    _, diags = load("a: b: c\n")
    assert "mapping values are not allowed" in next(iter(diags)).message


def test_ms003_tags_run_nothing(tmp_path: FsPath) -> None:
    marker = tmp_path / "ran"
    text = f'ok: 1\ncmd: !!python/object/apply:os.system ["touch {marker}"]\n'
    doc, diags = load(text)
    assert [(d.code, d.pos.line, d.pos.col) for d in diags] == [("MS003", 2, 6)]
    assert doc is not None and doc.data == {"ok": 1, "cmd": None}
    assert not marker.exists()
    assert codes("a: !foo {b: !!binary aGk=}\nc: !!timestamp 2024-01-01\nd: !!set {x}\n") == [
        ("MS003", 1, 4), ("MS003", 1, 13), ("MS003", 2, 4), ("MS003", 3, 4)]


def test_ms004_billion_laughs_fails_fast() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    visits = 0
    add = yaml_loader._Composer._add

    def counting(self: Any, parent: Any, kid: Any, level: int) -> None:
        nonlocal visits
        visits += 1
        add(self, parent, kid, level)

    yaml_loader._Composer._add = counting  # count the work: one count per child written, not 10**9
    try:
        doc, diags = load("\n".join(lines) + "\n")
    finally:
        yaml_loader._Composer._add = add
    assert 0 < visits <= 200
    assert doc is None and [d.code for d in diags] == ["MS004"]
    assert "1,000,000 values" in next(iter(diags)).message


def test_ms004_depth_size_and_recursion() -> None:
    assert codes("a: " + "[" * 99 + "]" * 99 + "\n") == []
    assert codes("a: " + "[" * 100 + "]" * 100 + "\n") == [("MS004", 1, 103)]
    assert codes("a: " + "[" * 100_000 + "]" * 100_000 + "\n") == [("MS004", 1, 103)]
    nested = "a: &a " + "[" * 60 + "]" * 60 + "\nb:\n  " + "[" * 50 + "*a" + "]" * 50 + "\n"
    assert codes(nested) == [("MS004", 3, 52)]  # the alias use nests too deep
    assert codes("a: &a [1, *a]\n") == [("MS004", 1, 11)]
    assert codes("x = " + "[" * 5000 + "]" * 5000, "x.toml") == [("MS004", 1, 104)]
    assert codes("[" + ".".join(["t"] * 120) + "]\n", "x.toml") == [("MS004", 1, 200)]
    big = "a: '" + "x" * (8 * 1024 * 1024) + "'\n"
    assert codes(big) == [("MS004", 1, 1)]
    assert codes(big, "x.toml") == [("MS004", 1, 1)]


def test_ms005_duplicate_keys() -> None:
    _, diags = load("a: 1\nb:\n  c: 2\n  c: 3\n")
    (diag,) = list(diags)
    assert (diag.code, diag.pos.line, diag.pos.col) == ("MS005", 4, 3)
    assert "`c`" in diag.message and "line 3" in diag.message
    assert codes("- {op: Linear, features: 10, features: 20}\n") == [("MS005", 1, 30)]


def test_ms012_complex_keys_and_bad_values() -> None:
    assert codes("? [a, b]\n: 1\n") == [("MS012", 1, 3)]
    assert codes("a: !!int nope\n") == [("MS012", 1, 4)]
    assert codes("<<: 3\n") == [("MS012", 1, 5)]


# --- random round trips --------------------------------------------------------

KEY = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)
TEXT = st.text(st.sampled_from("abcXYZ019 -_:#,[]{}'\"=!&*?|>%@é"), max_size=12).filter(
    lambda s: not re.fullmatch(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+", s))
YAML_SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
TOML_TEXT = st.text(st.sampled_from("ab9 =[]{}#'\"\n.é"), max_size=12)
TOML_SCALAR = (st.booleans() | st.integers(-(2**63), 2**63 - 1)
               | st.floats(allow_nan=False, allow_infinity=False) | TOML_TEXT)


def nested(scalar: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    tree = st.recursive(scalar, lambda kids: st.lists(kids, max_size=4)
                        | st.dictionaries(KEY, kids, max_size=4), max_leaves=25)
    return st.dictionaries(KEY, tree, max_size=5)


def paths(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield path, data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        yield from paths(v, path + (k,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested(YAML_SCALAR), st.booleans())
def test_random_yaml_round_trip(data: dict[str, Any], flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, sort_keys=False)
    doc = ok(text)
    assert doc.data == data
    for path, value in paths(data):
        rest = doc.line_text(doc.values[path].line)[doc.values[path].col - 1:]
        if path and isinstance(path[-1], str):
            pos = doc.keys[path]
            assert doc.line_text(pos.line)[pos.col - 1:].lstrip("'\"").startswith(path[-1])
        if isinstance(value, bool):
            assert rest.startswith(str(value).lower())
        elif value is None:
            assert rest.startswith("null")
        elif isinstance(value, int):
            assert rest.startswith(str(value))
        elif isinstance(value, float):
            assert rest[0] in "-+.0123456789"
        elif isinstance(value, str):
            assert rest[0] in "'\"" or rest.startswith(value.split(" ")[0])
        else:
            assert rest[0] in "[{-" or (isinstance(value, dict) and rest.lstrip("'\"").startswith(next(iter(value))))


def toml_str(s: str, rng: random.Random) -> str:
    """One of the four TOML string kinds, chosen at random where possible."""
    kinds = ["basic", "mlbasic"]
    if "'" not in s and "\n" not in s:
        kinds.append("literal")
    if "'" not in s and not s.startswith("\n"):  # a first newline would be trimmed
        kinds.append("mlliteral")
    kind = rng.choice(kinds)
    if kind == "literal":
        return f"'{s}'"
    if kind == "mlliteral":
        return f"'''{s}'''"
    body = json.dumps(s, ensure_ascii=False)[1:-1]
    if kind == "mlbasic":
        return '"""' + body[:2] + body[2:].replace("\\n", "\n") + '"""'  # real newlines
    return f'"{body}"'


def toml_key(k: str, rng: random.Random) -> str:
    return k if rng.random() < 0.7 else json.dumps(k)


def toml_value(v: Any, rng: random.Random, record: dict[Any, str], path: tuple[Any, ...]) -> str:
    if isinstance(v, bool):
        out = str(v).lower()
    elif isinstance(v, (int, float)):
        out = repr(v)
    elif isinstance(v, str):
        out = toml_str(v, rng)
    elif isinstance(v, dict):
        out = "{ " + ", ".join(f"{toml_key(k, rng)} = {toml_value(x, rng, record, path + (k,))}"
                               for k, x in v.items()) + " }"
    else:
        items = [toml_value(x, rng, record, path + (i,)) for i, x in enumerate(v)]
        out = ("[\n  " + ",\n  # c = [\n  ".join(items) + ",\n]") if rng.random() < 0.5 and items \
            else "[" + ", ".join(items) + "]"
    record[path] = out
    return out


def toml_dump(data: dict[str, Any], rng: random.Random, record: dict[Any, str]) -> str:
    """Scalars and inline values first, then [tables] and [[arrays of tables]]."""
    lines: list[str] = []

    def table(d: dict[str, Any], path: tuple[Any, ...], header: tuple[str, ...]) -> None:
        is_aot = [k for k, v in d.items() if isinstance(v, list) and v and
                  all(isinstance(x, dict) for x in v) and rng.random() < 0.7]
        subs = [k for k, v in d.items() if isinstance(v, dict) and rng.random() < 0.7]
        for k, v in d.items():
            if k not in is_aot and k not in subs:
                lines.append(f"{toml_key(k, rng)} = {toml_value(v, rng, record, path + (k,))}")
        for k in subs:
            lines.append("[" + ".".join(json.dumps(h) for h in header + (k,)) + "]")
            table(d[k], path + (k,), header + (k,))
        for k in is_aot:
            for i, item in enumerate(d[k]):
                lines.append("[[" + ".".join(json.dumps(h) for h in header + (k,)) + "]]")
                table(item, path + (k, i), header + (k,))

    table(data, (), ())
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested(TOML_SCALAR), st.randoms(use_true_random=False))
def test_random_toml_round_trip(data: dict[str, Any], rng: random.Random) -> None:
    record: dict[Any, str] = {}
    text = toml_dump(data, rng, record)
    assert tomllib.loads(text) == data  # the writer itself is right
    doc = ok(text, "r.toml")
    assert doc.data == data
    for path, _ in paths(data):
        assert path in doc.values
        if path and isinstance(path[-1], str):
            pos = doc.keys[path]
            rest = doc.line_text(pos.line)[pos.col - 1:]
            assert rest.startswith((path[-1], json.dumps(path[-1])))
        if path in record:
            pos = doc.values[path]
            rest = doc.line_text(pos.line)[pos.col - 1:]
            assert rest.startswith(record[path].split("\n")[0])


def test_float_infinities_round_trip() -> None:
    doc = ok("a: .inf\nb: -.inf\n")
    assert doc.data["a"] == math.inf and doc.data["b"] == -math.inf


def test_limits_are_found_the_same_way_in_large_files() -> None:
    """A limit or error early in a file over 1 MiB is located like in a small one,
    and an error far into a large file still gets MS002 at its line."""
    filler = "".join(f"k{i}: {'x' * 1000}\n" for i in range(1100))  # about 1.1 MiB, few events
    assert len(filler) > 1024 * 1024
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n" + filler
    assert codes(deep) == [("MS004", 1, 103)]
    late = filler + "z: [1, 2\n"
    assert [(c, line) for c, line, _ in codes(late)] == [("MS002", 1102)]
