"""Every diagnostic code, triggered by a spec, reported at the right line."""

from __future__ import annotations

import textwrap

import pytest

from modelspec.codes import CODES
from modelspec.commands.explain import errors_markdown
from modelspec.pipeline import compile_text
from modelspec.trust import Trust

BARE = "modelspec: 1\nname: T\n"
HEAD = BARE + "inputs:\n  x: [B, 8]\n"


#: the MS037 case names a module that does not exist; trusted, so that importing it is tried
TRUST = Trust(plugins=frozenset({"no_such_plugin_module_xyz"}))


def problems(text: str, file: str = "spec.yaml") -> list[tuple[str, int]]:
    res = compile_text(textwrap.dedent(text), file, trust=TRUST)
    return [(d.code, d.pos.line if d.pos else 0) for d in res.diags.sorted()]


# (code, spec text, line the problem must be reported at)
CASES: list[tuple[str, str, int]] = [
    ("MS002", "modelspec: 1\nname: [unclosed\n", 3),
    ("MS013", "modelspec: 2\nname: T\ninputs: {x: [B, 3]}\nlayers: [ReLU]\n", 1),
    ("MS003", HEAD + "layers:\n  - !!python/object/apply:os.system [ls]\n", 6),
    ("MS006", HEAD + "imports: {lib: /etc/passwd.yaml}\nlayers: [ReLU]\n", 5),
    ("MS005", HEAD + "layers:\n  - {op: Linear, features: 3, features: 4}\n", 6),
    ("MS010", BARE + "layers: [ReLU]\n", 1),
    ("MS010", HEAD + "layers:\n  - {name: a}\n", 6),
    ("MS011", HEAD + "layers:\n  - {op: Linear, featrues: 3}\n", 6),
    ("MS011", HEAD + "layres:\n  - ReLU\nlayers: [ReLU]\n", 5),
    ("MS012", HEAD + "layers:\n  - ReLU\n  - {op: Dropout, p: 1.5}\n", 7),
    ("MS012", HEAD + "layers:\n  - {op: Linear, features: 4, repeat: [1]}\n", 6),
    ("MS012", HEAD + "blocks:\n  A:\n    params: {w: {type: integer}}\n    layers: [ReLU]\nlayers:\n  - {block: A, w: 3}\n", 7),
    ("MS014", HEAD + "layers:\n  - ReLU\n  - {name: 2nd-layer, op: ReLU}\n", 7),
    ("MS020", HEAD + "params: {h: [4]}\nlayers:\n  - {op: Linear, features: \"${h[0}\"}\n", 7),
    ("MS021", HEAD + "params: {hidden: 4}\nlayers:\n  - {op: Linear, features: \"${hiden}\"}\n", 7),
    ("MS022", HEAD + "layers:\n  - {op: Linear, features: \"${().__class__}\"}\n", 6),
    ("MS023", HEAD + "params: {h: [4]}\nlayers:\n  - {op: Linear, features: \"${h[7]}\"}\n", 7),
    ("MS025", HEAD + "params:\n  unused: 3\nlayers: [ReLU]\n", 6),
    ("MS026", HEAD + "layers:\n  - {op: Linear, features: 1000000000}\n", 6),
    ("MS027", HEAD + "time: {steps: 2}\nblocks:\n  H:\n    layers:\n      - {op: Linear, features: \"${in.shape[1]}\"}\nlayers:\n  - {name: h, block: H, in: {from: o, delay: 1}}\n  - {name: o, op: ReLU, in: x}\n", 9),
    ("MS028", HEAD + "blocks:\n  H:\n    layers:\n      - {op: Linear, features: \"${in.shape[1]}\"}\nlayers:\n  - {name: a, op: Linear, features: 4}\n  - {name: p, op: Linear, features: 6, when: false}\n  - {name: h, block: H, in: p}\n  - {name: p, op: Linear, features: 6, in: x}\n  - {op: Add, in: [h, p]}\n", 12),
    ("MS029", HEAD + "layers:\n  - {name: a, layers: [{name: fc, op: ReLU}]}\n  - {name: b, layers: [{name: fc, op: ReLU}]}\n  - {op: Add, in: [fc, x]}\n", 8),
    ("MS039", HEAD + "params: {w: [4, 8]}\nlayers:\n  - foreach: {v: \"${w}\"}\n    layers:\n      - {op: Linear, features: \"${w[i]}\", repeat: 2}\n", 9),
    ("MS030", HEAD + "layers:\n  - ReLU\n  - {op: Linaer, features: 3}\n", 7),
    ("MS031", HEAD + "layers:\n  - {block: Resdual}\n", 6),
    ("MS032", HEAD + "blocks:\n  A:\n    layers:\n      - {block: A}\nlayers:\n  - {block: A}\n", 8),
    ("MS033", HEAD + "blocks:\n  A:\n    params: {dim: null}\n    layers: [ReLU]\nlayers:\n  - {block: A}\n", 10),
    ("MS034", HEAD + "imports: {lib: missing_file.yaml}\nlayers: [ReLU]\n", 5),
    ("MS035", HEAD + "layers:\n  - {name: a, op: ReLU}\n  - {name: a, op: Tanh}\n", 7),
    ("MS036", HEAD + "layers:\n  - {op: ReLU, block: A}\n", 6),
    ("MS037", HEAD + "plugins: [no_such_plugin_module_xyz]\nlayers: [ReLU]\n", 5),
    ("MS038", HEAD + "plugins: [evilplug]\nlayers: [ReLU]\n", 5),
    ("MS040", HEAD + "layers:\n  - {name: a, op: ReLU}\n  - {op: Add, in: [a, brnch]}\n", 7),
    ("MS041", HEAD + "layers:\n  - {name: a, op: Add, in: [x, b]}\n  - {name: b, op: ReLU}\n", 6),
    ("MS042", HEAD + "layers:\n  - {name: a, op: Add, in: [x, {from: b, delay: 1}]}\n  - {name: b, op: ReLU}\n", 6),
    ("MS043", HEAD + "time: {steps: 4, dt: 2}\nlayers:\n  - {name: a, op: Add, in: [x, {from: b, delay: 3ms}]}\n  - {name: b, op: ReLU}\n", 7),
    ("MS044", HEAD + "time: {steps: 4}\nlayers:\n  - {name: a, op: ReLU}\n  - {name: b, op: ReLU}\nedges:\n  - {from: b, to: a, delay: 1, kind: skip}\n", 10),
    ("MS045", HEAD + "time: {steps: 4}\nlayers:\n  - {name: a, op: Add, in: [x, {from: b, delay: -1}]}\n  - {name: b, op: ReLU}\n", 7),
    ("MS046", HEAD + "outputs: {y: b}\nlayers:\n  - {name: a, op: Tanh}\n  - {name: b, op: ReLU, in: x}\n", 7),
    ("MS047", HEAD + "layers:\n  - {name: a, op: ReLU}\nedges:\n  - {from: a, to: x}\n", 8),
    ("MS050", HEAD + "layers:\n  - {op: Conv2d, channels: 4, kernel: 3}\n", 6),
    ("MS050", BARE + "inputs:\n  x: [B, 8]\n  y: [B, 4]\nlayers:\n  - {op: Add, in: [x, y]}\n", 7),
    ("MS051", HEAD + "layers:\n  - {op: Add, in: [x]}\n", 6),
    ("MS052", HEAD + "outputs:\n  a: {from: p, shape: [B, C]}\n  b: {from: q, shape: [B, C]}\nlayers:\n  - {name: p, op: Linear, features: 4}\n  - {name: q, op: Linear, features: 5, in: x}\n", 7),
    ("MS053", HEAD + "outputs:\n  y: {from: a, shape: [B, 9]}\nlayers:\n  - {name: a, op: Linear, features: 4}\n", 6),
    ("MS054", HEAD + "layers:\n  - {name: a, op: Linear, features: 4}\n  - {name: b, op: Linear, features: 5}\nedges:\n  - {from: a, to: b, adapt: none}\n", 9),
    ("MS055", BARE + "inputs:\n  x: [B, 3, 4, 4]\nlayers:\n  - {op: Conv2d, channels: 4, kernel: 7}\n", 6),
    ("MS060", HEAD + "time: {steps: 0}\nlayers: [ReLU]\n", 5),
    ("MS061", HEAD + "layers:\n  - {op: EulerStep, tau: 5}\n", 6),
    ("MS062", HEAD + "time: {steps: 2}\noutputs: {y: a}\nlayers:\n  - {name: a, op: ReLU, in: {from: x, delay: 2}}\n", 6),
    ("MS070", HEAD + "layers:\n  - {name: a, op: ReLU}\n  - {name: b, op: ReLU, share: a}\n", 7),
    ("MS070", BARE + "inputs:\n  x: [B, 3, 8, 8]\nlayers:\n  - {name: bn, op: BatchNorm2d}\n  - {name: bn2, op: BatchNorm2d, share: bn}\n", 7),
    ("MS071", HEAD + "layers:\n  - {name: a, op: Linear, features: 8}\n  - {name: b, op: Linear, features: 8, bias: false, share: a}\n", 7),
    ("MS071", HEAD + "layers:\n  - {name: a, op: Linear, features: 8}\n  - {name: b, op: Tanh, share: a}\n", 7),
    ("MS072", HEAD + "layers:\n  - {name: a, op: Linear, features: 16}\n  - {name: b, op: Linear, features: 16, share: a}\n", 7),
    ("MS073", HEAD + "blocks:\n  S:\n    layers: [{name: fc, op: Linear, features: 8}]\n  L:\n    layers:\n      - {name: fc, op: Linear, features: 8}\n      - {name: fc2, op: Linear, features: 8}\nlayers:\n  - {name: b1, block: S}\n  - {name: b2, block: L, share: b1}\n", 14),
    ("MS074", HEAD + "layers:\n  - {name: a, op: Linear, features: 8}\n  - {op: Linear, features: 8, params_at: a.inner}\n", 7),
    ("MS074", HEAD + "layers:\n  - {name: a, op: ReLU, params_at: b}\n", 6),
]


@pytest.mark.parametrize("code,text,line", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_code_is_reported_at_its_line(code: str, text: str, line: int) -> None:
    found = problems(text)
    lines = [ln for c, ln in found if c == code]
    assert lines, f"{code} not reported; got {found}"
    assert line in lines, f"{code} reported at lines {lines}, expected {line}; all: {found}"


def test_every_error_code_has_a_case_or_a_loader_test() -> None:
    covered = {c for c, _, _ in CASES} | {"MS001", "MS004", "MS024", "MS090"}
    covered |= {"MS080", "MS081"}  # ONNX export: tests/test_onnx.py
    covered |= {"MS082", "MS083"}  # --sweep arguments: tests/test_sweep.py
    assert set(CODES) <= covered, f"codes without a triggering spec: {sorted(set(CODES) - covered)}"


def test_all_problems_of_a_file_are_reported() -> None:
    text = HEAD + textwrap.dedent("""\
        params: {hidden: 4}
        layers:
          - {op: Linear, featrues: 10}
          - {op: Linaer, features: 10}
          - {name: fc, op: Linear, features: "${hiden}"}
          - {op: Add, in: [fc, nothing]}
          - {op: Dropout, p: 1.5}
        """)
    found = problems(text)
    codes = {(c, ln) for c, ln in found}
    for want in [("MS011", 7), ("MS030", 8), ("MS021", 9), ("MS040", 10), ("MS012", 11)]:
        assert want in codes, f"missing {want} in {found}"


def test_suggestions_and_carets() -> None:
    from modelspec.commands.report import text as render

    src = HEAD + "layers:\n  - {op: Linear, featrues: 3}\n"
    res = compile_text(src, "s.yaml")
    out = render(res.diags.sorted(), {"s.yaml": src})
    assert "s.yaml:6:18: MS011" in out
    assert "did you mean `features`?" in out
    caret_line = out.splitlines()[out.splitlines().index(next(l for l in out.splitlines() if "featrues: 3" in l)) + 1]
    assert caret_line.index("^") - caret_line.index("|") - 2 == 17


def test_set_override_of_unknown_param() -> None:
    from modelspec.pipeline import compile_file
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d, "s.yaml")
        p.write_text(HEAD + "params: {h: 4}\nlayers:\n  - {op: Linear, features: \"${h}\"}\n")
        res = compile_file(p, {"hh": 3})
        assert [d.code for d in res.diags] == ["MS024"]
        assert "did you mean `h`?" in (res.diags.sorted()[0].suggestion or "")
        assert compile_file(p, {"h": 7}).graph.nodes["linear_0"].shape == ("B", 7)


def test_errors_doc_is_current() -> None:
    import pathlib

    doc = pathlib.Path(__file__).parent.parent / "docs" / "errors.md"
    assert doc.read_text() == errors_markdown() + "\n", \
        "docs/errors.md is stale: run `python -c 'from modelspec.commands.explain import errors_markdown; " \
        "print(errors_markdown())' > docs/errors.md`"
