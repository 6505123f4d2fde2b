"""The value of an IR dim once its symbols are bound: dims are the expression language's arithmetic.

Here rather than in `modelspec.shapes.dims` so that the dim types stay below
the ops and the front end, while evaluation (which needs the evaluator) sits
with the expression language.
"""

from __future__ import annotations

from typing import Mapping

from ..shapes.dims import Dim, concrete, symbols_in
from .expressions import evaluate


def eval_dim(d: Dim, env: Mapping[str, int]) -> int:
    """The size of a dim once its symbols are bound.

    Raises KeyError naming the first unbound symbol; anything else that fails is
    the expression language's `ExprError` (dims are its arithmetic, never ``eval``).
    """
    if concrete(d):
        return int(d)  # type: ignore[arg-type]
    for sym in symbols_in(str(d)):
        if sym not in env:
            raise KeyError(sym)
    return int(evaluate(str(d), env))  # type: ignore[call-overload]
