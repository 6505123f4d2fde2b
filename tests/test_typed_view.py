"""Validation's typed result is what the expander reads for the top-level sections.

A valid spec's view comes from the validated model; a spec with errors is typed
section by section, so a wrong section is reported once (by validation) and
never read raw (a string `plugins:` is not a list of one-letter plugins).
"""

from __future__ import annotations

from pathlib import Path

from modelspec.diagnostics import Diagnostics
from modelspec.expand.spec import expand, validate
from modelspec.load import load_document
from modelspec.validate.typed import TopLevel, top_level

BODY = "inputs: {x: [B, 4]}\nlayers:\n  - {op: Linear, features: 2}\n"


def _doc(tmp_path: Path, head: str):
    path = tmp_path / "spec.yaml"
    path.write_text("modelspec: 1\n" + head + BODY, encoding="utf-8")
    diags = Diagnostics()
    return load_document(path, diags), diags


def test_a_valid_spec_gives_its_typed_view(tmp_path: Path) -> None:
    doc, diags = _doc(tmp_path, "name: net\ndoc: two outputs\nplugins: [a.b]\nimports: {lib: lib.yaml}\n")
    top = validate(doc, diags)
    assert top == TopLevel(name="net", doc="two outputs", imports={"lib": "lib.yaml"}, plugins=["a.b"])


def test_the_expander_reads_the_typed_view_not_the_raw_mapping(tmp_path: Path) -> None:
    doc, diags = _doc(tmp_path, "name: net\n")
    g = expand(doc, diags, top=TopLevel(name="other", doc="from the view"))
    assert (g.name, g.doc) == ("other", "from the view")


def test_a_wrong_plugins_section_is_reported_once(tmp_path: Path) -> None:
    doc, diags = _doc(tmp_path, "name: net\nplugins: abc\n")
    assert validate(doc, diags) is None
    g = expand(doc, diags)
    assert g.plugins == []
    assert [d.code for d in diags if d.severity.name == "ERROR"] == ["MS012"]


def test_a_spec_with_errors_keeps_the_sections_that_validate(tmp_path: Path) -> None:
    data = {"name": 5, "doc": "kept", "imports": {"good": "lib.yaml", "bad": 3}, "plugins": "abc"}
    assert top_level(data, None) == TopLevel(name=None, doc="kept", imports={"good": "lib.yaml"}, plugins=[])
    assert top_level([1, 2], None) == TopLevel()
