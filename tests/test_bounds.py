"""Hostile specs against the bounds of expansion and numbers: each one gets a located,
coded diagnostic and stops, with its work bounded by counters (never by the clock)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from modelspec.diagnostics import Diagnostics
from modelspec.expand import budget as budget_mod
from modelspec.expand import expander as expander_mod
from modelspec.expand.context import Evaluator, Src, layered
from modelspec.expand.expressions import MAX_WORK, ExprError, Meter, evaluate
from modelspec.expand.params import parse_overrides
from modelspec.load.document import Document
from modelspec.pipeline import compile_file, compile_text

ROOT = Path(__file__).resolve().parent.parent
HEAD = "modelspec: 1\nname: T\ninputs: {x: [B, 4]}\n"


def found(res: Any) -> list[tuple[str, int, int]]:
    return [(d.code, d.pos.line if d.pos else 0, d.pos.col if d.pos else 0) for d in res.diags.sorted()]


def errors(res: Any) -> list[tuple[str, int]]:
    return [(d.code, d.pos.line if d.pos else 0) for d in res.diags.sorted() if d.is_error]


@pytest.fixture
def budgets(monkeypatch: pytest.MonkeyPatch) -> list[budget_mod.Budget]:
    """Every expansion budget made while the test runs, to read its counters afterwards."""
    made: list[budget_mod.Budget] = []

    class Recorded(budget_mod.Budget):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(expander_mod, "Budget", Recorded)
    return made


def traced(fn: Any) -> tuple[Any, int]:
    """fn() and the peak of Python memory it allocated (tracemalloc: deterministic)."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fan_out(levels: int, fan: int, dynamic: bool = False) -> str:
    """Block L<k> holds `fan` instances of L<k-1>: fan**levels ReLUs without a single repeat."""
    lines = [HEAD.rstrip(), "blocks:", "  L0:", "    layers: [ReLU]"]
    for k in range(1, levels + 1):
        ref = f"\"${{'L{k - 1}'}}\"" if dynamic else f"L{k - 1}"
        lines += [f"  L{k}:", "    layers:"] + [f"      - {{block: {ref}}}"] * fan
    return "\n".join(lines + ["layers:", f"  - {{block: L{levels}}}"]) + "\n"


# --- 1. the total expansion budget ---------------------------------------------------------

NESTED = HEAD + textwrap.dedent("""\
    layers:
      - repeat: 1000
        layers:
          - repeat: 1000
            layers:
              - repeat: 1000
                layers: [ReLU]
    """)


def test_nested_repeats_stop_at_the_outer_repeat(budgets: list[budget_mod.Budget]) -> None:
    res, peak = traced(lambda: compile_text(NESTED))
    assert found(res) == [("MS004", 5, 13)]  # one message, at the outermost `repeat:`
    assert res.graph is None and peak < 20e6
    assert budgets[0].work < 100 and budgets[0].nodes == 0  # refused before building anything


def test_nested_computed_repeats_stop_after_one_inner_copy(budgets: list[budget_mod.Budget]) -> None:
    spec = NESTED.replace("inputs:", "params: {n: 1000}\ninputs:").replace("repeat: 1000", 'repeat: "${n}"')
    res = compile_text(spec)
    assert [c for c, _, _ in found(res)] == ["MS004"]
    assert found(res)[0][1] == 8  # the middle repeat: its first copy shows 1000 of them cannot fit
    assert budgets[0].work < 5_000


def test_a_costly_first_copy_is_not_taken_for_all() -> None:
    """Copies that differ (here by `when` on the loop index) are not judged by the first one."""
    spec = HEAD + textwrap.dedent("""\
        layers:
          - repeat: 1000
            layers:
              - {repeat: 200, op: ReLU, when: "${i == 0}"}
              - Tanh
        """)
    res = compile_text(spec)
    assert res.ok and len(res.graph.nodes) == 1200, found(res)  # type: ignore[union-attr]


def test_block_fan_out_stops_at_the_instance(budgets: list[budget_mod.Budget]) -> None:
    spec = fan_out(20, 4)
    res, peak = traced(lambda: compile_text(spec))
    line = spec.splitlines().index("  - {block: L20}") + 1
    assert found(res) == [("MS004", line, 13)]
    assert budgets[0].work < 100 and peak < 20e6


def test_computed_fan_out_stops_at_the_budget(budgets: list[budget_mod.Budget], monkeypatch: pytest.MonkeyPatch) -> None:
    """Block names from expressions cannot be read ahead: the budget itself stops them."""
    monkeypatch.setattr(budget_mod, "MAX_WORK", 5_000)
    res = compile_text(fan_out(12, 4, dynamic=True))
    assert [c for c, _, _ in found(res)] == ["MS004"]
    assert 2_500 < budgets[0].work <= 5_001


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the peak RSS from /proc")
def test_computed_fan_out_in_a_process_is_bounded(tmp_path: Path) -> None:
    """With the real limits: exit 1, a located MS004, no traceback, far under 300 MB."""
    spec = tmp_path / "fan.yaml"
    spec.write_text(fan_out(20, 4, dynamic=True))
    # VmHWM: this process's peak RSS (ru_maxrss would include the parent's, kept across exec)
    code = ("import sys; from modelspec.cli import app\n"
            "try:\n    app([\"lint\", sys.argv[1]])\nexcept SystemExit as e:\n"
            "    hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0].split()[1]\n"
            "    print('rss', hwm); sys.exit(e.code)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 1, p.stderr
    assert "MS004" in p.stdout and "Traceback" not in p.stdout + p.stderr
    rss_mb = int(p.stdout.split("rss")[-1]) / 1024
    assert rss_mb < 300, rss_mb


def test_many_cheap_expressions_add_up_to_a_limit() -> None:
    spec = HEAD + 'layers:\n  - repeat: 100\n    op: Linear\n    features: "${len(range(10**6))}"\n'
    res = compile_text(spec)
    assert found(res) == [("MS004", 7, 22)]  # one message: expansion ends there


def test_the_budget_leaves_room_for_real_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every catalog spec fits a budget ten times smaller than the real one."""
    monkeypatch.setattr(budget_mod, "MAX_WORK", budget_mod.MAX_WORK // 10)
    monkeypatch.setattr(budget_mod, "MAX_NODES", budget_mod.MAX_NODES // 10)
    specs = sorted(p for p in (ROOT / "specs").rglob("*") if p.suffix in (".yaml", ".toml"))
    assert specs
    for p in specs:
        assert "MS004" not in [d.code for d in compile_file(p).diags], p


def test_a_10000_layer_mlp_still_compiles() -> None:
    lines = [HEAD.replace("[B, 4]", "[B, 8]").rstrip(), "layers:"]
    for k in range(10_000):
        lines += [f"  - {{name: fc{k}, op: Linear, features: 8}}", f"  - {{name: act{k}, op: ReLU}}"]
    res = compile_text("\n".join(lines) + "\n")
    assert res.ok and len(res.graph.nodes) == 20_000  # type: ignore[union-attr]


@pytest.mark.parametrize("levels", [150, 3000])
def test_deep_block_chains_stop_at_a_nesting_limit(levels: int) -> None:
    """A block using a block ... thousands deep: a located MS004, not a RecursionError (MS090)."""
    res = compile_text(fan_out(levels, 1))
    assert [c for c, _, _ in found(res)] == ["MS004"]
    assert "nest more than" in res.diags.sorted()[0].message
    assert compile_text(fan_out(budget_mod.MAX_NESTING - 2, 1)).ok


def test_long_pass_through_chains_resolve_once(budgets: list[budget_mod.Budget]) -> None:
    """5,000 nodes dropped by `when`, each passing its input on, read by 5,000 nodes: no
    recursion limit, and the chain is walked once (the Resolver remembers every ref)."""
    n = 5_000
    lines = [HEAD.rstrip(), "outputs: {y: r0}", "layers:", "  - {name: n0, op: ReLU}"]
    lines += [f"  - {{name: n{k}, op: ReLU, when: false, in: n{k - 1}}}" for k in range(1, n)]
    lines += [f"  - {{name: r{k}, op: Tanh, in: n{n - 1}}}" for k in range(n)]
    res = compile_text("\n".join(lines) + "\n")
    assert not res.diags.has_errors, found(res)[:3]
    assert res.graph is not None and res.graph.nodes["r7"].inputs[0].source == "n0"


def test_an_unresolved_input_is_reported_once() -> None:
    res = compile_text(HEAD + "layers:\n  - {name: a, op: ReLU, in: nope}\n  - {op: Tanh}\n")
    assert found(res) == [("MS040", 5, 29)]  # at `nope`; nothing about `a` or the Tanh after it


# --- 2. numbers -----------------------------------------------------------------------------

def test_squaring_params_stops_at_the_first_overflow() -> None:
    params = ["  p0: \"${2**62}\""] + [f"  p{k}: \"${{p{k - 1}*p{k - 1}}}\"" for k in range(1, 40)]
    spec = HEAD + "params:\n" + "\n".join(params) + "\nlayers:\n  - {op: Linear, features: \"${p39}\"}\n"
    res, peak = traced(lambda: compile_text(spec))
    assert errors(res) == [("MS023", 6)]  # p1; its uses fail quietly
    assert "larger than 2**63" in res.diags.sorted()[0].message
    assert peak < 50e6


@pytest.mark.parametrize("expr", [
    "'a' * 10**9", "[0] * 10**9", "10**9 * [0]", "[0] * 10**6 + [1] * 10**6", "'ab' * 600000",
    "2**62 * 4", "-(2**63) - 1", "9223372036854775807 * 2", "int(1e300)", "round(1e30)",
    "sum([2**62, 2**62, 2**62])", "abs(-2**63 - 1)", "hidden[0] * 2**62", "99999999999999999999",
])
def test_every_arithmetic_result_is_bounded(expr: str) -> None:
    meter = Meter()
    with pytest.raises(ExprError) as info:
        evaluate(expr, {"hidden": [512]}, meter=meter)
    assert info.value.code == "MS023", info.value.message
    assert meter.work <= MAX_WORK  # refused before it was built


def test_expressions_per_string_are_bounded() -> None:
    from modelspec.expand.expressions import MAX_PARTS, substitute

    assert substitute("${a}" * MAX_PARTS, {"a": 1}) == "1" * MAX_PARTS
    with pytest.raises(ExprError) as info:
        substitute("${a}" * 1_000_000, {"a": 1}, meter=(meter := Meter()))
    assert info.value.code == "MS023" and meter.steps == 0  # refused before evaluating any


def test_env_integers_are_bounded_when_read() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("p + 0", {"p": 2**70})
    assert info.value.code == "MS023"


@pytest.mark.parametrize("text,code,line", [
    (HEAD + "layers:\n  - {op: Linear, features: 100000000000000000000}\n", "MS012", 5),
    (HEAD + 'layers:\n  - {op: Linear, features: "${2**63}"}\n', "MS012", 5),
    (HEAD + "params: {big: 100000000000000000000}\nlayers: [ReLU]\n", "MS012", 4),
    ("modelspec: 1\nname: T\ninputs: {x: [B, 100000000000000000000]}\nlayers: [ReLU]\n", "MS012", 3),
    ("modelspec: 1\nname: T\ninputs: {x: [B, 4611686018427387904, 4]}\nlayers: [Flatten]\n", "MS012", 4),
    (HEAD + "layers:\n  - {op: Linear, features: 4611686018427387904}\n", "MS012", 5),
    (HEAD + "time: {steps: 1000000000}\nlayers: [ReLU]\n", "MS060", 4),
    (HEAD + "time: {steps: 4, idle: 1000000000}\nlayers: [ReLU]\n", "MS060", 4),
    (HEAD + "time: {steps: 100000000000000000000}\nlayers: [ReLU]\n", "MS060", 4),
    (HEAD + "time: {steps: 4, dt: .inf}\nlayers: [ReLU]\n", "MS060", 4),
    (HEAD + "time: {steps: 4}\nlayers:\n  - {name: a, op: Add, in: [x, {from: a, delay: 1e400s}]}\n", "MS045", 6),
    (HEAD + "time: {steps: 4}\nlayers:\n  - {name: a, op: Add, in: [x, {from: a, delay: 10000000000}]}\n",
     "MS045", 6),
])
def test_integers_reaching_the_ir_are_bounded(text: str, code: str, line: int) -> None:
    res = compile_text(text)
    assert (code, line) in errors(res), found(res)
    assert all(d.code != "MS090" for d in res.diags)


def test_toml_integer_above_2_64() -> None:
    spec = textwrap.dedent("""\
        modelspec = 1
        name = "T"
        [inputs]
        x = ["B", 4]
        [[layers]]
        op = "Linear"
        features = 100000000000000000000000
        """)
    res = compile_text(spec, "spec.toml")
    assert errors(res) == [("MS012", 7)]


def test_huge_layers_warn_with_the_memory() -> None:
    res = compile_text(HEAD + "layers:\n  - {op: Linear, features: 1000000000}\n")
    (d,) = list(res.diags)
    assert (d.code, d.pos.line, d.is_error) == ("MS026", 5, False)  # type: ignore[union-attr]
    assert "5,000,000,000 parameters" in d.message and "18.6 GiB" in d.message  # weight and bias
    wide = compile_text("modelspec: 1\nname: T\ninputs: {x: [B, 3000000000]}\nlayers: [ReLU]\n")
    assert [(x.code, x.pos.line) for x in wide.diags] == [("MS026", 4)]  # type: ignore[union-attr]
    assert "values per sample" in next(iter(wide.diags)).message


def test_a_layer_warns_when_its_tensors_together_pass_2_31() -> None:
    """A weight of exactly 2**31 values (65,536 x 32,768) is not huge alone; with its bias of
    32,768 the layer holds 2**31 + 2**15 values, and that is what MS026 counts."""
    spec = "modelspec: 1\nname: T\ninputs: {x: [B, 65536]}\nlayers:\n  - {op: Linear, features: 32768}\n"
    res = compile_text(spec)
    (d,) = list(res.diags)
    assert (d.code, d.pos.line) == ("MS026", 5)  # type: ignore[union-attr]
    assert "2,147,516,416 parameters" in d.message
    alone = compile_text(spec.replace("features: 32768}", "features: 32768, bias: false}"))
    assert list(alone.diags) == []  # exactly 2**31: at the limit, not past it


def test_model_total_warns_where_it_crosses() -> None:
    """Five tables of 2e9 values each: none is huge alone, the fifth passes 2**33 in all."""
    layers = "".join("  - {op: Embedding, num: 1000000, features: 2000, in: x}\n" for _ in range(5))
    spec = "modelspec: 1\nname: T\ninputs: {x: {shape: [B, 4], dtype: int64}}\noutputs: {y: embedding_4}\n" \
        "layers:\n" + layers
    res = compile_text(spec)
    warned = [(d.code, d.pos.line) for d in res.diags if d.code == "MS026"]  # type: ignore[union-attr]
    assert warned == [("MS026", 10)], found(res)


def test_a_tensor_no_machine_holds_is_an_error() -> None:
    """10**12 features: a typo, 18 TiB of weights; past 2**40 elements a tensor is refused."""
    res = compile_text(HEAD + "layers:\n  - {op: Linear, features: 1000000000000}\n")
    (d,) = list(res.diags)
    assert (d.code, d.pos.line, d.is_error) == ("MS012", 5, True)  # type: ignore[union-attr]
    assert "4,000,000,000,000 elements" in d.message and "14.6 TiB" in d.message
    at_limit = compile_text(HEAD.replace("[B, 4]", "[B, 1024]") + "layers:\n  - {op: Linear, features: 1073741824}\n")
    assert not at_limit.diags.has_errors  # exactly 2**40 weights: a warning, not an error
    wide = compile_text("modelspec: 1\nname: T\ninputs: {x: [B, 2000000000000]}\nlayers: [ReLU]\n")
    assert [(x.code, x.pos.line) for x in wide.diags] == [("MS012", 4)]  # type: ignore[union-attr]


def test_jax_source_of_the_largest_legal_sizes() -> None:
    """Sizes up to int64 reach the JAX emitter and are written exactly."""
    from modelspec.backends.jax.emit import emit_jax

    res = compile_text(HEAD.replace("[B, 4]", "[B, 2147483648]") + "layers:\n  - {op: Linear, features: 512}\n")
    assert res.graph is not None and not res.diags.has_errors
    source = emit_jax(res.graph)
    assert "2147483648" in source


# --- 3. params are linear -------------------------------------------------------------------

class Counting(Mapping[str, Any]):
    """A mapping that counts how many of its entries are read, one way or another."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.reads = 0

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        for k in self.data:
            self.reads += 1
            yield k

    def __len__(self) -> int:
        return len(self.data)


def test_evaluating_a_value_does_not_copy_the_env() -> None:
    env = Counting({f"p{k}": k for k in range(10_000)})
    ev = Evaluator(Diagnostics())
    src = Src(Document("s.yaml", {}), ())
    assert ev.value("${p7 + p9}", env, src) == (True, 16)
    assert env.reads <= 6 and ev.used == {"p7", "p9"}  # a few reads per name used, none per name defined


def test_copies_and_instances_do_not_copy_the_env() -> None:
    env = Counting({f"p{k}": k for k in range(10_000)})
    inner = layered({"i": 1}, layered({"j": 2}, env))
    assert (inner["i"], inner["j"], inner["p5"]) == (1, 2, 5)
    assert env.reads == 1


def test_did_you_mean_hints_share_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each hint compares with every name in scope; past the budget, errors come without hints."""
    from modelspec.expand import expressions

    monkeypatch.setattr(expressions, "MAX_HINTS", 50_000)
    n = 1000
    params = [f"  a{k}: 1" for k in range(n)] + [f"  b{k}: \"${{a{k}x}}\"" for k in range(n)]
    res = compile_text(HEAD + "params:\n" + "\n".join(params) + "\nlayers: [ReLU]\n")
    misspelt = [d for d in res.diags if d.code == "MS021"]
    hinted = [d for d in misspelt if d.suggestion]
    assert len(misspelt) == n
    assert hinted and hinted[0].suggestion == "did you mean `a0`?"
    assert len(hinted) <= 50_000 // n


def test_100k_params_compile(tmp_path: Path) -> None:
    """Quadratic before (20k took 2.4 s, so 100k about a minute); a generous timeout catches that."""
    n = 100_000
    lines = ["modelspec: 1", "name: P", "params:", "  p0: 1"] + [f"  p{k}: \"${{p{k - 1} + 1}}\"" for k in range(1, n)]
    lines += ["inputs: {x: [B, 4]}", "layers:", f"  - {{op: Linear, features: \"${{p{n - 1} % 7 + 1}}\"}}"]
    spec = tmp_path / "params.yaml"
    spec.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "modelspec", "lint", "--format", "json", str(spec)],
                       capture_output=True, text=True, timeout=40, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]


# --- 4. --set ---------------------------------------------------------------------------------

def test_deeply_nested_set_is_a_located_error() -> None:
    diags = Diagnostics()
    out = parse_overrides(["hidden=[4]", "x=" + "[" * 100_000 + "]" * 100_000], diags)
    assert out == {"hidden": [4]}
    (d,) = list(diags)
    assert d.code in ("MS004", "MS002") and d.pos is not None  # the loader's depth limit, whichever parser
    assert d.pos.file == "<--set 2>" and d.pos.line == 1 and d.pos.col > 3


def test_set_problems_point_into_the_argument(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(HEAD + "params: {h: 4, k: 2}\nlayers:\n  - {op: Linear, features: \"${h * k}\"}\n")
    diags = Diagnostics()
    sets = parse_overrides(["k=3", "hh=3", "h=${1/0}"], diags)
    assert not list(diags)
    res = compile_file(spec, sets)
    got = sorted((d.code, str(d.pos)) for d in res.diags)
    assert got == [("MS023", "<--set 3>:1:5"), ("MS024", "<--set 2>:1:1")], got


def test_set_tags_and_bad_forms() -> None:
    diags = Diagnostics()
    parse_overrides(["a=!!python/object/apply:os.system [ls]", "=3", "a b=1"], diags)
    assert sorted((d.code, str(d.pos)) for d in diags) == [
        ("MS003", "<--set 1>:1:3"), ("MS024", "<--set 2>:1:1"), ("MS024", "<--set 3>:1:1")]


def test_set_on_the_command_line() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    deep = "hidden=" + "[" * 50_000 + "]" * 50_000
    for arg, want in ((deep, "<--set 1>:1:"), ("hiden=[8]", "<--set 1>:1:1: MS024")):
        p = subprocess.run([sys.executable, "-m", "modelspec", "lint", str(ROOT / "specs" / "mlp.yaml"), "--set", arg],
                           capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode in (1, 2), p.stderr
        assert want in p.stdout + p.stderr and "Traceback" not in p.stderr


# --- 5. names that become code ----------------------------------------------------------------

@pytest.mark.parametrize("text,line", [
    ('modelspec: 1\nname: "Evil; import os"\ninputs: {x: [B, 4]}\nlayers: [ReLU]\n', 2),
    (HEAD + 'blocks:\n  "B\\"x":\n    layers: [ReLU]\nlayers: [ReLU]\n', 5),
    (HEAD + 'blocks:\n  B:\n    params: {"p\\nq": 1}\n    layers: [ReLU]\nlayers: [{block: B}]\n', 6),
    (HEAD + 'blocks:\n  B:\n    inputs: ["a b"]\n    layers: [ReLU]\nlayers: [{block: B}]\n', 6),
    (HEAD + 'blocks:\n  B:\n    outputs: {"o-1": r}\n    layers: [{name: r, op: ReLU}]\nlayers: [{block: B}]\n', 6),
    (HEAD + 'layers:\n  - {name: a, op: ReLU}\n  - {name: b, op: ReLU}\nedges:\n  - {from: a, to: b, name: "e\\"\\n"}\n',
     8),
    (HEAD + 'layers:\n  - {name: "g\'", layers: [ReLU]}\n', 5),
    (HEAD + 'layers:\n  - {name: "n\\n", op: ReLU}\n', 5),
    ('modelspec: 1\nname: T\ninputs: {"x y": [B, 4]}\nlayers: [ReLU]\n', 3),
    ('modelspec: 1\nname: T\ninputs: {"0": [B, 4]}\nlayers: [ReLU]\n', 3),
    (HEAD + 'outputs: {"o\\"": r}\nlayers: [{name: r, op: ReLU}]\n', 4),
    (HEAD + 'params: {"p q": 1}\nlayers: [ReLU]\n', 4),
    ('modelspec: 1\nname: T\ninputs: {x: [B, "N; import os"]}\nlayers: [ReLU]\n', 3),
    (HEAD + 'layers:\n  - {foreach: {"v w": [1, 2]}, op: ReLU}\n', 5),
])
def test_every_name_that_becomes_code_is_checked(text: str, line: int) -> None:
    res = compile_text(text)
    assert ("MS014", line) in errors(res), found(res)


def test_builtin_names_are_valid_names() -> None:
    spec = ("modelspec: 1\nname: T\ninputs: {input: [B, 4], type: [B, 4]}\noutputs: {id: s}\n"
            "layers:\n  - {name: s, op: Add, in: [input, type]}\n")
    assert compile_text(spec).ok


def test_torch_forward_takes_builtin_names_by_keyword(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from modelspec.build import build

    spec = tmp_path / "kw.yaml"
    spec.write_text("modelspec: 1\nname: T\ntime: {steps: 3}\ninputs: {input: [B, 4], range: [B, 4], t: [B, 4]}\n"
                    "layers:\n  - {op: Add, in: [input, range, t]}\n")
    model = build(str(spec))
    x = torch.ones(2, 3, 4)
    y = model(input=x, range=2 * x, t=3 * x)
    assert torch.equal(y, 6 * x)
    assert torch.equal(model(x, 2 * x, 3 * x), y)


def test_jax_apply_reads_inputs_by_their_names(tmp_path: Path) -> None:
    from modelspec.backends.jax.emit import emit_jax

    res = compile_text("modelspec: 1\nname: T\ninputs: {input: [B, 4], type: [B, 4]}\n"
                       "layers:\n  - {op: Add, in: [input, type]}\n")
    assert res.graph is not None
    source = emit_jax(res.graph)
    assert 'inputs["input"]' in source and 'inputs["type"]' in source
    compile(source, "<jax>", "exec")  # valid Python whatever the names


def test_a_zero_axis_does_not_hide_a_huge_one_from_the_size_check() -> None:
    """`check_node`'s quick exit reads the product of the sample's axes; with a zero among them that
    product is 0 whatever the others are, so the huge axis must still be found (MS012 at axis 2)."""
    from modelspec.diagnostics import Diagnostics
    from modelspec.ir.graph import Node
    from modelspec.ir.sizes import check_node

    diags = Diagnostics()
    assert not check_node(Node("n", "Reshape", None, [], None, "", shape=("B", 0, 2**70)), diags)
    (d,) = list(diags)
    assert d.code == "MS012" and "axis 2" in d.message
    assert check_node(Node("m", "Reshape", None, [], None, "", shape=("B", 0, 4)), Diagnostics())
