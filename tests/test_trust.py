"""The trust boundary: which plugins a spec may import, which files it may read, what reaches a terminal.

Each test builds a small repository in a temporary directory and checks the
behaviour against what the files there are known to be (a marker file a
plugin would write, the text of a file outside the tree).
"""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.commands.lint import lint, render
from modelspec.commands.report import github, printable, text
from modelspec.diagnostics import Diagnostic, Pos
from modelspec.ops import registry
from modelspec.pipeline import compile_file
from modelspec.trust import Trust, find_root

runner = CliRunner()

PLUGIN = '''\
from pathlib import Path
from modelspec.ops import Attrs, Op, register

Path(__file__).with_name("IMPORTED").write_text("{module}")


@register
class Same(Op):
    name = "{op}"
    Attrs = Attrs
    category = "test"
    doc = "identity (a test plugin)"

    def shape(self, a, ins):
        return tuple(ins[0])
'''


def spec_text(plugins: list[str], op: str, extra: str = "") -> str:
    return textwrap.dedent(f"""\
        modelspec: 1
        name: T
        plugins: [{", ".join(plugins)}]
        inputs: {{x: [B, 8]}}
        layers:
          - {{name: p, op: {op}}}
          - {{name: q, op: {op}, in: p}}
          - {{name: fc, op: Linear, features: 4, in: q}}
        """) + extra


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository root: the tree a spec's files must stay in."""
    (tmp_path / ".git").mkdir()
    return tmp_path


@pytest.fixture
def plugin(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A plugin module beside the spec, with names no other test uses; the registry is restored after."""
    tag = uuid.uuid4().hex[:8]
    module, op = f"plug_{tag}", f"Same{tag}"
    (repo / f"{module}.py").write_text(PLUGIN.format(module=module, op=op))
    registry.all_ops()  # the built-ins, before the copy that is thrown away after the test
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_PLUGIN_OPS", dict(registry._PLUGIN_OPS))
    yield module, op
    sys.modules.pop(module, None)


def codes(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.pos.line if d.pos else 0, d.pos.col if d.pos else 0) for d in diags]


# ---- plugins -----------------------------------------------------------------------------

def test_untrusted_plugin_is_not_imported_and_the_rest_is_checked(repo: Path, plugin: tuple[str, str]) -> None:
    module, op = plugin
    spec = repo / "s.yaml"
    spec.write_text(spec_text([module], op, "  - {op: Linear, featurs: 3}\n"))
    r = compile_file(spec)
    found = codes(r.diags.sorted())
    assert not (repo / "IMPORTED").exists(), "an untrusted plugin ran"
    assert ("MS038", 3, 11) in found
    assert ("MS011", 9, 18) in found  # the rest of the spec is still checked
    assert not [c for c in found if c[0] in ("MS030", "MS040", "MS050")], found  # no follow-on flood
    ms038 = next(d for d in r.diags if d.code == "MS038")
    assert f"--plugin {module}" in (ms038.suggestion or "")
    assert any(f"`{op}` (2 nodes)" in n for n in ms038.notes)


def test_trusted_plugin_beside_the_spec_is_found_without_touching_sys_path(repo: Path,
                                                                           plugin: tuple[str, str]) -> None:
    module, op = plugin
    spec = repo / "sub" / "s.yaml"
    spec.parent.mkdir()
    os.replace(repo / f"{module}.py", spec.parent / f"{module}.py")
    spec.write_text(spec_text([module], op))
    before = list(sys.path)
    r = compile_file(spec, trust=Trust(plugins=frozenset({module})))
    assert sys.path == before
    assert r.ok, r.diags.sorted()
    assert (spec.parent / "IMPORTED").read_text() == module
    assert r.graph is not None and r.graph.nodes["q"].shape == ("B", 8)


def test_allow_plugins_trusts_what_the_spec_names_and_plugin_trusts_only_its_module(
        repo: Path, plugin: tuple[str, str]) -> None:
    module, op = plugin
    spec = repo / "s.yaml"
    spec.write_text(spec_text([module], op))
    r = compile_file(spec, trust=Trust(plugins=frozenset({"some_other_module"})))
    assert "MS038" in {d.code for d in r.diags} and not (repo / "IMPORTED").exists()
    r = compile_file(spec, trust=Trust(allow_plugins=True))
    assert r.ok, r.diags.sorted()


def test_pyproject_lists_trusted_plugins(repo: Path, plugin: tuple[str, str]) -> None:
    module, op = plugin
    (repo / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.modelspec]\nplugins = ["{module}"]\n')
    spec = repo / "specs" / "s.yaml"
    spec.parent.mkdir()
    spec.write_text(spec_text([module, "not_listed_mod"], op))
    r = compile_file(spec)
    assert (repo / "IMPORTED").read_text() == module  # found at the repository root
    assert codes([d for d in r.diags if d.is_error]) == [("MS038", 3, 11 + len(module) + 2)]


def test_a_broken_pyproject_is_reported_where_it_is(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.modelspec]\nplugins = 3\n")
    spec = repo / "s.yaml"
    spec.write_text("modelspec: 1\nname: T\ninputs: {x: [B, 8]}\nlayers: [ReLU]\n")
    r = compile_file(spec)
    bad = [d for d in r.diags if d.code == "MS037"]
    assert bad and bad[0].pos is not None and bad[0].pos.file.endswith("pyproject.toml")


def test_a_spec_sees_only_the_plugin_ops_it_names(repo: Path, plugin: tuple[str, str]) -> None:
    module, op = plugin
    first, second = repo / "a.yaml", repo / "b.yaml"
    first.write_text(spec_text([module], op))
    second.write_text(spec_text([], op).replace("plugins: []\n", ""))
    trust = Trust(plugins=frozenset({module}))
    assert compile_file(first, trust=trust).ok
    r = compile_file(second, trust=trust)
    unknown = [d for d in r.diags if d.code == "MS030"]
    assert unknown and f"add it to this spec's `plugins:`" in (unknown[0].suggestion or "")


def test_cli_trust_options_on_a_spec_command(repo: Path, plugin: tuple[str, str]) -> None:
    module, op = plugin
    spec = repo / "s.yaml"
    spec.write_text(spec_text([module], op))
    res = runner.invoke(app, ["summary", str(spec)])
    assert res.exit_code == 1 and "MS038" in res.output and not (repo / "IMPORTED").exists()
    res = runner.invoke(app, ["summary", str(spec), "--plugin", module, "--format", "json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["lint", str(spec), "--allow-plugins"])
    assert res.exit_code == 0, res.output


# ---- files -------------------------------------------------------------------------------

SECRET = "root:x:0:0:the-secret-line\n"


def test_symlink_out_of_the_tree_is_refused_without_reading_it(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text(SECRET)
    (repo / "evil.yaml").symlink_to(outside)
    res = lint([str(repo / "evil.yaml")])
    assert codes(res.diagnostics) == [("MS006", 1, 1)]
    out = render(res, "text", False)
    assert "the-secret-line" not in out and str(outside) in out


def test_symlink_inside_the_tree_is_followed(repo: Path) -> None:
    (repo / "real.yaml").write_text("modelspec: 1\nname: T\ninputs: {x: [B, 8]}\nlayers: [ReLU]\n")
    (repo / "link.yaml").symlink_to(repo / "real.yaml")
    assert lint([str(repo / "link.yaml")]).diagnostics == []


def test_special_file_is_refused_without_blocking(repo: Path) -> None:
    os.mkfifo(repo / "x.yaml")  # open() of a FIFO without O_NONBLOCK would wait for a writer forever
    res = lint([str(repo / "x.yaml")])
    assert codes(res.diagnostics) == [("MS006", 1, 1)]
    assert "FIFO" in res.diagnostics[0].message


LIB = "modelspec: 1\nblocks:\n  B:\n    layers: [ReLU]\n"


def importing(path: str) -> str:
    return f"modelspec: 1\nname: T\nimports: {{lib: {path!r}}}\ninputs: {{x: [B, 8]}}\nlayers:\n  - {{block: lib.B}}\n"


def test_imports_stay_inside_the_tree(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "lib.yaml").write_text(LIB)
    (repo / "lib.yaml").write_text(LIB)
    (repo / "specs").mkdir()
    (repo / "link.yaml").symlink_to(outside / "lib.yaml")
    cases = {
        "abs.yaml": (str(outside / "lib.yaml"), "MS006"),  # absolute: always refused
        "up.yaml": ("../" * 40 + str(outside / "lib.yaml").lstrip("/"), "MS006"),  # ../../.. out of the tree
        "linked.yaml": ("../link.yaml", "MS006"),  # a symlink inside that leads out
        "fine.yaml": ("../lib.yaml", None),  # `..` that stays inside the repository is fine
    }
    for name, (path, code) in cases.items():
        (repo / "specs" / name).write_text(importing(path))
        r = compile_file(repo / "specs" / name)
        found = codes([d for d in r.diags if d.is_error])
        if code:
            assert found[0] == (code, 3, 16), (name, found)
        else:
            assert found == [], (name, found)


def test_root_option_widens_the_tree(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    shared = tmp_path_factory.mktemp("shared")
    (shared / "lib.yaml").write_text(LIB)
    (shared / "proj").mkdir()
    spec = shared / "proj" / "s.yaml"
    (shared / "proj" / ".git").mkdir()
    spec.write_text(importing("../lib.yaml"))
    assert "MS006" in {d.code for d in compile_file(spec).diags}
    assert compile_file(spec, trust=Trust(root=str(shared))).ok


def test_find_root_is_the_nearest_marker(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text("")
    assert find_root(str(tmp_path / "a" / "b")) == str(tmp_path / "a")


def test_walk_does_not_leave_the_tree_nor_loop(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.yaml").write_text(SECRET)
    (repo / "specs").mkdir()
    (repo / "specs" / "ok.yaml").write_text("modelspec: 1\nname: T\ninputs: {x: [B, 8]}\nlayers: [ReLU]\n")
    (repo / "specs" / "loop").symlink_to(repo / "specs")  # a loop
    (repo / "specs" / "out").symlink_to(outside)  # a way out
    res = lint([str(repo)])
    assert res.files == [str(repo / "specs" / "ok.yaml")]
    assert codes(res.diagnostics) == [("MS006", 1, 1)]
    assert res.diagnostics[0].pos == Pos(str(repo / "specs" / "out"), 1, 1)


def test_missing_path_or_no_spec_is_a_usage_error(repo: Path) -> None:
    (repo / "x.yaml").mkdir()
    for args in (["lint", str(repo / "x.yaml")], ["lint", str(repo / "nope.yaml")], ["summary", str(repo / "no.yaml")]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output


# ---- text that reaches a terminal ---------------------------------------------------------

def test_control_characters_are_escaped_in_every_part_of_the_text_report() -> None:
    src = 'name: "a\x1b]0;title\x07b"\n  - {op: "X\u202eY", n: 1}\n'
    d = Diagnostic("MS030", "unknown op `X\u202eY\x1b[2J`\nfake.yaml:1:1: MS000 error: forged", Pos("s\x1b.yaml", 2, 17),
                   suggestion="did you mean `\x9b31m`?", notes=["two\nlines\x07"])
    out = text([d], {"s\x1b.yaml": src.replace("\x1b]0;title\x07", "")})
    assert not [c for c in out if (ord(c) < 32 and c != "\n") or 0x7f <= ord(c) < 0xa0 or c == "\u202e"], repr(out)
    assert "\\x1b[2J" in out and "\\u202e" in out and "\\x9b31m" in out
    assert "\nfake.yaml" not in out  # a newline in a message cannot forge a report line
    lines = out.splitlines()
    src_line, caret = lines[1], lines[2]
    assert caret.index("^") - caret.index("|") == src_line.index("n: 1") - src_line.index("|")


def test_printable_keeps_ordinary_text() -> None:
    assert printable("Linear features: 64 — größe, tab\there") == "Linear features: 64 — größe, tab\there"


def test_github_annotations_escape_controls_and_newlines() -> None:
    d = Diagnostic("MS014", "bad\x1b[31m\r\n::error::forged", Pos("a,b:c.yaml", 1, 2))
    out = github([d])
    assert out.count("\n") == 0 and "\x1b" not in out and "\r" not in out
    assert "%0A::error::forged" in out  # the forged command stays inside the message
    assert out.startswith("::error file=a%2Cb%3Ac.yaml,line=1,col=2,")
    assert "\\x1b[31m" in out


def test_json_and_sarif_reports_carry_no_raw_escape(repo: Path) -> None:
    (repo / "s.yaml").write_text('modelspec: 1\nname: T\ninputs: {x: [B, 8]}\nlayers:\n  - {op: "A\\e[2J"}\n')
    res = lint([str(repo / "s.yaml")])
    assert res.diagnostics
    for fmt in ("json", "sarif", "github", "text"):
        assert "\x1b" not in render(res, fmt, False), fmt


def test_a_library_names_its_plugins_under_the_spec_s_trust(repo: Path, plugin: tuple[str, str]) -> None:
    module, op = plugin
    (repo / "libs").mkdir()
    os.replace(repo / f"{module}.py", repo / "libs" / f"{module}.py")  # beside the library, not the spec
    (repo / "libs" / "lib.yaml").write_text(f"modelspec: 1\nplugins: [{module}]\nblocks:\n  B:\n    layers:\n"
                                            f"      - {{op: {op}}}\n")
    spec = repo / "s.yaml"
    spec.write_text("modelspec: 1\nname: T\nimports: {lib: libs/lib.yaml}\ninputs: {x: [B, 8]}\n"
                    "layers:\n  - {block: lib.B}\n")
    r = compile_file(spec)
    refused = [d for d in r.diags if d.code == "MS038"]
    assert refused and refused[0].pos is not None and refused[0].pos.file.endswith("lib.yaml")
    assert (refused[0].pos.line, refused[0].pos.col) == (2, 11)
    assert not [d for d in r.diags if d.code == "MS030"] and not (repo / "libs" / "IMPORTED").exists()
    assert lint([str(repo / "libs" / "lib.yaml")]).diagnostics[0].code == "MS038"  # linted on its own
    r = compile_file(spec, trust=Trust(plugins=frozenset({module})))
    assert r.ok, r.diags.sorted()
    assert (repo / "libs" / "IMPORTED").read_text() == module


def test_trust_is_per_tree_even_after_another_tree_loaded_the_plugin(
        repo: Path, plugin: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> None:
    module, op = plugin
    (repo / "pyproject.toml").write_text(f'[tool.modelspec]\nplugins = ["{module}"]\n')
    (repo / "a.yaml").write_text(spec_text([module], op))
    other = tmp_path_factory.mktemp("other")
    (other / ".git").mkdir()
    (other / "b.yaml").write_text(spec_text([module], op))
    res = lint([str(repo / "a.yaml"), str(other / "b.yaml")])
    found = [(d.code, d.pos.file if d.pos else "") for d in res.diagnostics if d.is_error]
    assert found == [("MS038", str(other / "b.yaml"))]  # no MS030 with a hint to add what is there


def test_ci_can_ignore_the_project_plugin_list(repo: Path, plugin: tuple[str, str]) -> None:
    """A pull request can edit pyproject.toml too: `--no-project-plugins` trusts only the command line."""
    module, op = plugin
    (repo / "pyproject.toml").write_text(f'[tool.modelspec]\nplugins = ["{module}"]\n')
    (repo / "s.yaml").write_text(spec_text([module], op))
    res = runner.invoke(app, ["lint", str(repo / "s.yaml"), "--no-project-plugins"])
    assert res.exit_code == 1 and "MS038" in res.output, res.output
    assert not (repo / "IMPORTED").exists()
    res = runner.invoke(app, ["lint", str(repo / "s.yaml"), "--no-project-plugins", "--plugin", module])
    assert res.exit_code == 0, res.output
    assert (repo / "IMPORTED").read_text() == module
