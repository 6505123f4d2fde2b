"""``build --stateful`` for JAX: an ``apply`` that takes and returns the time loop's carry.

``apply(params, state, inputs, carry=None, *, train=False, key=None) -> (outputs,
state, carry)`` runs the steps of one chunk of a stream; passing the returned
``carry`` to the next call goes on with the same stream, so 20 steps fed as
5 + 7 + 8 give what one 20-step call gives.  (``state`` stays what it is in every
JAX module: the BatchNorm buffers.)  The carry is a dict of arrays, so the
function jits as it is:

* ``"t"``: the absolute step the chunk starts at (an int32 scalar, idle steps
  included); the step function reads it, so an edge with delay d is computed
  and discarded before step d (``jnp.where``) instead of left out of a phase;
* ``"bufs"``: the delay buffers of `apply` (the time plan's depths), indexed by
  the absolute step.

``carry=None`` starts a fresh stream (``initial_carry(inputs)``), and only then
are the ``time.idle`` steps run.  A model whose inputs are all static takes
``steps=`` (a Python int, static under jit; default ``time.steps``).
"""

from __future__ import annotations

from ...ir.graph import Graph
from ...ir.timeplan import TimePlanError, lower_time
from .apply import (
    APPLY_DOC, I1, I2, _bind_symbols, _prologue, _step_core, _step_inputs, _step_outputs, _trace_step, _unpack_carry,
    _zero_buffers,
)
from .body import Values
from .naming import JaxEmitError, Namer, docstring, q, reserved_locals


def emit_apply_stateful(g: Graph) -> list[str]:
    """The source lines of the stateful ``apply`` and of ``initial_carry``."""
    if g.time is None:
        raise JaxEmitError("`--stateful` needs a time model: this spec has no `time:` section")
    if "carry" in g.inputs or "steps" in g.inputs:
        raise JaxEmitError("an input named `carry` or `steps` clashes with the stateful apply's arguments")
    namer = Namer(reserved_locals() | {"t0", "fresh", "n_steps"})
    v = Values(g, namer)
    try:
        plan = lower_time(g)
    except TimePlanError as exc:
        raise JaxEmitError(str(exc)) from None
    idle, steps = plan.idle, plan.steps
    timed = [name for name, term in g.inputs.items() if not term.static]
    for name in g.inputs:
        if name in timed or idle:
            v.step_inputs[name] = namer.fresh(f"{name}_t")
    body, step_lines, plan, depth, outs, order = _trace_step(g, plan, v, dynamic=True)

    step = [f"{I1}def step(idle, carry, xs):",
            *docstring(["One step at the absolute step t; `idle` (a Python bool): zero inputs, no outputs."], I2),
            *_unpack_carry(g)]
    step += _step_inputs(g, v, timed, idle, lambda x, zeros: f"{zeros} if idle else {x}")
    step += _step_core(body, v, order, depth, step_lines)
    ys = _step_outputs(g, outs)
    step.append(f"{I2}return (state, bufs), ({{}} if idle else {ys})")

    zeros = _zero_buffers(g, v, depth)

    count = f"{v.inputs[timed[0]]}.shape[1]" if timed else "steps"
    loop = [f"{I1}fresh = carry is None",
            f"{I1}if fresh:",
            f"{I2}carry = initial_carry(inputs)",
            f"{I1}t0 = jnp.asarray(carry[\"t\"], jnp.int32)",
            f"{I1}c = (state, dict(carry[\"bufs\"]))"]
    if idle:
        loop += [f"{I1}if fresh:  # the idle steps run once, at the start of a stream",
                 f"{I2}c, _ = lax.scan(lambda c, xs: step(True, c, xs), c, (t0 + jnp.arange({idle}), {{}}))",
                 f"{I2}t0 = t0 + {idle}"]
    seqs = "{" + ", ".join(f"{q(n)}: jnp.moveaxis({v.inputs[n]}, 1, 0)" for n in timed) + "}"
    loop += [f"{I1}n_steps = {count}",
             f"{I1}c, ys = lax.scan(lambda c, xs: step(False, c, xs), c, (t0 + jnp.arange(n_steps), {seqs}))",
             f"{I1}state, bufs = c"]
    results: dict[str, str] = {}
    for e in plan.emissions:
        local = namer.fresh(e.name)
        results[e.name] = local
        if e.steps == "last":
            loop.append(f"{I1}{local} = ys[{q(e.name)}][-1]")
        else:
            loop.append(f"{I1}{local} = jnp.moveaxis(ys[{q(e.name)}], 0, 1)")
    if len(g.outputs) == 1:
        out = results[next(iter(g.outputs))]
    else:
        out = "{" + ", ".join(f"{q(name)}: {results[name]}" for name in g.outputs) + "}"
    loop.append(f"{I1}return {out}, state, {{\"t\": t0 + n_steps, \"bufs\": bufs}}")

    kw = ", steps=" + str(steps) if not timed else ""
    doc = ["One chunk of a stream through the model: returns (outputs, new_state, new_carry).", *APPLY_DOC[1:], "",
           "carry: None starts a fresh stream (initial_carry(inputs)); pass the carry returned by",
           "  one call to the next to go on with the same stream, chunk by chunk: time inputs are",
           "  [B, T, ...] with any T" + (". " if timed else f"; `steps` (a Python int) steps per call. "),
           f"Time: dt = {g.time.dt} ms"
           + (f", {idle} idle steps at the start of a stream." if idle else ".")]
    head = [f"def apply(params, state, inputs, carry=None, *, train=False, key=None{kw}):", *docstring(doc, I1)]
    head += _prologue(g, v.inputs, body.uses_key)
    head += _bind_symbols(g, v, v.inputs)
    head += _dtype(g, v)
    if body.hoisted:
        head += [I1 + line for line in body.hoisted_lines()]

    init = ["def initial_carry(inputs):",
            *docstring(["The carry of a fresh stream, what `carry=None` starts from: step 0 and every",
                        "delay buffer zeros, shaped like the inputs (a dict, or the one input's array)."], I1)]
    init += _prologue(g, v.inputs, False)
    init += _bind_symbols(g, v, v.inputs)
    init += _dtype(g, v)
    init += zeros
    init.append(f"{I1}return {{\"t\": jnp.asarray(0, jnp.int32), \"bufs\": bufs}}")
    return [*init, "", "", *head, "", *step, "", *loop]


def _dtype(g: Graph, v: Values) -> list[str]:
    floats = [v.inputs[n] for n, t in g.inputs.items() if t.dtype.startswith(("float", "bfloat"))]
    return [f"{I1}dtype = {floats[0]}.dtype" if floats else f"{I1}dtype = jnp.float32"]
