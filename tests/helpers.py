"""What many tests share: a spec's text from its body, and compiling one from text."""

from __future__ import annotations

import textwrap
from typing import Any

from modelspec.diagnostics import Diagnostic
from modelspec.ir.graph import Graph
from modelspec.pipeline import compile_text


def spec(body: str, *, name: str = "M", inputs: str = "{x: [B, 8]}", head: str = "") -> str:
    """The text of a spec whose top lines are the usual ones: `modelspec: 1`, the name,
    ``head`` (`time:`, `params:` lines, if any), the inputs, then ``body`` (dedented).

    It starts with an empty line, as a triple-quoted spec does, so that the positions
    the tests assert read as in the text written out.
    """
    top = "".join(f"{line}\n" for line in textwrap.dedent(head).splitlines() if line)
    return f"\nmodelspec: 1\nname: {name}\n{top}inputs: {inputs}\n" + textwrap.dedent(body).lstrip("\n")


def compile_(text: str, file: str = "spec.yaml") -> tuple[Graph | None, list[Diagnostic]]:
    """The graph (None when it has errors) and every diagnostic, sorted."""
    res = compile_text(textwrap.dedent(text), file)
    return res.graph, list(res.diags.sorted())


def ir(text: str) -> Graph:
    """The graph of a spec that must compile without errors."""
    g, diags = compile_(text)
    errors = [f"{d.pos}: {d.code} {d.message}" for d in diags if d.is_error]
    assert not errors, errors
    assert g is not None
    return g


def two_cells(name: str = "Feedback", *, leak: bool = True, back_delay: str = "6ms") -> str:
    """Two instances of a recurrent `Cell` block, a delayed `in` between them and a delayed
    feedback edge through a Linear: the spec the graph and summary tests fold and measure.

    ``leak``: the cell integrates through an EulerStep (a stateful op with its own delay);
    ``back_delay``: the feedback edge's delay (6ms is 3 steps of 2 ms).
    """
    cell = ("      - {name: leak, op: EulerStep, in: [fc, {from: act, delay: 1}]}\n      - {name: act, op: Tanh}\n"
            if leak else "      - {name: act, op: Tanh, in: [fc]}\n")
    return (f"modelspec: 1\nname: {name}\ntime: {{steps: 6, dt: 2}}\ninputs:\n  x: [B, 8]\n"
            "blocks:\n  Cell:\n    layers:\n      - {name: fc, op: Linear, features: 8}\n" + cell +
            "layers:\n  - {name: a, block: Cell}\n  - {name: b, block: Cell}\n"
            "  - {name: mix, op: Add, in: [b.act, {from: a.act, delay: 2}]}\n"
            f"edges:\n  - {{name: back, from: b.act, to: a.fc, delay: {back_delay}, via: {{op: Linear, features: 8}}}}\n")


def one_layer(layer: str, inputs: str = "[B, 8]") -> Graph:
    """The checked graph of a spec that is one layer (flow-style YAML) on input ``x``."""
    res = compile_text(f"modelspec: 1\nname: T\ninputs:\n  x: {inputs}\nlayers:\n  - {layer}\n")
    assert res.ok, [str(d) for d in res.diags.sorted()]
    assert res.graph is not None
    return res.graph


def run_backend(g: Graph, backend: str, x: Any) -> Any:
    """The output of ``g`` built by ``backend`` (torch in eval mode) for the numpy input ``x``."""
    import numpy as np
    import torch

    from modelspec.build import build_graph  # torch (and jax) only where a test runs a model

    if backend == "torch":
        return build_graph(g, "torch").eval()(torch.from_numpy(x)).detach().numpy()
    from modelspec.parity import jax_outputs

    return np.asarray(jax_outputs(build_graph(g, "jax"), {}, {}, {"x": x}))


def assert_elementwise_rules(name: str) -> None:
    """An activation op keeps its input's shape, holds no parameters and counts no MACs."""
    from modelspec.ops import get_op

    op = get_op(name)
    assert op is not None and op.category == "activation"
    a = op.Attrs()
    assert op.shape(a, [("B", 3, 5)]) == ("B", 3, 5)
    assert op.params(a, [("B", 3, 5)], ("B", 3, 5)) == {}
    assert op.macs(a, [("B", 3, 5)], ("B", 3, 5)) == 0


def echo(*, tleak_delay: int, edge_delay: int, train_tau: bool = False, x_edge: bool = False) -> str:
    """A time model with every kind of delay, static input and output mode: a pure delay
    (`late`), a leaky integrator, one fed back from `total` after ``tleak_delay`` steps
    (with a trainable tau when ``train_tau``), a delayed edge from `total` back into
    `late` through a Linear, and (``x_edge``) a delayed edge from the input as well."""
    tau = ", train_tau: true" if train_tau else ""
    return ("\nmodelspec: 1\nname: Echo\ntime: {steps: 8, dt: 1, idle: 2}\n"
            "inputs:\n  x: [B, 4]\n  s: {shape: [B, 4], static: true}\n"
            "outputs:\n  late: {from: late, steps: all}\n  total: {from: total, steps: last}\n  leak: leak\n"
            "layers:\n  - {name: late, op: Identity, in: {from: x, delay: 6}}\n"
            "  - {name: leak, op: EulerStep, tau: 4, in: x}\n"
            f"  - {{name: tleak, op: EulerStep, tau: 2{tau}, in: [x, {{from: total, delay: {tleak_delay}}}]}}\n"
            "  - {name: total, op: Add, in: [leak, s, tleak]}\n"
            f"edges:\n  - {{from: total, to: late, delay: {edge_delay}, via: {{op: Linear, features: 4}}}}\n"
            + ("  - {from: x, to: late, delay: 1}\n" if x_edge else ""))


def tiny(train: str, *, hidden: str = "5", dropout: bool = False, params: str = "") -> str:
    """`Tiny`: 6 features -> Linear(hidden) [-> Dropout(0.5)] -> ReLU -> Linear(3) `head`, the
    training tests' model; ``train`` the lines of its `train:` section, ``params`` a `params:`
    section before the inputs."""
    return ("modelspec: 1\nname: Tiny\n" + params + "inputs:\n  x: [B, 6]\noutputs:\n  logits: head\n"
            f"layers:\n  - {{op: Linear, features: {hidden}}}\n" + ("  - {op: Dropout, p: 0.5}\n" if dropout else "")
            + "  - ReLU\n  - {name: head, op: Linear, features: 3}\ntrain:\n" + textwrap.indent(train + "\n", "  "))


def tiny_data(path: Any, n: int, seed: int, label: tuple[int, ...] = (0, 1)) -> Any:
    """``n`` samples of 6 standard-normal features, seeded, with the label the number of the
    ``label`` features that are positive, saved as ``x``/``y`` in the .npz at ``path``; the
    features are returned."""
    import numpy as np

    x = np.random.default_rng(seed).standard_normal((n, 6)).astype(np.float32)
    np.savez(path, x=x, y=sum((x[:, i] > 0).astype(np.int64) for i in label))
    return x


def tiny_conv(channels: int, *, name: str = "TinyConv", train: str = "") -> str:
    """A conv net over [B, channels, 8, 8] images, 3 classes: the image-data tests' model (and ``train``,
    a `train:` section's text, when given)."""
    text = (f"modelspec: 1\nname: {name}\ninputs:\n  x: [B, {channels}, 8, 8]\nlayers:\n"
            "  - {name: conv, op: Conv2d, channels: 4, kernel: 3, padding: 1}\n"
            "  - {name: relu, op: ReLU}\n  - {name: flat, op: Flatten}\n  - {name: head, op: Linear, features: 3}\n")
    return text + (f"train:\n{textwrap.indent(textwrap.dedent(train).strip(), '  ')}\n" if train else "")
