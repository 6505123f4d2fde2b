"""Op attribute schemas: declared like pydantic models, checked in plain Python.

An op's attributes are a class of typed fields::

    class LinearAttrs(Attrs):
        features: int = Field(gt=0, description="Output features.")
        bias: bool = Field(True, description="Add a learnable bias.")

`Attrs` is not a pydantic model: importing pydantic and building a model per op
costs more than `modelspec lint` of a small spec takes to run.  Validation has
two paths, with one meaning:

- the fast path checks the values a spec usually holds (an `int` where an int
  goes, a list of ints for a tuple, a string of a `Literal`) against the field's
  type and constraints, then runs the class's validators;
- anything it is not certain of (a wrong value, a missing or unknown key, a
  coercion such as ``"3"`` -> 3, a type it does not know) goes to a pydantic
  model built from the same declaration on first use, which decides, and whose
  errors (`pydantic.ValidationError`) become the located messages.

The fast path accepts only what pydantic accepts, with the same result
(`tests/test_attrs_fast.py` compares them on generated values for every op), so
what an attribute accepts is decided by pydantic alone.  The JSON Schema and
`model_fields` come from the pydantic model too.

Supported in declarations: `Field` (default, ``default_factory``, ``description``,
``gt``/``ge``/``lt``/``le``, ``min_length``/``max_length``; other keywords are passed
to pydantic and make that field pydantic-checked), the decorators
`model_validator` (``mode="after"``) and `field_validator`, and types built from
int, float, bool, str, None, `Literal`, `Union`/`Optional`, `tuple` and
`Annotated[..., Field(...)]`.  A plugin may also use pydantic's own `Field` and
decorators: its class is then always checked by pydantic.
"""

from __future__ import annotations

import sys
import typing
from typing import Annotated, Any, Callable, ClassVar, Literal, Union, get_args, get_origin

#: a field without a default
REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()
#: what a fast check returns for "not certain": pydantic decides
_NO: Any = type("NotSure", (), {"__repr__": lambda self: "NOT_SURE"})()
#: keywords that describe a field without changing what it accepts
_DESCRIPTIVE = ("title", "examples", "json_schema_extra", "deprecated")

Check = Callable[[Any], Any]


class FieldSpec:
    """What `Field` returns: a field's default, description and constraints."""

    __slots__ = ("default", "default_factory", "description", "constraints", "extra")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None, description: str | None,
                 constraints: dict[str, Any], extra: dict[str, Any]) -> None:
        self.default = default
        self.default_factory = default_factory
        self.description = description
        self.constraints = constraints
        self.extra = extra

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and self.default_factory is None

    @property
    def plain(self) -> bool:
        """Whether the fast path knows every keyword (the others only pydantic checks)."""
        return all(k in _DESCRIPTIVE for k in self.extra)

    def pydantic(self) -> Any:
        """The same field as pydantic's `FieldInfo`."""
        from pydantic import Field as PydanticField  # lazy: pydantic builds models for messages and schemas only

        kw: dict[str, Any] = {k: v for k, v in self.constraints.items()}
        kw.update(self.extra)
        if self.description is not None:
            kw["description"] = self.description
        if self.default_factory is not None:
            kw["default_factory"] = self.default_factory
        elif self.default is not REQUIRED:
            kw["default"] = self.default
        return PydanticField(**kw)

    def __repr__(self) -> str:
        return f"Field(default={self.default!r}, description={self.description!r}, {self.constraints!r})"


def Field(default: Any = REQUIRED, *, default_factory: Callable[[], Any] | None = None,  # noqa: N802 - pydantic's name
          description: str | None = None, gt: Any = None, ge: Any = None, lt: Any = None, le: Any = None,
          min_length: int | None = None, max_length: int | None = None, **extra: Any) -> Any:
    """A field's default and constraints, with pydantic's `Field` signature (``...`` = required)."""
    given = {"gt": gt, "ge": ge, "lt": lt, "le": le, "min_length": min_length, "max_length": max_length}
    return FieldSpec(REQUIRED if default is ... else default, default_factory, description,
                     {k: v for k, v in given.items() if v is not None}, extra)


def model_validator(*, mode: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method ``check(self) -> self`` run after the fields are checked; it raises ValueError
    with the message the spec's author sees.  Only ``mode="after"``."""
    if mode != "after":
        raise TypeError("modelspec.ops.model_validator supports mode='after' only; use pydantic's for others")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__modelspec_check__ = True  # type: ignore[attr-defined]
        return fn

    return mark


class _FieldCheck:
    """A `field_validator`: ``check(cls, value) -> value`` for the named fields, after their type check."""

    def __init__(self, fields: tuple[str, ...], func: Callable[..., Any]) -> None:
        self.fields = fields
        self.func = func

    def __get__(self, obj: Any, owner: type) -> Any:
        return self.func.__get__(owner, type(owner))


def field_validator(*fields: str, mode: str = "after") -> Callable[[Any], Any]:
    """Mark a classmethod ``check(cls, value) -> value`` run on the named fields once typed."""
    if mode != "after":
        raise TypeError("modelspec.ops.field_validator supports mode='after' only; use pydantic's for others")

    def mark(fn: Any) -> _FieldCheck:
        return _FieldCheck(fields, getattr(fn, "__func__", fn))

    return mark


def _from_pydantic(v: Any) -> bool:
    return type(v).__module__.split(".")[0] in ("pydantic", "pydantic_core")


def _native_check(v: Any) -> bool:
    """A validator written with pydantic's own decorators (a plugin's)."""
    return type(v).__name__ == "PydanticDescriptorProxy" and _from_pydantic(v)


# ---- the fast checks ---------------------------------------------------------

def _int(v: Any) -> Any:
    return v if type(v) is int else _NO


def _float(v: Any) -> Any:
    t = type(v)
    return v if t is float else float(v) if t is int else _NO


def _bool(v: Any) -> Any:
    return v if type(v) is bool else _NO


def _str(v: Any) -> Any:
    return v if type(v) is str else _NO


def _none(v: Any) -> Any:
    return None if v is None else _NO


def _any(v: Any) -> Any:
    return v


_SCALARS: dict[Any, Check] = {int: _int, float: _float, bool: _bool, str: _str, type(None): _none, None: _none,
                              Any: _any}


def _bounded(check: Check, c: dict[str, Any]) -> Check:
    gt, ge, lt, le = c.get("gt"), c.get("ge"), c.get("lt"), c.get("le")
    lo, hi = c.get("min_length"), c.get("max_length")

    def bounded(v: Any) -> Any:
        v = check(v)
        if v is _NO:
            return _NO
        if lo is not None or hi is not None:
            if (lo is not None and len(v) < lo) or (hi is not None and len(v) > hi):
                return _NO
            return v
        if (gt is not None and not v > gt) or (ge is not None and not v >= ge) \
                or (lt is not None and not v < lt) or (le is not None and not v <= le):
            return _NO
        return v

    return bounded


def _literal(choices: tuple[Any, ...]) -> Check | None:
    if not all(type(a) in (str, int, bool) for a in choices):
        return None

    def literal(v: Any) -> Any:
        for a in choices:
            if type(v) is type(a) and v == a:
                return a
        return _NO

    return literal


def _union(members: list[Check]) -> Check:
    def union(v: Any) -> Any:
        found = _NO
        for m in members:
            r = m(v)
            if r is not _NO:
                if found is not _NO:
                    return _NO  # two members accept it: pydantic's union rules choose
                found = r
        return found

    return union


def _tuple(items: tuple[Any, ...]) -> Check | None:
    if len(items) == 2 and items[1] is Ellipsis:
        item = checker(items[0])
        if item is None:
            return None

        def tuple_of(v: Any) -> Any:
            if type(v) is not list and type(v) is not tuple:
                return _NO
            out = tuple(item(x) for x in v)
            return _NO if _NO in out else out

        return tuple_of
    fixed = [checker(a) for a in items]
    if not items or any(c is None for c in fixed):
        return None
    checks: list[Check] = fixed  # type: ignore[assignment]

    def tuple_fixed(v: Any) -> Any:
        if (type(v) is not list and type(v) is not tuple) or len(v) != len(checks):
            return _NO
        out = tuple(c(x) for c, x in zip(checks, v))
        return _NO if _NO in out else out

    return tuple_fixed


def checker(tp: Any, constraints: dict[str, Any] | None = None) -> Check | None:
    """A fast check of type ``tp``: the value pydantic gives, or `_NO` when not certain; None when the
    type (or a constraint on it) is not one the fast path knows."""
    c = dict(constraints or {})
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        for m in meta:
            if not isinstance(m, FieldSpec) or not m.plain or not m.required:
                return None
            c.update(m.constraints)
        return checker(base, c)
    lengths = "min_length" in c or "max_length" in c
    numbers = any(k in c for k in ("gt", "ge", "lt", "le"))
    if origin is Union or type(tp).__name__ == "UnionType":
        args = get_args(tp)
        if c:  # pydantic applies constraints of an Optional[X] to X; of other unions, not certain
            inner = [a for a in args if a is not type(None)]
            if len(inner) != 1 or len(args) != 2:
                return None
            members = [checker(inner[0], c), _none]
        else:
            members = [checker(a) for a in args]
        return None if any(m is None for m in members) else _union(members)  # type: ignore[arg-type]
    if origin is Literal:
        return None if c else _literal(get_args(tp))
    if origin is tuple:
        base = _tuple(get_args(tp))
        return None if base is None or numbers else _bounded(base, c) if lengths else base
    if isinstance(tp, type) or tp is None or tp is Any:
        base = _SCALARS.get(tp)
        if base is None or lengths and tp is not str or numbers and tp not in (int, float):
            return None
        return _bounded(base, c) if c else base
    return None


# ---- the schema of a class ----------------------------------------------------

class _Field:
    __slots__ = ("annotation", "spec", "default", "required", "check")

    def __init__(self, annotation: Any, spec: Any) -> None:
        self.annotation = annotation
        self.spec = spec  # a FieldSpec, pydantic's FieldInfo (a plugin's), or the default itself
        if isinstance(spec, FieldSpec):
            self.required, self.default = spec.required, spec.default
            self.check = checker(annotation, spec.constraints) if spec.plain else None
        elif _from_pydantic(spec):
            self.required, self.default, self.check = True, REQUIRED, None
        else:
            self.required, self.default, self.check = spec is REQUIRED, spec, checker(annotation)

    def value(self) -> Any:
        """The default, as pydantic gives it (never validated)."""
        spec = self.spec
        if isinstance(spec, FieldSpec) and spec.default_factory is not None:
            return spec.default_factory()
        return self.default


class _Schema:
    """A class's fields (bases first, as pydantic orders them) and validators, built on first use."""

    def __init__(self, cls: type[Attrs]) -> None:
        localns = cls.__dict__.get("__attrs_localns__")
        hints = typing.get_type_hints(cls, localns=localns, include_extras=True)
        self.fields: dict[str, _Field] = {}
        for name, tp in hints.items():
            if name.startswith("_") or tp is ClassVar or get_origin(tp) is ClassVar:
                continue
            spec = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), REQUIRED)
            self.fields[name] = _Field(tp, spec)
        checks: dict[str, Any] = {}
        for k in reversed(cls.__mro__):
            for name, v in k.__dict__.items():
                if isinstance(v, _FieldCheck) or getattr(v, "__modelspec_check__", False) or _native_check(v):
                    checks[name] = v
                elif name in checks:
                    del checks[name]  # overridden by a plain attribute
        self.native = {n: v for n, v in checks.items() if _native_check(v)}  # a plugin's pydantic decorators
        self.model_checks = [v for v in checks.values() if getattr(v, "__modelspec_check__", False)]
        self.field_checks: dict[str, list[Callable[..., Any]]] = {}
        for v in checks.values():
            if isinstance(v, _FieldCheck):
                for f in v.fields:
                    self.field_checks.setdefault(f, []).append(v.func)
        self.fast = not self.native and all(f.check is not None for f in self.fields.values())
        self.model: Any = None

    def validate(self, cls: type[Attrs], values: dict[str, Any]) -> Attrs | None:
        """The instance when the fast path is certain; None when pydantic must decide."""
        fields = self.fields
        for k in values:
            if k not in fields:
                return None
        out: dict[str, Any] = {}
        for name, f in fields.items():
            if name in values:
                v = f.check(values[name])  # type: ignore[misc]
                if v is _NO:
                    return None
                for fn in self.field_checks.get(name, ()):
                    try:
                        v = fn(cls, v)
                    except Exception:  # the validator's message comes from pydantic's run of it
                        return None
            elif f.required:
                return None
            else:
                v = f.value()
            out[name] = v
        obj = cls.construct(out)
        for fn in self.model_checks:
            try:
                fn(obj)
            except Exception:
                return None
        return obj

    def pydantic(self, cls: type[Attrs]) -> Any:
        """The pydantic model of the same declaration (built once): it decides, reports and writes the schema."""
        if self.model is None:
            from pydantic import BaseModel, ConfigDict  # lazy: only a wrong attribute, a schema or a plugin needs it
            from pydantic import field_validator as pyd_field_validator
            from pydantic import model_validator as pyd_model_validator

            ns: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                  "__doc__": cls.__dict__.get("__doc__"),
                                  "model_config": ConfigDict(extra="forbid", frozen=True)}
            ann: dict[str, Any] = {}
            for name, f in self.fields.items():
                ann[name] = _pydantic_type(f.annotation)
                spec = f.spec
                if isinstance(spec, FieldSpec):
                    ns[name] = spec.pydantic()
                elif spec is not REQUIRED:
                    ns[name] = spec
            ns["__annotations__"] = ann
            for i, fn in enumerate(self.model_checks):
                ns[f"_check_{i}"] = pyd_model_validator(mode="after")(_on_light(cls, fn))
            k = 0
            for fname, fns in self.field_checks.items():
                for fn in fns:
                    ns[f"_field_check_{k}"] = pyd_field_validator(fname)(classmethod(_for_light(cls, fn)))
                    k += 1
            ns.update(self.native)
            self.model = type(BaseModel)(cls.__name__, (BaseModel,), ns)
        return self.model


def _on_light(cls: type[Attrs], fn: Callable[..., Any]) -> Callable[..., Any]:
    def check(self: Any) -> Any:
        fn(cls.construct(dict(self)))
        return self
    return check


def _for_light(cls: type[Attrs], fn: Callable[..., Any]) -> Callable[..., Any]:
    def check(_model: Any, v: Any) -> Any:
        return fn(cls, v)
    return check


def _pydantic_type(tp: Any) -> Any:
    """``tp`` with every `FieldSpec` in its `Annotated` parts replaced by pydantic's `FieldInfo`."""
    origin, args = get_origin(tp), get_args(tp)
    if not args:
        return tp
    if origin is Annotated:
        meta = [m.pydantic() if isinstance(m, FieldSpec) else m for m in tp.__metadata__]
        return Annotated[(_pydantic_type(args[0]), *meta)]  # type: ignore[valid-type]
    if origin is Literal:
        return tp
    new = tuple(_pydantic_type(a) if a is not Ellipsis else a for a in args)
    if origin is Union or type(tp).__name__ == "UnionType":
        return Union[new]  # type: ignore[valid-type]
    return origin[new] if new != args else tp


class _ClassProperty:
    def __init__(self, fn: Callable[[type], Any]) -> None:
        self.fn = fn

    def __get__(self, obj: Any, owner: type) -> Any:
        return self.fn(owner)


class Attrs:
    """Base of every op's attribute schema: unknown attributes are errors, instances are frozen.

    A schema with a ``kernel`` may set the class variable ``ndim``: how many spatial
    axes the kernel covers (2 when absent), which labels such as ``3x3x3`` show.
    The instance API is the part of pydantic's the compiler uses: ``Cls(**values)`` /
    ``Cls.model_validate(values)`` (raising `pydantic.ValidationError`), ``model_dump``,
    ``model_fields``, ``model_json_schema``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        frame = sys._getframe(1)
        if frame.f_code.co_name != "<module>":  # a class in a function: its annotations may name locals
            cls.__attrs_localns__ = dict(frame.f_locals)

    # ---- the class ------------------------------------------------------
    @classmethod
    def schema(cls) -> _Schema:
        s = cls.__dict__.get("__attrs_schema__")
        if s is None:
            s = _Schema(cls)
            cls.__attrs_schema__ = s
        return s

    @classmethod
    def field_names(cls) -> list[str]:
        """The attribute names, in declaration order (bases first)."""
        return list(cls.schema().fields)

    @classmethod
    def annotation(cls, name: str) -> Any:
        """The declared type of attribute ``name`` (None for an unknown name)."""
        f = cls.schema().fields.get(name)
        return f.annotation if f is not None else None

    @classmethod
    def construct(cls, values: dict[str, Any]) -> Any:
        """An instance holding ``values`` as they are (already validated)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "__dict__", values)
        return obj

    @classmethod
    def model_validate(cls, values: Any) -> Any:
        """``values`` as an instance; raises pydantic's `ValidationError` when they are wrong."""
        s = cls.schema()
        if s.fast and type(values) is dict:
            obj = s.validate(cls, values)
            if obj is not None:
                return obj
        return cls.construct(dict(s.pydantic(cls).model_validate(values)))

    @classmethod
    def pydantic_model(cls) -> Any:
        """The pydantic model of this declaration (built on first use)."""
        return cls.schema().pydantic(cls)

    @_ClassProperty
    def model_fields(cls) -> dict[str, Any]:  # noqa: N805 - a property of the class
        return cls.pydantic_model().model_fields  # type: ignore[attr-defined]

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return cls.pydantic_model().model_json_schema(*args, **kwargs)  # type: ignore[no-any-return]

    # ---- an instance ----------------------------------------------------
    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "__dict__", type(self).model_validate(values).__dict__)

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        """The values by name; ``mode="json"``: tuples as lists."""
        if mode == "json":
            return {k: _jsonable(v) for k, v in self.__dict__.items()}
        return dict(self.__dict__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is frozen: `{name}` cannot be set")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"{type(self).__name__} is frozen: `{name}` cannot be deleted")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.__dict__.values())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"

    def __iter__(self) -> Any:
        return iter(self.__dict__.items())


def _jsonable(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return v
