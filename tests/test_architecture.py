"""The package's shape: layers in one direction, one exception base, an import-order-free API, a scoped GC pause."""

from __future__ import annotations

import gc
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import pytest

import modelspec
from modelspec import pipeline
from modelspec.exceptions import ModelspecError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import import_graph  # noqa: E402

def _own_imports() -> list[tuple[str, str, bool, str, int, str]]:
    modules = {import_graph.module_name(p) for p in (ROOT / "modelspec").rglob("*.py")}
    return list(import_graph.imports(modules))


def test_import_linter_contracts_hold() -> None:
    pytest.importorskip("importlinter")
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("lint-imports is not installed next to this interpreter")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_no_cycle_between_packages_counting_imports_inside_functions() -> None:
    graph: dict[str, set[str]] = {}
    for a, b, *_ in _own_imports():
        pa, pb = import_graph.package_of(a), import_graph.package_of(b)
        if pa != pb and pb != "modelspec":
            graph.setdefault(pa, set()).add(pb)
    assert import_graph.cycles(graph) == []
    assert "modelspec.ops" in graph and "modelspec.backends" not in graph["modelspec.ops"]


def test_few_imports_inside_functions_each_with_its_reason() -> None:
    lazy = {(f, line): reason for _a, _b, inside, f, line, reason in _own_imports() if inside}
    assert [where for where, reason in lazy.items() if not reason] == []
    assert len(lazy) < 25, sorted(lazy)


def _project_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(modelspec.__path__, "modelspec."):
        if info.name == "modelspec.__main__":
            continue
        mod = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.append(obj)
    return found


def test_every_exception_derives_from_one_base_and_names_are_unique() -> None:
    excs = _project_exceptions()
    names = [e.__name__ for e in excs]
    assert {"SpecError", "ShapeError", "CheckFailed", "BuildError", "CheckpointError", "ExprError"} <= set(names)
    assert [e for e in excs if not issubclass(e, ModelspecError)] == []
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


ORDERS = [
    "import modelspec.build; import modelspec",
    "import modelspec.load; import modelspec.build",
    "from modelspec.build import build_graph; from modelspec.load import load_document; import modelspec",
    "import modelspec.pipeline, modelspec.commands.build, modelspec.train.models; import modelspec",
    "import modelspec; import modelspec.build as b; import modelspec.load.files",
]


@pytest.mark.parametrize("order", ORDERS)
def test_public_api_does_not_depend_on_import_order(order: str) -> None:
    code = (f"{order}\nimport inspect, modelspec\n"
            "assert inspect.isfunction(modelspec.build) and inspect.isfunction(modelspec.load)\n"
            "assert modelspec.build.__module__ == 'modelspec' and modelspec.load.__module__ == 'modelspec'\n"
            "g = modelspec.load('specs/mlp.yaml')\nprint(g.name)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "MLP"


def test_build_module_is_a_plain_module() -> None:
    import modelspec.build as _unused  # noqa: F401

    mod = sys.modules["modelspec.build"]
    assert type(mod) is type(sys)  # no __class__ swap
    assert inspect.isfunction(modelspec.build)


def test_gc_pause_is_scoped_to_the_compile() -> None:
    assert gc.isenabled()
    with pipeline.quiet_gc():
        assert not gc.isenabled()
        with pipeline.quiet_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer compile is still running
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with pipeline.quiet_gc():
            raise RuntimeError("boom")
    assert gc.isenabled()
    pipeline.compile_text("modelspec: 1\nname: M\ninputs: {x: [B, 4]}\nlayers: [{op: Linear, features: 2}]\n")
    assert gc.isenabled()


def test_gc_pause_respects_a_caller_that_disabled_it() -> None:
    gc.disable()
    try:
        with pipeline.quiet_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_pause_leaves_the_compiled_graph_to_the_oldest_generation() -> None:
    """What a compile keeps is long-lived: it is not traced by the first collection after the
    pause (it waits in the oldest generation), and cyclic garbage made during the pause is
    still collected by the next full collection."""
    class Cycle:
        pass

    gc.collect()
    with pipeline.quiet_gc():
        kept = [[k] for k in range(2_000)]  # lists are always tracked
        dead = Cycle()
        dead.self = dead  # type: ignore[attr-defined]
        ref = weakref.ref(dead)
        del dead
    young = gc.get_objects(generation=0) + gc.get_objects(generation=1)
    ids = {id(o) for o in young}
    assert not any(id(o) in ids for o in kept)
    assert any(o is kept[0] for o in gc.get_objects(generation=2))
    assert ref() is not None  # a cycle: refcounts alone never free it
    gc.collect()
    assert ref() is None


def test_gc_pause_keeps_a_callers_frozen_objects_frozen() -> None:
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with pipeline.quiet_gc():
            made = [[k] for k in range(100)]
        assert gc.get_freeze_count() == frozen  # not unfrozen by the pause
        young = gc.get_objects(generation=0) + gc.get_objects(generation=1)
        assert any(o is made[0] for o in young)  # nothing promoted either
    finally:
        gc.unfreeze()


def test_gc_pause_is_shared_by_overlapping_threads() -> None:
    """A enters, B enters, A leaves (still paused: B runs), B leaves (restored)."""
    a_in, b_in, a_out = (threading.Event() for _ in range(3))
    seen: dict[str, bool] = {}

    def a() -> None:
        with pipeline.quiet_gc():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b() -> None:
        a_in.wait(10)
        with pipeline.quiet_gc():
            b_in.set()
            a_out.wait(10)
            seen["after A left"] = gc.isenabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert a_out.is_set() and seen == {"after A left": False}
    assert gc.isenabled()


def test_no_citation_of_files_outside_the_repository() -> None:
    """The language reference is docs/language.md; design notes that are not in the tree are not cited."""
    absent = ["SPEC" + ".md", "DESIGN" + ".md"]
    hits = []
    for path in ROOT.rglob("*"):
        if path.suffix not in {".py", ".md", ".json", ".toml", ".yaml", ".txt"} or ".venv" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{path.relative_to(ROOT)}: {name}" for name in absent if name in text]
    assert hits == []
