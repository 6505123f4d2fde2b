"""What an op's ``jax_call`` sees of the code around it (the JAX op-method contract).

An op turns one node into JAX source through these methods (documented on
`modelspec.ops.base.JaxRules`; `JaxContext` satisfies `modelspec.ops.JaxCtx`)::

    jax_init(a, ins, out) -> {param: expr}        initial value of each parameter, with
                                                  {uniform}, {normal} (arrays of its shape)
                                                  or {key} (a PRNG key of its own)
    jax_init_state(a, ins, out) -> {buffer: expr} initial value of each buffer
    jax_call(a, args, p, ctx) -> expr             the output expression; with buffers,
                                                  an expression of (y, (new buffers...))
    jax_helpers(a) -> {name: source | function}   optional: extra helpers to copy in

``args`` are the input expressions, ``p`` maps the op's local parameter names to
expressions (``params["V1.conv.weight"]``).  The op never sees the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

from ...ops.kit import CHANNELS_FIRST
from ..source import ContextDims
from .naming import JaxEmitError

__all__ = ["JaxContext", "JaxEmitError"]


@dataclass
class JaxContext(ContextDims):
    """The per-node view handed to ``Op.jax_call``.

    ``dim``/``shape`` give trace-time expressions of IR dims (symbols such as ``B``
    are bound from the input shapes at the start of ``apply``, as Python ints);
    ``prev()`` is the node's own value one step back (zeros at t = 0) for stateful
    ops; ``key()`` a PRNG key unique to this node and step (use it only under
    ``train``); ``state`` the current values of the node's buffers; ``hoist()`` a
    parameter-only expression computed once, before the time loop; ``layout`` how
    the node's values of rank 3 or more are laid out (``ins``/``out`` stay the IR's).
    """

    emit_error: ClassVar[type[Exception]] = JaxEmitError
    #: the training flag: a Python bool at trace time, so ``a if train else b`` is free
    train: str = "train"
    #: buffer local name -> expression of its current value
    state: dict[str, str] = field(default_factory=dict)
    #: the layout of values of rank 3 or more, chosen once per model (`layout.choose_layout`)
    layout: str = CHANNELS_FIRST
    _key: Callable[[], str] | None = field(default=None, repr=False)
    _hoist: Callable[[str, str], str] | None = field(default=None, repr=False)

    def key(self) -> str:
        """A PRNG key for this node (and step); only valid where ``train`` is true."""
        if self._key is None:
            raise JaxEmitError(f"node `{self.path}` asks for a random key where none exists")
        return self._key()

    def hoist(self, expr: str, hint: str = "w") -> str:
        """A local holding ``expr``, computed once at the start of ``apply``, outside the
        time loop.  ``expr`` may use only parameters (``p``), literals and helpers: use it
        for weight re-layouts, which XLA does not move out of a loop by itself."""
        return self._hoist(expr, hint) if self._hoist is not None else expr

