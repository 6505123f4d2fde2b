"""The typed op contract: backend rules checked at registration, facts asked of the op.

Every fact about an op lives in its module under ``modelspec/ops/``; the scan at
the end fails if any other module of the package names a built-in op.
"""

from __future__ import annotations

import ast
import pathlib
import re
from typing import Any, Iterator, Sequence

import pytest
from pydantic import Field

from modelspec.ops import (
    Attrs, JaxRules, Op, PluginError, TorchRules, adapter, backends_of, index_bound, register,
)
from modelspec.ops import registry
from modelspec.ops.base import contract_problems
from modelspec.ops.registry import builtin_ops
from modelspec.pipeline import compile_text
from modelspec.shapes.dims import Shape

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "modelspec"


@pytest.fixture
def scratch_ops() -> Iterator[list[str]]:
    """Names of test ops to drop from the registry afterwards (it is process-wide)."""
    names: list[str] = []
    yield names
    for n in names:
        registry._REGISTRY.pop(n, None)


def test_every_builtin_op_meets_the_contract_of_both_backends() -> None:
    ops = builtin_ops()
    assert len(ops) >= 40
    for name, op in ops.items():
        assert contract_problems(type(op)) == [], name
        assert backends_of(op) == ["torch", "jax"], name


class _Holder(Attrs):
    width: int = Field(4, gt=0)


def _with_params(cls: type) -> type:
    def params(self: Any, a: Any, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        return {"weight": (a.width,)}
    cls.params = params  # type: ignore[attr-defined]
    return cls


@pytest.mark.parametrize("make, words", [
    # derives from JaxRules but forgets jax_call
    (lambda: type("NoJaxCall", (Op, TorchRules, JaxRules), {
        "name": "TNoJaxCall", "torch_call": lambda self, a, args, m, ctx: args[0]}),
     ["TNoJaxCall", "jax", "jax_call"]),
    # holds parameters but has no torch_layer to hold them
    (lambda: _with_params(type("NoLayer", (Op, TorchRules), {
        "name": "TNoLayer", "Attrs": _Holder, "torch_call": lambda self, a, args, m, ctx: args[0]})),
     ["TNoLayer", "torch", "torch_layer"]),
    # holds parameters but cannot initialise them in JAX
    (lambda: _with_params(type("NoInit", (Op, JaxRules), {
        "name": "TNoInit", "Attrs": _Holder, "jax_call": lambda self, a, args, p, ctx: args[0]})),
     ["TNoInit", "jax", "jax_init"]),
    # old style: rules as plain methods, no mix-in -- the backend would never see them
    (lambda: type("OldStyle", (Op,), {
        "name": "TOldStyle", "torch_call": lambda self, a, args, m, ctx: args[0]}),
     ["TOldStyle", "torch", "TorchRules"]),
    # a name that cannot be written in a spec
    (lambda: type("BadName", (Op, TorchRules), {
        "name": "2nd-op", "torch_call": lambda self, a, args, m, ctx: args[0]}),
     ["BadName", "`name` that is an identifier", "'2nd-op'"]),
])
def test_an_incomplete_op_is_refused_at_registration(make: Any, words: list[str]) -> None:
    cls = make()
    with pytest.raises(PluginError) as err:
        register(cls)
    for w in words:
        assert w in str(err.value)
    assert getattr(cls, "name", None) not in registry._REGISTRY


def test_an_op_is_named_after_its_class_unless_it_says_otherwise() -> None:
    rule = {"torch_call": lambda self, a, args, m, ctx: args[0]}
    plain = type("TPlainName", (Op, TorchRules), dict(rule))
    named = type("TClassName", (Op, TorchRules), {"name": "TOtherName", **rule})
    sub = type("TSubName", (named,), {})
    assert (plain.name, named.name, sub.name) == ("TPlainName", "TOtherName", "TSubName")
    assert contract_problems(plain) == contract_problems(named) == []


def test_an_op_for_one_backend_builds_there_and_says_why_not_elsewhere(scratch_ops: list[str]) -> None:
    from modelspec.backends.jax import JaxEmitError, emit_jax
    from modelspec.backends.torch import emit_torch

    @register
    class TTorchOnly(Op, TorchRules):
        name = "TTorchOnly"

        def torch_call(self, a: Any, args: list[str], m: str, ctx: Any) -> str:
            return f"{args[0]} * 2"

    scratch_ops.append("TTorchOnly")
    r = compile_text("modelspec: 1\nname: T\ninputs:\n  x: [B, 4]\nlayers:\n  - {op: TTorchOnly}\n")
    assert r.ok, [str(d) for d in r.diags.sorted()]
    assert "x * 2" in emit_torch(r.graph)
    with pytest.raises(JaxEmitError, match=r"op `TTorchOnly` .* no JAX implementation .*JaxRules"):
        emit_jax(r.graph)


def test_each_rank_has_exactly_one_adapter() -> None:
    """The edge adapters come from the ops' own offers, one op per rank and kind."""
    for rank in range(2, 8):
        want = ("B", 7, *([5] * (rank - 2)))
        offers = [n for n, op in builtin_ops().items() if op.channel_adapter(want) is not None]
        assert len(offers) == (1 if rank <= 5 else 0), (rank, offers)
        if offers:
            op, attrs = adapter("channels", want)  # type: ignore[misc]
            assert op.shape(attrs, [("B", 3, *([5] * (rank - 2)))]) == want
    for rank in range(3, 6):
        want = ("B", 3, *([6] * (rank - 2)))
        offers = [n for n, op in builtin_ops().items() if op.resize_adapter(want) is not None]
        assert len(offers) == 1, (rank, offers)
        op, attrs = adapter("resize", want)  # type: ignore[misc]
        assert op.shape(attrs, [("B", 3, *([3] * (rank - 2)))]) == want
    assert adapter("resize", ("B", 3)) is None and adapter("resize", ("B", 3, 2, 2, 2, 2)) is None


def test_an_edge_no_op_can_adapt_is_an_error_not_a_crash() -> None:
    r = compile_text(
        "modelspec: 1\nname: T\ninputs:\n  x: [B, 3, 2, 2, 2, 2]\nlayers:\n"
        "  - {name: a, op: Identity, in: x}\n"
        "  - {name: b, op: Reshape, shape: [B, 6, 1, 2, 2, 2], in: x}\n"
        "edges:\n  - {from: a, to: b}\n")
    assert [d.code for d in r.diags.sorted()] == ["MS054"]
    assert "no op adapts [B, 3, 2, 2, 2, 2] to [B, 6, 1, 2, 2, 2]" in str(r.diags.sorted()[0])


def test_index_bounds_come_from_the_reading_op() -> None:
    r = compile_text(
        "modelspec: 1\nname: T\ninputs:\n  tok: {shape: [B, 6], dtype: int64}\n  x: [B, 4]\n"
        "layers:\n  - {name: small, op: Embedding, num: 11, features: 4, in: tok}\n"
        "  - {name: big, op: Embedding, num: 50, features: 4, in: tok}\n"
        "  - {name: fc, op: Linear, features: 4, in: x}\n"
        "  - {name: sum, op: Add, in: [small, big]}\n"
        "outputs: {y: sum, z: fc}\n")
    assert r.ok, [str(d) for d in r.diags.sorted()]
    assert index_bound(r.graph.nodes.values(), "tok") == 11  # the smaller table bounds the indices
    assert index_bound(r.graph.nodes.values(), "x") is None


# ---- no module outside ops/ names an op ---------------------------------------------

def _op_names() -> set[str]:
    return set(builtin_ops())


def _pattern(node: ast.JoinedStr) -> str:
    """An f-string as a regex: its literal parts, anything for each placeholder."""
    parts = []
    for v in node.values:
        parts.append(re.escape(v.value) if isinstance(v, ast.Constant) else ".+")
    return "".join(parts)


def op_name_uses(source: str, names: set[str]) -> list[tuple[int, str]]:
    """Where ``source`` names an op: a string equal to an op's name, an f-string that can
    spell one (``f"Conv{n}d"``), a prefix/suffix test or ``in`` test with a piece of a
    name (``op.startswith("Conv")``), or an op class imported by name."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            pat = _pattern(node)
            literal = sum(len(v.value) for v in node.values if isinstance(v, ast.Constant))
            if literal >= 3 and any(re.fullmatch(pat, n) for n in names):
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("startswith", "endswith") and node.args:
            arg = node.args[0]
            pieces = [e for e in (arg.elts if isinstance(arg, ast.Tuple) else [arg])
                      if isinstance(e, ast.Constant) and isinstance(e.value, str) and len(e.value) >= 2]
            for p in pieces:
                if any(n.startswith(p.value) if node.func.attr == "startswith" else n.endswith(p.value)
                       for n in names):
                    found.append((node.lineno, f".{node.func.attr}({p.value!r})"))
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) \
                and isinstance(node.left.value, str) and len(node.left.value) >= 3 \
                and any(isinstance(o, (ast.In, ast.NotIn)) for o in node.ops) \
                and any(node.left.value in n for n in names):
            found.append((node.lineno, f"{node.left.value!r} in ..."))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".ops") or (
                isinstance(node, ast.ImportFrom) and ".ops." in f".{node.module or ''}."):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name in names]
    return found


def test_the_scan_finds_each_way_of_naming_an_op() -> None:
    """The checker itself, on code that names ops (and code that does not)."""
    names = {"Embedding", "Conv1d", "Conv2d", "Linear"}
    bad = '''
from modelspec.ops.dense import Linear
if node.op == "Embedding":
    pass
kind = f"Conv{rank - 2}d"
FRESH = frozenset({"Linear"})
if op.startswith("Conv"):
    pass
if "Embed" in name:
    pass
nd = 1 if n.op.endswith("1d") else 2
'''
    assert sorted(line for line, _ in op_name_uses(bad, names)) == [2, 3, 5, 6, 7, 9, 11]
    good = '''
"""A docstring that mentions Linear [out, in] in prose."""
x = f"{a}{b}"
y = "Linear layer"
if op.fresh_output and name.startswith("_"):
    pass
'''
    assert op_name_uses(good, names) == []


def test_no_module_outside_ops_names_an_op() -> None:
    names = _op_names()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "ops":
            continue
        for line, what in op_name_uses(path.read_text(encoding="utf-8"), names):
            problems.append(f"modelspec/{rel}:{line}: {what}")
    assert not problems, "ask the op (a class attribute or method in modelspec/ops/) instead:\n" + "\n".join(problems)


def test_the_ops_import_no_layer_above_them() -> None:
    """Every import in ``modelspec/ops/`` (module level, inside functions, under
    TYPE_CHECKING alike) stays below the backends, build, train and the commands."""
    above = ("backends", "build", "train", "commands", "cli", "pipeline")
    problems = []
    for path in sorted((PACKAGE / "ops").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
                if node.level == 1 and not node.module:  # from . import x
                    mods = []
                elif node.level >= 2:
                    mods = [f"modelspec.{node.module or ''}"] + (
                        [f"modelspec.{a.name}" for a in node.names] if not node.module else [])
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for m in mods:
                parts = m.split(".")
                if len(parts) > 1 and parts[0] == "modelspec" and parts[1] in above:
                    problems.append(f"{path.name}:{node.lineno}: {m}")
    assert not problems, problems


def test_the_documented_class_example_builds_for_both_backends(scratch_ops: list[str]) -> None:
    """docs/adding-an-op.md's `Scale` (an op with a parameter): the doc's own code block,
    run as written, registers an op that both backends build and agree on."""
    import numpy as np
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    from modelspec.parity import compare

    doc = (ROOT / "docs" / "adding-an-op.md").read_text(encoding="utf-8")
    block = doc.split("An op with a parameter", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "class Scale(Op, TorchRules, JaxRules)" in block
    scratch_ops.append("Scale")
    exec(compile(block, "docs/adding-an-op.md", "exec"), {"__name__": "doc_example"})
    r = compile_text("modelspec: 1\nname: T\ninputs:\n  x: [B, 4]\nlayers:\n  - {op: Scale, init: 2.5}\n")
    assert r.ok, [str(d) for d in r.diags.sorted()]
    assert r.graph.nodes[next(iter(r.graph.nodes))].macs == 4
    x = {"x": np.arange(8, dtype=np.float32).reshape(2, 4)}
    c = compare(r.graph, inputs=x, via_file=False)
    np.testing.assert_allclose(np.asarray(c.torch), x["x"] * 2.5)
    np.testing.assert_allclose(np.asarray(c.jax), x["x"] * 2.5)


def test_the_emitters_contexts_give_the_ops_everything_their_protocols_promise() -> None:
    """The ops are typed against `TorchCtx`/`JaxCtx`; the emitters' context classes must
    provide every attribute and method those Protocols name."""
    import typing

    from modelspec.backends.jax.context import JaxContext
    from modelspec.backends.torch.context import TorchContext
    from modelspec.ops import JaxCtx, TorchCtx

    for proto, cls in ((TorchCtx, TorchContext), (JaxCtx, JaxContext)):
        members = set(getattr(proto, "__protocol_attrs__", None) or typing._get_protocol_attrs(proto))  # type: ignore[attr-defined]
        assert {"dim", "prev", "stmt", "lit", "ins", "out"} <= members
        ctx = cls(path="p", ins=[], out=(), dt=None)
        assert [m for m in sorted(members) if not hasattr(ctx, m)] == [], proto.__name__
