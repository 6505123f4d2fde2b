"""What an op's ``torch_call`` sees of the code around it (the op-method contract).

An op turns one node into Torch source through three methods (documented on
`modelspec.ops.base.TorchRules`): ``torch_layer`` (the holder's construction source),
``torch_call`` (the output expression) and optionally ``torch_helpers``.
``torch_call`` receives a `TorchContext` (it satisfies `modelspec.ops.TorchCtx`,
the view the ops are typed against): the node's shapes, runtime dims, the
time step and the module's training flag, and a way to add statements before the
assignment.  It never sees the graph, so an op cannot depend on its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

from ...exceptions import ModelspecError
from ..source import ContextDims


class TorchEmitError(ModelspecError):
    """The graph cannot be written as Torch source (an op without Torch code, ...)."""


@dataclass
class TorchContext(ContextDims):
    """The per-node view handed to ``Op.torch_call``.

    ``dim``/``shape`` give runtime expressions of IR dims (symbols such as ``B`` are
    bound from the inputs at the start of ``forward``); ``prev()`` is the node's own
    value one step back (zeros at t = 0) for stateful ops; ``stmt`` adds lines
    before the assignment; ``fresh`` names a temporary; ``can_overwrite(i)`` says
    whether input ``i`` may be updated in place.
    """

    emit_error: ClassVar[type[Exception]] = TorchEmitError
    #: the module's training flag as an expression
    training: str = "self.training"
    _overwrite: Callable[[int], bool] = field(default=lambda i: False, repr=False)

    def can_overwrite(self, i: int) -> bool:
        """Whether input ``i`` may be modified in place (``F.relu(x, inplace=True)``).

        True only for a fresh temporary that nothing reads after this node and whose
        producer does not keep its output for backward (a conv, a norm, a sum, ...).
        """
        return self._overwrite(i)

