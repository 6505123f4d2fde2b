"""``build --stateful``: a ``forward`` that takes and returns the time loop's state.

``forward(x, state=None) -> (outputs, state)`` runs the steps of one chunk of a
stimulus stream and hands back what the next chunk needs, so feeding 20 steps as
5 + 7 + 8 gives exactly what one 20-step call gives.  The state is a plain dict:

* ``"t"``: the absolute step the next chunk starts at (idle steps included), so
  the plan's guards (an edge with delay d contributes from step d) and the idle
  steps (only at the start of a stream) mean the same in every chunk;
* ``"bufs"``: per delayed source (a node path or input name), its last values,
  newest first: the delay buffers of `timeloop` (the time plan's depths).

``state=None`` starts a fresh stream (``initial_state(x)``: step 0, zeros).
Outputs with ``steps: all`` cover the chunk's steps, ``steps: last`` its last one.
A model whose inputs are all static takes ``steps=`` (default ``time.steps``).
"""

from __future__ import annotations

from ...ir.graph import Graph
from .context import TorchEmitError
from .format import wrap_all
from .naming import Namer, docstring, q
from .timeloop import ForwardWriter

#: the argument names the stateful forward adds
STATE_ARG, STEPS_ARG = "state", "steps"


class StatefulForwardWriter(ForwardWriter):
    """`ForwardWriter` whose state comes in and goes out (see the module docstring)."""

    def __init__(self, g: Graph, namer: Namer, holders: list[str]) -> None:
        if g.time is None:
            raise TorchEmitError("`--stateful` needs a time model: this spec has no `time:` section")
        clash = [n for n in g.inputs if n in (STATE_ARG, STEPS_ARG)]
        if clash:
            raise TorchEmitError(f"an input named `{clash[0]}` clashes with the stateful forward's argument")
        super().__init__(g, namer, holders)
        self.state = namer.fresh("state_in")
        self.t0 = namer.fresh("t0")
        self.n = namer.fresh("n_steps")
        self.base = namer.fresh("t_base") if g.time.idle else self.t0
        self.static_only = all(term.static for term in g.inputs.values())

    # ---- hooks of ForwardWriter --------------------------------------------------
    def ring_init_lines(self) -> list[str]:
        assert self.g.time is not None
        ins = ", ".join(self.values.inputs.values())
        out = [f"if {self.state} is None:", f"    {self.state} = self.initial_state({ins})",
               f"{self.t0} = {self.state}[\"t\"]"]
        for ring in self.rings.values():
            got = f"{self.state}[\"bufs\"][{q(ring.source)}]"
            if ring.hist:
                out.append(f"{ring.hist} = list({got})")
            else:
                names = ", ".join(ring.names) + ("," if len(ring.names) == 1 else "")
                out.append(f"{names} = {got}")
        timed = [n for n, term in self.g.inputs.items() if not term.static]
        count = f"{self.values.inputs[timed[0]]}.shape[1]" if timed else self.steps_local
        out.append(f"{self.n} = {count}")
        if self.g.time.idle:  # the idle steps run once, at the start of a stream
            out.append(f"{self.base} = max({self.t0}, {self.g.time.idle})")
        return out

    def loop_range(self) -> str:
        return f"range({self.t0}, {self.base} + {self.n})"

    def input_index(self, idle: int) -> str:
        return f"t - {self.base}"

    def return_lines(self, exprs: dict[str, str]) -> list[str]:
        bufs = []
        for ring in self.rings.values():
            bufs.append(f"{q(ring.source)}: {ring.hist if ring.hist else '[' + ', '.join(ring.names) + ']'}")
        new = f"{{\"t\": {self.base} + {self.n}, \"bufs\": {{{', '.join(bufs)}}}}}"
        if len(exprs) == 1:
            outs = next(iter(exprs.values()))
        else:
            outs = "{" + ", ".join(f"{q(k)}: {v}" for k, v in exprs.items()) + "}"
        return [f"return {outs}, {new}"]

    # ---- the signature and docstring ---------------------------------------------
    @property
    def steps_local(self) -> str:
        return STEPS_ARG

    def extra_params(self) -> str:
        assert self.g.time is not None
        extra = f"{STATE_ARG}: dict | None = None"
        if self.static_only:
            extra += f", {STEPS_ARG}: int = {self.g.time.steps}"
        return extra

    def signature(self, names: list[str] | None = None, method: str = "forward") -> list[str]:
        args = ", ".join(f"{v}: Tensor" for v in (names or self.values.inputs.values()))
        ret = "Tensor" if len(self.g.outputs) == 1 else "dict[str, Tensor]"
        return [f"    def {method}(self, {args}, {self.extra_params()}) -> tuple[{ret}, dict]:"]

    def framed(self, code: list[str]) -> list[str]:
        public = self.public_names()
        bind = [f"        {self.state} = {STATE_ARG}"]
        if list(public.values()) == list(self.values.inputs.values()):
            return self.signature() + self.doc_lines() + bind + code
        names = list(public.values())
        extra = f", {STATE_ARG}" + (f", {STEPS_ARG}" if self.static_only else "")
        inner = docstring(["The body of `forward`, with inputs under names that shadow nothing it uses."],
                          "        ")
        return (self.signature(names) + self.doc_lines(public)
                + [f"        return self._forward({', '.join(names)}{extra})", ""]
                + self.signature(method="_forward") + inner + bind + code)

    def state_note(self) -> str:
        return ("Returns (outputs, state): pass the state to the next call to go on with the same "
                "stream, None to start a fresh one.")

    def initial_state_lines(self) -> list[str]:
        """``initial_state(x)``: step 0 and zeros in every buffer, shaped and placed like ``x``."""
        public = self.public_names()
        zeros = {ring.source: self.zeros(self.source_shape(ring.source)) for ring in self.rings.values()}
        binds = [f"{local} = {public[name]}" for name, local in self.values.inputs.items()
                 if public[name] != local]
        bufs = ", ".join(f"{q(src)}: [{z}] * {self.rings[src].depth}" for src, z in zeros.items())
        body = [*binds, *self.symbol_lines(), f"return {{\"t\": 0, \"bufs\": {{{bufs}}}}}"]
        args = ", ".join(f"{v}: Tensor" for v in public.values())
        doc = docstring(["The state of a fresh stream, what `state=None` starts from: step 0 and every",
                         "delay buffer zeros, shaped and placed like the inputs."], "        ")
        return [f"    def initial_state(self, {args}) -> dict:", *doc,
                *wrap_all([f"        {s}" for s in body])]

    def lines(self) -> list[str]:
        return [*super().lines(), "", *self.initial_state_lines()]
