"""Mutated catalog specs give a checked IR or diagnostics, never an exception."""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelspec.pipeline import compile_text

SPECS = pathlib.Path(__file__).parent.parent / "specs"
BASES = {p.name: yaml.safe_load(p.read_text()) for p in sorted(SPECS.glob("*.yaml"))}

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8), st.sampled_from(["${1/0}", "${x}", "${hidden}", "ReLU", "B", "${[1,2]}", "6ms", "-1"]),
    st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.sampled_from(["op", "from", "in", "x"]),
                                                             st.text(max_size=4), max_size=2),
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, prefix + (i,))
    return out


def mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value if action == "replace" else data
    parent = data
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    elif action == "rename" and isinstance(parent, dict):
        parent[str(key) + "x"] = parent.pop(key)
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    return data


@st.composite
def mutated(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(sorted(BASES)))
    data = BASES[name]
    for _ in range(draw(st.integers(1, 3))):
        ps = paths(data)
        path = draw(st.sampled_from(ps))
        action = draw(st.sampled_from(["delete", "replace", "rename", "duplicate"]))
        data = mutate(data, path, action, draw(JUNK))
    return yaml.safe_dump(data, sort_keys=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_never_crash(text: str) -> None:
    res = compile_text(text, str(SPECS / "fuzz.yaml"))  # imports resolve beside the catalog
    internal = [d for d in res.diags if d.code == "MS090"]
    assert not internal, "\n".join(d.notes[0] for d in internal if d.notes)
    if res.graph is not None and not res.diags.has_errors:
        assert all(n.shape is not None for n in res.graph.nodes.values())
    else:
        assert res.diags.has_errors
        assert all(d.pos is not None for d in res.diags if d.is_error)
