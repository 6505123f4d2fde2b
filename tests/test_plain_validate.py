"""`validate.plain.spec_is_plain` against the pydantic models it stands in for.

Whatever the plain check accepts, the models must accept too (else `lint` would pass a
file the language refuses); the check may say "not sure" about valid data, which only
costs time.  The data: every spec and library in the repository, and many mutations of
them with values of the wrong kind, keys by their field name rather than their alias, and
extra or missing keys.
"""

from __future__ import annotations

import copy
import math
import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelspec.diagnostics import Diagnostics
from modelspec.load import load_document
from modelspec.validate.models import LibraryFile, SpecFile, _SpecBody, complete, parse_file, validate_file
from modelspec.validate.plain import spec_is_plain

ROOT = Path(__file__).resolve().parent.parent
VALUES = [True, False, 0, 1, -3, 2**70, 1.5, math.nan, "", "x", "${a}", "a ${b} c", "\ud800${x}", "$ {x}", None,
          [], {}, [1], ["a"], [True], [None], {"a": 1}, {"from": "x"}, {"from": 1}, {"in_": 1}, {"count": 2},
          {"shape": [1]}, "all", "skip", "auto", "float32", 1.0]
KEYS = ["from_", "schema_", "in_", "in", "_x", "model_x", "extra", "op", "count", "shape", "from", "to", "layers",
        "name", "repeat", "foreach", "when", "steps", "delay", "via", "adapt", "kind", "index"]


def documents() -> list[tuple[str, object]]:
    out = []
    for pattern in ("specs/**/*.yaml", "specs/**/*.toml", "docs/**/*.yaml", "docs/**/*.toml", "tests/**/*.yaml"):
        for f in sorted(ROOT.glob(pattern)):
            doc = load_document(f, Diagnostics())
            if doc is not None and isinstance(doc.data, dict):
                out.append((str(f.relative_to(ROOT)), doc.data))
    return out


#: every field of the language in its short and long forms, beside the repository's files
FORMS: list[tuple[str, object]] = [
    ("forms", {"$schema": "s.json", "modelspec": 1, "name": "Forms", "doc": "d", "params": {"n": 2, "w": [1, 2]},
               "imports": {"lib": "lib.yaml"}, "plugins": ["p"], "time": {"steps": 4, "dt": 2.5, "idle": "${n}"},
               "inputs": {"x": ["B", 3], "y": {"shape": "${w}", "dtype": "int64", "static": True, "doc": None},
                          "z": "${w}"},
               "outputs": {"o": "head", "p": {"from": "head", "shape": ["B", 3], "steps": "last", "doc": "d"}},
               "blocks": {"Blk": {"doc": "b", "params": {"k": None}, "inputs": ["a", "b"], "outputs": {"out": "c"},
                                  "layers": ["ReLU", {"name": "c", "op": "Add", "in": ["a", "b"]}],
                                  "edges": [{"from": "c", "to": "c", "delay": 1}]}},
               "layers": ["ReLU", {"name": 3, "op": "Linear", "features": 4, "in": "x"},
                          {"block": "Blk", "in": {"a": "x", "b": {"from": "y", "delay": "2ms"}}},
                          {"layers": [{"op": "ReLU", "repeat": {"count": "${n}", "index": "j"}}], "repeat": 2},
                          {"op": "LSTM", "layers": 2, "when": "${n > 1}", "foreach": {"h": [1, 2], "g": "${w}"}},
                          {"op": "Identity", "in": {"from": "x"}, "share": "c", "params_at": ".", "when": False},
                          {"name": "head", "op": "Linear", "features": 3, "doc": None}],
               "edges": [{"from": "x", "to": "head", "delay": "${n}", "via": {"op": "Linear", "features": 3},
                          "adapt": "none", "kind": "skip", "name": "e", "when": True, "params_at": "p", "doc": ""},
                         {"from": "head", "to": "head", "via": "ReLU", "kind": "feedback", "delay": 1}],
               "train": {"epochs": 1}}),
    ("library", {"modelspec": 1, "name": None, "blocks": {"B": {"layers": ["ReLU"]}}, "params": {}, "plugins": []}),
]
DOCS = documents() + FORMS


def accepted(data: object, library: bool) -> bool:
    complete()
    try:
        (LibraryFile if library else _SpecBody).model_validate(data)
    except ValidationError:
        return False
    return True


def places(data: object, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            found += places(v, path + (k,))
    elif isinstance(data, list):
        for k, v in enumerate(data):
            found += places(v, path + (k,))
    return found


def mutate(data: object, rnd: random.Random) -> object:
    data = copy.deepcopy(data)
    for _ in range(rnd.randint(1, 3)):
        path = rnd.choice(places(data))
        parent = None
        cur = data
        for p in path:
            parent, cur = cur, cur[p]
        what = rnd.random()
        if isinstance(cur, dict) and what < 0.35:
            cur[rnd.choice(KEYS)] = copy.deepcopy(rnd.choice(VALUES + [cur]))
        elif isinstance(cur, dict) and cur and what < 0.5:
            del cur[rnd.choice(list(cur))]
        elif path:
            parent[path[-1]] = copy.deepcopy(rnd.choice(VALUES))
    return data


def test_the_repository_has_specs_and_libraries() -> None:
    assert len(DOCS) > 15
    assert any("layers" not in d for _, d in DOCS)


@pytest.mark.parametrize("name,data", DOCS, ids=[n for n, _ in DOCS])
def test_every_file_the_models_accept_is_plain(name: str, data: dict) -> None:
    """The real files take the fast path (else it would save nothing), and agree with the models."""
    library = "layers" not in data
    if accepted(data, library):
        assert spec_is_plain(data, library=library), name
    else:
        assert not spec_is_plain(data, library=library), name


@pytest.mark.parametrize("seed", range(8))
def test_plain_implies_valid_on_mutations(seed: int) -> None:
    rnd = random.Random(seed)
    plain = 0
    for k in range(400):
        name, data = DOCS[(seed * 400 + k) % len(DOCS)]
        library = "layers" not in data
        bad = mutate(data, rnd)
        if spec_is_plain(bad, library=library):
            plain += 1
            assert accepted(bad, library), (name, bad)
    assert plain > 20  # the mutations also reach data the check accepts


def test_validate_file_reports_what_the_models_report() -> None:
    """A file the check is unsure of gets the models' own errors, located as before."""
    data = {"modelspec": 1, "name": "M", "inputs": {"x": [1]}, "layers": [{"op": "ReLU", "in_": 3}]}
    [(exc, where)] = validate_file(SpecFile, data)
    assert where == () and exc.errors()[0]["loc"][:3] == ("layers", 0, "node")
    assert validate_file(SpecFile, {**data, "layers": ["ReLU"]}) == []


#: the fields that hold plain values (no model inside): a plain file's constructed result has them as validated
TOP = ("schema_", "modelspec", "name", "doc", "params", "imports", "plugins")


@pytest.mark.parametrize("name,data", DOCS, ids=[n for n, _ in DOCS])
def test_the_result_of_a_plain_file_is_what_validation_gives(name: str, data: dict) -> None:
    library = "layers" not in data
    model = LibraryFile if library else SpecFile
    if not spec_is_plain(data, library=library):
        pytest.skip("not plain")
    result, problems = parse_file(model, data)
    complete()
    valid = (LibraryFile if library else _SpecBody).model_validate(data)
    assert {k: getattr(result, k) for k in TOP} == {k: getattr(valid, k) for k in TOP}
    assert result.model_fields_set == valid.model_fields_set
    if not library and data.get("train") is not None and not problems:
        assert result.train is not None and result.train.model_fields_set


@pytest.mark.parametrize("text, ok", [
    ("modelspec: 1\nname: M\ninputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, features: 2}\n", True),
    ("modelspec: 1\nname: M\ninputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, featurs: 2}\n", False),
    ("modelspec: 1\nname: M\nbogus: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, features: 2}\n", False),
    ("modelspec: 1\nname: M\ninputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, features: 2}\ntrain: {epochs: 2}\n",
     True),
])
def test_the_plain_check_runs_once_per_file(monkeypatch: pytest.MonkeyPatch, text: str, ok: bool) -> None:
    """Valid or not, with or without `train:`, a spec's structure check asks `spec_is_plain` once (it used to
    ask again inside `parse_file` whenever the answer was "not sure")."""
    from modelspec.pipeline import compile_text
    from modelspec.validate import models, structure

    calls: list[bool] = []

    def counted(data: object, library: bool = False) -> bool:
        calls.append(library)
        return spec_is_plain(data, library=library)

    monkeypatch.setattr(structure, "spec_is_plain", counted)
    monkeypatch.setattr(models, "spec_is_plain", counted)
    r = compile_text(text)
    assert r.ok is ok, [str(d) for d in r.diags.sorted()]
    assert calls == [False]
