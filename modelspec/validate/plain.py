"""The structure check of `validate.models` for well-formed files, in plain Python.

Building the pydantic models of the language costs more than `modelspec lint`
of a small spec takes to run, and most files checked are fine.  So
`spec_is_plain` answers one question: is ``data`` certainly valid as the
spec body (`_SpecBody`, or `LibraryFile`)?  It accepts only exact types and
the simplest forms (an `int` where an int is allowed, a `str` containing
`${` where an expression is), so whatever it accepts the models accept too
(`tests/test_plain_validate.py` checks it against them).  A False is only "not
sure": `validate_file` then runs the models, which give the messages.  What the
language accepts is decided by the models alone.
"""

from __future__ import annotations

from typing import Any, Callable

Check = Callable[[Any], bool]


def _str(v: Any) -> bool:
    return type(v) is str


def _opt_str(v: Any) -> bool:
    return v is None or type(v) is str


def _int(v: Any) -> bool:
    return type(v) is int


def _expr(v: Any) -> bool:
    """A string the `Expr` pattern (`\\$\\{`, searched) accepts; pydantic refuses lone surrogates there."""
    if type(v) is not str or "${" not in v:
        return False
    if v.isascii():
        return True
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int_or_expr(v: Any) -> bool:
    return type(v) is int or _expr(v)


def _num_or_expr(v: Any) -> bool:
    return type(v) is int or type(v) is float or _expr(v)


def _int_or_str(v: Any) -> bool:
    return type(v) is int or type(v) is str


def _opt_bool_or_expr(v: Any) -> bool:
    return v is None or type(v) is bool or _expr(v)


def _list_of(item: Check) -> Check:
    def check(v: Any) -> bool:
        if type(v) is not list:
            return False
        for x in v:
            if not item(x):
                return False
        return True
    return check


def _dict_of(value: Check | None) -> Check:
    def check(v: Any) -> bool:
        if type(v) is not dict:
            return False
        for k, x in v.items():
            if type(k) is not str or (value is not None and not value(x)):
                return False
        return True
    return check


def _strict(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A mapping with only these keys (by alias), the required ones present."""
    def check(v: Any) -> bool:
        if type(v) is not dict:
            return False
        for k, x in v.items():
            chk = fields.get(k) if type(k) is str else None
            if chk is None or not chk(x):
                return False
        for k in required:
            if k not in v:
                return False
        return True
    return check


def _one_of(*choices: str) -> Check:
    allowed = frozenset(choices)
    return lambda v: type(v) is str and v in allowed


def _optional(chk: Check) -> Check:
    return lambda v: v is None or chk(v)


_dims = _list_of(_int_or_str)


def _shape(v: Any) -> bool:
    return _dims(v) or _expr(v)


_input_long = _strict({"shape": _shape,
                       "dtype": _one_of("float32", "float16", "bfloat16", "float64", "int32", "int64", "bool"),
                       "static": lambda v: type(v) is bool or _expr(v), "doc": _opt_str}, ("shape",))
_output_long = _strict({"from": _str, "shape": _optional(_shape),
                        "steps": lambda v: (type(v) is str and v in ("all", "last")) or _expr(v),
                        "doc": _opt_str}, ("from",))
_in_long = _strict({"from": _str, "delay": _int_or_str}, ("from",))


def _input(v: Any) -> bool:
    return _input_long(v) if type(v) is dict else _shape(v)


def _output(v: Any) -> bool:
    return _output_long(v) if type(v) is dict else type(v) is str


def _in_item(v: Any) -> bool:
    return type(v) is str or (type(v) is dict and _in_long(v))


_in_list = _list_of(_in_item)
_in_ports = _dict_of(_in_item)


def _in(v: Any) -> bool:
    if v is None or type(v) is str:
        return True
    if type(v) is list:
        return _in_list(v)
    if type(v) is dict:
        return _in_long(v) if "from" in v else _in_ports(v)
    return False


_repeat_long = _strict({"count": _int_or_expr, "index": _str}, ("count",))
_foreach = _dict_of(lambda x: type(x) is list or type(x) is str)


def _group(v: Any) -> bool:
    return v is None or type(v) is int or _expr(v) or _items(v)


#: NodeSpec's fields by alias; any other key is an op attribute (extra="allow")
_NODE: dict[str, Check] = {
    "name": lambda v: v is None or type(v) is str or type(v) is int,
    "op": _opt_str, "block": _opt_str, "layers": _group, "in": _in,
    "repeat": lambda v: v is None or type(v) is int or _expr(v) or _repeat_long(v),
    "foreach": _optional(_foreach), "when": _opt_bool_or_expr,
    "share": _opt_str, "params_at": _opt_str, "doc": _opt_str,
}


def _node(v: Any) -> bool:
    """A `NodeItem`: a bare op name, or a node mapping."""
    if type(v) is str:
        return True
    if type(v) is not dict:
        return False
    for k, x in v.items():
        chk = _NODE.get(k)
        if chk is None:
            if type(k) is not str or k == "in_" or k[:1] == "_" or k[:6] == "model_":
                return False  # a field by its name (`in_`), or a name pydantic may treat apart
        elif not chk(x):
            return False
    return True


def _items(v: Any) -> bool:
    if type(v) is not list:
        return False
    for x in v:
        if type(x) is not str and not _node(x):
            return False
    return True


_edge = _strict({"from": _str, "to": _str, "delay": _int_or_str, "via": lambda v: v is None or _node(v),
                 "adapt": _one_of("auto", "none"), "kind": _optional(_one_of("skip", "feedback")),
                 "name": _opt_str, "when": _opt_bool_or_expr, "params_at": _opt_str, "doc": _opt_str},
                ("from", "to"))
_edges = _list_of(_edge)
_any_dict = _dict_of(None)
_block = _strict({"doc": _opt_str, "params": _any_dict, "inputs": _list_of(_str),
                  "outputs": _optional(_dict_of(_str)), "layers": _items, "edges": _edges}, ("layers",))
_time = _strict({"steps": _int_or_expr, "dt": _num_or_expr, "idle": _int_or_expr}, ("steps",))

_COMMON: dict[str, Check] = {
    "$schema": _opt_str, "modelspec": lambda v: type(v) is int and v == 1, "doc": _opt_str,
    "params": _any_dict, "imports": _dict_of(_str), "plugins": _list_of(_str), "blocks": _dict_of(_block),
}
_body = _strict({**_COMMON, "name": _str, "time": _optional(_time), "inputs": _dict_of(_input),
                 "outputs": _optional(_dict_of(_output)), "layers": _items, "edges": _edges,
                 "train": lambda v: True}, ("modelspec", "name", "inputs", "layers"))
_library = _strict({**_COMMON, "name": _opt_str}, ("modelspec",))


def spec_is_plain(data: Any, library: bool = False) -> bool:
    """True when ``data`` is certainly valid as a spec body (its `train:` not looked at) or, with
    ``library``, as a block library; False when the pydantic models must say."""
    return (_library if library else _body)(data)
