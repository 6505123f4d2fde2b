"""Tests for the `${...}` expression language (docs/language.md, section 5)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelspec.expand.expressions import (MAX_WORK, ExprError, Meter, _parse, evaluate, has_expression, names_in,
                                          substitute)

ENV: dict[str, Any] = {
    "h": 64, "L": 3, "i": 3, "hidden": [512, 256, 128], "act": "GELU", "use_act": False,
    "rate": 0.5, "cfg": {"width": 32, "depth": 4}, "name": "enc", "flag": True,
}


def fails(text: str, env: dict[str, Any] | None = None) -> ExprError:
    """The ExprError that substituting `text` raises."""
    with pytest.raises(ExprError) as info:
        substitute(text, ENV if env is None else env)
    return info.value


# --- whole-expression strings keep their type ---------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("${h}", 64), ("${2*L}", 6), ("${rate}", 0.5), ("${hidden}", [512, 256, 128]),
    ("${hidden[-1]}", 128), ("${flag}", True), ("${'ReLU'}", "ReLU"), ("${act}", "GELU"),
    ("${act if use_act else 'Identity'}", "Identity"), ("${ h }", 64), ("${h // 2}", 32),
    ("${[h, 2*h]}", [64, 128]), ("${(1, 2)}", [1, 2]), ("${None}", None), ("${null}", None),
    ("${true}", True), ("${false}", False), ("${cfg['width']}", 32), ("${'}'}", "}"),
    ('${"a{b}"}', "a{b}"), ("${h +\n 1}", 65),
])
def test_whole_expression_keeps_type(text: str, expected: object) -> None:
    result = substitute(text, ENV)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("text, expected", [
    ("conv_${i}", "conv_3"), ("${name}_${i}", "enc_3"), ("p=${rate}", "p=0.5"),
    (" ${h}", " 64"), ("${h}${h}", "6464"), ("x${flag}", "xTrue"), ("$${h}", "${h}"),
    ("cost $5", "cost $5"), ("a$${b}c${i}", "a${b}c3"), ("plain", "plain"), ("", ""),
])
def test_interpolation(text: str, expected: str) -> None:
    assert substitute(text, ENV) == expected


def test_substitute_walks_containers() -> None:
    spec = {"${h}": ["${h}", {"k": "${L}"}], "n": 5, "t": ("${i}",)}
    out = substitute(spec, ENV)
    assert out == {"${h}": [64, {"k": 3}], "n": 5, "t": (3,)}
    assert out is not spec and out["${h}"] is not spec["${h}"]
    assert substitute(7, ENV) == 7 and substitute(None, ENV) is None


# --- every allowed operator and function ---------------------------------------------------

@pytest.mark.parametrize("expr, expected", [
    ("7 + 2", 9), ("7 - 2", 5), ("7 * 2", 14), ("7 / 2", 3.5), ("7 // 2", 3), ("7 % 2", 1),
    ("2 ** 10", 1024), ("-h", -64), ("+h", 64), ("not flag", False), ("2 ** -1", 0.5),
    ("1 < 2 < 3", True), ("3 > 2 > 2", False), ("1 <= 1", True), ("2 >= 3", False),
    ("1 == 1.0", True), ("1 != 2", True), ("256 in hidden", True), ("5 not in hidden", True),
    ("'wid' in 'width'", True), ("'depth' in cfg", True), ("flag and h", 64),
    ("use_act or 'x'", "x"), ("0 and 1/0", 0), ("1 or 1/0", 1), ("'a' + 'b'", "ab"),
    ("'ab' * 2", "abab"), ("3 * [0]", [0, 0, 0]), ("hidden + [1]", [512, 256, 128, 1]),
    ("hidden[1:]", [256, 128]), ("hidden[::-1]", [128, 256, 512]), ("name[:2]", "en"),
    ("hidden[0] // hidden[-1]", 4), ("len(hidden)", 3), ("len('abc')", 3),
    ("min(hidden)", 128), ("max(3, 9, 4)", 9), ("range(3)", [0, 1, 2]),
    ("range(1, 10, 4)", [1, 5, 9]), ("int('12')", 12), ("int(3.9)", 3), ("float(2)", 2.0),
    ("round(2.567, 2)", 2.57), ("round(2.5)", 2), ("abs(-4)", 4), ("sum(hidden)", 896),
    ("sum([1, 2], 10)", 13), ("True + 1", 2), ("[1]", [1]), ("[]", []),
    ("hidden[L - 2]", 256), ("(h if flag else 0) + 1", 65), ("true and not false", True),
])
def test_allowed(expr: str, expected: object) -> None:
    assert evaluate(expr, ENV) == expected


# --- forbidden constructs: MS022 at the construct ------------------------------------------

@pytest.mark.parametrize("construct, word, at", [
    ("__import__('os')", "`__import__`", 0), ("().__class__", "attribute access", 0),
    ("[x for x in y]", "comprehension", 0), ("(lambda: 1)", "lambda", 1), ("open('f')", "`open`", 0),
    ("a.b", "attribute access", 0), ("f'{x}'", "f-string", 0), ("{1: 2}", "dict literal", 0),
    ("{1}", "set literal", 0), ("(x := 1)", "assignment", 1), ("[*hidden]", "starred", 1),
    ("(y for y in x)", "generator", 0), ("_secret", "`_`", 0), ("(1 << 2)", "`<<`", 1),
    ("~h", "`~`", 0), ("(h is None)", "`is`", 1), ("len(hidden, key=1)", "keyword", 12),
    ("b'x'", "bytes", 0), ("hidden[0](1)", "only the functions", 0),
    ("hidden[1:2, 0]", "slicing", 7), ("1j", "complex", 0), ("len(...)", "`...`", 4),
])
def test_forbidden_constructs(construct: str, word: str, at: int) -> None:
    err = fails("x_${1 + " + construct + "}")
    assert err.code == "MS022", err.message
    assert word in err.message, err.message
    assert err.offset == 8 + at  # 8: where `construct` starts in the string


def test_forbidden_call_suggests_close_function() -> None:
    err = fails("${lenn(hidden)}")
    assert err.code == "MS022" and err.suggestion == "did you mean `len`?"


def test_attribute_access_message() -> None:
    assert fails("${a.b}").message == "attribute access is not allowed in expressions"


def test_forbidden_even_in_untaken_branch() -> None:
    assert fails("${1 if true else open('f')}").code == "MS022"


# --- undefined names: MS021 with did-you-mean ----------------------------------------------

def test_undefined_name_offset_and_suggestion() -> None:
    err = fails("${h + hiden}")
    assert err.code == "MS021"
    assert err.message == "undefined name `hiden` in expression"
    assert err.offset == 6  # `$` at 0, `{` at 1, `h` at 2 ... `hiden` at 6
    assert err.suggestion == "did you mean `hidden`?"


def test_undefined_name_offsets_count_characters_not_bytes() -> None:
    err = fails("é ${'ü' + widht}")
    assert err.code == "MS021" and err.offset == 10


def test_undefined_name_in_untaken_branch() -> None:
    assert fails("${h if true else nope}").code == "MS021"


def test_evaluate_offset_argument_is_added() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("1 + nope", ENV, offset=10)
    assert info.value.offset == 14 and info.value.suggestion is None


def test_second_expression_offset() -> None:
    err = fails("a${h}b${x}")
    assert err.code == "MS021" and err.offset == 8


# --- syntax errors: MS020 ------------------------------------------------------------------

@pytest.mark.parametrize("text, offset", [
    ("${h", 0), ("ab ${h + (1}", 9), ("${}", 2), ("${   }", 2), ("${1 +}", 5), ("${1 2}", 4),
    ("x${'abc}", 1), ("${hidden[0}", 8), ("${1 )}", 4),
])
def test_syntax_errors(text: str, offset: int) -> None:
    err = fails(text)
    assert err.code == "MS020"
    assert err.offset == offset, err.message


# --- evaluation failures and safety bounds: MS023 ------------------------------------------

@pytest.mark.parametrize("expr, word", [
    ("1 / 0", "division by zero"), ("1 // 0", "division by zero"), ("1 % 0", "division by zero"),
    ("hidden[7]", "out of range"), ("cfg['widht']", "not in"), ("hidden + 1", "concatenate"),
    ("h[0]", "cannot index"), ("int('x')", "int() failed"), ("len(5)", "len() failed"),
    ("max()", "max() failed"), ("1 < 'a'", "'<' not supported"), ("-'a'", "bad operand"),
    ("(-8) ** 0.5", "complex"), ("'%s' % 1", "only for numbers"), ("hidden[::0]", "zero"),
    ("sum([[1]], [])", "numbers only"), ("range(1.5)", "range() failed"),
    ("2 ** 64", "larger than 2**63"), ("2.0 ** 64", "larger than 2**63"),
    ("hidden['a']", "cannot evaluate"), ("round(1e300 * 1e300)", "round() failed"),
])
def test_evaluation_failures(expr: str, word: str) -> None:
    with pytest.raises(ExprError) as info:
        evaluate(expr, ENV)
    assert info.value.code == "MS023" and word in info.value.message, info.value.message


def test_missing_key_suggests() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("cfg['widht']", ENV)
    assert info.value.suggestion == "did you mean `width`?"


@pytest.mark.parametrize("expr", [
    "2**100000", "'a'*10**9", "range(10**9)", "[0]*10**8", "10**9*'a'", "[[[0]*1000]*1000]*1000",
    "'a'*10**6 + 'b'", "range(0, 2**62*4)", "[range(10**6)] * 2", "-" * 5000 + "1", "(" * 300 + "1" + ")" * 300, "+".join(["1"] * 60), "9" * 5000,
])
def test_bounds_fail_fast(expr: str) -> None:
    """Refused before the oversized result is built: the work done stays within one evaluation's bound."""
    meter = Meter()
    with pytest.raises(ExprError) as info:
        evaluate(expr, ENV, meter=meter)
    assert info.value.code in ("MS020", "MS023"), info.value.message
    assert meter.work <= MAX_WORK and meter.steps <= 100, (meter.work, meter.steps)


def test_total_work_is_bounded() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("[" + ", ".join(["len(range(10**6))"] * 11) + "]", ENV)
    assert info.value.code == "MS023" and "in all" in info.value.message


def test_bound_limits_themselves_are_allowed() -> None:
    assert evaluate("2 ** 62 + 2 ** 62", ENV) == 2**63
    assert len(evaluate("'a' * 10**6", ENV)) == 10**6  # type: ignore[arg-type]
    assert len(evaluate("range(10**6)", ENV)) == 10**6  # type: ignore[arg-type]
    assert evaluate("+".join(["1"] * 50), ENV) == 50


def test_text_too_long() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("1" + " " * 10_000, ENV)
    assert info.value.code == "MS023"


def test_interpolated_string_too_long() -> None:
    assert fails("x${'a' * 10**6}").code == "MS023"


def test_env_value_of_foreign_type() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("x + 1", {"x": object()})
    assert info.value.code == "MS023"


def test_self_containing_env_list() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(ExprError):
        evaluate("x * 10**6", {"x": loop})
    assert evaluate("len(x)", {"x": loop}) == 2


# --- helpers --------------------------------------------------------------------------------

def test_has_expression() -> None:
    assert has_expression("${h}") and has_expression("a ${b") and has_expression("x${1}y")
    assert not has_expression("plain") and not has_expression("$${h}")
    assert not has_expression("cost $5") and not has_expression(5)  # type: ignore[arg-type]


def test_names_in() -> None:
    assert names_in("${h + len(hidden)} and ${act if use_act else 'x'}") == {
        "h", "hidden", "act", "use_act"}
    assert names_in("${true and null or x}") == {"x"}
    assert names_in("${a + } ${b} ${c") == {"b"}
    assert names_in("$${nope}") == set() and names_in("plain") == set()
    assert names_in("${open(f)}") == {"f"}


def test_evaluating_a_name_is_cheap() -> None:
    """Parsed once, then one tree node visited and nothing built per evaluation."""
    substitute("${h}", ENV)
    parsed = _parse.cache_info().misses
    meter = Meter()
    for _ in range(10_000):
        assert substitute("${h}", ENV, meter=meter) == ENV["h"]
    assert _parse.cache_info().misses == parsed
    assert (meter.steps, meter.work) == (10_000, 0)


# --- property tests ---------------------------------------------------------------------------

NAMES = {"a": 3, "b": -2, "c": 7}
LEAF = st.one_of(st.integers(-9, 9).map(str), st.sampled_from(sorted(NAMES)))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "//", "%", "/", "<", "==", "!=",
                                                  ">=", "and", "or"]), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.integers(0, 2)).map(lambda t: f"({t[0]} ** {t[1]})"),
        children.map(lambda c: f"(-{c})"), children.map(lambda c: f"(not {c})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.lists(children, min_size=1, max_size=3).map(lambda xs: f"max([{', '.join(xs)}])"),
        children.map(lambda c: f"abs({c})"),
    )


TREES = st.recursive(LEAF, _combine, max_leaves=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_matches_python_on_random_trees(text: str) -> None:
    # The oracle runs Python on trusted text generated by this test, never on user input.
    try:
        truth: object = eval(text, {"__builtins__": {"max": max, "abs": abs}}, dict(NAMES))
    except ZeroDivisionError:
        with pytest.raises(ExprError) as info:
            evaluate(text, NAMES)
        assert info.value.code == "MS023"
        return
    if isinstance(truth, complex) or (isinstance(truth, (int, float)) and abs(truth) > 2**63):
        return
    result = evaluate(text, NAMES)
    assert result == truth or (result != result and truth != truth)  # NaN is not itself
    assert type(result) is type(truth)
    assert substitute("v=${" + text + "}", NAMES) == f"v={truth}"


ALPHABET = st.sampled_from(list("${}$ab_()[]'\"\\+-*/%<>=!:.,0123456789 \n\téλ") + [
    "${", "}", "lambda", "for", "in", "if", "else", "__", "**", "9" * 30, "range(", "len("])


@settings(max_examples=600, deadline=None)
@given(st.lists(ALPHABET, max_size=25).map("".join))
def test_random_text_raises_only_expr_error(text: str) -> None:
    env = {"a": 1, "b": [1, 2], "ab": "x"}
    for call in (lambda: substitute(text, env), lambda: evaluate(text, env),
                 lambda: substitute("${" + text + "}", env)):
        try:
            call()
        except ExprError as e:
            assert e.code in ("MS020", "MS021", "MS022", "MS023")
            assert isinstance(e.offset, int) and e.offset >= 0
    names_in(text)
    has_expression(text)


def test_every_name_is_read_even_in_untaken_branches() -> None:
    class Tracking(dict):  # type: ignore[type-arg]
        read: set[str] = set()

        def __getitem__(self, key: str) -> Any:
            self.read.add(key)
            return super().__getitem__(key)

    env = Tracking(a=1, b=2, flag=True)
    assert substitute("${a if flag else b}", env) == 1
    assert env.read == {"a", "b", "flag"}
