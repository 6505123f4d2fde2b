"""Sequence ops over ``[B, L, E]`` (batch first): MultiheadAttention,
TransformerEncoderLayer, PositionalEncoding, LSTM and GRU.

The sequence axis ``L`` is an ordinary data axis, not the time axis of
docs/language.md, "7. Time" (that one never reaches an op).  Parameter names and shapes are
exactly torch's (``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``,
``nn.LSTM``, ``nn.GRU`` with ``batch_first=True``), so state_dicts load
either way.
"""

from __future__ import annotations

from typing import Literal, Sequence

from .attrs import Field

from ..shapes.dims import Dim, Shape, add, concrete, fmt_shape, mul
from .base import Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules, need_concrete, need_rank
from .kit import Code, call, ones, q, torch_default, uniform, zeros
from .registry import register

_SEQ = "[B, L, E]"


def _check_heads(e: Dim, heads: int, x: Shape) -> None:
    if concrete(e) and e % heads:  # type: ignore[operator]
        raise ShapeError(
            f"expects the embedding size (last axis) divisible by heads={heads}, got {e} in {fmt_shape(x)}"
        )


def _attention_params(e: int, bias: bool, prefix: str = "") -> dict[str, tuple[int, ...]]:
    p = {f"{prefix}in_proj_weight": (3 * e, e)}
    if bias:
        p[f"{prefix}in_proj_bias"] = (3 * e,)
    p[f"{prefix}out_proj.weight"] = (e, e)
    if bias:
        p[f"{prefix}out_proj.bias"] = (e,)
    return p


def _attention_macs(lq: Dim, lk: Dim, e: Dim) -> Dim:
    """q, k, v and output projections plus the two L_q x L_k x E products."""
    proj = mul(add(mul(lq, 2), mul(lk, 2)), mul(e, e))
    scores = mul(mul(mul(lq, lk), e), 2)
    return add(proj, scores)


#: the Torch helper PositionalEncoding emits (the same table as "Attention is all you need").
SINUSOID_TABLE = '''def _sinusoid_table(length: int, d_model: int, like: Tensor) -> Tensor:
    """PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...), on like's device and dtype."""
    position = torch.arange(length, dtype=torch.float32, device=like.device).unsqueeze(1)
    steps = torch.arange(0, d_model, 2, dtype=torch.float32, device=like.device)
    div_term = torch.exp(steps * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model, device=like.device)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return pe.to(like.dtype)'''


# ---- attributes --------------------------------------------------------------

class MultiheadAttentionAttrs(Attrs):
    heads: int = Field(gt=0, description="Number of attention heads; the embedding size must be divisible by it.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the attention weights during training.")
    bias: bool = Field(True, description="Learn biases for the input and output projections.")


class TransformerEncoderLayerAttrs(Attrs):
    heads: int = Field(gt=0, description="Number of attention heads (PyTorch's nhead).")
    ff: int = Field(2048, gt=0, description="Hidden size of the feed-forward block (PyTorch's dim_feedforward).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout probability during training.")
    activation: Literal["relu", "gelu"] = Field("relu", description="Activation of the feed-forward block.")
    norm_first: bool = Field(False, description="Pre-norm (LayerNorm before attention and feed-forward) instead of post-norm.")
    eps: float = Field(1e-5, gt=0, description="LayerNorm epsilon (PyTorch's layer_norm_eps).")


class PositionalEncodingAttrs(Attrs):
    max_len: int = Field(5000, gt=0, description="Longest sequence the sinusoid table covers.")


class RecurrentAttrs(Attrs):
    features: int = Field(gt=0, description="Hidden size per direction (PyTorch's hidden_size).")
    layers: int = Field(1, gt=0, description="Number of stacked layers (PyTorch's num_layers).")
    bias: bool = Field(True, description="Learn the input and hidden biases.")
    bidirectional: bool = Field(False, description="Also run the sequence backwards; outputs are concatenated.")
    sequence: Literal["all", "last"] = Field(
        "all",
        description="`all`: the output at every position [B, L, H*dirs]; `last`: the final hidden state "
        "of the top layer, both directions concatenated, [B, H*dirs].",
    )


# ---- ops ---------------------------------------------------------------------

@register
class MultiheadAttention(Op, TorchRules, JaxRules):
    """Multi-head attention (PyTorch's nn.MultiheadAttention, batch_first).

    One input is self-attention on ``[B, L, E]``; three inputs are query
    ``[B, Lq, E]``, key and value ``[B, Lk, E]``.  Output ``[B, Lq, E]`` (the
    attention weights are not an output).  MACs: the four E x E projections
    and the two attention products.
    """

    Attrs = MultiheadAttentionAttrs
    arity = (1, 3)
    category = "sequence"
    doc = "Multi-head attention over [B, L, E]: one input (self-attention) or three (query, key, value)."
    example = {"heads": 4}

    def torch_layer(self, a: MultiheadAttentionAttrs, ins: Sequence[Shape], out: Shape) -> str:
        opts = ("" if a.dropout == 0 else f", dropout={a.dropout!r}") + ("" if a.bias else ", bias=False")
        return f"nn.MultiheadAttention({ins[0][2]}, {a.heads}{opts}, batch_first=True)"

    def torch_call(self, a: MultiheadAttentionAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        q, k, v = args if len(args) == 3 else (args[0],) * 3
        return f"{m}({q}, {k}, {v}, need_weights=False)[0]"

    def shape(self, a: MultiheadAttentionAttrs, ins: Sequence[Shape]) -> Shape:
        if len(ins) == 2:
            raise ShapeError(
                "takes 1 input (self-attention) or 3 (query, key, value), got 2", code="MS051"
            )
        q = need_rank(ins, 3, _SEQ)
        _check_heads(q[2], a.heads, q)
        if len(ins) == 3:
            k, v = need_rank(ins, 3, _SEQ, 1), need_rank(ins, 3, _SEQ, 2)
            if k[2] != q[2] or v[2] != q[2] or k[:2] != v[:2] or k[0] != q[0]:
                raise ShapeError(
                    f"expects query [B, Lq, E], key and value [B, Lk, E], got {fmt_shape(q)}, "
                    f"{fmt_shape(k)}, {fmt_shape(v)}"
                )
        return q

    def params(self, a: MultiheadAttentionAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        return _attention_params(need_concrete(ins[0][2], "embedding size"), a.bias)

    def macs(self, a: MultiheadAttentionAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        q = ins[0]
        lk = ins[1][1] if len(ins) == 3 else q[1]
        return _attention_macs(q[1], lk, q[2])

    def jax_init(self, a: MultiheadAttentionAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        """torch's MultiheadAttention: xavier in_proj, zero biases, default out_proj weight."""
        e = int(ins[0][2])
        p = {"in_proj_weight": f"{{uniform}} * math.sqrt(6 / {4 * e})",  # xavier_uniform on [3E, E]
             "out_proj.weight": uniform(e)}
        if a.bias:
            p.update({"in_proj_bias": zeros((3 * e,)), "out_proj.bias": zeros((e,))})
        return p

    def jax_call(self, a: MultiheadAttentionAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        q, k, v = args if len(args) == 3 else (args[0],) * 3
        b_in, b_out = (p["in_proj_bias"], p["out_proj.bias"]) if a.bias else ("None", "None")
        kw: dict[str, object] = {}
        if a.dropout > 0:
            kw = {"dropout": a.dropout, "key": Code(f"{ctx.key()} if {ctx.train} else None")}
        return call("_attention", q, k, v, p["in_proj_weight"], b_in, p["out_proj.weight"], b_out,
                    str(a.heads), **kw)


@register
class TransformerEncoderLayer(Op, TorchRules, JaxRules):
    """One transformer encoder layer (PyTorch's nn.TransformerEncoderLayer, batch_first).

    Self-attention and a feed-forward block ``E -> ff -> E``, each with a
    residual connection and a LayerNorm.  MACs: attention plus
    ``2 * L * E * ff`` plus 4 per element for each LayerNorm.
    """

    Attrs = TransformerEncoderLayerAttrs
    category = "sequence"
    doc = "Self-attention + feed-forward encoder layer over [B, L, E]; torch's parameter names."
    example = {"heads": 4}

    def torch_layer(self, a: TransformerEncoderLayerAttrs, ins: Sequence[Shape], out: Shape) -> str:
        opts = [f"{k}={v!r}".replace("'", '"') for k, v, default in (
            ("activation", a.activation, "relu"), ("layer_norm_eps", a.eps, 1e-5),
            ("norm_first", a.norm_first, False)) if v != default]
        opts.append("batch_first=True")
        return (f"nn.TransformerEncoderLayer({ins[0][2]}, {a.heads}, {a.ff}, {a.dropout!r}, "
                f"{', '.join(opts)})")

    def torch_call(self, a: TransformerEncoderLayerAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f"{m}({args[0]})"

    def shape(self, a: TransformerEncoderLayerAttrs, ins: Sequence[Shape]) -> Shape:
        x = need_rank(ins, 3, _SEQ)
        _check_heads(x[2], a.heads, x)
        return x

    def params(self, a: TransformerEncoderLayerAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        e = need_concrete(ins[0][2], "embedding size")
        p = _attention_params(e, True, "self_attn.")
        p.update({
            "linear1.weight": (a.ff, e), "linear1.bias": (a.ff,),
            "linear2.weight": (e, a.ff), "linear2.bias": (e,),
            "norm1.weight": (e,), "norm1.bias": (e,),
            "norm2.weight": (e,), "norm2.bias": (e,),
        })
        return p

    def macs(self, a: TransformerEncoderLayerAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        _, l, e = ins[0]
        ff = mul(mul(l, e), 2 * a.ff)
        norms = mul(mul(l, e), 8)
        return add(add(_attention_macs(l, l, e), ff), norms)

    def jax_init(self, a: TransformerEncoderLayerAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        e = int(ins[0][2])
        p = {"self_attn.in_proj_weight": f"{{uniform}} * math.sqrt(6 / {4 * e})",  # xavier_uniform
             "self_attn.in_proj_bias": zeros((3 * e,)),
             "self_attn.out_proj.weight": uniform(e), "self_attn.out_proj.bias": zeros((e,))}
        fan_in = {"linear1": e, "linear2": a.ff}
        for name, shape in self.params(a, ins, out).items():
            if name.startswith("linear"):
                p[name] = uniform(fan_in[name.partition(".")[0]])
            elif name.startswith("norm"):
                p[name] = ones(shape) if name.endswith("weight") else zeros(shape)
        return p

    def jax_call(self, a: TransformerEncoderLayerAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """The layer's parameters go in as one dict of torch's local names."""
        local = ctx.fresh(f"{ctx.path}_params")
        ctx.stmt("\n".join([f"{local} = {{", *(f"    {q(k)}: {v}," for k, v in p.items()), "}"]))
        kw: dict[str, object] = {"dropout": a.dropout}
        if a.activation != "relu":
            kw["activation"] = a.activation
        if a.norm_first:
            kw["norm_first"] = True
        if a.eps != 1e-5:
            kw["eps"] = a.eps
        if a.dropout > 0:
            kw["key"] = Code(f"{ctx.key()} if {ctx.train} else None")
        return call("_encoder_layer", args[0], local, str(a.heads), **kw)


@register
class PositionalEncoding(Op, TorchRules, JaxRules):
    """Adds the fixed sinusoidal position table of "Attention is all you need" to ``[B, L, E]``.

    No parameters; the table is a constant rebuilt by the generated code (not
    saved with the weights).  ``E`` must be even and ``L <= max_len``.
    """

    Attrs = PositionalEncodingAttrs
    category = "sequence"
    doc = "Adds sinusoidal position encodings to [B, L, E] (E even, L <= max_len); no parameters."

    def torch_helpers(self, a: PositionalEncodingAttrs) -> dict[str, str]:
        return {"_sinusoid_table": SINUSOID_TABLE}

    def torch_call(self, a: PositionalEncodingAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        x = args[0]
        return f"{x} + _sinusoid_table({x}.shape[1], {x}.shape[2], {x})"

    def shape(self, a: PositionalEncodingAttrs, ins: Sequence[Shape]) -> Shape:
        x = need_rank(ins, 3, _SEQ)
        if concrete(x[2]) and x[2] % 2:  # type: ignore[operator]
            raise ShapeError(f"expects an even embedding size (last axis), got {x[2]} in {fmt_shape(x)}")
        if concrete(x[1]) and x[1] > a.max_len:  # type: ignore[operator]
            raise ShapeError(
                f"expects a sequence of at most max_len={a.max_len} positions, got {x[1]} in {fmt_shape(x)}",
                suggestion=f"raise max_len to at least {x[1]}",
            )
        return x

    def jax_call(self, a: PositionalEncodingAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return f"_positional_encoding({args[0]})"


class _Recurrent(Op, TorchRules, JaxRules):
    """Shared rules of LSTM and GRU; ``gates`` is 4 (LSTM) or 3 (GRU)."""

    gates: int
    category = "sequence"

    def shape(self, a: RecurrentAttrs, ins: Sequence[Shape]) -> Shape:
        x = need_rank(ins, 3, "[B, L, F] (batch first)")
        h = a.features * (2 if a.bidirectional else 1)
        return (x[0], x[1], h) if a.sequence == "all" else (x[0], h)

    def params(self, a: RecurrentAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        f = need_concrete(ins[0][2], "input size (last axis)")
        h, g = a.features, self.gates * a.features
        dirs = ("", "_reverse") if a.bidirectional else ("",)
        p: dict[str, tuple[int, ...]] = {}
        for layer in range(a.layers):
            n_in = f if layer == 0 else h * len(dirs)
            for sfx in dirs:
                p[f"weight_ih_l{layer}{sfx}"] = (g, n_in)
                p[f"weight_hh_l{layer}{sfx}"] = (g, h)
                if a.bias:
                    p[f"bias_ih_l{layer}{sfx}"] = (g,)
                    p[f"bias_hh_l{layer}{sfx}"] = (g,)
        return p

    def macs(self, a: RecurrentAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        """Per position, layer and direction: gates x H x (inputs + H)."""
        _, l, f = ins[0]
        h, g = a.features, self.gates * a.features
        dirs = 2 if a.bidirectional else 1
        per_pos: Dim = mul(mul(add(f, h), g), dirs)
        if a.layers > 1:
            per_pos = add(per_pos, (a.layers - 1) * dirs * g * (h * dirs + h))
        return mul(l, per_pos)

    def torch_layer(self, a: RecurrentAttrs, ins: Sequence[Shape], out: Shape) -> str:
        opts = [f"{k}={v!r}" for k, v, default in (
            ("num_layers", a.layers, 1), ("bias", a.bias, True)) if v != default]
        opts.append("batch_first=True")
        if a.bidirectional:
            opts.append("bidirectional=True")
        return f"nn.{self.name}({ins[0][2]}, {a.features}, {', '.join(opts)})"

    def torch_call(self, a: RecurrentAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        if a.sequence == "all":
            return f"{m}({args[0]})[0]"
        h_n = f"{m}({args[0]})[1][0]" if self.gates == 4 else f"{m}({args[0]})[1]"  # LSTM: (h_n, c_n)
        if a.bidirectional:  # the top layer's two directions, side by side
            return f"{h_n}[-2:].transpose(0, 1).flatten(1)"
        return f"{h_n}[-1]"

    def jax_init(self, a: RecurrentAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        return torch_default(self.params(a, ins, out), a.features)

    def jax_call(self, a: RecurrentAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """One (weight_ih, weight_hh, bias_ih, bias_hh) tuple per layer and direction."""
        rows = []
        for layer in range(a.layers):
            for sfx in (("", "_reverse") if a.bidirectional else ("",)):
                names = [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}",
                         f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
                rows.append(f"    ({', '.join(p.get(n, 'None') for n in names)}),")
        local = ctx.fresh(f"{ctx.path}_weights")
        ctx.stmt("\n".join([f"{local} = [", *rows, "]"]))
        kw: dict[str, object] = {}
        if a.bidirectional:
            kw["bidirectional"] = True
        if a.sequence == "last":
            kw["last"] = True
        return call("_recurrent", ctx.lit(self.name.lower()), args[0], local, str(a.features), **kw)


@register
class LSTM(_Recurrent):
    """Long short-term memory over ``[B, L, F]`` (PyTorch's nn.LSTM, batch_first).

    ``sequence: all`` gives ``[B, L, H*dirs]``; ``sequence: last`` gives the
    final hidden state of the top layer, ``[B, H*dirs]`` (both directions
    concatenated; for one direction it equals the output at the last position).
    """

    Attrs = RecurrentAttrs
    gates = 4
    doc = "LSTM over [B, L, F] -> [B, L, H*dirs] (sequence: all) or [B, H*dirs] (sequence: last)."
    example = {"features": 64}


@register
class GRU(_Recurrent):
    """Gated recurrent unit over ``[B, L, F]`` (PyTorch's nn.GRU, batch_first); see LSTM."""

    Attrs = RecurrentAttrs
    gates = 3
    doc = "GRU over [B, L, F] -> [B, L, H*dirs] (sequence: all) or [B, H*dirs] (sequence: last)."
    example = {"features": 64}
