"""The JSON Schema: committed copy up to date, catalog valid, per-op attributes checked."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.diagnostics import Diagnostics
from modelspec.load import load_document
from modelspec.ops.registry import builtin_ops
from modelspec.validate.schema import build_schema, schema_text

ROOT = pathlib.Path(__file__).parent.parent
COMMITTED = ROOT / "schemas" / "modelspec-1.schema.json"
CATALOG = sorted(p for p in (ROOT / "specs").iterdir() if p.suffix in (".yaml", ".toml"))


def test_committed_schema_is_current() -> None:
    assert COMMITTED.exists(), "run: modelspec schema -o schemas/modelspec-1.schema.json"
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        "schemas/modelspec-1.schema.json is out of date; regenerate it with "
        "`modelspec schema -o schemas/modelspec-1.schema.json` and commit the result"
    )


def test_schema_shape() -> None:
    s = build_schema()
    assert "$id" not in s and s["$schema"]  # no made-up address: editors point at the file
    assert s["$schema"].endswith("/draft/2020-12/schema")
    assert s["title"] and s["description"]
    assert s["properties"]["layers"]["items"] == {"$ref": "#/$defs/Node"}
    branches = [b["$ref"].rpartition("/")[2] for b in s["$defs"]["Node"]["anyOf"]]
    assert {f"Op_{n}" for n in builtin_ops()} <= set(branches)
    assert {"BareNode", "BlockInstance", "Group", "OpNodeOther"} <= set(branches)
    conv = s["$defs"]["Op_Conv2d"]
    assert conv["properties"]["op"] == {"const": "Conv2d", "description": conv["properties"]["op"]["description"]}
    assert conv["additionalProperties"] is False and conv["required"] == ["op", "channels", "kernel"]
    assert {"$ref": "#/$defs/Expr"} in conv["properties"]["channels"]["anyOf"]
    assert "NodeSpec" not in json.dumps(s) and "oneOf" not in json.dumps(s)
    assert schema_text().endswith("}\n") and schema_text() == schema_text()


def test_schema_cli(tmp_path: pathlib.Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0 and json.loads(res.output) == build_schema()
    out = tmp_path / "s.json"
    res = runner.invoke(app, ["schema", "-o", str(out)])
    assert res.exit_code == 0 and out.read_text(encoding="utf-8") == schema_text()
    res = runner.invoke(app, ["schema", "--bogus"])
    assert res.exit_code == 2


# ---- validation (only where the optional `jsonschema` package is installed) ----

def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(build_schema())


def _errors(data: Any) -> list[str]:
    return [e.message for e in _validator().iter_errors(data)]


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(build_schema())


@pytest.mark.parametrize("path", CATALOG, ids=[p.name for p in CATALOG])
def test_catalog_validates(path: pathlib.Path) -> None:
    doc = load_document(path, Diagnostics())
    assert doc is not None
    assert _errors(doc.data) == []


def _spec(*layers: Any) -> dict[str, Any]:
    return {"modelspec": 1, "name": "X", "time": {"steps": 2}, "inputs": {"x": ["B", 8]}, "layers": list(layers)}


def test_misspelt_attribute_fails() -> None:
    assert _errors(_spec({"op": "Linear", "features": 4})) == []
    assert _errors(_spec({"op": "Linear", "featurs": 4}))
    assert _errors(_spec({"op": "Conv2d", "channels": 4, "kernel": 3, "paddng": 1}))


def test_expressions_durations_blocks_and_groups_pass() -> None:
    ok = _spec(
        "ReLU",
        {"op": "Linear", "features": "${h}", "in": {"from": "x"}},
        {"op": "EulerStep", "tau": "5ms", "in": ["linear_0", {"from": "relu_0", "delay": 1}]},
        {"op": "${act}", "anything": 1},
        {"name": "res", "block": "Residual", "dim": 8, "repeat": 2},
        {"name": "g", "layers": [{"op": "Dropout", "p": 0.1}]},
    )
    assert _errors(ok) == []
    assert _errors(_spec({"op": "Linear", "features": "lots"}))  # neither an int nor an expression
    assert _errors(_spec({"op": "Linear", "features": 4, "block": "B"}))  # op and block
