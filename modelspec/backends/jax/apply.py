"""``apply(params, state, inputs, *, train=False, key=None)``: the straight-line body, or
the body inside a ``lax.scan`` time loop.

Time models scan over ``idle + steps`` steps, so compile time does not grow with
the number of steps.  The carry is ``(state, bufs)``: BatchNorm buffers and one
delay buffer ``[D, ...]`` per source read with a delay (D its largest delay; zeros
until written; a shift register for small D, a ring buffer otherwise).  Reads
happen at the start of a step, writes at its end.  Time inputs ``[B, T, ...]`` are scanned along T; static inputs
are closed over.  Outputs with ``steps: all`` come back ``[B, T, ...]``, those
with ``steps: last`` the final step's value.
"""

from __future__ import annotations

from ...ir.graph import Graph
from .body import Body, Values
from .naming import JaxEmitError, Namer, docstring, q, reserved_locals

I1, I2 = "    ", "        "
#: delay buffers up to this depth are shift registers (a copy per step, but no dynamic
#: indexing, which XLA fuses better); deeper ones are ring buffers (in-place writes)
SHIFT_MAX = 4


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
    if g.time is None:
        return _static(g, v)
    return _timed(g, v)


def _static(g: Graph, v: Values) -> list[str]:
    body = Body(g, v)
    lines = [I1 + line for line in body.step()]
    outs = {name: v.read(o.source, 0) for name, o in g.outputs.items()}
    head = ["def apply(params, state, inputs, *, train=False, key=None):", *docstring(APPLY_DOC, I1)]
    head += _prologue(g, v.inputs, body.uses_key)
    head += _bind_symbols(g, v, v.inputs)
    head.append(f"{I1}state = dict(state)")
    head += [I1 + line for line in body.hoisted_lines()]
    return [*head, *lines, _return(g, outs)]


def _timed(g: Graph, v: Values) -> list[str]:
    assert g.time is not None
    steps, idle = g.time.steps, g.time.idle
    total = steps + idle
    timed = [name for name, term in g.inputs.items() if not term.static]
    for name, term in g.inputs.items():
        if term.static and idle:
            v.step_inputs[name] = v.namer.fresh(f"{name}_t")
    for name in timed:
        v.step_inputs[name] = v.namer.fresh(f"{name}_t")
    body = Body(g, v)
    step_lines = body.step()
    outs = {name: v.read(o.source, 0) for name, o in g.outputs.items()}

    # delay buffers: source -> largest delay, in evaluation order
    order = {name: i for i, name in enumerate([*g.inputs, *g.order])}
    depth: dict[str, int] = {}
    for (src, d) in sorted(v.delayed, key=lambda k: (order[k[0]], k[1])):
        depth[src] = max(depth.get(src, 0), d)

    step = [f"{I1}def step(carry, xs):", f"{I2}t, seqs = xs", f"{I2}state, bufs = carry"]
    if any(n.buffers for n in g.nodes.values()):
        step.append(f"{I2}state = dict(state)")
    for name in timed:
        step.append(f"{I2}{v.step_inputs[name]} = seqs[{q(name)}]")
    for name, term in g.inputs.items():
        if term.static and idle:
            step.append(f"{I2}{v.step_inputs[name]} = jnp.where(t >= {idle}, {v.inputs[name]}, 0)")
    if body.uses_key:
        step.append(f"{I2}key_t = jax.random.fold_in(key, t) if train else None")
    for (src, d), local in sorted(v.delayed.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        read = f"_shift_read(bufs[{q(src)}], {d})" if depth[src] <= SHIFT_MAX else f"_ring_read(bufs[{q(src)}], t, {d})"
        step.append(f"{I2}{local} = {read}")
    step += [I2 + line for line in step_lines]
    if depth:
        step.append(f"{I2}bufs = {{")
        for src in depth:
            value = v.read(src, 0)
            push = (f"_shift_push(bufs[{q(src)}], {value})" if depth[src] <= SHIFT_MAX
                    else f"_ring_write(bufs[{q(src)}], t, {value})")
            step.append(f"{I2}    {q(src)}: {push},")
        step.append(f"{I2}}}")
    ys = ", ".join(f"{q(name)}: {outs[name]}" for name in g.outputs)
    step.append(f"{I2}return (state, bufs), {{{ys}}}")

    loop = [f"{I1}bufs = {{"]
    for src, d in depth.items():
        shape = g.nodes[src].shape if src in g.nodes else g.inputs[src].shape
        loop.append(f"{I1}    {q(src)}: jnp.zeros({v.shape((d, *(shape or ())))}, dtype),")
    loop.append(f"{I1}}}")
    seqs = ", ".join(f"{q(n)}: jnp.moveaxis({v.inputs[n]}, 1, 0)" for n in timed)
    loop.append(f"{I1}(state, _), ys = lax.scan(step, (state, bufs), (jnp.arange({total}), {{{seqs}}}))")
    results: dict[str, str] = {}
    for name, o in g.outputs.items():
        local = v.namer.fresh(name)
        results[name] = local
        if o.steps == "last":
            loop.append(f"{I1}{local} = ys[{q(name)}][-1]")
        else:
            sl = f"[{idle}:]" if idle else ""
            loop.append(f"{I1}{local} = jnp.moveaxis(ys[{q(name)}]{sl}, 0, 1)")

    when = f" after {idle} idle steps" if idle else ""
    doc = [*APPLY_DOC, "", f"Time: {steps} steps{when} of dt = {g.time.dt} ms, run by lax.scan; "
           f"time inputs are [B, T, ...] with T = {steps}."]
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
    for name in timed if idle else []:
        x = v.inputs[name]
        pad = f"jnp.zeros(({x}.shape[0], {idle}) + {x}.shape[2:], {x}.dtype)"
        head.append(f"{I1}{x} = jnp.concatenate([{pad}, {x}], axis=1)  # {idle} idle steps")
    if body.hoisted:
        head += [f"{I1}# weights re-laid out once, outside the time loop (XLA does not hoist them)"]
        head += [I1 + line for line in body.hoisted_lines()]
    return [*head, "", *step, "", *loop, _return(g, results)]


def printable_name(name: str) -> str:
    """An input name inside an f-string literal: no quotes or braces can escape."""
    return "".join(c for c in name if c.isalnum() or c in "_.-")
