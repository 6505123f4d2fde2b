"""The front end's shortcuts give what the general code gives.

`evolve` stands for `dataclasses.replace`, the declaration-order shortcut of `check_graph`
for Kahn's sort and the cycle search, and `_literal_copy` for the expression walk; each is
compared here with the code it skips, on every spec in the repository and on hand-made cases.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from modelspec.diagnostics import Diagnostics, Pos
from modelspec.expand.context import _HAS_EXPR, Evaluator, Src, _literal_copy
from modelspec.expand.spec import expand, validate
from modelspec.ir import check
from modelspec.ir.graph import Conn, Edge, Graph, Node, OutputTerm, evolve
from modelspec.load import load_document

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.*"))


def fields_of(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


def test_evolve_is_replace() -> None:
    n = Node("a.b", "Linear", None, [Conn("x", 1, Pos("f", 1, 2))], Pos("f", 3, 4), "doc", params={"w": (2, 3)})
    for changes in ({}, {"shape": (1, 2), "params": {}}, {"holder": "c", "owner": "a.b", "shared": {"w": (1,)}}):
        a, b = evolve(n, **changes), dataclasses.replace(n, **changes)
        assert type(a) is Node and a is not n and fields_of(a) == fields_of(b)
        assert a.inputs is n.inputs  # shallow, as replace
    e = Edge("s.edges.e", "a", "b", 1, "a", chain=["c"])
    assert fields_of(evolve(e, chain=[])) == fields_of(dataclasses.replace(e, chain=[]))
    o = OutputTerm("y", "b")
    assert fields_of(evolve(o)) == fields_of(dataclasses.replace(o))
    assert n.shape is None and n.params == {"w": (2, 3)}  # the original is untouched


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_declaration_order_shortcut_agrees_with_kahn(path: Path) -> None:
    diags = Diagnostics()
    doc = load_document(path, diags)
    g = expand(doc, diags, None, None, validate(doc, diags))
    d = check.deps(g)
    order, cycles = check._order(g, Diagnostics(), d), check._cycles(g, d)
    if check._declared_order_is_topological(g, d):
        assert order == list(g.nodes) and cycles == []
    checked = check.check_graph(g, Diagnostics())
    assert checked.order == order and checked.cycles == cycles


def test_both_ways_are_exercised() -> None:
    taken = []
    for path in SPECS:
        diags = Diagnostics()
        doc = load_document(path, diags)
        g = expand(doc, diags, None, None, validate(doc, diags))
        taken.append(check._declared_order_is_topological(g, check.deps(g)))
    assert any(taken) and not all(taken)  # the MLPs take the shortcut; the recurrent specs do not


def test_a_later_source_or_a_self_loop_leaves_the_shortcut() -> None:
    g = Graph("g", nodes={"a": Node("a", "ReLU", None, [Conn("b", 1)]), "b": Node("b", "ReLU", None, [Conn("a")])})
    assert not check._declared_order_is_topological(g, check.deps(g))
    g = Graph("g", nodes={"a": Node("a", "ReLU", None, [Conn("a", 1)])})
    assert not check._declared_order_is_topological(g, check.deps(g))
    assert check._cycles(g, check.deps(g)) == [["a"]]


@pytest.mark.parametrize("raw", [
    "plain", 3, 2.5, None, True, {"a": 1, "b": ["x", {"c": "d"}]}, [], {}, [[1, 2], {"k": [None]}],
])
def test_literal_copy_is_the_walk(raw: object) -> None:
    ev = Evaluator(Diagnostics())
    src = Src(None, ())  # type: ignore[arg-type]
    walked = ev._walk(raw, {}, src, [True])
    copied = _literal_copy(raw)
    assert copied == walked and type(copied) is type(walked)
    if isinstance(raw, (dict, list)):
        assert copied is not raw  # a fresh container: callers change it
    assert ev.value(raw, {}, src) == (True, walked)


@pytest.mark.parametrize("raw", ["${x}", {"a": 1, "b": "n=${x}"}, [1, ["${x}"]]])
def test_an_expression_anywhere_takes_the_walk(raw: object) -> None:
    assert _literal_copy(raw) is _HAS_EXPR
    ev = Evaluator(Diagnostics())
    ok, value = ev.value(raw, {"x": 4}, Src(None, ()))  # type: ignore[arg-type]
    assert ok and "x" in ev.used
