"""Front-end rules of the op catalog (docs/language.md, section 8) against PyTorch itself.

Parameter and buffer names and shapes must be exactly those of the equivalent
``torch.nn`` module's state_dict, and shape rules must give the shape torch
actually produces; torch is the truth here, independent of the rules.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelspec.ops import ShapeError, get_op

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

B = 2


def rules(name, ins, **attrs):
    """(output shape, params, buffers) from the op's rules."""
    op = get_op(name)
    assert op is not None, name
    a = op.Attrs(**attrs)
    ins = [tuple(s) for s in ins]
    out = op.shape(a, ins)
    return out, op.params(a, ins, out), op.buffers(a, ins, out)


def shape_of(name, ins, **attrs):
    op = get_op(name)
    return op.shape(op.Attrs(**attrs), [tuple(s) for s in ins])


def assert_state(module, params, buffers):
    """Names, order and shapes of params and buffers equal the module's."""
    want_p = {k: tuple(v.shape) for k, v in module.named_parameters()}
    want_b = {k: tuple(v.shape) for k, v in module.named_buffers()}
    assert list(params.items()) == list(want_p.items())
    assert list(buffers.items()) == list(want_b.items())
    sd = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    assert {**params, **buffers} == sd


def run(module, *shapes, dtype=None):
    xs = [torch.randn(*s) if dtype is None else torch.randint(0, 5, s) for s in shapes]
    module.eval()
    with torch.no_grad():
        return module(*xs)


# ---- convolution ---------------------------------------------------------------

CONV2D = [
    dict(cin=3, attrs=dict(channels=8, kernel=3), hw=(16, 16)),
    dict(cin=3, attrs=dict(channels=8, kernel=3, padding=1, stride=2), hw=(17, 15)),
    dict(cin=4, attrs=dict(channels=6, kernel=[3, 5], stride=[1, 2], padding=[1, 2], dilation=[2, 1]), hw=(20, 21)),
    dict(cin=4, attrs=dict(channels=8, kernel=3, groups=2, bias=False), hw=(9, 9)),
    dict(cin=6, attrs=dict(channels=6, kernel=3, groups=6, padding="same"), hw=(10, 7)),
    dict(cin=2, attrs=dict(channels=3, kernel=4, padding="same", dilation=2), hw=(11, 12)),
    dict(cin=2, attrs=dict(channels=3, kernel=3, padding="valid"), hw=(5, 6)),
    dict(cin=2, attrs=dict(channels=3, kernel=3, padding=1, padding_mode="reflect"), hw=(8, 8)),
    dict(cin=2, attrs=dict(channels=3, kernel=3, padding=2, padding_mode="circular", stride=3), hw=(8, 8)),
]


def _torch_conv(cls, cin, a):
    kw = {k: v for k, v in a.items() if k in ("stride", "padding", "dilation", "groups", "bias", "padding_mode")}
    return cls(cin, a["channels"], a["kernel"], **kw)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CONV2D)
def test_conv2d_matches_torch(case):
    cin, a, hw = case["cin"], case["attrs"], case["hw"]
    x = (B, cin, *hw)
    out, p, b = rules("Conv2d", [x], **a)
    m = _torch_conv(nn.Conv2d, cin, a)
    assert out == tuple(run(m, x).shape)
    assert_state(m, p, b)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("a", [
    dict(channels=5, kernel=3, stride=2, padding=1),
    dict(channels=4, kernel=[4], padding="same", dilation=3),
    dict(channels=4, kernel=2, groups=2, bias=False),
])
def test_conv1d_matches_torch(a):
    x = (B, 4, 19)
    out, p, b = rules("Conv1d", [x], **a)
    m = _torch_conv(nn.Conv1d, 4, a)
    assert out == tuple(run(m, x).shape)
    assert_state(m, p, b)


@pytest.mark.parametrize("a", [
    dict(channels=5, kernel=3, stride=2, padding=1),
    dict(channels=4, kernel=[1, 3, 3], padding=[0, 1, 1], stride=[1, 2, 2]),
])
def test_conv3d_matches_torch(a):
    x = (B, 2, 6, 9, 8)
    out, p, b = rules("Conv3d", [x], **a)
    m = _torch_conv(nn.Conv3d, 2, a)
    assert out == tuple(run(m, x).shape)
    assert_state(m, p, b)


@pytest.mark.parametrize("a", [
    dict(channels=8, kernel=2, stride=2),
    dict(channels=6, kernel=3, stride=2, padding=1, output_padding=1),
    dict(channels=6, kernel=[3, 4], stride=[2, 3], padding=[1, 0], dilation=2, groups=2, bias=False),
])
def test_conv_transpose2d_matches_torch(a):
    x = (B, 4, 7, 5)
    out, p, b = rules("ConvTranspose2d", [x], **a)
    kw = {k: v for k, v in a.items() if k not in ("channels", "kernel")}
    m = nn.ConvTranspose2d(4, a["channels"], a["kernel"], **kw)
    assert out == tuple(run(m, x).shape)
    assert_state(m, p, b)


def test_conv_macs_exact():
    op = get_op("Conv2d")
    a = op.Attrs(channels=8, kernel=3, padding=1, groups=2)
    ins = [(B, 4, 10, 10)]
    out = op.shape(a, ins)
    assert op.macs(a, ins, out) == 8 * 10 * 10 * (4 // 2) * 9
    lin = get_op("Linear")
    la = lin.Attrs(features=10)
    assert lin.macs(la, [(B, 784)], (B, 10)) == 7840


def test_conv_symbolic_shapes_flow():
    out = shape_of("Conv2d", [("B", 3, "H", "W")], channels=16, kernel=3, padding=1, stride=2)
    assert out[:2] == ("B", 16)
    assert all(isinstance(d, str) and v in d for d, v in zip(out[2:], "HW"))
    # the expression evaluates to torch's size
    assert eval(out[2], {"H": 33}) == tuple(run(nn.Conv2d(3, 16, 3, 2, 1), (1, 3, 33, 8)).shape)[2]
    same = shape_of("Conv2d", [("B", 3, "H", "W")], channels=4, kernel=3, padding="same")
    assert same == ("B", 4, "H", "W")
    pooled = shape_of("MaxPool2d", [out], kernel=3, stride=2, padding=1)
    assert pooled[:2] == ("B", 16) and "H" in pooled[2]
    flat = shape_of("Flatten", [pooled])
    assert flat[0] == "B" and len(flat) == 2 and "H" in flat[1] and "16" in flat[1]
    with pytest.raises(ShapeError, match="concrete"):
        op = get_op("Conv2d")
        a = op.Attrs(channels=4, kernel=3)
        op.params(a, [("B", "C", 8, 8)], ("B", 4, 6, 6))


def test_conv_shape_errors():
    with pytest.raises(ShapeError) as e:
        shape_of("Conv2d", [(B, 784)], channels=8, kernel=3)
    assert "rank-4" in e.value.message and "[B, C, H, W]" in e.value.message and "[2, 784]" in e.value.message
    with pytest.raises(ShapeError, match="divisible by groups=4, got 6"):
        shape_of("Conv2d", [(B, 6, 8, 8)], channels=8, kernel=3, groups=4)
    with pytest.raises(ShapeError) as e:
        shape_of("Conv2d", [(B, 3, 2, 2)], channels=8, kernel=5)
    assert e.value.code == "MS055"


def test_conv_attribute_errors():
    conv = get_op("Conv2d").Attrs
    with pytest.raises(ValidationError):
        conv(channels=0, kernel=3)
    with pytest.raises(ValidationError):
        conv(channels=8, kernel=[3, 3, 3])
    with pytest.raises(ValidationError):
        conv(channels=8, kernel=3, padding="same", stride=2)
    with pytest.raises(ValidationError):
        conv(channels=6, kernel=3, groups=4)
    with pytest.raises(ValidationError):
        conv(channels=8, kernel=3, padding_mode="mirror")
    with pytest.raises(ValidationError):
        conv(channels=8, kernel=3, padding=-1)
    with pytest.raises(ValidationError):
        get_op("ConvTranspose2d").Attrs(channels=4, kernel=3, stride=2, output_padding=2)


# ---- pooling ---------------------------------------------------------------------

POOL = [
    dict(kernel=2),
    dict(kernel=3, stride=2, padding=1),
    dict(kernel=3, stride=2, ceil_mode=True),
    dict(kernel=2, stride=4, padding=1, ceil_mode=True),
    dict(kernel=[3, 2], stride=[2, 1], padding=[1, 0]),
    dict(kernel=3, stride=1, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("hw", [(5, 5), (7, 8), (16, 15)])
@pytest.mark.parametrize("a", POOL + [dict(kernel=3, stride=2, dilation=2), dict(kernel=3, dilation=[1, 2], ceil_mode=True)])
def test_maxpool2d_matches_torch(a, hw):
    x = (B, 3, *hw)
    m = nn.MaxPool2d(a["kernel"], a.get("stride"), a.get("padding", 0), a.get("dilation", 1),
                     ceil_mode=a.get("ceil_mode", False))
    try:
        want = tuple(run(m, x).shape)
    except RuntimeError:
        with pytest.raises(ShapeError):
            shape_of("MaxPool2d", [x], **a)
        return
    out, p, b = rules("MaxPool2d", [x], **a)
    assert out == want and p == {} and b == {}


@pytest.mark.parametrize("hw", [(5, 5), (7, 8), (16, 15)])
@pytest.mark.parametrize("a", POOL)
def test_avgpool2d_matches_torch(a, hw):
    x = (B, 3, *hw)
    m = nn.AvgPool2d(a["kernel"], a.get("stride"), a.get("padding", 0), ceil_mode=a.get("ceil_mode", False))
    assert shape_of("AvgPool2d", [x], **a) == tuple(run(m, x).shape)


def test_pool_macs_and_errors():
    op = get_op("MaxPool2d")
    a = op.Attrs(kernel=2)
    assert op.macs(a, [(B, 4, 8, 8)], (B, 4, 4, 4)) == 4 * 4 * 4 * 4
    with pytest.raises(ValidationError):
        op.Attrs(kernel=2, padding=2)  # more than half the kernel
    with pytest.raises(ShapeError, match="rank-4"):
        shape_of("MaxPool2d", [(B, 4, 8)], kernel=2)


@pytest.mark.parametrize("size,torch_size", [(1, 1), (3, 3), ([2, 5], (2, 5)), ([None, 3], (None, 3))])
def test_adaptive_avgpool2d_matches_torch(size, torch_size):
    x = (B, 4, 9, 11)
    assert shape_of("AdaptiveAvgPool2d", [x], size=size) == tuple(run(nn.AdaptiveAvgPool2d(torch_size), x).shape)


@pytest.mark.parametrize("x", [(B, 4, 7), (B, 4, 5, 6), (B, 3, 2, 3, 4)])
def test_global_avg_pool(x):
    want = tuple(torch.randn(*x).mean(dim=tuple(range(2, len(x)))).shape)
    assert shape_of("GlobalAvgPool", [x]) == want
    with pytest.raises(ShapeError, match=r"rank 3 or more, got \[2, 4\]"):
        shape_of("GlobalAvgPool", [(B, 4)])


# ---- normalisation ---------------------------------------------------------------

@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("name,cls,x", [
    ("BatchNorm1d", nn.BatchNorm1d, (B, 6)),
    ("BatchNorm1d", nn.BatchNorm1d, (B, 6, 5)),
    ("BatchNorm2d", nn.BatchNorm2d, (B, 6, 4, 4)),
])
def test_batchnorm_matches_torch(name, cls, x, affine, track):
    out, p, b = rules(name, [x], affine=affine, track_running_stats=track)
    m = cls(6, affine=affine, track_running_stats=track)
    m.train()
    assert out == tuple(m(torch.randn(*x)).shape)
    assert_state(m, p, b)
    if track:
        assert b["num_batches_tracked"] == ()


def test_batchnorm_rank_error():
    with pytest.raises(ShapeError, match=r"\[B, C\] or \[B, C, L\]"):
        shape_of("BatchNorm1d", [(B, 3, 4, 4)])


@pytest.mark.parametrize("dims,affine,bias", [(1, True, True), (2, True, True), (1, True, False), (1, False, True)])
def test_layernorm_matches_torch(dims, affine, bias):
    x = (B, 5, 7)
    out, p, b = rules("LayerNorm", [x], dims=dims, elementwise_affine=affine, bias=bias)
    m = nn.LayerNorm(list(x[-dims:]), elementwise_affine=affine, bias=bias)
    assert out == tuple(run(m, x).shape)
    assert_state(m, p, b)
    with pytest.raises(ShapeError, match="last 3 axes"):
        shape_of("LayerNorm", [x], dims=3)


@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_matches_torch(affine):
    x = (B, 6, 4, 4)
    out, p, b = rules("GroupNorm", [x], groups=3, affine=affine)
    m = nn.GroupNorm(3, 6, affine=affine)
    assert out == tuple(run(m, x).shape)
    assert_state(m, p, b)
    with pytest.raises(ShapeError, match="divisible by groups=4, got 6 channels"):
        shape_of("GroupNorm", [x], groups=4)


# ---- activations -----------------------------------------------------------------

@pytest.mark.parametrize("name,attrs", [
    ("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}),
    ("Tanh", {}), ("Sigmoid", {}), ("Softmax", {"axis": 1}), ("LogSoftmax", {}), ("SupraLinear", {"n": 1.5}),
])
def test_activations_keep_shape(name, attrs):
    out, p, b = rules(name, [("B", 10, 3)], **attrs)
    assert out == ("B", 10, 3) and p == {} and b == {}
    assert get_op(name).macs(get_op(name).Attrs(**attrs), [("B", 10)], ("B", 10)) == 0


def test_softmax_axis_range_checked():
    with pytest.raises(ShapeError, match="axis 2 is out of range for the rank-2 input"):
        shape_of("Softmax", [(B, 10)], axis=2)
    assert shape_of("Softmax", [(B, 10)], axis=-2) == (B, 10)
    with pytest.raises(ValidationError):
        get_op("GELU").Attrs(approximate="fast")
    with pytest.raises(ValidationError):
        get_op("SupraLinear").Attrs(n=0)


# ---- shape and arithmetic --------------------------------------------------------

@pytest.mark.parametrize("start,end", [(1, -1), (0, -1), (2, 3), (1, 2), (-2, -1)])
def test_flatten_matches_torch(start, end):
    x = (B, 3, 4, 5)
    assert shape_of("Flatten", [x], start=start, end=end) == tuple(nn.Flatten(start, end)(torch.randn(*x)).shape)


@pytest.mark.parametrize("x,target", [
    ((B, 3, 4, 5), [B, -1]),
    ((B, 3, 4, 5), [B, 12, -1]),
    ((B, 784), [B, 1, 28, 28]),
    ((B, 60), [-1, 6, 5]),
    ((B, 6, 10), [B, 2, 3, -1]),
])
def test_reshape_matches_torch(x, target):
    assert shape_of("Reshape", [x], shape=target) == tuple(torch.randn(*x).reshape(target).shape)


def test_reshape_symbolic_and_errors():
    assert shape_of("Reshape", [("B", 3, 4, 5)], shape=["B", -1]) == ("B", 60)
    assert shape_of("Reshape", [("B", 784)], shape=["B", 16, -1]) == ("B", 16, 49)
    assert shape_of("Reshape", [("B", "L", 64)], shape=["B", "L", 8, -1]) == ("B", "L", 8, 8)
    with pytest.raises(ShapeError) as e:
        shape_of("Reshape", [("B", 784)], shape=["B", 100])
    assert e.value.code == "MS050" and "[B, 784]" in e.value.message and "[B, 100]" in e.value.message
    with pytest.raises(ShapeError, match="cannot reshape"):
        shape_of("Reshape", [(B, 10)], shape=[B, 3, -1])
    with pytest.raises(ValidationError):
        get_op("Reshape").Attrs(shape=[-1, -1])
    with pytest.raises(ValidationError):
        get_op("Reshape").Attrs(shape=["B", 0])


@pytest.mark.parametrize("dims", [[0, 2, 3, 1], [0, 3, 1, 2], [1, 0, 2, 3], [0, -1, 1, 2]])
def test_permute_matches_torch(dims):
    x = (B, 3, 4, 5)
    assert shape_of("Permute", [x], dims=dims) == tuple(torch.randn(*x).permute(*dims).shape)


def test_permute_errors():
    with pytest.raises(ShapeError, match="name 3 axes"):
        shape_of("Permute", [(B, 3, 4, 5)], dims=[0, 2, 1])
    with pytest.raises(ValidationError):
        get_op("Permute").Attrs(dims=[0, 1, 1])


@pytest.mark.parametrize("axis", [1, 2, -1, 0])
def test_concat_matches_torch(axis):
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    shapes = [tuple(d + i if j == axis % 3 else d for j, d in enumerate(s)) for i, s in enumerate(shapes)]
    want = tuple(torch.cat([torch.randn(*s) for s in shapes], dim=axis).shape)
    assert shape_of("Concat", shapes, axis=axis) == want


def test_concat_symbolic_and_errors():
    assert shape_of("Concat", [("B", 3, "H"), ("B", 5, "H")]) == ("B", 8, "H")
    assert shape_of("Concat", [("B", "C", 4), ("B", 5, 4)]) == ("B", "C+5", 4)
    with pytest.raises(ShapeError, match=r"\[B, 3, 4\], \[B, 5, 6\]"):
        shape_of("Concat", [("B", 3, 4), ("B", 5, 6)])
    with pytest.raises(ShapeError, match="same rank"):
        shape_of("Concat", [("B", 3, 4), ("B", 5)])


@pytest.mark.parametrize("name", ["Add", "Mul"])
def test_add_mul_broadcasting(name):
    assert shape_of(name, [("B", 64), ("B", 64), ("B", 64)]) == ("B", 64)
    assert shape_of(name, [(B, 8, 1, 1), (B, 8, 5, 5)]) == (B, 8, 5, 5)
    assert shape_of(name, [("B", 1), ("B", 7)]) == ("B", 7)
    torch_shape = tuple((torch.randn(B, 8, 1, 5) + torch.randn(B, 1, 4, 1)).shape)
    assert shape_of(name, [(B, 8, 1, 5), (B, 1, 4, 1)]) == torch_shape
    with pytest.raises(ShapeError) as e:
        shape_of(name, [("B", 64), ("B", 32)])
    assert "[B, 64]" in e.value.message and "[B, 32]" in e.value.message
    with pytest.raises(ShapeError):
        shape_of(name, [("B", "H"), ("B", "W")])
    assert get_op(name).arity == (2, None)


def test_dropout_noise_identity():
    for name, attrs in [("Dropout", {"p": 0.2}), ("GaussianNoise", {"std": 0.5}), ("Identity", {})]:
        out, p, b = rules(name, [("B", 3)], **attrs)
        assert out == ("B", 3) and p == {} and b == {}
    with pytest.raises(ValidationError):
        get_op("Dropout").Attrs(p=1.5)
    with pytest.raises(ValidationError):
        get_op("Dropout").Attrs(p=1.0)
    with pytest.raises(ValidationError):
        get_op("GaussianNoise").Attrs(std=-0.1)


# ---- sequence --------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_mha_self_attention_matches_torch(bias):
    x = (B, 7, 16)
    out, p, b = rules("MultiheadAttention", [x], heads=4, bias=bias)
    m = nn.MultiheadAttention(16, 4, bias=bias, batch_first=True)
    t = torch.randn(*x)
    m.eval()
    assert out == tuple(m(t, t, t)[0].shape)
    assert_state(m, p, b)


def test_mha_qkv_and_errors():
    q, kv = (B, 5, 8), (B, 9, 8)
    out = shape_of("MultiheadAttention", [q, kv, kv], heads=2)
    m = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    assert out == tuple(m(torch.randn(*q), torch.randn(*kv), torch.randn(*kv))[0].shape)
    with pytest.raises(ShapeError, match="divisible by heads=3"):
        shape_of("MultiheadAttention", [(B, 5, 8)], heads=3)
    with pytest.raises(ShapeError) as e:
        shape_of("MultiheadAttention", [q, kv], heads=2)
    assert e.value.code == "MS051"
    with pytest.raises(ShapeError, match="key and value"):
        shape_of("MultiheadAttention", [q, kv, (B, 8, 8)], heads=2)


@pytest.mark.parametrize("attrs", [
    dict(heads=4), dict(heads=2, ff=32, activation="gelu", norm_first=True, dropout=0.0),
])
def test_transformer_encoder_layer_matches_torch(attrs):
    x = (B, 6, 16)
    out, p, b = rules("TransformerEncoderLayer", [x], **attrs)
    m = nn.TransformerEncoderLayer(
        16, attrs["heads"], dim_feedforward=attrs.get("ff", 2048), dropout=attrs.get("dropout", 0.1),
        activation=attrs.get("activation", "relu"), norm_first=attrs.get("norm_first", False), batch_first=True,
    )
    assert out == tuple(run(m, x).shape)
    assert_state(m, p, b)


def test_positional_encoding():
    out, p, b = rules("PositionalEncoding", [("B", "L", 16)])
    assert out == ("B", "L", 16) and p == {} and b == {}
    with pytest.raises(ShapeError, match="even embedding size"):
        shape_of("PositionalEncoding", [("B", "L", 15)])
    with pytest.raises(ShapeError, match="max_len=10"):
        shape_of("PositionalEncoding", [("B", 20, 16)], max_len=10)


RNN_CASES = [
    dict(features=8),
    dict(features=8, layers=2),
    dict(features=6, bidirectional=True),
    dict(features=5, layers=3, bidirectional=True, bias=False),
    dict(features=8, sequence="last"),
    dict(features=4, layers=2, bidirectional=True, sequence="last"),
]


@pytest.mark.parametrize("name,cls", [("LSTM", nn.LSTM), ("GRU", nn.GRU)])
@pytest.mark.parametrize("a", RNN_CASES)
def test_rnn_matches_torch(name, cls, a):
    x = (B, 7, 3)
    out, p, b = rules(name, [x], **a)
    m = cls(3, a["features"], num_layers=a.get("layers", 1), bias=a.get("bias", True),
            bidirectional=a.get("bidirectional", False), batch_first=True)
    y, state = run(m, x)
    if a.get("sequence", "all") == "all":
        want = tuple(y.shape)
    else:  # the last layer's final hidden state, directions concatenated
        h_n = state[0] if name == "LSTM" else state
        dirs = 2 if a.get("bidirectional") else 1
        want = tuple(torch.cat(list(h_n[-dirs:]), dim=-1).shape)
        if dirs == 1:
            assert want == tuple(y[:, -1].shape)
    assert out == want
    assert_state(m, p, b)


def test_rnn_shape_error():
    with pytest.raises(ShapeError, match=r"\[B, L, F\]"):
        shape_of("LSTM", [(B, 3)], features=4)


def test_embedding_matches_torch():
    x = (B, 9)
    out, p, b = rules("Embedding", [x], num=50, features=12)
    m = nn.Embedding(50, 12)
    assert out == tuple(run(m, x, dtype="int").shape)
    assert_state(m, p, b)
    assert shape_of("Embedding", [("B", "L")], num=50, features=12) == ("B", "L", 12)


# ---- dynamics --------------------------------------------------------------------

def test_euler_step():
    op = get_op("EulerStep")
    assert op.stateful and op.arity == (1, 2)
    out, p, b = rules("EulerStep", [("B", 8, 4, 4)])
    assert out == ("B", 8, 4, 4) and p == {}
    _, p, _ = rules("EulerStep", [("B", 8), ("B", 8)], tau=10.0, train_tau=True)
    assert p == {"tau": ()}
    with pytest.raises(ShapeError) as e:
        shape_of("EulerStep", [("B", 8), ("B", 9)])
    assert "[B, 8]" in e.value.message and "[B, 9]" in e.value.message
    with pytest.raises(ValidationError):
        op.Attrs(tau=0)


@pytest.mark.parametrize("x,attrs", [
    ((B, 3, 8, 8), dict(size=16)),
    ((B, 3, 8, 9), dict(size=[5, 12], mode="bilinear", align_corners=True)),
    ((B, 3, 8, 9), dict(scale=2.0)),
    ((B, 3, 9, 7), dict(scale=0.5, mode="bilinear")),
    ((B, 3, 10, 7), dict(scale=[1.5, 0.7], mode="bicubic")),
    ((B, 3, 10), dict(scale=2.5, mode="linear")),
    ((B, 3, 4, 5, 6), dict(size=[2, 3, 4])),
])
def test_interpolate_matches_torch(x, attrs):
    kw = dict(mode=attrs.get("mode", "nearest"), align_corners=attrs.get("align_corners"))
    if "size" in attrs:
        kw["size"] = attrs["size"]
    else:
        kw["scale_factor"] = attrs["scale"]
    assert shape_of("Interpolate", [x], **attrs) == tuple(F.interpolate(torch.randn(*x), **kw).shape)


def test_interpolate_symbolic_and_errors():
    assert shape_of("Interpolate", [("B", 3, "H", "W")], scale=2) == ("B", 3, "H*2", "W*2")
    assert shape_of("Interpolate", [("B", 3, "H", "W")], scale=0.5) == ("B", 3, "H//2", "W//2")
    assert shape_of("Interpolate", [("B", 3, "H", "W")], size=[4, 5]) == ("B", 3, 4, 5)
    with pytest.raises(ValidationError, match="exactly one"):
        get_op("Interpolate").Attrs(size=4, scale=2.0)
    with pytest.raises(ValidationError, match="exactly one"):
        get_op("Interpolate").Attrs()
    with pytest.raises(ValidationError):
        get_op("Interpolate").Attrs(size=4, align_corners=True)
    with pytest.raises(ShapeError, match="bilinear needs 2 spatial axes"):
        shape_of("Interpolate", [(B, 3, 8)], size=4, mode="bilinear")
    with pytest.raises(ShapeError, match="3 spatial axes"):
        shape_of("Interpolate", [(B, 3, 8, 8, 8)], size=[4, 4])
    with pytest.raises(ShapeError) as e:
        shape_of("Interpolate", [(B, 3, 3, 3)], scale=0.2)
    assert e.value.code == "MS055"


# ---- the catalog as a whole ------------------------------------------------------

CATALOG = [
    "Linear", "Embedding", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d",
    "AdaptiveAvgPool2d", "GlobalAvgPool", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "ReLU",
    "LeakyReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "SupraLinear", "Flatten", "Reshape",
    "Permute", "Add", "Mul", "Concat", "Identity", "Dropout", "GaussianNoise", "MultiheadAttention",
    "TransformerEncoderLayer", "PositionalEncoding", "LSTM", "GRU", "EulerStep", "Interpolate",
]


@pytest.mark.parametrize("name", CATALOG)
def test_catalog_op_is_complete(name):
    op = get_op(name)
    assert op is not None and op.name == name and op.doc and op.category != "other"
    schema = op.Attrs.model_json_schema()
    assert schema.get("additionalProperties") is False
    for prop, spec in schema.get("properties", {}).items():
        assert spec.get("description"), f"{name}.{prop} has no description"


def test_unknown_attribute_is_a_validation_error():
    with pytest.raises(ValidationError, match="featrues"):
        get_op("Linear").Attrs(featrues=10)
    with pytest.raises(ValidationError, match="featrues"):
        get_op("LSTM").Attrs(featrues=10)
    with pytest.raises(ValidationError):
        get_op("ReLU").Attrs(inplace=True)
