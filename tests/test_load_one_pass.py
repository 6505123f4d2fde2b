"""The YAML loader's one-pass reading against its full reading (composer and builder).

`load_yaml` reads plain data (no anchors, merges, tags, duplicate keys ...) in one walk
over the events and hands everything else to the composer.  Both must give the same
`Document` (data, every position, in the same order) and the same diagnostics, for the
repository's files and for many random texts, valid or not.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from modelspec.diagnostics import Diagnostics
from modelspec.load import load_text, yaml_loader

ROOT = Path(__file__).resolve().parent.parent
ATOMS = ["a", "b: 1", "- x", "  ", "\n", "{", "}", "[", "]", ",", ": ", "&x ", "*x", "!!int ", "!!str ", "'q'", '"d"',
         "yes", "No", "1e3", "-.5", "0x1F", "~", "", "<<: ", "? ", "#c", "---", "...", "1", "a: b\n", "  - c\n",
         "a:\n  b: 2\n", "2024-01-01", "=", "null", '"\\ud800"', "\t"]
EDGE_CASES = [
    "", "a", "~", ": x", "? \n", "1: a\n'1': b\n", "a: 1\na: 2\n", "x: !!str 3\n", "x: &a 1\ny: *a\n", "<<: {a: 1}\n",
    "x: <<\n", "a: yes\nb: No\nc: 1e3\nd: 1.5e-3\ne: .inf\nf: 0x1F\ng: 0o17\nh: 2024-01-01\ni: =\nj: null\nk: ''\n",
    "--- a\n--- b\n", "a: [1, 2, {b: 3}]\n", "{a: {b: {c: }}}", "- - - x\n", "a:\n  - 1\n  -\n  - 3\n",
    "1.5: x\ntrue: y\nnull: z\n~: w\n'': q\n: e\n", "a: b\n...\n", "a: b\n...\n---\nc: d\n", "a: [1, 2\n", "\t- a",
    "a: !foo x", "a: ! x", "{[1]: 2}", "? [a]\n: b\n", "a: 1\n\"a\": 2\n", "x: \"\\ud800\"\n", "[1, 2]\n", "plain\n",
    *("x: " + "[" * n + "]" * n for n in (98, 99, 100, 101)), *("[" * n + "]" * n for n in (99, 100, 101)),
    "a: ok\nb: \x07\n", "a: \ufeff\n",
]


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest):
    """Both of PyYAML's parsers, as in tests/test_load.py."""
    was = yaml_loader._FAST_LOADER
    yaml_loader._FAST_LOADER = yaml.CSafeLoader if request.param == "libyaml" else yaml.SafeLoader
    yield
    yaml_loader._FAST_LOADER = was


def full(text: str) -> tuple[object, list]:
    saved = yaml_loader._one_pass
    yaml_loader._one_pass = lambda *_: None
    try:
        return read(text)
    finally:
        yaml_loader._one_pass = saved


def read(text: str) -> tuple[object, list]:
    d = Diagnostics()
    doc = load_text(text, "f.yaml", d)
    got = None if doc is None else (repr(doc.data), list(doc.values.items()), list(doc.keys.items()), doc.text)
    return got, [(x.code, x.message, x.pos, x.suggestion, x.notes) for x in d.sorted()]


def texts() -> list[str]:
    found = [f.read_text(encoding="utf-8") for f in sorted(ROOT.glob("specs/*.yaml")) + sorted(ROOT.glob("docs/**/*.yaml"))]
    rnd = random.Random(11)
    found += ["".join(rnd.choice(ATOMS) for _ in range(rnd.randint(1, 14))) for _ in range(1500)]
    for base in found[:6]:
        for _ in range(100):
            i = rnd.randrange(len(base))
            found.append(base[:i] + rnd.choice(ATOMS) + base[i + rnd.randint(0, 5):])
    return found


@pytest.mark.parametrize("text", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases_read_the_same(text: str) -> None:
    assert read(text) == full(text)


@pytest.mark.parametrize("n", [48, 49, 50, 51])
def test_the_size_limit_is_the_same(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_loader, "MAX_VALUES", 50)
    for text in ("[" + "0, " * n + "]", "a: [" + "0, " * (n - 2) + "]", "{" + ", ".join(f"k{i}: 1" for i in range(n // 2)) + "}"):
        assert read(text) == full(text)


def test_many_texts_read_the_same() -> None:
    all_texts = texts()
    one_pass = sum(yaml_loader._one_pass(t, "f.yaml", yaml_loader._FAST_LOADER) is not None for t in all_texts)
    assert one_pass > 300  # both readings are exercised
    for t in all_texts:
        assert read(t) == full(t), t


def test_the_specs_take_the_one_pass() -> None:
    for f in sorted(ROOT.glob("specs/*.yaml")):
        assert yaml_loader._one_pass(f.read_text(encoding="utf-8"), str(f), yaml_loader._FAST_LOADER) is not None, f
