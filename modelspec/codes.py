"""The catalog of diagnostic codes.  Codes are stable once released.

Each entry says what went wrong and how to fix it; `modelspec explain MS###`
prints it and `docs/errors.md` is generated from it (a test checks the file).
"""

from __future__ import annotations

from dataclasses import dataclass

from .severity import Severity

E = Severity.ERROR
W = Severity.WARNING


@dataclass(frozen=True)
class CodeInfo:
    code: str
    title: str
    severity: Severity
    explanation: str
    example: str = ""


# One row a code: (code, title, severity, explanation, example or "").  A table
# rather than a call a code, so that adding one is adding a line.
_ROWS: tuple[tuple[str, str, Severity, str, str], ...] = (
    # --- loading -----------------------------------------------------------
    ("MS001", "file cannot be read", E, "The spec file does not exist, cannot be read, is not UTF-8, or has an extension other than .yaml, .yml or .toml.", ""),
    ("MS002", "syntax error", E, "The file is not valid YAML or TOML. The position is where the parser gave up; the real mistake is often just before it (an unclosed bracket or quote, a tab in YAML indentation).", ""),
    ("MS003", "unsupported YAML tag", E, "Specs are data, never code: YAML tags that build objects (`!!python/object`, custom `!tags`) and non-JSON types (timestamps, binary, sets) are refused.", "features: !!python/object:os.system ls"),
    ("MS004", "resource limit exceeded", E, "The file is too large, nests too deeply, or its YAML aliases expand to too many values (a 'billion laughs' file); or the spec expands to too much: nested repeats and blocks multiply. Limits: 8 MiB of text, nesting depth 100, one million values after alias expansion; 50,000 nodes and 100,000 steps of expansion (items, copies, block instances, nodes, edges), groups and blocks nested 100 deep, 20 million items built by expressions in all. The message points at the repeat or instance that would cross the limit.", "layers:\n  - repeat: 1000\n    layers:\n      - repeat: 1000\n        layers: [ReLU]"),
    ("MS005", "duplicate key", E, "A mapping names the same key twice. YAML parsers silently keep the last one; modelspec refuses, so that nothing you wrote is lost.", "layers:\n  - {op: Linear, features: 10, features: 20}"),
    ("MS006", "file outside the tree or not a regular file", E, "A spec file or an `imports:` entry resolves outside the tree being checked (a symlink or `..` leading out, or an absolute import path), or is not a regular file (a FIFO, a device, a socket). The tree is `--root DIR` when given, else the nearest directory at or above the spec holding `.git` or `pyproject.toml`. Nothing outside it is read, so linting an untrusted pull request cannot leak other files or hang.", "imports: {lib: ../../../etc/passwd.yaml}"),
    # --- structure ---------------------------------------------------------
    ("MS010", "missing required key", E, "A required key is absent: `modelspec` and `name` at the top, `op`, `block` or `layers` in a node, `from` and `to` in an edge, a block param without a default.", "name: MLP\nlayers: [ReLU]   # no `modelspec: 1`"),
    ("MS011", "unknown key", E, "A key is not part of the language at this place, or not an attribute of the op, or not a param of the block. Unknown keys are never ignored; the message suggests the closest known key.", "- {op: Linear, featrues: 10}"),
    ("MS012", "wrong type or value", E, "A value has the wrong type (a list where a number belongs) or is out of range (a negative kernel size, a probability above 1, an integer above 2**63-1, which torch and jax cannot hold, or one tensor of more than 2**40 elements, 4 TiB as float32).", "- {op: Dropout, p: 1.5}"),
    ("MS013", "unsupported format version", E, "`modelspec:` must be 1, the only version of the language so far.", ""),
    ("MS014", "invalid name", E, "Names that become code are identifiers: a letter or underscore, then letters, digits and underscores. That is the model name, block names, their params and ports, nodes, groups, edges, inputs, outputs, params, loop variables and dim symbols. Python keywords are not allowed; builtins such as `input` are.", "- {name: 2nd-layer, op: ReLU}"),
    # --- expressions and params --------------------------------------------
    ("MS020", "expression syntax error", E, "The text inside `${...}` is not a valid expression.", "features: \"${hidden[0}\""),
    ("MS021", "undefined name in expression", E, "An expression uses a name that is neither a param, a loop variable, nor `i` inside a repeat.", "features: \"${hiden}\""),
    ("MS022", "construct not allowed in expression", E, "Expressions allow literals, names, arithmetic, comparisons, `and or not`, conditionals, indexing and slicing, list literals and the functions len min max range int float round abs sum. Attributes, other calls, lambdas and comprehensions are refused, so a spec can never run code.", "features: \"${__import__('os')}\""),
    ("MS023", "expression failed", E, "The expression is well formed but failed when evaluated: division by zero, an index out of range, adding a number to a list, a result that is too large.", "features: \"${hidden[7]}\""),
    ("MS024", "bad --set override", E, "A `--set NAME=VALUE` option names no param of the spec, or its value does not parse, or a dotted path (`--set layers.2.features=64`) cannot exist in the file: an index past the end of a list, a key where the file has a list, a part under a plain value. Values are read as YAML: `--set hidden=[512,256]`, `--set act=GELU`.", ""),
    ("MS025", "unused param", W, "A top-level param is never used by any expression. It may be a leftover, or a misspelt use of it elsewhere.", ""),
    ("MS026", "huge size", W, "A layer's parameters, or its output for one sample, would take more than 8 GiB as float32 (2**31 values), or the whole model's parameters more than 32 GiB. A spec this large is most likely a typo; the message says the memory it implies. A tensor of more than 2**40 elements (4 TiB as float32), which no machine holds, is an error (MS012).", "- {op: Linear, features: 1000000000}"),
    ("MS027", "input shape not known here", E, "An expression reads `in.shape` (the inferred shape of the enclosing block's first input, or of the model's first input at the top level) where that shape cannot be known while the spec expands: the block has no input, or its input comes from a node defined further down (a feedback connection) or through a loop of such nodes. A block can read the shape of what is defined before it.", "blocks:\n  Half:\n    layers:\n      - {op: Linear, features: \"${in.shape[1] // 2}\"}\nlayers:\n  - {name: h, block: Half, in: {from: out, delay: 1}}   # `out` comes later"),
    ("MS028", "input shape read while expanding differs", E, "An expression read `in.shape` while the spec expanded, before every name was final, and the shape inferred for the finished graph differs (a later node replaced a name the input went through). The expression used the earlier shape; name the input explicitly so that it means one node.", ""),
    ("MS029", "ambiguous name", E, "A short name is defined inside several named groups of one scope (`a.fc` and `b.fc`), so the name alone does not say which node it means. Write the group's path. A node named directly in the list always wins over the names inside its groups.", "layers:\n  - {name: a, layers: [{name: fc, op: Linear, features: 8}]}\n  - {name: b, layers: [{name: fc, op: Linear, features: 8}]}\n  - {op: Add, in: [fc, x]}   # a.fc or b.fc?"),
    # --- nodes and blocks --------------------------------------------------
    ("MS030", "unknown op", E, "No built-in or plugin op has this name. Op names are case-sensitive.", "- {op: linear, features: 10}"),
    ("MS031", "unknown block", E, "No block of this name is defined in `blocks:` or imported.", "- {block: Resdual, dim: 64}"),
    ("MS032", "recursive block", E, "A block uses itself, directly or through other blocks; its expansion would never end.", ""),
    ("MS033", "bad block use", E, "A block instance is missing a required param, or connects the wrong number of inputs to the block's ports.", ""),
    ("MS034", "import failed", E, "A file named in `imports:` cannot be loaded, has errors of its own, or imports form a cycle.", ""),
    ("MS035", "duplicate name", E, "Two nodes in one scope (a `layers` list with its groups) have the same name, or a terminal shadows a node. References would be ambiguous.", "- {name: fc, op: Linear, features: 8}\n- {name: fc, op: ReLU}"),
    ("MS036", "ambiguous node", E, "A node mixes `op`, `block` and `layers`: a node is exactly one of an op, a block instance, or a group.", ""),
    ("MS037", "plugin failed", E, "A module named in `plugins:` (or registered under the `modelspec.ops` entry point) cannot be imported or registers an invalid op.", ""),
    ("MS038", "plugin not trusted", E, "The spec names a `plugins:` module, but importing it would run its code and nothing the user controls trusts it. A spec cannot trust its own plugins. Trust them with `--plugin MODULE` (repeatable) or `--allow-plugins` (every module the spec names), or list them in the repository's `pyproject.toml` under `[tool.modelspec] plugins`. The rest of the spec is still checked; nodes using ops the plugin would provide are left unchecked and listed in a note.", "plugins: [evilplug]   # linted without --plugin evilplug"),
    ("MS039", "name shadows another", W, "An expression reads a loop variable that hides another of the same name: a `repeat` inside a `foreach` (or another `repeat`) binds its own copy index `i`, so `${i}` no longer means the outer loop's index; a `foreach` variable or a named index can hide an enclosing one or a param the same way. The warning is given where the hidden name is read, and names both bindings. Name the inner index (`repeat: {count: 3, index: j}`, `foreach: {VAR: LIST, index: j}`) or the loop variable differently.", "- foreach: {w: \"${widths}\"}\n  layers:\n    - {op: Linear, features: \"${widths[i]}\", repeat: 2}   # `i` is the repeat's"),
    # --- graph -------------------------------------------------------------
    ("MS040", "unresolved reference", E, "An `in`, `from`, `to` or output names nothing: no node, block port or input terminal of that name is visible from here.", "- {op: Add, in: [x, brnch]}"),
    ("MS041", "cycle without delay", E, "Every cycle of the graph must contain a connection with delay >= 1, otherwise a value would depend on itself at the same step. The error points at the connection that closes the cycle (the one that runs back against the layer order, where a feedback delay belongs) and its notes list every connection of the cycle with where it is written; give one of them `delay: 1` (an input `{from: NAME, delay: 1}`, or an edge's `delay:`).", "layers:\n  - {name: a, op: Add, in: [x, c]}   # c -> a closes the cycle\n  - {name: b, op: Linear, features: 8}\n  - {name: c, op: ReLU}"),
    ("MS042", "delay outside a time model", E, "A connection has a delay but the spec has no `time:` section, so there are no steps to delay by. Add `time: {steps: N}` or remove the delay.", ""),
    ("MS043", "inexact duration", W, "A duration such as `\"5ms\"` is not a whole multiple of `time.dt`; it was rounded to the nearest number of steps.", ""),
    ("MS044", "edge kind mismatch", W, "An edge says `kind: skip` but runs backwards in the layer order (a feedback connection), or the other way round.", ""),
    ("MS045", "bad delay or duration", E, "A delay is negative, not an integer, or a duration string that cannot be read (use `3`, `\"6ms\"`, `\"0.5s\"`). Durations need `time.dt`.", ""),
    ("MS046", "unused node", W, "A node's value reaches no output. It still costs parameters and time.", ""),
    ("MS047", "node cannot take an edge", E, "Edges must target a node (not an input terminal or block as a whole when the block has several outputs).", ""),
    # --- shapes ------------------------------------------------------------
    ("MS050", "shape mismatch", E, "An op received an input whose shape it cannot take. The message names the node, the op, the expected and the actual shape.", "- {op: Add, in: [a, b]}   # a: [B, 64], b: [B, 32]"),
    ("MS051", "wrong number of inputs", E, "An op received more or fewer inputs than it takes (Add needs at least two, Linear exactly one).", ""),
    ("MS052", "inconsistent dimension", E, "A symbolic dimension was bound to two different sizes, for example two inputs declared `[B, 3]` and `[B, 5]` that are then added.", ""),
    ("MS053", "declared shape differs", E, "An output terminal declares `shape:` but the inferred shape is different.", ""),
    ("MS054", "edge shapes differ", E, "An edge with `adapt: none` joins a source and a target whose shapes differ, or `adapt: auto` cannot make them fit (different ranks).", ""),
    ("MS055", "empty dimension", E, "An op produces a dimension of size zero or less, for example a convolution whose kernel is larger than its padded input.", ""),
    # --- time --------------------------------------------------------------
    ("MS060", "bad time settings", E, "`time.steps` must be a positive integer, `dt` a positive number of milliseconds, `idle` a non-negative integer. Steps and idle steps are at most 1,000,000.", ""),
    ("MS061", "time-only feature in a static model", E, "`static:` on an input, `steps:` on an output, or a stateful op such as `EulerStep` appears in a spec without `time:`.", ""),
    ("MS062", "output never sees the input", W, "Every delayed path from an input to this output is at least as long as `time.steps`, so each value it emits is computed from zeros (and biases) alone. `modelspec summary` shows the first step at which each node sees the input; raise `time.steps` or shorten a delay.", "time: {steps: 3}\nlayers:\n  - {name: late, op: Identity, in: {from: x, delay: 3}}"),
    # --- export ------------------------------------------------------------
    ("MS080", "op cannot be exported to ONNX", E, "`modelspec build --backend onnx` exports the emitted Torch module with PyTorch's exporter, and the code of this node has no ONNX equivalent (an op ONNX has no operator for, or a plugin op whose Torch code the exporter cannot trace). The message names the node, its op and the exporter's reason. Use another op there, or ship the Torch module (`--backend torch`).", "plugins: [zeta_plugin]   # torch.special.zeta: no ONNX operator\nlayers:\n  - {op: Zeta}"),
    ("MS081", "model cannot be exported to ONNX", E, "PyTorch's exporter failed on the model as a whole, not on one node's code: most often a free size (`L`, ...) that the model cannot keep symbolic, for example one a reshape or a fixed table ties to a number. Fix such sizes with `--dim NAME=SIZE` (the batch dim `B` always stays symbolic unless fixed too).", "# modelspec build seq.yaml --backend onnx -o seq.onnx --dim L=32\ninputs:\n  x: [B, L, 8]"),
    # --- shared and placed parameters --------------------------------------
    ("MS070", "nothing to share", E, "`share:` must name a node that has parameters of its own to lend (an op node for an op node, a block instance or named group for an instance or group), not itself through a circle of shares, not an input, and not an op with buffers: BatchNorm's running statistics are state that each call site keeps for itself (CORnet-S has one BatchNorm per pass for this reason).", "layers:\n  - {name: bn, op: BatchNorm2d}\n  - {name: bn2, op: BatchNorm2d, share: bn}"),
    ("MS071", "shared between different ops or attributes", E, "Nodes that use one set of parameters (`share:`, or `params_at:` naming one path) must be the same op with the same attributes. Only the attributes the op's call alone reads may differ: a convolution's `stride`, `padding`, `dilation` and `padding_mode`, so a shared weight can run strided on a first pass and unstrided after.", "layers:\n  - {name: a, op: Linear, features: 8}\n  - {name: b, op: Linear, features: 8, bias: false, share: a}"),
    ("MS072", "shared parameters differ in shape", E, "Nodes that use one set of parameters must give it the same shape, so they need inputs of the same size where the parameters depend on them (a convolution's input channels, a Linear's input features). The message names the first parameter that differs.", "layers:\n  - {name: a, op: Linear, features: 16}\n  - {name: b, op: Linear, features: 16, share: a}   # a: 8 -> 16, b: 16 -> 16"),
    ("MS073", "no counterpart to share with", E, "A block instance or named group that shares another's parameters pairs its nodes with the other's by their path inside it (`b2.fc` uses `b1.fc`). A node with parameters that has no counterpart there cannot share; share between instances of one block.", "layers:\n  - {name: b1, block: Small}\n  - {name: b2, block: Large, share: b1}"),
    ("MS074", "bad parameter placement", E, "`params_at:` names where a node's (or an instance's, or an edge's `via`'s) parameters live in the state_dict: a dotted path relative to the enclosing scope, `.` for that scope itself. It cannot hold parameters inside another node's (`a` and `a.b`), be used together with `share:`, sit on an unnamed group, on an edge without `via`, or on an op without parameters.", "layers:\n  - {name: a, op: Linear, features: 8}\n  - {op: Linear, features: 8, params_at: a.inner}"),
    # --- sweeps ------------------------------------------------------------
    ("MS082", "unknown sweep key", E, "`modelspec train --sweep KEY=V1,V2` varies a param of the spec (passed to each variant as `--set KEY=V`), a train setting (`lr`, `epochs`, `batch_size`, `optimizer`, `seed`, or its path `train.lr`, `train.optimizer.lr`, ...), or a dotted path as `--set` takes it (`params.width`, `train.schedule.name`, `layers.2.features`: a param the spec declares, a setting of the `train:` section, or a key the file holds); this key is none of them. The position is in the `--sweep` argument (`<--sweep 2>:1:1`).", "# modelspec train dyrcnn_x4.yaml --sweep recurence=full,self\nparams:\n  recurrence: full"),
    ("MS083", "malformed sweep", E, "A `--sweep` argument must be `KEY=V1,V2,...` with at least one value, no empty or repeated value, and each key swept by one argument only (the grid is the product of the arguments).", "# modelspec train mlp.yaml --sweep lr=1e-3,,3e-4\ntrain:\n  optimizer: {name: adam, lr: 1e-3}"),
    # --- commands ----------------------------------------------------------
    ("MS090", "internal error", E, "modelspec itself failed. Please report it with the spec that caused it.", ""),
)

CODES: dict[str, CodeInfo] = {row[0]: CodeInfo(*row) for row in _ROWS}
