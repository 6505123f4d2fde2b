"""The ``forward`` method: module bindings, runtime dims, and the time loop (SPEC section 7).

Without ``time`` the body is straight-line code.  With ``time`` it runs inside
``for t in range(...)``: inputs carry a time axis at position 1 (static ones do
not), ``time.idle`` zero steps come first and their outputs are dropped, and
every value read with a delay goes through a delay buffer sized by the largest
delay it is read with.  A buffer is a few locals shifted at the end of each
step (``r_3, r_2, r_1 = r_2, r_1, r``), or a list for long delays; it starts
as zeros of the source's shape, which is exactly what a delayed ``in`` reads
before ``t >= delay``.  All state is local to ``forward``, so it resets on
every call.
"""

from __future__ import annotations

import keyword
import textwrap
from dataclasses import dataclass

from ...ir.graph import Graph
from ...ir.timeplan import TimePlan, TimePlanError, lower_time
from ...shapes.dims import Shape
from .context import TorchEmitError
from .format import LIMIT, wrap_all
from .forward import Body, Values
from .naming import Namer, docstring, local_hint, q
from .stmts import Stmt, add_dels, indented, render
from .tree import access

#: sources read at most this many steps back get one local per step; longer ones a list
MAX_RING_LOCALS = 4
_FLOAT = {"float32", "float16", "bfloat16", "float64"}


@dataclass
class Ring:
    """The delay buffer of one source: locals ``names[k]`` hold its value k+1 steps back."""

    source: str
    depth: int
    names: list[str]
    hist: str | None = None  # the list variable when depth > MAX_RING_LOCALS

    def read(self, delay: int) -> str:
        return f"{self.hist}[{delay - 1}]" if self.hist else self.names[delay - 1]


def _fmt(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class ForwardWriter:
    """Assembles ``forward`` for a graph; ``lines()`` gives its source at class indentation."""

    def __init__(self, g: Graph, namer: Namer, holders: list[str]) -> None:
        self.g = g
        self.namer = namer
        self.values = Values(g, namer)
        self.modules = {p: namer.fresh(local_hint(p), "_m") for p in g.order if p in holders}
        #: node path -> module path of its holder (nodes that share another's call the owner's)
        self.module_paths = {p: g.nodes[p].at for p in self.modules}
        for p in g.order:
            owner = g.nodes[p].owner
            if owner is not None and owner in self.modules:
                self.modules[p] = self.modules[owner]
        self.rings: dict[str, Ring] = {}
        self.timed = g.time is not None
        #: input -> zeros standing in for it during the idle steps
        self.idle_zeros: dict[str, str] = {}
        if self.timed:
            assert g.time is not None
            for name, term in g.inputs.items():
                if not term.static or g.time.idle:
                    self.values.step_inputs[name] = namer.fresh(name, "_t")
                if g.time.idle:
                    self.idle_zeros[name] = namer.fresh(name, "_idle")
            self.values.delayed = self.read_delayed
        prev = self.read_prev if self.timed else None
        try:
            plan = lower_time(g)
        except TimePlanError as exc:
            raise TorchEmitError(str(exc)) from None
        self.body = Body(g, plan, self.values, self.modules, prev)
        self.plan = self._with_prev(plan)
        self._plan_rings()

    # ---- delay buffers --------------------------------------------------------------
    def _with_prev(self, plan: TimePlan) -> TimePlan:
        """The plan plus depth 1 for nodes whose Torch rule reads their previous value."""
        prev = [p for p in self.g.order if self.body.needs_prev(self.g.nodes[p])]
        if prev and not self.timed:
            raise TorchEmitError(f"stateful node `{prev[0]}` needs `time:`")
        return plan.with_prev(prev)

    def _plan_rings(self) -> None:
        chained = self.body.chain_nodes
        for source, d in self.plan.depths:  # a fixed order: inputs, then nodes
            if source in chained:
                raise TorchEmitError(
                    f"`{source}` belongs to an edge's chain and cannot be read with a delay")
            base = self.values.read(source, 0)
            if d > MAX_RING_LOCALS:
                self.rings[source] = Ring(source, d, [], self.namer.fresh(base, "_hist"))
            else:
                names = [self.namer.fresh(base, f"_{k}") for k in range(1, d + 1)]
                self.rings[source] = Ring(source, d, names)
        self.body.kept |= set(self.rings)  # buffered values must not be overwritten in place

    def read_delayed(self, source: str, delay: int) -> str:
        return self.rings[source].read(delay)

    def read_prev(self, path: str) -> str:
        return self.rings[path].read(1)

    def source_shape(self, source: str) -> Shape:
        if source in self.g.nodes:
            return self.g.nodes[source].shape or ()
        return self.g.inputs[source].shape

    def zeros(self, shape: Shape) -> str:
        """A zeros expression of an IR shape, on the inputs' device (and float dtype)."""
        floats = [n for n, term in self.g.inputs.items() if term.dtype in _FLOAT]
        dims = self.values.shape(shape)
        if floats:
            return f"{self.values.inputs[floats[0]]}.new_zeros({dims})"
        first = next(iter(self.values.inputs.values()))
        return f"torch.zeros({dims}, device={first}.device)"

    # ---- pieces ---------------------------------------------------------------------
    def binding_lines(self) -> list[str]:
        return [f"{self.modules[p]} = {access(at)}" for p, at in self.module_paths.items()]

    def symbol_lines(self) -> list[str]:
        out = []
        for sym, local in self.values.symbols.items():
            where = None
            for name, term in self.g.inputs.items():
                for axis, d in enumerate(term.shape):
                    if d == sym:
                        timed_axis = self.timed and not term.static and axis > 0
                        where = (self.values.inputs[name], axis + 1 if timed_axis else axis)
                        break
                if where:
                    break
            if where is None:
                raise TorchEmitError(
                    f"cannot tell the size `{sym}` at run time: no input has it as a dimension")
            out.append(f"{local} = {where[0]}.shape[{where[1]}]")
        return out

    def output_exprs(self, lists: dict[str, str]) -> dict[str, str]:
        out = {}
        for name, o in self.g.outputs.items():
            if name in lists:
                out[name] = f"torch.stack({lists[name]}, dim=1)"
            else:
                out[name] = self.values.read(o.source, 0)
        return out

    def return_line(self, exprs: dict[str, str]) -> str:
        if len(exprs) == 1:
            return f"return {next(iter(exprs.values()))}"
        return "return {" + ", ".join(f"{q(k)}: {v}" for k, v in exprs.items()) + "}"

    def public_names(self) -> dict[str, str]:
        """Input -> the parameter name callers use: the spec's own name (``model(input=x)``).

        Only what Python forbids is renamed (keywords, ``self``); a builtin such as
        ``input`` or ``type`` stays, and `framed` keeps the body from seeing it.
        """
        return {name: name if name.isidentifier() and not keyword.iskeyword(name) and name != "self" else local
                for name, local in self.values.inputs.items()}

    def signature(self, names: list[str] | None = None, method: str = "forward") -> list[str]:
        args = ", ".join(f"{v}: Tensor" for v in (names or self.values.inputs.values()))
        ret = "Tensor" if len(self.g.outputs) == 1 else "dict[str, Tensor]"
        return [f"    def {method}(self, {args}) -> {ret}:"]

    def framed(self, code: list[str]) -> list[str]:
        """``forward`` around the body ``code``.

        The body's locals avoid builtins and module names (it may call ``range``,
        ``torch``...), so an input named like one of them is bound to another local
        there; ``forward`` then keeps the public name and passes it on to ``_forward``.
        """
        public = self.public_names()
        if list(public.values()) == list(self.values.inputs.values()):
            return self.signature() + self.doc_lines() + code
        names = list(public.values())
        inner = docstring(["The body of `forward`, with inputs under names that shadow nothing it uses."],
                          "        ")
        return (self.signature(names) + self.doc_lines(public)
                + [f"        return self._forward({', '.join(names)})", ""]
                + self.signature(method="_forward") + inner + code)

    def doc_lines(self, names: dict[str, str] | None = None) -> list[str]:
        """One line: input shapes -> output shapes (a dict for several outputs)."""
        names = names or self.values.inputs
        ins = []
        for name, term in self.g.inputs.items():
            shape = list(term.shape)
            if self.timed and not term.static:
                shape.insert(1, "T")
            ins.append(f"{names[name]} {_fmt(tuple(shape))}")
        outs = []
        for name, o in self.g.outputs.items():
            shape = list(o.shape or ())
            if self.timed and o.steps == "all":
                shape.insert(1, "T")
            outs.append(f"{name} {_fmt(tuple(shape))}")
        result = outs[0] if len(outs) == 1 else "{" + ", ".join(outs) + "} (a dict)"
        text = f"{', '.join(ins)} -> {result}."
        if self.timed:
            text += " " + self.state_note()
        lines = textwrap.wrap(text, 88) or [""]
        return docstring(lines, "        ")

    # ---- assembly -------------------------------------------------------------------
    def lines(self) -> list[str]:
        owned = set(self.values.nodes.values())
        if not self.timed:
            stmts = self.body.step()
            exprs = self.output_exprs({})
            stmts.append(Stmt([(self.return_line(exprs), None)], set(exprs.values())))
            body = render(add_dels(stmts, owned, set(), tail=False), "        ")
            head = self.binding_lines() + self.symbol_lines()
            head = wrap_all([f"        {s}" for s in head])
            return self.framed(head + body)
        return self._timed_lines(owned)

    def _timed_lines(self, owned: set[str]) -> list[str]:
        g = self.g
        assert g.time is not None
        idle = g.time.idle
        step = self.body.step()
        every = {e.name: e.source for e in self.plan.emissions if e.steps == "all"}
        lists = {name: self.namer.fresh(name, "_steps") for name in every}
        tail: list[Stmt] = []
        appends = [(f"{lst}.append({self.values.read(every[name], 0)})", None)
                   for name, lst in lists.items()]
        srcs = {self.values.read(every[name], 0) for name in lists}
        if appends:  # the idle steps' outputs are dropped
            lines = appends
            first = self.plan.first_emitted
            if first:
                lines = [(f"if t >= {first}:", None), *(("    " + a, n) for a, n in appends)]
            tail.append(Stmt(lines, srcs, stores=True))
        for ring in self.rings.values():
            src = self.values.read(ring.source, 0)
            if ring.hist:
                line = f"{ring.hist} = [{src}, *{ring.hist}[:-1]]"
                lines = [(line, None)]
            else:
                older = ", ".join(reversed(ring.names))
                line = f"{older} = {', '.join([*reversed(ring.names[:-1]), src])}"
                lines = [(line, None)]
                if len(line) > LIMIT - 12:  # too long for one line: shift oldest first
                    pairs = list(zip(ring.names, [src, *ring.names[:-1]]))
                    lines = [(f"{old} = {new}", None) for old, new in reversed(pairs)]
            tail.append(Stmt(lines, {src}, stores=True))
        last_vars = {self.values.read(o.source, 0) for n, o in g.outputs.items() if n not in lists}
        loop_body = add_dels([*self._step_inputs(idle), *step, *tail], owned, last_vars, tail=False)

        pre: list[str] = []
        for name, zeros in self.idle_zeros.items():
            sl = "" if g.inputs[name].static else "[:, 0]"
            pre.append(f"{zeros} = torch.zeros_like({self.values.inputs[name]}{sl})")
        pre += self.ring_init_lines()
        pre += [f"{lst}: list[Tensor] = []" for lst in lists.values()]
        head = self.binding_lines() + self.symbol_lines() + pre
        loop = [Stmt([(f"for t in {self.loop_range()}:", None), *indented(loop_body)])]
        ret = [Stmt([(line, None) for line in self.return_lines(self.output_exprs(lists))])]
        return self.framed(wrap_all([f"        {s}" for s in head]) + render(loop + ret, "        "))

    # ---- what a stateful forward (`stream.StatefulForwardWriter`) does differently ----------
    def ring_init_lines(self) -> list[str]:
        """The delay buffers before the loop: zeros (a fresh stream on every call)."""
        out = []
        for ring in self.rings.values():
            z = self.zeros(self.source_shape(ring.source))
            if ring.hist:
                out.append(f"{ring.hist} = [{z}] * {ring.depth}")
            else:
                out.append(f"{' = '.join(ring.names)} = {z}")
        return out

    def state_note(self) -> str:
        return "State starts at zero on every call."

    def loop_range(self) -> str:
        return f"range({self._count()})"

    def input_index(self, idle: int) -> str:
        """The index into a time input's axis 1 at step t."""
        return f"t - {idle}" if idle else "t"

    def return_lines(self, exprs: dict[str, str]) -> list[str]:
        return [self.return_line(exprs)]

    def _count(self) -> str:
        g = self.g
        assert g.time is not None
        timed = [n for n, term in g.inputs.items() if not term.static]
        steps = f"{self.values.inputs[timed[0]]}.shape[1]" if timed else str(g.time.steps)
        return f"{g.time.idle} + {steps}" if g.time.idle else steps

    def _step_inputs(self, idle: int) -> list[Stmt]:
        out = []
        for name, term in self.g.inputs.items():
            var = self.values.inputs[name]
            step_var = self.values.step_inputs[name]
            if term.static and not idle:
                continue
            value = var if term.static else f"{var}[:, {self.input_index(idle)}]"
            if idle:  # zeros during the idle steps
                value = f"{value} if t >= {idle} else {self.idle_zeros[name]}"
            out.append(Stmt([(f"{step_var} = {value}", None)], set(), {step_var}))
        return out
