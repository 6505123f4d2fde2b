"""The `${...}` expression language of docs/language.md, section 5.

Specs are data, so expressions must never reach Python itself: user text is
parsed with `ast` and nothing here passes it to eval, exec or compile.  A
parsed tree is checked once (and cached) against a whitelist of constructs;
a small interpreter then walks it under size and work bounds, so that a
mistaken or hostile spec fails fast with a located `ExprError` (MS020-MS023)
instead of hanging, exhausting memory or leaking a raw Python exception.
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import operator
import tokenize
import warnings
from typing import Any, Callable, Mapping, NoReturn

from ..diagnostics import did_you_mean
from ..exceptions import ModelspecError

MAX_TEXT = 10_000  # characters of one expression
MAX_DEPTH = 50  # nesting of expression nodes
MAX_ITEMS = 1_000_000  # items of one list or string
MAX_WORK = 10_000_000  # items created by one evaluation, in all
MAX_EXPONENT = 64
MAX_MAGNITUDE = 2**63  # of every integer an expression reads, writes or computes
MAX_HINTS = 1_000_000  # names compared for did-you-mean hints, per Meter
MAX_PARTS = 1_000  # `${...}` in one string

_ALIASES: dict[str, object] = {"true": True, "false": False, "null": None}
_PLAIN = (bool, int, float, str, list, tuple, dict, type(None))
_SEQ = (str, list, tuple)
_FUNCS: dict[str, Callable[..., Any]] = {
    "len": len, "min": min, "max": max, "range": range, "int": int,
    "float": float, "round": round, "abs": abs, "sum": sum,
}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNOPS: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_SYMBOLS: dict[type, str] = {
    ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
    ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not",
}
_FORBIDDEN: dict[type, str] = {
    ast.Attribute: "attribute access", ast.Lambda: "a lambda",
    ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression",
    ast.JoinedStr: "an f-string", ast.FormattedValue: "an f-string",
    ast.Dict: "a dict literal", ast.Set: "a set literal", ast.Starred: "a starred expression",
    ast.NamedExpr: "an assignment expression (`:=`)", ast.Await: "`await`",
    ast.Yield: "`yield`", ast.YieldFrom: "`yield`", ast.Slice: "multi-dimensional slicing",
}
_ALLOWED = {ast.BoolOp, ast.IfExp, ast.List, ast.Tuple, ast.BinOp, ast.UnaryOp, ast.Compare}


class ExprError(ModelspecError):
    """An expression problem, located by `offset` in the original string value.

    An empty `code` means the expression read a value whose own failure was
    reported already (see `FAILED`): callers say nothing more about it.
    """

    def __init__(self, code: str, message: str, offset: int = 0,
                 suggestion: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.offset = offset
        self.suggestion = suggestion

    def __str__(self) -> str:
        return f"{self.code} at offset {self.offset}: {self.message}"


#: the name `in` (a Python keyword) stands for inside a parsed expression: `in.shape` -> `_i.shape`,
#: the same length, so columns still match; users cannot write it (names may not start with `_`)
IN_NAME = "_i"
#: the env key of the shape source that `in` reads (a keyword, so never a param or variable)
IN_KEY = "in"


class Sym(str):
    """A symbolic dim read from `in.shape` (``"B"``): usable as a symbol, not as a number."""

    __slots__ = ()


class ShapeSource:
    """What `in` is in an env: the input whose inferred shape `in.shape` reads (see expand/inshape.py)."""

    def shape(self) -> list[Any]:  # pragma: no cover - the expander's subclass answers
        raise ExprError("MS027", "`in.shape` is not known here")


def _rewrite_in(src: str) -> tuple[str, frozenset[int]]:
    """`in.shape` as `_i.shape` (same columns), and the offsets rewritten; `x in xs` is left alone."""
    if "in" not in src or "." not in src:
        return src, frozenset()
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return src, frozenset()
    at = [t.start[1] for t, nxt in zip(toks, toks[1:])
          if t.type == tokenize.NAME and t.string == "in" and t.start[0] == 1 and nxt.string == "."]
    for col in at:
        src = src[:col] + IN_NAME + src[col + 2:]
    return src, frozenset(at)


class _Failed:
    """The value of a param whose expression failed: reading it fails quietly."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<failed>"


FAILED = _Failed()


class Meter:
    """Work done by evaluations, summed: items built (`work`) and tree nodes visited (`steps`).

    With a `limit`, the items of all evaluations together are bounded too, so
    that many modest expressions (one per repeated node) cannot add up to a hang.
    """

    __slots__ = ("work", "steps", "limit", "hints")

    def __init__(self, limit: int | None = None) -> None:
        self.work = 0
        self.steps = 0
        self.limit = limit
        #: names that did-you-mean hints may still compare (see `suggest`)
        self.hints = MAX_HINTS


def suggest(word: str, choices: Any, meter: Meter | None) -> str | None:
    """A did-you-mean hint, while `meter` has comparisons left.

    Each hint compares the word with every choice; a spec with 100,000 params
    and as many misspelt uses would make that quadratic, so the hints of one
    expansion share a budget, and the messages lose only their hints past it.
    """
    if meter is not None:
        meter.hints -= len(choices)
        if meter.hints < 0:
            return None
    return did_you_mean(word, choices)


def _col(src: str, node: ast.AST) -> int:
    """Character offset of a node: ast columns count UTF-8 bytes, callers count characters."""
    col = getattr(node, "col_offset", 0)
    return col if src.isascii() else len(src.encode()[:col].decode("utf-8", "ignore"))


def _fail(code: str, message: str, src: str, node: ast.AST, suggestion: str | None = None) -> NoReturn:
    raise ExprError(code, message, _col(src, node), suggestion)


def _check(node: ast.expr, src: str, depth: int, names: list[ast.Name], ins: frozenset[int] = frozenset()) -> None:
    """Refuse, before anything runs, every construct that section 5 does not allow.

    ``ins``: the columns where `in` was written (see `_rewrite_in`); only `in.shape` reads an attribute.
    """
    if depth > MAX_DEPTH:
        _fail("MS023", f"expression is nested more than {MAX_DEPTH} levels deep", src, node)
    kind = type(node)
    children: list[ast.expr] = []
    if kind is ast.Attribute and isinstance(node.value, ast.Name) and node.value.id == IN_NAME \
            and node.value.col_offset in ins:
        if node.attr != "shape":
            _fail("MS022", f"`in` has one attribute, `shape`, not `{node.attr}`", src, node,
                  did_you_mean(node.attr, ["shape"]))
        return
    if kind is ast.Name and node.id == IN_NAME and node.col_offset in ins:
        _fail("MS022", "`in` alone is not a value; read its shape with `in.shape`", src, node)
    if kind is ast.Name:
        if node.id.startswith("_"):
            _fail("MS022", "names starting with `_` are not allowed in expressions", src, node)
        if node.id not in _ALIASES:
            names.append(node)
    elif kind is ast.Constant:
        if type(node.value) not in (int, float, str, bool, type(None)):
            what = type(node.value).__name__ if node.value is not ... else "`...`"
            _fail("MS022", f"{what} literals are not allowed in expressions", src, node)
    elif kind is ast.Call:
        func = node.func
        if not isinstance(func, ast.Name):
            _check(func, src, depth + 1, names, ins)  # `().__class__()`: name the attribute access
            _fail("MS022", f"only the functions {' '.join(_FUNCS)} may be called", src, node)
        if func.id not in _FUNCS:
            _fail("MS022", f"calling `{func.id}` is not allowed in expressions (allowed "
                  f"functions: {' '.join(_FUNCS)})", src, node, did_you_mean(func.id, _FUNCS))
        if node.keywords:
            _fail("MS022", "keyword arguments are not allowed in expressions", src, node.keywords[0])
        children = node.args
    elif kind is ast.Subscript:
        sl = node.slice
        children = [node.value] + ([e for e in (sl.lower, sl.upper, sl.step) if e]
                                   if isinstance(sl, ast.Slice) else [sl])
    elif kind in _ALLOWED:
        for op in getattr(node, "ops", [getattr(node, "op", None)]):
            if type(op) in _SYMBOLS:
                _fail("MS022", f"operator `{_SYMBOLS[type(op)]}` is not allowed in expressions", src, node)
        children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
    else:
        what = _FORBIDDEN.get(kind, f"`{kind.__name__}`")
        _fail("MS022", f"{what} is not allowed in expressions", src, node)
    for child in children:
        _check(child, src, depth + 1, names, ins)


def _tree(src: str) -> ast.Expression:
    """`ast.parse` without the SyntaxWarnings that odd escapes in user strings raise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(src, mode="eval")


@functools.lru_cache(maxsize=4096)
def _parse(expr: str) -> tuple[str, int, ast.expr, tuple[ast.Name, ...]]:
    """Parse and check once per distinct text; returns (source, shift, tree, names).

    Line breaks become spaces (a YAML block may wrap a long expression) and
    leading blanks are cut (`${ h }`), so every ast column maps to `shift + col`.
    """
    if len(expr) > MAX_TEXT:
        raise ExprError("MS023", f"expression is longer than {MAX_TEXT:,} characters")
    flat = expr.replace("\r", " ").replace("\n", " ")
    src, ins = _rewrite_in(flat.lstrip())
    shift = len(flat) - len(src)
    if not src.strip():
        raise ExprError("MS020", "empty expression `${}`")
    bare = src.rstrip()
    if bare.isidentifier() and not keyword.iskeyword(bare) and bare.isascii():
        # the commonest expression, `${name}`: the same tree the parser would give, without it
        tree = ast.Expression(ast.Name(id=bare, ctx=ast.Load(), lineno=1, col_offset=0,
                                       end_lineno=1, end_col_offset=len(bare)))
    else:
        tree = None
    try:
        tree = tree or _tree(src)
    except SyntaxError as e:
        at = (e.offset or len(src) + 1) - 1 if e.lineno in (1, None) else len(src)
        raise ExprError("MS020", f"syntax error in expression: {e.msg}",
                        shift + max(0, min(at, len(src)))) from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExprError("MS023", f"expression cannot be read: {type(e).__name__}", shift) from None
    names: list[ast.Name] = []
    try:
        _check(tree.body, src, 1, names, ins)
    except ExprError as e:
        e.offset += shift
        raise
    return src, shift, tree.body, tuple(names)


class _Eval:
    """One evaluation: the env, and the sizes of lists built so far (for the bounds)."""

    __slots__ = ("env", "src", "sizes", "work", "steps", "meter")

    def __init__(self, env: Mapping[str, object], src: str, meter: Meter | None) -> None:
        self.env = env
        self.src = src
        self.sizes: dict[int, tuple[object, int]] = {}
        self.work = 0
        self.steps = 0
        self.meter = meter

    def fail(self, message: str, node: ast.AST, suggestion: str | None = None) -> NoReturn:
        _fail("MS023", message, self.src, node, suggestion)

    def size(self, v: object) -> int:
        """Items in a value, nested lists counted in full (what str() of it would print)."""
        if isinstance(v, str):
            return len(v) or 1
        if not isinstance(v, (list, tuple, dict)):
            return 1
        known = self.sizes.get(id(v))
        if known is not None:
            return known[1]
        self.sizes[id(v)] = (v, 1)  # a self-containing list must not recurse forever
        items = list(v.items()) if isinstance(v, dict) else v
        n = max(1, sum(self.size(x) for x in items))
        self.sizes[id(v)] = (v, n)
        return n

    def made(self, v: Any, n: int, node: ast.AST) -> Any:
        """Account for a new list or string of `n` items (`v`, or None before it is built).

        Returns `v`, or `n` when `v` is None; refuses anything over the bounds.
        """
        if n > MAX_ITEMS:
            self.fail(f"result would have {n:,} items, more than {MAX_ITEMS:,}", node)
        self.work += n
        if self.work > MAX_WORK:
            self.fail(f"expression builds more than {MAX_WORK:,} items in all", node)
        m = self.meter
        if m is not None and m.limit is not None and m.work + self.work > m.limit:
            _fail("MS004", f"the spec's expressions build more than {m.limit:,} items in all", self.src, node,
                  "a repeat or foreach evaluates this for every copy; compute large values once, in a param")
        return n if v is None else self.keep(v, n)

    def keep(self, v: Any, n: int) -> Any:
        """Remember the size of a list built here, so later bounds need not count it again."""
        if isinstance(v, list):
            self.sizes[id(v)] = (v, max(1, n))
        return v

    def ev(self, node: ast.expr) -> Any:
        self.steps += 1
        value = _DISPATCH[type(node)](self, node)
        if type(value) is int and not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            # every integer result, not only `**`: `p*p` chains grow without end otherwise
            self.fail(f"`{self.text(node)}` is larger than 2**63", node)
        return value

    def constant(self, node: ast.Constant) -> Any:
        return node.value

    def name(self, node: ast.Name) -> Any:
        if node.id in _ALIASES:
            return _ALIASES[node.id]
        value = self.env[node.id]
        if value is FAILED:
            raise ExprError("", f"`{node.id}` has an error of its own", _col(self.src, node))
        if not isinstance(value, _PLAIN):
            self.fail(f"`{node.id}` is a {type(value).__name__}, which expressions cannot use", node)
        return value

    def list_(self, node: ast.List | ast.Tuple) -> Any:
        items = [self.ev(e) for e in node.elts]
        return self.made(items, sum(self.size(x) for x in items), node)

    def symbolic(self, node: ast.expr, *args: Any) -> None:
        """Refuse arithmetic on a symbolic dim from `in.shape`: its size is known only at run time."""
        for a in args:
            sym = a if isinstance(a, Sym) else next((x for x in a if isinstance(x, Sym)), None) \
                if isinstance(a, list) else None
            if sym is not None:
                self.fail(f"cannot evaluate `{self.text(node)}`: `{sym}` is a symbolic dim of `in.shape`, whose size "
                          "is known only when the model runs", node,
                          "use it as a symbol (in a `Reshape` shape, say), or declare that dim as a number")

    def apply(self, fn: Callable[..., Any], node: ast.expr, *args: Any) -> Any:
        """Run one Python operator, turning its failure into a located MS023."""
        self.symbolic(node, *args)
        try:
            return fn(*args)
        except (TypeError, ValueError, ArithmeticError) as e:
            reason = "division by zero" if isinstance(e, ZeroDivisionError) else str(e)
            self.fail(f"cannot evaluate `{self.text(node)}`: {reason}", node)

    def unaryop(self, node: ast.UnaryOp) -> Any:
        return self.apply(_UNOPS[type(node.op)], node, self.ev(node.operand))

    def binop(self, node: ast.BinOp) -> Any:
        a, b = self.ev(node.left), self.ev(node.right)
        op = type(node.op)
        if op is ast.Mult and isinstance(a, int) and isinstance(b, _SEQ):
            a, b = b, a
        items = -1  # the size of a list or string result, checked before it is built
        if op is ast.Mult and isinstance(a, _SEQ) and isinstance(b, int):
            items = self.made(None, self.size(a) * max(0, b) if a else 0, node)
        elif op is ast.Add and isinstance(a, _SEQ) and isinstance(b, _SEQ):
            items = self.made(None, self.size(a) + self.size(b), node)
        elif op is ast.Mod and isinstance(a, str):
            self.fail("`%` is only for numbers in expressions", node)
        elif op is ast.Pow and isinstance(b, (int, float)) and b > MAX_EXPONENT:
            self.fail(f"exponent {b} is larger than {MAX_EXPONENT}", node)
        result = self.apply(_BINOPS[op], node, a, b)
        if op is ast.Pow:
            if isinstance(result, complex):
                self.fail(f"`{self.text(node)}` is a complex number", node)
            if abs(result) > MAX_MAGNITUDE:  # floats too: ints are bounded in `ev`
                self.fail(f"`{self.text(node)}` is larger than 2**63", node)
        return self.keep(result, items) if items >= 0 else result

    def boolop(self, node: ast.BoolOp) -> Any:
        want = isinstance(node.op, ast.Or)
        for value_node in node.values:
            value = self.ev(value_node)
            if bool(value) is want:
                return value
        return value

    def compare(self, node: ast.Compare) -> Any:
        left = self.ev(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.ev(right_node)
            if type(op) in (ast.Eq, ast.NotEq) and (isinstance(left, Sym) or isinstance(right, Sym)):
                if (left == right) is not isinstance(op, ast.Eq):  # a symbol equals only itself
                    return False
            elif not self.apply(_CMPOPS[type(op)], node, left, right):
                return False
            left = right
        return True

    def ifexp(self, node: ast.IfExp) -> Any:
        return self.ev(node.body) if self.ev(node.test) else self.ev(node.orelse)

    def attribute(self, node: ast.Attribute) -> Any:
        """`in.shape`: the inferred shape of the enclosing block's input (`_check` allows nothing else)."""
        source = self.env[IN_KEY] if IN_KEY in self.env else None
        if not isinstance(source, ShapeSource):
            self.fail("`in.shape` reads the input of the enclosing block (the model's first input at the top "
                      "level); there is none here", node)
        try:
            dims = list(source.shape())
        except ExprError as e:
            e.offset = _col(self.src, node)
            raise
        return self.made(dims, len(dims), node)

    def subscript(self, node: ast.Subscript) -> Any:
        value = self.ev(node.value)
        if isinstance(value, Sym):
            self.symbolic(node.value, value)
        kind = type(value).__name__
        if not isinstance(value, (str, list, tuple, dict)):
            self.fail(f"cannot index a {kind} (`{self.text(node.value)}`)", node)
        sl, key = node.slice, None
        try:
            if isinstance(sl, ast.Slice):
                parts = [None if e is None else self.ev(e) for e in (sl.lower, sl.upper, sl.step)]
                result = value[slice(*parts)]
                self.made(None, self.size(result), node)
                return result
            key = self.ev(sl)
            return value[key]
        except IndexError:
            if isinstance(node.value, ast.Attribute):  # in.shape
                dims = ", ".join(str(d) for d in value)
                self.fail(f"index {key} is out of range for `in.shape`, which is [{dims}] ({len(value)} dims)", node)
            self.fail(f"index {key} is out of range for a {kind} of length {len(value)}", node)
        except KeyError:
            hint = suggest(key, [k for k in value if isinstance(k, str)], self.meter) \
                if isinstance(key, str) and (self.meter is None or self.meter.hints > 0) else None
            self.fail(f"key {key!r} is not in `{self.text(node.value)}`", node, hint)
        except (TypeError, ValueError) as e:
            self.fail(f"cannot evaluate `{self.text(node)}`: {e}", node)

    def call(self, node: ast.Call) -> Any:
        fn = node.func.id  # type: ignore[attr-defined]  # _check allows only names
        args = [self.ev(a) for a in node.args]
        if fn != "len":
            self.symbolic(node, *args)
        try:
            if fn == "range":
                r = range(*args)
                n = self.made(None, len(r), node)  # before the list is built
                return self.keep(list(r), n)
            if fn == "sum" and args and isinstance(args[0], (list, tuple)) \
                    and not all(isinstance(x, (int, float)) for x in args[0]):
                raise TypeError("sum() adds numbers only")
            return _FUNCS[fn](*args)
        except ExprError:
            raise
        except (TypeError, ValueError, ArithmeticError, IndexError) as e:
            self.fail(f"{fn}() failed: {e}", node)

    def text(self, node: ast.AST) -> str:
        seg = (ast.get_source_segment(self.src, node) or "...").replace(IN_NAME + ".", "in.")
        return seg if len(seg) <= 40 else seg[:37] + "..."


_DISPATCH: dict[type, Callable[[_Eval, Any], Any]] = {
    ast.Constant: _Eval.constant, ast.Name: _Eval.name, ast.List: _Eval.list_,
    ast.Tuple: _Eval.list_, ast.UnaryOp: _Eval.unaryop, ast.BinOp: _Eval.binop,
    ast.BoolOp: _Eval.boolop, ast.Compare: _Eval.compare, ast.IfExp: _Eval.ifexp,
    ast.Subscript: _Eval.subscript, ast.Call: _Eval.call, ast.Attribute: _Eval.attribute,
}


def _plain(value: Any) -> Any:
    """A result without `Sym`s: a symbolic dim leaves an expression as the plain symbol text."""
    if isinstance(value, Sym):
        return str(value)
    if isinstance(value, list) and any(isinstance(v, (Sym, list)) for v in value):
        return [_plain(v) for v in value]
    return value


def evaluate(expr: str, env: Mapping[str, object], *, offset: int = 0, meter: Meter | None = None) -> object:
    """Evaluate the text inside `${...}`; `offset` is where that text starts in its string.

    `meter`, when given, is charged with the work done (and may bound it, see `Meter`).
    """
    try:
        src, shift, tree, names = _parse(expr)
        for n in names:  # every name, even in an untaken branch: typos show, uses count
            if n.id not in env:
                hint = None
                if meter is None or meter.hints > 0:  # listing a large env is itself the cost
                    known = [k for k in env if isinstance(k, str) and k != IN_KEY]
                    hint = suggest(n.id, known + list(_ALIASES), meter)
                raise ExprError("MS021", f"undefined name `{n.id}` in expression", shift + _col(src, n), hint)
            _ = env[n.id]  # a tracking env (unused-param warnings) sees the read
        run = _Eval(env, src, meter)
        try:
            return _plain(run.ev(tree))
        except ExprError as e:
            e.offset += shift
            raise
        except Exception as e:  # last resort: no raw Python exception may reach the user
            raise ExprError("MS023", f"expression failed: {type(e).__name__}: {e}", shift) from None
        finally:
            if meter is not None:
                meter.work += run.work
                meter.steps += run.steps
    except ExprError as e:
        e.offset += offset
        raise


def _closing(text: str, start: int) -> int:
    """Index of the `}` that ends an expression begun at `start`, skipping quoted strings."""
    depth, i, n = 0, start, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


@functools.lru_cache(maxsize=8192)
def _split(text: str) -> tuple[tuple[str, str, int], ...]:
    """Cut a string into ("lit", text, 0), ("expr", source, offset) and ("open", "", offset) parts.

    `$${` stands for a literal `${`; "open" marks a `${` that is never closed.
    """
    parts: list[tuple[str, str, int]] = []
    lit, i = "", 0
    while (j := text.find("${", i)) >= 0:
        if j > i and text[j - 1] == "$":
            lit, i = lit + text[i:j - 1] + "${", j + 2
            continue
        if lit + text[i:j]:
            parts.append(("lit", lit + text[i:j], 0))
        lit, end = "", _closing(text, j + 2)
        if end < 0:
            return (*parts, ("open", "", j))
        parts.append(("expr", text[j + 2:end], j + 2))
        i = end + 1
    lit += text[i:]
    return (*parts, ("lit", lit, 0)) if lit else tuple(parts)


def has_expression(text: str) -> bool:
    """Whether a string holds a `${...}` (an escaped `$${` does not count)."""
    return isinstance(text, str) and "${" in text and any(k != "lit" for k, _, _ in _split(text))


def _substitute_str(text: str, env: Mapping[str, object], meter: Meter | None) -> object:
    if "$" not in text:
        return text
    parts = _split(text)
    if len(parts) > MAX_PARTS:
        raise ExprError("MS023", f"a string may hold at most {MAX_PARTS:,} `${{...}}` expressions", parts[MAX_PARTS][2])
    if len(parts) == 1 and parts[0][0] == "expr":
        return evaluate(parts[0][1], env, offset=parts[0][2], meter=meter)  # whole string: keep the type
    out: list[str] = []
    total = 0
    for kind, src, off in parts:
        if kind == "open":
            raise ExprError("MS020", "unterminated `${` (no closing `}`)", off)
        if kind == "lit":
            piece = src
        else:
            value = evaluate(src, env, offset=off, meter=meter)
            try:
                piece = str(value)
            except ValueError as e:  # ints beyond Python's digit limit
                raise ExprError("MS023", f"cannot print the value: {e}", off) from None
        total += len(piece)
        if total > MAX_ITEMS:
            raise ExprError("MS023", f"string would be longer than {MAX_ITEMS:,} characters", off)
        out.append(piece)
    return "".join(out)


def substitute(value: object, env: Mapping[str, object], *, meter: Meter | None = None) -> object:
    """Replace every `${...}` in a value; lists, tuples and dict values are walked (keys are not)."""
    if isinstance(value, str):
        return _substitute_str(value, env, meter)
    if isinstance(value, list):
        return [substitute(v, env, meter=meter) for v in value]
    if isinstance(value, tuple):
        return tuple(substitute(v, env, meter=meter) for v in value)
    if isinstance(value, dict):
        return {k: substitute(v, env, meter=meter) for k, v in value.items()}
    return value


def names_in(text: str) -> set[str]:
    """Free names used by the expressions of a string (called functions and aliases excluded)."""
    found: set[str] = set()
    if not isinstance(text, str) or "${" not in text:
        return found
    for kind, src, _ in _split(text):
        if kind != "expr" or len(src) > MAX_TEXT:
            continue
        text_in, ins = _rewrite_in(src.replace("\r", " ").replace("\n", " ").lstrip())
        try:
            tree = _tree(text_in)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if ins:
            found.add(IN_KEY)
        nodes = [n for n in ast.walk(tree) if not (isinstance(n, ast.Name) and n.id == IN_NAME)]
        called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
        found |= {n.id for n in nodes if isinstance(n, ast.Name)
                  and id(n) not in called and n.id not in _ALIASES}
    return found
