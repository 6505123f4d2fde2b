"""Op attributes: the plain-Python fast path agrees with pydantic, which decides.

`Attrs.model_validate` answers from its fast check when it is certain and asks the
pydantic model of the same declaration otherwise.  Here every built-in op's fast
check is run on generated attribute mappings (right, wrong, coercible, unknown
keys) and each value it accepts is compared with what pydantic gives: same
values, same types.  A value it is not sure of is not compared (pydantic decides it).
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from modelspec.commands.ops import example_attrs
from modelspec.ops import Attrs, Field, all_ops, field_validator, model_validator
from modelspec.ops.registry import builtin_ops

ROOT = Path(__file__).resolve().parent.parent
SCALARS: list[Any] = [0, 1, 2, 3, 5, 7, -1, 2**40, 0.0, 0.5, 1.0, 3.0, -2.5, 1e-5, math.inf, math.nan,
                      True, False, None, "", "x", "B", " B ", "3", "-1", "same", "valid", "none", "tanh"]
LISTS: list[Any] = [[], [1], [2, 2], [3, 3, 3], [1, 2, 3, 4], [1, "B"], [1.0, 2.0], [True, 1], [0, 1],
                    [None, 2], [2, None], (3, 3), ["B", -1], [-1, -1], [1, 0]]


def literals(tp: Any) -> list[Any]:
    """Every Literal value inside an annotation, so choices are drawn as often as wrong values."""
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    return [v for a in typing.get_args(tp) for v in literals(a)]


def draw(rng: random.Random, pool: list[Any]) -> Any:
    v = rng.choice(pool)
    return list(v) if isinstance(v, list) else v


def typed(d: dict[str, Any]) -> list[tuple[str, str]]:
    """Values with their types, nested (nan compares equal to itself through repr)."""
    def t(v: Any) -> str:
        if isinstance(v, tuple):
            return "(" + ",".join(t(x) for x in v) + ")"
        return f"{type(v).__name__}:{v!r}"
    return [(k, t(v)) for k, v in d.items()]


@pytest.mark.parametrize("name", sorted(builtin_ops()))
def test_the_fast_path_gives_what_pydantic_gives(name: str) -> None:
    cls = builtin_ops()[name].Attrs
    schema = cls.schema()
    assert schema.fast, f"{name}: an attribute the fast path cannot check"
    model = cls.pydantic_model()
    rng = random.Random(name)
    fields = cls.field_names()
    example = example_attrs(builtin_ops()[name])
    accepted = 0
    for k in range(600):
        values = dict(example) if k % 2 else {}
        for f in fields:
            if rng.random() < (0.6 if k % 3 else 0.2):
                values[f] = draw(rng, SCALARS + LISTS + literals(cls.annotation(f)) * 4)
        if rng.random() < 0.05:
            values["unknown"] = 1
        fast = schema.validate(cls, dict(values))
        if fast is None:
            continue
        accepted += 1
        try:
            slow = model.model_validate(values)
        except ValidationError as exc:
            raise AssertionError(f"{name}: the fast path accepted {values!r}, pydantic refuses it: {exc}")
        assert typed(fast.model_dump()) == typed(dict(slow)), values
    assert schema.validate(cls, dict(example)) is not None, "the documented example takes the fast path"
    assert accepted > 0


def test_an_instance_behaves_as_a_frozen_model() -> None:
    conv = builtin_ops()["Conv2d"].Attrs
    a = conv(channels=8, kernel=[3, 3])
    b = conv.model_validate({"channels": 8, "kernel": (3, 3)})
    assert a == b and hash(a) == hash(b) and a.kernel == (3, 3) and a.stride == 1
    assert repr(a).startswith("Conv2dAttrs(channels=8, kernel=(3, 3), stride=1,")
    assert a.model_dump(mode="json")["kernel"] == [3, 3] and a.model_dump()["kernel"] == (3, 3)
    with pytest.raises(TypeError):
        a.channels = 4  # type: ignore[misc]
    assert a != conv(channels=8, kernel=3)
    assert list(conv.model_fields)[:3] == ["channels", "kernel", "stride"]  # pydantic's FieldInfo, in order


def test_own_declarations_checked_fast_and_reported_by_pydantic() -> None:
    class Window(Attrs):
        size: tuple[int, ...] = Field(min_length=1, description="Sizes.")
        scale: float = Field(1.0, gt=0)
        mode: typing.Literal["a", "b"] = "a"

        @field_validator("size")
        @classmethod
        def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
            if any(x < 1 for x in v):
                raise ValueError("sizes must be positive")
            return tuple(sorted(v))

        @model_validator(mode="after")
        def _check(self) -> "Window":
            if self.mode == "b" and len(self.size) != 2:
                raise ValueError("mode b needs two sizes")
            return self

    assert Window.schema().fast
    w = Window(size=[3, 1], scale=2)
    assert w.size == (1, 3) and w.scale == 2.0 and type(w.scale) is float
    for bad, says in [({"size": [0]}, "sizes must be positive"), ({"size": [1], "mode": "b"}, "mode b needs two"),
                      ({"size": []}, "at least 1 item"), ({"size": [1], "scale": 0}, "greater than 0"),
                      ({"size": [1], "extra": 1}, "Extra inputs are not permitted"), ({}, "Field required")]:
        with pytest.raises(ValidationError, match=says):
            Window.model_validate(bad)
    assert Window.model_validate({"size": ["2"]}).size == (2,)  # a coercion pydantic makes: not the fast path's
    schema = Window.model_json_schema()
    assert schema["properties"]["scale"] == {"default": 1.0, "exclusiveMinimum": 0, "title": "Scale",
                                             "type": "number"}
    assert schema["required"] == ["size"]


def test_a_plugin_may_declare_with_pydantic_itself() -> None:
    import pydantic

    class Old(Attrs):
        n: int = pydantic.Field(2, ge=1)

        @pydantic.model_validator(mode="after")
        def _even(self) -> "Old":
            if self.n % 2:
                raise ValueError("n must be even")
            return self

    assert not Old.schema().fast  # pydantic decides every time
    assert Old().n == 2 and Old(n=4).n == 4 and isinstance(Old(n=4), Old)
    with pytest.raises(ValidationError, match="n must be even"):
        Old(n=3)


def test_loading_valid_specs_imports_no_pydantic() -> None:
    code = ("import sys\nfrom modelspec.pipeline import load\n"
            "load('specs/resnet18.yaml'); load('specs/dyrcnn_x4.yaml')\n"
            "print('pydantic.main' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
