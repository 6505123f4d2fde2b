"""``apply(params, state, inputs, *, train=False, key=None)``: the straight-line body, or
the body inside the time loop the time plan (`modelspec.ir.timeplan`) describes.

A time model runs one ``lax.scan`` per phase of the plan (the steps during which
the same edges are active), all over one step function whose ``start`` argument,
a Python int, leaves out the edges not yet active: no work is traced for an edge
before its delay, and compile time grows with the number of phases, not of steps.
The carry is ``(state, bufs)``: BatchNorm buffers and one delay buffer per
source the plan buffers (its value for depth 1, else a ring ``[D, ...]`` written
one slot per step; zeros until written).  Reads happen at the start of a step,
writes at its end.  Time inputs ``[B, T, ...]`` are scanned along T, static
inputs closed over; idle steps read zeros and emit nothing.  Outputs with
``steps: all`` come back ``[B, T, ...]``, those with ``steps: last`` the final
step's value.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from ...ir.graph import Graph
from ...ir.timeplan import TimePlan, TimePlanError, lower_time
from .body import Body, Values
from .layout import CHANNELS_FIRST, CHANNELS_LAST, choose_layout, from_loop, loop_shape, to_loop
from .naming import JaxEmitError, Namer, docstring, q, reserved_locals

I1, I2 = "    ", "        "


def _bind_symbols(g: Graph, v: Values, outer: dict[str, str]) -> list[str]:
    """``B = x.shape[0]`` for every symbol the body uses, from the first input that has it."""
    lines: list[str] = []
    for sym, local in v.symbols.items():
        for name, term in g.inputs.items():
            dims = list(term.shape)
            if sym in dims:
                i = dims.index(sym)
                axis = i if (g.time is None or term.static or i == 0) else i + 1
                lines.append(f"{I1}{local} = {outer[name]}.shape[{axis}]")
                break
        else:
            if sym in g.symbols and isinstance(g.symbols[sym], int):
                lines.append(f"{I1}{local} = {g.symbols[sym]}")
            else:
                raise JaxEmitError(f"dimension `{sym}` cannot be read from the shape of any input")
    return lines


def _prologue(g: Graph, outer: dict[str, str], uses_key: bool) -> list[str]:
    lines: list[str] = []
    if len(g.inputs) == 1:
        (name,) = g.inputs
        lines += [f"{I1}if not isinstance(inputs, dict):", f"{I2}inputs = {{{q(name)}: inputs}}"]
    for name in g.inputs:
        lines.append(f"{I1}{outer[name]} = jnp.asarray(inputs[{q(name)}])")
    if uses_key:
        lines += [f"{I1}if train and key is None:",
                  f'{I2}raise ValueError("apply(..., train=True) needs key=: the model has random ops")']
    return lines


def _return(g: Graph, values: dict[str, str]) -> str:
    if len(g.outputs) == 1:
        (name,) = g.outputs
        return f"{I1}return {values[name]}, state"
    inner = ", ".join(f"{q(name)}: {values[name]}" for name in g.outputs)
    return f"{I1}return {{{inner}}}, state"


APPLY_DOC = [
    "The model's forward pass: returns (outputs, new_state).",
    "",
    "inputs: a dict input name -> array (a bare array when the model has one input).",
    "train: a Python bool (pass it as a static argument to jax.jit); training mode uses",
    "  batch statistics in BatchNorm (and updates the running ones in the returned state)",
    "  and applies dropout and noise, which need `key`.",
]


def emit_apply(g: Graph) -> list[str]:
    """The source lines of ``apply``."""
    namer = Namer(reserved_locals())
    v = Values(g, namer)
    try:
        plan = lower_time(g)
    except TimePlanError as exc:
        raise JaxEmitError(str(exc)) from None
    if g.time is None:
        return _static(g, plan, v)
    return _timed(g, plan, v)


def _static(g: Graph, plan: TimePlan, v: Values) -> list[str]:
    body = Body(g, plan, v)
    lines = [I1 + line for line in body.step()]
    outs = {name: v.read(o.source, 0) for name, o in g.outputs.items()}
    head = ["def apply(params, state, inputs, *, train=False, key=None):", *docstring(APPLY_DOC, I1)]
    head += _prologue(g, v.inputs, body.uses_key)
    head += _bind_symbols(g, v, v.inputs)
    head.append(f"{I1}state = dict(state)")
    head += [I1 + line for line in body.hoisted_lines()]
    return [*head, *lines, _return(g, outs)]


def _buffer_read(src: str, depth: int, delay: int) -> str:
    """Depth 1: the carried value itself; deeper: slot (t - delay) % depth of a ring."""
    if depth == 1:
        return f"bufs[{q(src)}]"
    return f"_ring_read(bufs[{q(src)}], t, {delay})"


def _buffer_write(src: str, depth: int, value: str) -> str:
    """One step of state moved per step: the new value, or one ring slot overwritten."""
    if depth == 1:
        return f"{value}.astype(dtype)"
    return f"_ring_write(bufs[{q(src)}], t, {value})"


class _Traced(NamedTuple):
    """One step of a time model traced into lines, and what the loop around it needs."""

    body: Body
    lines: list[str]
    #: the time plan, with the nodes the step reads one step back
    plan: TimePlan
    #: delay buffer -> its depth
    depth: dict[str, int]
    #: output name -> its value at this step
    outs: dict[str, str]
    #: delayed source -> its place in the plan (the order of the buffer reads)
    order: dict[str, int]


def _trace_step(g: Graph, plan: TimePlan, v: Values, dynamic: bool = False,
                layout: str = CHANNELS_FIRST) -> _Traced:
    """The step body of `apply` (phases: ``dynamic`` False) or of the stateful apply."""
    body = Body(g, plan, v, dynamic=dynamic, layout=layout)
    lines = body.step()
    plan = plan.with_prev(body.prev_nodes)
    return _Traced(body, lines, plan, dict(plan.depths), {e.name: v.read(e.source, 0) for e in plan.emissions},
                   {name: i for i, name in enumerate(plan.sources)})


def _unpack_carry(g: Graph) -> list[str]:
    """A step function's first lines: the step and the time inputs, the state and the buffers."""
    lines = [f"{I2}t, seqs = xs", f"{I2}state, bufs = carry"]
    return lines + ([f"{I2}state = dict(state)"] if any(n.buffers for n in g.nodes.values()) else [])


def _step_inputs(g: Graph, v: Values, timed: list[str], idle: int, choose: Callable[[str, str], str],
                 layout: str = CHANNELS_FIRST) -> list[str]:
    """The step's inputs: each time input's slice of ``seqs`` and, with idle steps, each static
    input; ``choose(value, zeros)`` is the expression that picks the value or (idle) zeros."""
    lines = []
    for name in timed:
        x = v.inputs[name]
        zeros = f"jnp.zeros({x}.shape[:1] + {x}.shape[2:], {x}.dtype)"
        if to_loop(len(g.inputs[name].shape), layout):  # [B, T, C, *spatial] -> a step's [B, *spatial, C]
            zeros = f"jnp.zeros(({x}.shape[0], *{x}.shape[3:], {x}.shape[2]), {x}.dtype)"
        lines.append(f"{I2}{v.step_inputs[name]} = {choose(f'seqs[{q(name)}]', zeros)}")
    for name, term in g.inputs.items():
        if term.static and idle:
            x = v.inputs[name]
            lines.append(f"{I2}{v.step_inputs[name]} = {choose(x, f'jnp.zeros_like({x})')}")
    return lines


def _step_outputs(g: Graph, outs: dict[str, str]) -> str:
    """The dict of what a step emits, ``{"name": value, ...}`` in the order of the outputs."""
    return "{" + ", ".join(f"{q(name)}: {outs[name]}" for name in g.outputs) + "}"


def _step_core(body: Body, v: Values, order: dict[str, int], depth: dict[str, int],
               step_lines: list[str]) -> list[str]:
    """The middle of a step function, shared by `apply` and the stateful apply: this
    step's key, the delayed reads, the nodes, then the buffer writes."""
    lines = [f"{I2}key_t = jax.random.fold_in(key, t) if train else None"] if body.uses_key else []
    for (src, d), local in sorted(v.delayed.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        lines.append(f"{I2}{local} = {_buffer_read(src, depth[src], d)}")
    lines += [I2 + line for line in step_lines]
    if depth:
        lines.append(f"{I2}bufs = {{")
        lines += [f"{I2}    {q(src)}: {body.rings.get(src) or _buffer_write(src, d, v.read(src, 0))},"
                  for src, d in depth.items()]
        lines.append(f"{I2}}}")
    return lines


def _zero_buffers(g: Graph, v: Values, depth: dict[str, int], layout: str = CHANNELS_FIRST) -> list[str]:
    """``bufs = {...}``: every delay buffer zeros (a ring of ``depth`` slots, or one value), in the
    loop's layout."""
    lines = [f"{I1}bufs = {{"]
    for src, d in depth.items():
        shape = loop_shape(_shape_of(g, src), layout)
        full = (d, *(shape or ())) if d > 1 else tuple(shape or ())
        lines.append(f"{I1}    {q(src)}: jnp.zeros({v.shape(full)}, dtype),")
    return [*lines, f"{I1}}}"]


def _shape_of(g: Graph, source: str) -> tuple[object, ...]:
    """The per-step shape of a node or an input."""
    return tuple((g.nodes[source].shape if source in g.nodes else g.inputs[source].shape) or ())


def _timed(g: Graph, plan: TimePlan, v: Values) -> list[str]:
    assert g.time is not None
    layout = choose_layout(g)
    steps, idle = plan.steps, plan.idle
    timed = [name for name, term in g.inputs.items() if not term.static]
    for name, term in g.inputs.items():
        if term.static and idle:
            v.step_inputs[name] = v.namer.fresh(f"{name}_t")
    for name in timed:
        v.step_inputs[name] = v.namer.fresh(f"{name}_t")
    body, step_lines, plan, depth, outs, order = _trace_step(g, plan, v, layout=layout)

    step = [f"{I1}def step(start, carry, xs):",
            *docstring(["One step of the phase that begins at step `start`: a Python int, so the",
                        "edges not yet active in that phase are not traced at all."], I2), *_unpack_carry(g)]
    step += _step_inputs(g, v, timed, idle, lambda x, zeros: f"{x} if start >= {idle} else {zeros}" if idle else x,
                         layout)
    step += _step_core(body, v, order, depth, step_lines)
    ys = _step_outputs(g, outs)
    if idle:
        ys = f"({ys} if start >= {idle} else {{}})"
    step.append(f"{I2}return (state, bufs), {ys}")

    loop = _zero_buffers(g, v, depth, layout)
    loop.append(f"{I1}carry = (state, bufs)")
    if timed:
        loop.append(f"{I1}seqs = {{{', '.join(f'{q(n)}: {_scanned(g, n, v.inputs[n], layout)}' for n in timed)}}}")
    parts: list[str] = []
    for ph in plan.phases:
        ys_local = v.namer.fresh(f"ys_{ph.start}")
        if not ph.idle:
            parts.append(ys_local)
        lo, hi = ph.start - idle, ph.stop - idle
        sl = "" if (lo, hi) == (0, steps) else f"[{lo}:{hi}]"
        seqs = "{}" if ph.idle else "{" + ", ".join(f"{q(n)}: seqs[{q(n)}]{sl}" for n in timed) + "}"
        edges = f"  # edges from step {ph.start} on" if ph.start and not ph.idle else ""
        if ph.idle:
            edges = "  # idle steps: zero inputs, no outputs"
        loop.append(f"{I1}carry, {ys_local} = lax.scan(lambda carry, xs: step({ph.start}, carry, xs), carry, "
                    f"(jnp.arange({ph.start}, {ph.stop}), {seqs})){edges}")
    loop.append(f"{I1}state = carry[0]")
    results: dict[str, str] = {}
    for e in plan.emissions:
        local = v.namer.fresh(e.name)
        results[e.name] = local
        rank = len(_shape_of(g, e.source))
        back = from_loop(rank, layout)
        if e.steps == "last":
            last = f"{parts[-1]}[{q(e.name)}][-1]"
            loop.append(f"{I1}{local} = {f'jnp.moveaxis({last}, -1, 1)' if back else last}")
            continue
        stacked = (f"{parts[0]}[{q(e.name)}]" if len(parts) == 1 else
                   f"jnp.concatenate([{', '.join(f'{p}[{q(e.name)}]' for p in parts)}])")
        loop.append(f"{I1}{local} = " + (f"jnp.transpose({stacked}, {back})" if back else f"jnp.moveaxis({stacked}, 0, 1)"))

    when = f" after {idle} idle steps" if idle else ""
    doc = [*APPLY_DOC, "", f"Time: {steps} steps{when} of dt = {g.time.dt} ms, run by one lax.scan per phase "
           f"(the steps during which the same edges are active); time inputs are [B, T, ...] with T = {steps}."]
    head = ["def apply(params, state, inputs, *, train=False, key=None):", *docstring(doc, I1)]
    head += _prologue(g, v.inputs, body.uses_key)
    for name in timed:
        x = v.inputs[name]
        head += [f"{I1}if {x}.ndim < 2 or {x}.shape[1] != {steps}:",
                 f"{I2}raise ValueError(f\"input {printable_name(name)} needs {steps} steps on axis 1, "
                 f"got shape {{{x}.shape}}\")"]
    head += _bind_symbols(g, v, v.inputs)
    floats = [v.inputs[n] for n, t in g.inputs.items() if t.dtype.startswith(("float", "bfloat"))]
    head.append(f"{I1}dtype = {floats[0]}.dtype" if floats else f"{I1}dtype = jnp.float32")
    if body.hoisted:
        head += [f"{I1}# weights re-laid out once, outside the time loop (XLA does not hoist them)"]
        head += [I1 + line for line in body.hoisted_lines()]
    if layout == CHANNELS_LAST:
        head += [f"{I1}# The time loop runs channels-last: every value [B, C, *spatial] (the shapes noted below) is",
                 f"{I1}# held as [B, *spatial, C], XLA:CPU's fast convolution layout, with no transpose inside the",
                 f"{I1}# loop; inputs and outputs are transposed once, outside it."]
        head += [f"{I1}{v.inputs[n]} = jnp.moveaxis({v.inputs[n]}, 1, -1)" for n, t in g.inputs.items()
                 if t.static and len(t.shape) >= 3]
    return [*head, "", *step, "", *loop, _return(g, results)]


def _scanned(g: Graph, name: str, x: str, layout: str) -> str:
    """Time input ``x`` [B, T, ...] as the loop scans it: [T, B, ...] in the loop's layout."""
    perm = to_loop(len(g.inputs[name].shape), layout)
    return f"jnp.transpose({x}, {perm})" if perm else f"jnp.moveaxis({x}, 1, 0)"


def printable_name(name: str) -> str:
    """An input name inside an f-string literal: no quotes or braces can escape."""
    return "".join(c for c in name if c.isalnum() or c in "_.-")
