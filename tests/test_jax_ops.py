"""Every op's JAX code against the Torch backend (which calls torch's own functions).

Each case is a one- or two-node spec; both backends are built from it, the
Torch weights are copied into the JAX parameters, and the outputs must agree
in float32 (atol = rtol = 1e-4).  Variants cover the PyTorch corner cases the
JAX code reimplements: asymmetric `same` padding, padding modes, ceil-mode
pooling, count_include_pad, uneven adaptive bins, transposed convolution,
interpolation index arithmetic, bidirectional LSTM/GRU, cross-attention.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("jax")
torch = pytest.importorskip("torch")

from modelspec.parity import compare, example_inputs  # noqa: E402
from modelspec.pipeline import compile_text  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Any:
    """Torch on one thread: next to XLA's idle pool threads, a multi-threaded torch call
    on small tensors slows down a hundredfold on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def spec(inputs: str, layers: str, extra: str = "") -> str:
    return f"modelspec: 1\nname: T\ninputs:\n{inputs}\n{extra}layers:\n{layers}\n"


def graph(text: str):  # noqa: ANN201
    r = compile_text(text)
    assert r.ok, [str(d) for d in r.diags.sorted()]
    return r.graph


#: the inputs a case declares, by the short name its row gives
INPUTS = {
    "img": "  x: [B, 4, 9, 10]",
    "seq": "  x: [B, 6, 8]",
    "1d": "  x: [B, 4, 12]",
    "3d": "  x: [B, 2, 5, 6, 7]",
    "img_odd": "  x: [B, 2, 7, 8]",
    "3d_small": "  x: [B, 2, 3, 4, 5]",
    "1d_small": "  x: [B, 2, 7]",
    "q_kv": "  q: [B, 3, 8]\n  kv: [B, 5, 8]",
}

CASES: dict[str, tuple[str, str]] = {
    # convolution
    "conv1d": ("1d", "  - {op: Conv1d, channels: 6, kernel: 3, stride: 2, padding: 1}"),
    "conv1d_same_even": ("1d", "  - {op: Conv1d, channels: 4, kernel: 4, padding: same, dilation: 2}"),
    "conv2d_rect": ("img", "  - {op: Conv2d, channels: 6, kernel: [3, 5], stride: [2, 1], padding: [1, 2]}"),
    "conv2d_same_even": ("img", "  - {op: Conv2d, channels: 5, kernel: 4, padding: same, bias: false}"),
    "conv2d_groups_dilation": ("img", "  - {op: Conv2d, channels: 8, kernel: 3, groups: 2, dilation: 2, padding: 2}"),
    "conv2d_reflect": ("img", "  - {op: Conv2d, channels: 3, kernel: 3, padding: 1, padding_mode: reflect}"),
    "conv2d_replicate": ("img", "  - {op: Conv2d, channels: 3, kernel: 5, padding: 2, padding_mode: replicate}"),
    "conv2d_circular": ("img", "  - {op: Conv2d, channels: 3, kernel: 3, padding: 1, padding_mode: circular}"),
    "conv2d_valid": ("img", "  - {op: Conv2d, channels: 3, kernel: 3, padding: valid}"),
    "conv3d": ("3d", "  - {op: Conv3d, channels: 4, kernel: 3, stride: [1, 2, 2], padding: 1}"),
    "conv_transpose": ("img", "  - {op: ConvTranspose2d, channels: 5, kernel: 3, stride: 2, padding: 1, output_padding: 1}"),
    "conv_transpose_groups": ("img", "  - {op: ConvTranspose2d, channels: 6, kernel: [3, 2], stride: [1, 2], groups: 2, dilation: 2, bias: false}"),
    # pooling
    "maxpool_ceil": ("img", "  - {op: MaxPool2d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}"),
    "maxpool_dilation": ("img", "  - {op: MaxPool2d, kernel: 2, stride: 1, dilation: 2}"),
    "avgpool_pad": ("img", "  - {op: AvgPool2d, kernel: 3, stride: 2, padding: 1}"),
    "avgpool_ceil_nopad": ("img", "  - {op: AvgPool2d, kernel: 2, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false}"),
    "avgpool_ceil_pad": ("img_odd", "  - {op: AvgPool2d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}"),
    "adaptive_uneven": ("img", "  - {op: AdaptiveAvgPool2d, size: [4, 3]}"),
    "adaptive_keep": ("img", "  - {op: AdaptiveAvgPool2d, size: [null, 2]}"),
    "global_avg": ("img", "  - GlobalAvgPool"),
    # normalisation (eval mode: running statistics)
    "batchnorm1d_seq": ("seq", "  - BatchNorm1d"),
    "batchnorm2d_noaffine": ("img", "  - {op: BatchNorm2d, affine: false}"),
    "batchnorm_untracked": ("img", "  - {op: BatchNorm2d, track_running_stats: false}"),
    "layernorm2": ("seq", "  - {op: LayerNorm, dims: 2}"),
    "layernorm_nobias": ("seq", "  - {op: LayerNorm, bias: false}"),
    "groupnorm": ("img", "  - {op: GroupNorm, groups: 2}"),
    # activations
    "leaky": ("seq", "  - {op: LeakyReLU, negative_slope: 0.2}"),
    "gelu": ("seq", "  - GELU"),
    "gelu_tanh": ("seq", "  - {op: GELU, approximate: tanh}"),
    "silu_tanh_sigmoid": ("seq", "  - SiLU\n  - Tanh\n  - Sigmoid"),
    "softmax": ("seq", "  - {op: Softmax, axis: 1}"),
    "log_softmax": ("seq", "  - LogSoftmax"),
    "supralinear": ("seq", "  - {op: SupraLinear, n: 3}"),
    # shape and arithmetic
    "flatten_mid": ("img", "  - {op: Flatten, start: 1, end: 2}"),
    "reshape": ("img", "  - {op: Reshape, shape: [B, -1, 5]}"),
    "permute": ("img", "  - {op: Permute, dims: [0, 2, 3, 1]}"),
    "concat_mul_add": ("img", "  - {name: a, op: Tanh}\n  - {name: b, op: Concat, in: [x, a], axis: 1}\n  - {name: c, op: Mul, in: [b, b]}\n  - {op: Add, in: [c, b, b]}"),
    "identity_dropout_noise": ("seq", "  - Identity\n  - {op: Dropout, p: 0.5}\n  - {op: GaussianNoise, std: 1.0}"),
    # sequences
    "attention_self": ("seq", "  - {op: MultiheadAttention, heads: 2}"),
    "attention_cross": ("q_kv", "  - {op: MultiheadAttention, heads: 4, bias: false, dropout: 0.1, in: [q, kv, kv]}"),
    "encoder_prenorm_gelu": ("seq", "  - {op: TransformerEncoderLayer, heads: 2, ff: 16, norm_first: true, activation: gelu, eps: 1.0e-6}"),
    "positional": ("seq", "  - PositionalEncoding"),
    "lstm_bi": ("seq", "  - {op: LSTM, features: 5, layers: 2, bidirectional: true}"),
    "lstm_bi_last": ("seq", "  - {op: LSTM, features: 5, layers: 2, bidirectional: true, sequence: last}"),
    "gru": ("seq", "  - {op: GRU, features: 7, layers: 2}"),
    "gru_bi_last_nobias": ("seq", "  - {op: GRU, features: 4, bidirectional: true, sequence: last, bias: false}"),
    # resizing
    "nearest_size": ("img", "  - {op: Interpolate, size: [7, 23]}"),
    "nearest_scale": ("img", "  - {op: Interpolate, scale: 1.7}"),
    "nearest_down": ("img", "  - {op: Interpolate, scale: 0.5}"),
    "nearest_3d": ("3d_small", "  - {op: Interpolate, size: [5, 3, 11]}"),
    "linear_1d": ("1d_small", "  - {op: Interpolate, size: 12, mode: linear}"),
    "bilinear": ("img", "  - {op: Interpolate, size: [13, 6], mode: bilinear}"),
    "bilinear_corners": ("img", "  - {op: Interpolate, scale: 1.5, mode: bilinear, align_corners: true}"),
    "bicubic": ("img", "  - {op: Interpolate, size: [17, 8], mode: bicubic}"),
    "bicubic_corners": ("img", "  - {op: Interpolate, size: [5, 19], mode: bicubic, align_corners: true}"),
    "dense": ("seq", "  - {op: Linear, features: 3, bias: false}"),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_torch(case: str) -> None:
    inputs, layers = CASES[case]
    inputs = INPUTS[inputs]
    r = compare(graph(spec(inputs, layers)), via_file=False)
    np.testing.assert_allclose(r.jax, r.torch, atol=1e-4, rtol=1e-4)


def test_embedding_matches_torch() -> None:
    g = graph(spec("  tok: {shape: [B, L], dtype: int64}", "  - {op: Embedding, num: 7, features: 4}"))
    x = {"tok": np.random.RandomState(0).randint(0, 7, size=(3, 5)).astype(np.int64)}
    r = compare(g, inputs=x, via_file=False)
    np.testing.assert_allclose(r.jax, r.torch, atol=1e-6)


TIME = "time: {steps: 4, dt: 1.5, idle: 2}\n"


def test_time_features_match_torch() -> None:
    """Own-state EulerStep with trainable tau, idle steps, a static input, a delayed
    input read, `steps: last` next to `steps: all`, two outputs."""
    text = (
        "modelspec: 1\nname: T\n" + TIME
        + "inputs:\n  x: [B, 3]\n  s: {shape: [B, 3], static: true}\n"
        + "outputs:\n  seq: mix\n  final: {from: leak, steps: last}\n"
        + "layers:\n"
        + "  - {name: fc, op: Linear, features: 3, in: x}\n"
        + "  - {name: leak, op: EulerStep, tau: 4.0, train_tau: true}\n"
        + "  - {name: mix, op: Add, in: [leak, s, {from: x, delay: 2}, {from: mix, delay: 1}]}\n"
    )
    g = graph(text)
    r = compare(g, inputs=example_inputs(g, batch=2, seed=3))
    assert r.jax["seq"].shape == (2, 4, 3) and r.jax["final"].shape == (2, 3)
    for k in r.torch:
        np.testing.assert_allclose(r.jax[k], r.torch[k], atol=1e-5, rtol=1e-5)


def test_two_inputs_two_outputs_static() -> None:
    g = graph("modelspec: 1\nname: T\ninputs:\n  a: [B, 4, 6]\n  b: [B, 4, 6]\n"
              "outputs:\n  sum: s\n  prod: {from: m}\n"
              "layers:\n  - {name: s, op: Add, in: [a, b]}\n  - {name: m, op: Mul, in: [a, s]}\n")
    r = compare(g, via_file=False)
    assert set(r.jax) == {"sum", "prod"}
    for k in r.torch:
        np.testing.assert_allclose(r.jax[k], r.torch[k], atol=1e-6)


#: image cases whose ops all run channels-last, so a time loop around them does (`layout.py`)
CHANNELS_LAST_CASES = sorted(
    c for c, (inp, _) in CASES.items()
    if inp in ("img", "img_odd", "3d", "3d_small")
    and c.startswith(("conv2d", "conv3d", "maxpool", "avgpool", "global_avg", "nearest", "bilinear", "bicubic"))
)
CHANNELS_LAST_NOTE = "# The time loop runs channels-last"


def timed(inputs: str, layers: str, time: str = "time: {steps: 3, dt: 1.0}\n") -> Any:
    return graph(spec(inputs, layers, time))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", CHANNELS_LAST_CASES)
def test_op_in_a_channels_last_time_loop_matches_torch(case: str) -> None:
    """The same op inside a time loop, where the JAX code holds every image [B, *spatial, C]."""
    from modelspec.backends.jax import emit_jax

    inputs, layers = CASES[case]
    g = timed(INPUTS[inputs], layers)
    assert CHANNELS_LAST_NOTE in emit_jax(g)
    r = compare(g, via_file=False)
    np.testing.assert_allclose(r.jax, r.torch, atol=1e-4, rtol=1e-4)


def test_channels_last_loop_with_idle_steps_static_input_delays_and_last_outputs() -> None:
    """Idle steps (zero images), a static image, a delayed self-read, image outputs of every
    step and of the last, next to a [B, F] head: all transposed back to [B, (T,) C, H, W]."""
    from modelspec.backends.jax import emit_jax

    text = (
        "modelspec: 1\nname: T\ntime: {steps: 3, dt: 1.0, idle: 1}\n"
        "inputs:\n  x: [B, 3, 6, 5]\n  s: {shape: [B, 4, 6, 5], static: true}\n"
        "outputs:\n  maps: mix\n  last: {from: leak, steps: last}\n  head: fc\n"
        "layers:\n"
        "  - {name: conv, op: Conv2d, channels: 4, kernel: 3, padding: 1, in: x}\n"
        "  - {name: leak, op: EulerStep, tau: 4.0}\n"
        "  - {name: mix, op: Add, in: [leak, s, {from: mix, delay: 2}]}\n"
        "  - {name: gap, op: GlobalAvgPool}\n"
        "  - {name: fc, op: Linear, features: 2}\n"
    )
    g = graph(text)
    assert CHANNELS_LAST_NOTE in emit_jax(g)
    r = compare(g, inputs=example_inputs(g, batch=2, seed=1))
    assert r.jax["maps"].shape == (2, 3, 4, 6, 5) and r.jax["last"].shape == (2, 4, 6, 5)
    for k in r.torch:
        np.testing.assert_allclose(r.jax[k], r.torch[k], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", ["conv_transpose", "flatten_mid", "groupnorm", "concat_mul_add"])
def test_a_time_loop_with_an_op_that_needs_channels_first_stays_channels_first(case: str) -> None:
    """One op that reads the channel axis as axis 1 keeps the whole loop in the IR's layout."""
    from modelspec.backends.jax import emit_jax

    inputs, layers = CASES[case]
    g = timed(INPUTS[inputs], "  - {op: Conv2d, channels: 4, kernel: 3, padding: 1}\n" + layers)
    assert CHANNELS_LAST_NOTE not in emit_jax(g) and "channels_last=True" not in emit_jax(g)
    r = compare(g, via_file=False)
    np.testing.assert_allclose(r.jax, r.torch, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("layers", [
    "  - {op: MaxPool2d, kernel: 3, stride: 2, padding: 1}",
    "  - {op: MaxPool2d, kernel: 2, stride: 1, dilation: 2, ceil_mode: true}",
])
def test_max_pool_gradient_and_nan_follow_torch(layers: str) -> None:
    """Ties (a window of zeros, as after a ReLU) send the whole gradient to one element, the
    first, and a NaN in a window wins: torch's max_pool2d semantics, checked against torch."""
    import jax
    import jax.numpy as jnp
    from modelspec.build import build_graph

    g = graph(spec("  x: [B, 2, 7, 8]", layers))
    mod = build_graph(g, "jax")
    rs = np.random.RandomState(0)
    x = np.where(rs.rand(2, 2, 7, 8) < 0.6, 0.0, rs.randn(2, 2, 7, 8)).astype(np.float32)
    w = rs.randn(*np.shape(mod.apply({}, {}, jnp.asarray(x))[0])).astype(np.float32)
    got = jax.grad(lambda v: jnp.sum(mod.apply({}, {}, v)[0] * w))(jnp.asarray(x))
    xt = torch.from_numpy(x).requires_grad_()
    model = build_graph(g, "torch")
    (model(xt) * torch.from_numpy(w)).sum().backward()
    np.testing.assert_array_equal(np.asarray(got), xt.grad.numpy())
    x[0, 1, 3, 4] = np.nan
    np.testing.assert_array_equal(np.asarray(mod.apply({}, {}, jnp.asarray(x))[0]),
                                  model(torch.from_numpy(x)).detach().numpy())


@pytest.mark.parametrize("n, i, o", [(2, 8, 3), (8, 40, 32), (32, 784, 256), (16, 128, 64), (3, 5, 7)])
def test_linear_helper_both_forms_match_numpy_with_gradients(n: int, i: int, o: int) -> None:
    """`_linear` computes W x^T (transposed back) when the batch is small beside the weight and x W^T
    otherwise; both must be x W^T + b, forward and backward (float64 numpy as the truth)."""
    import jax
    import jax.numpy as jnp

    from modelspec.backends.jax.lib_core import _linear

    rng = np.random.default_rng(n)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((n, i), (o, i), (o,)))
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    np.testing.assert_allclose(_linear(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b)), x64 @ w64.T + b,
                               rtol=1e-4, atol=1e-4)
    text = jax.jit(lambda x, w: _linear(x, w)).lower(x, w).as_text()
    assert ("optimization_barrier" in text) == (8 <= n and 4 * n <= min(i, o))
    # d/dx, d/dw, d/db of sum(y * g) for a fixed g: g W, g^T x, sum(g)
    g = rng.standard_normal((n, o))
    dx, dw, db = jax.grad(lambda x, w, b: (_linear(x, w, b) * jnp.asarray(g, jnp.float32)).sum(),
                          argnums=(0, 1, 2))(x, w, b)
    np.testing.assert_allclose(dx, g @ w64, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dw, g.T @ x64, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(db, g.sum(0), rtol=1e-4, atol=1e-4)


def test_mlp_at_a_batch_that_takes_the_transposed_linear_matches_torch() -> None:
    g = graph(spec("  x: [B, 64]", "  - {op: Linear, features: 48}\n  - ReLU\n  - {op: Linear, features: 40}"))
    x = {"x": np.random.RandomState(1).randn(8, 64).astype(np.float32)}
    r = compare(g, inputs=x, via_file=False)
    np.testing.assert_allclose(r.jax, r.torch, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("c, want", [(121, 128), (250, 256), (60, 64), (110, 112), (150, 160), (90, 96),
                                     (36, 36), (100, 100), (20, 20), (7, 7), (1, 1), (16, 16), (40, 40),
                                     (64, 64), (200, 200), (120, 120), (1000, 1000), (1001, 1008)])
def test_lane_channels_pads_only_counts_off_the_lanes_and_only_when_it_is_cheap(c: int, want: int) -> None:
    """Off a multiple of 8 and at most a tenth more filters: up to the next multiple of 16."""
    from modelspec.ops.kit import lane_channels

    assert lane_channels(c) == want


LANE_SPEC = (
    "modelspec: 1\nname: T\ntime: {steps: 4, dt: 1.0}\ninputs:\n  x: [B, 3, 6, 5]\n"
    "layers:\n"
    "  - {name: conv, op: Conv2d, channels: 121, kernel: 3, padding: 1}\n"
    "  - {name: relu, op: ReLU}\n"
    "  - {name: grouped, op: Conv2d, channels: 121, kernel: 1, groups: 11}\n"
    "edges:\n"
    "  - {name: rec, from: relu, to: conv, delay: 2, via: {op: Recurrence, type: full}}\n"
)


def test_lane_padded_convolutions_match_torch_forward_and_backward() -> None:
    """A 121-channel convolution and full recurrence run on 128 filters (7 zero ones) and keep
    the first 121; the grouped one is left alone.  Values and the input's gradient equal torch's."""
    import jax
    import jax.numpy as jnp

    from modelspec import weights as pio
    from modelspec.backends.jax import emit_jax
    from modelspec.build import build_graph

    g = graph(LANE_SPEC)
    src = emit_jax(g)
    assert '_channels_last(params["conv.weight"], 128)' in src
    assert '_channels_last(params["edges.rec.via.conv.weight"], 128)' in src
    assert src.count("out=121") == 2 and '_channels_last(params["grouped.weight"])' in src
    jmod, model = build_graph(g, "jax"), build_graph(g, "torch")
    params = jmod.init(jax.random.PRNGKey(3))
    pio.to_torch(model, {k: np.asarray(v) for k, v in params.items()})
    rs = np.random.RandomState(2)
    x = rs.randn(2, 4, 3, 6, 5).astype(np.float32)
    y = np.asarray(jmod.apply(params, {}, jnp.asarray(x))[0])
    assert y.shape == (2, 4, 121, 6, 5)
    w = rs.randn(*y.shape).astype(np.float32)
    got = jax.grad(lambda v: jnp.sum(jmod.apply(params, {}, v)[0] * w))(jnp.asarray(x))
    xt = torch.from_numpy(x).requires_grad_()
    out = model(xt)
    (out * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(y, out.detach().numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(got), xt.grad.numpy(), atol=1e-4, rtol=1e-4)
