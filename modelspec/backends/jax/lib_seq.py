"""Runtime helpers for sequence ops (copied into emitted modules; see lib_core).

Attention uses torch's packed ``in_proj_weight [3E, E]`` (rows q, k, v) and
its scaling; LSTM and GRU use torch's gate order (i, f, g, o and r, z, n),
both biases, and ``lax.scan`` over the sequence so compile time does not grow
with its length.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .lib_core import _dropout, _layer_norm, _linear


def _attention(q, k, v, in_w, in_b, out_w, out_b, heads, dropout=0.0, key=None):
    """torch.nn.MultiheadAttention (batch_first) on [B, L, E]; returns only the output.

    ``key`` is given only in training; it drives dropout on the attention weights.
    """
    e = q.shape[-1]
    wq, wk, wv = jnp.split(in_w, 3)
    bq, bk, bv = jnp.split(in_b, 3) if in_b is not None else (None, None, None)

    def project(x, w, b):
        y = jnp.matmul(x, w.T)
        y = y if b is None else y + b
        return y.reshape(x.shape[0], x.shape[1], heads, e // heads).transpose(0, 2, 1, 3)

    qh, kh, vh = project(q, wq, bq), project(k, wk, bk), project(v, wv, bv)
    scores = jnp.matmul(qh, kh.transpose(0, 1, 3, 2)) / math.sqrt(e // heads)
    weights = jax.nn.softmax(scores, axis=-1)
    if key is not None and dropout > 0.0:
        weights = _dropout(weights, dropout, key)
    out = jnp.matmul(weights, vh).transpose(0, 2, 1, 3).reshape(q.shape)
    out = jnp.matmul(out, out_w.T)
    return out if out_b is None else out + out_b


def _encoder_layer(x, p, heads, dropout=0.1, activation="relu", norm_first=False, eps=1e-5, key=None):
    """torch.nn.TransformerEncoderLayer (batch_first); ``p`` maps torch's local names to arrays."""
    keys = jax.random.split(key, 4) if key is not None else [None] * 4

    def drop(y, k):
        return y if k is None else _dropout(y, dropout, k)

    def norm(y, name):
        return _layer_norm(y, p[name + ".weight"], p[name + ".bias"], 1, eps)

    def self_attention(y):
        a = _attention(y, y, y, p["self_attn.in_proj_weight"], p["self_attn.in_proj_bias"],
                       p["self_attn.out_proj.weight"], p["self_attn.out_proj.bias"], heads, dropout, keys[0])
        return drop(a, keys[1])

    def feed_forward(y):
        act = jax.nn.relu if activation == "relu" else (lambda z: jax.nn.gelu(z, approximate=False))
        h = drop(act(_linear(y, p["linear1.weight"], p["linear1.bias"])), keys[2])
        return drop(_linear(h, p["linear2.weight"], p["linear2.bias"]), keys[3])

    if norm_first:
        x = x + self_attention(norm(x, "norm1"))
        return x + feed_forward(norm(x, "norm2"))
    x = norm(x + self_attention(x), "norm1")
    return norm(x + feed_forward(x), "norm2")


def _positional_encoding(x):
    """Adds the sinusoid table PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(.),
    computed in float32 exactly as the usual torch code does."""
    length, e = x.shape[1], x.shape[2]
    position = np.arange(length, dtype=np.float32)[:, None]
    div = np.exp(np.arange(0, e, 2, dtype=np.float32) * np.float32(-math.log(10000.0) / e))
    table = np.zeros((length, e), np.float32)
    table[:, 0::2] = np.sin(position * div)
    table[:, 1::2] = np.cos(position * div)
    return x + jnp.asarray(table, x.dtype)


def _rnn_direction(cell, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    """Runs one layer in one direction over x [L, B, F] with lax.scan; returns (outputs, final carry)."""
    xw = jnp.matmul(x, w_ih.T)
    if b_ih is not None:
        xw = xw + b_ih

    def step(carry, xw_t):
        carry = cell(carry, xw_t, w_hh, b_hh)
        return carry, carry[0]

    last, ys = lax.scan(step, h0, xw, reverse=reverse)
    return ys, last


def _lstm_cell(carry, xw_t, w_hh, b_hh):
    h, c = carry
    gates = xw_t + jnp.matmul(h, w_hh.T)
    if b_hh is not None:
        gates = gates + b_hh
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def _gru_cell(carry, xw_t, w_hh, b_hh):
    (h,) = carry
    hw = jnp.matmul(h, w_hh.T)
    if b_hh is not None:
        hw = hw + b_hh
    xr, xz, xn = jnp.split(xw_t, 3, axis=-1)
    hr, hz, hn = jnp.split(hw, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    return ((1.0 - z) * n + z * h,)


def _recurrent(kind, x, weights, hidden, bidirectional=False, last=False):
    """torch.nn.LSTM / nn.GRU (batch_first) on [B, L, F].

    ``weights`` lists, per layer and direction (forward first), the tuple
    (weight_ih, weight_hh, bias_ih, bias_hh) (biases None without bias).
    Returns the top layer's outputs [B, L, H*dirs], or with ``last`` its final
    hidden states, directions concatenated [B, H*dirs].
    """
    cell = _lstm_cell if kind == "lstm" else _gru_cell
    dirs = 2 if bidirectional else 1
    seq = jnp.swapaxes(x, 0, 1)
    zeros = jnp.zeros((x.shape[0], hidden), x.dtype)
    h0 = (zeros, zeros) if kind == "lstm" else (zeros,)
    finals = []
    for layer in range(len(weights) // dirs):
        outs, finals = [], []
        for d in range(dirs):
            ys, carry = _rnn_direction(cell, seq, h0, *weights[layer * dirs + d], reverse=d == 1)
            outs.append(ys)
            finals.append(carry[0])
        seq = jnp.concatenate(outs, axis=-1) if dirs > 1 else outs[0]
    if last:
        return jnp.concatenate(finals, axis=-1) if dirs > 1 else finals[0]
    return jnp.swapaxes(seq, 0, 1)
