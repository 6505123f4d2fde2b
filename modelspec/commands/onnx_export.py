"""`modelspec build --backend onnx`: the emitted Torch module, exported by PyTorch's ONNX exporter.

ONNX is not a source backend (there is no text to print), so it is not a row of
`build.BACKENDS`: the model is the Torch backend's module, traced by
``torch.export`` and translated by ``torch.onnx.export(dynamo=True)`` (which
needs ``onnxscript``; the older TorchScript exporter is deprecated).  What the
file promises:

* inputs and outputs carry the spec's terminal names, in the spec's order;
* the batch dim ``B`` and every other free size (``L``, ...) stay symbolic,
  unless ``--dim NAME=SIZE`` fixes them;
* a time model is unrolled over its ``time.steps`` (the time axis is fixed);
* ``onnx.checker`` passes on the written file.

When the exporter fails, the failure is traced back to the spec node whose
emitted line it came from: ``MS080`` at that node, naming the op, or ``MS081``
for the model as a whole.  Everything here needs torch, onnx and onnxscript,
so the command line imports this module only for ``--backend onnx``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import typer

from ..backends.checking import free_symbols
from ..backends.torch.naming import local_hint, sanitize
from ..backends.torch.runtime import random_inputs
from ..build import load_module
from ..diagnostics import Diagnostic, Pos
from ..exceptions import ModelspecError
from ..ir.graph import Graph
from ..weights import read_any, to_torch
from .report import text

#: the size a free symbol other than B takes while tracing (the file keeps it symbolic)
TRACE_SIZE = 5
OPSET = 18


class MissingExtra(ModelspecError):
    """onnx / onnxscript is not installed: a usage problem, not a spec problem."""


class ExportFailed(ModelspecError):
    """The exporter could not translate the model; ``diagnostic`` says where and why."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class Exported:
    path: str
    inputs: dict[str, list[int | str]]
    outputs: dict[str, list[int | str]]
    opset: int


def require_extra() -> None:
    """Fail early, with the install line, when the `onnx` extra is missing."""
    for mod in ("onnx", "onnxscript"):
        try:
            __import__(mod)
        except ImportError:
            raise MissingExtra(f"ONNX export needs the `onnx` extra ({mod} is not installed): "
                               "pip install 'modelspec[onnx]'") from None


class _Outputs(torch.nn.Module):
    """The model with its outputs as a tuple in the spec's order (the exporter names them)."""

    def __init__(self, model: torch.nn.Module, names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(*args)
        return tuple(out[k] for k in self.names) if isinstance(out, dict) else (out,)


def _input_axes(g: Graph, name: str, sym: dict[str, Any]) -> dict[int, Any]:
    """{axis: torch.export.Dim} for the symbolic dims of one input (time axis included)."""
    term = g.inputs[name]
    timed = g.time is not None and not term.static
    axes: dict[int, Any] = {}
    for i, d in enumerate(term.shape):
        if str(d) in sym:
            axes[i + (1 if timed and i > 0 else 0)] = sym[str(d)]
    return axes


def sizes(g: Graph, dims: dict[str, int]) -> tuple[dict[str, int], list[str]]:
    """Trace sizes for every free symbol, and the symbols that stay dynamic (those not in ``dims``)."""
    free = free_symbols(g)
    dynamic = [s for s in free if s not in dims]
    env = {s: (2 if s == "B" else TRACE_SIZE) for s in free}
    env.update(dims)
    return env, dynamic


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter prints progress and warns about torchvision; the command prints its own line."""
    names = ("torch.onnx", "torch.export", "torch._dynamo", "torch._export", "onnxscript")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_onnx(g: Graph, path: str, dims: dict[str, int] | None = None,
                weights: dict[str, Any] | None = None) -> Exported:
    """Write ``g`` as an ONNX file at ``path``; raises `ExportFailed` (located) or `MissingExtra`."""
    require_extra()
    import onnx  # lazy: the `onnx` extra, only for --backend onnx

    mod = load_module(g, "torch")
    model = getattr(mod, mod.__all__[0])()
    if weights is not None:
        to_torch(model, weights)
    names = list(g.outputs)
    wrapper = _Outputs(model.eval(), names).eval()
    env, dynamic = sizes(g, dims or {})
    sym = {s: torch.export.Dim(s, min=1) for s in dynamic}
    args = tuple(random_inputs(g, env))
    shapes = (tuple(_input_axes(g, n, sym) for n in g.inputs),)
    with _quiet():
        try:
            torch.onnx.export(wrapper, args, path, input_names=list(g.inputs), output_names=names,
                              dynamic_shapes=shapes, opset_version=OPSET, dynamo=True, external_data=False,
                              optimize=True)
        except Exception as exc:  # noqa: BLE001 - every exporter failure becomes a located diagnostic
            try:  # the traced program, if tracing worked: its nodes say which emitted line failed to convert
                program = torch.export.export(wrapper, args, dynamic_shapes=shapes, strict=False)
            except Exception:  # noqa: BLE001 - tracing failed too: the traceback says where
                program = None
            raise ExportFailed(_diagnose(g, mod, exc, program, dynamic)) from None
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    return Exported(path, _io_shapes(proto.graph.input), _io_shapes(proto.graph.output), OPSET)


def _io_shapes(values: Any) -> dict[str, list[int | str]]:
    out = {}
    for v in values:
        dims = v.type.tensor_type.shape.dim
        out[v.name] = [d.dim_param or d.dim_value for d in dims]
    return out


# ---- which spec node a failure came from ----------------------------------------------------------------------

_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?::[^=]*)?=[^=]")


def _summary(exc: BaseException) -> str:
    """The innermost cause's first line, without the exporter's colour codes."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return first if len(first) <= 300 else first[:297] + "..."


def _lines_in_source(filename: str, exc: BaseException | None, program: Any) -> list[int]:
    """Lines of the emitted module named by the failure: its traceback, or the failing FX node's trace."""
    lines: list[int] = []
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    texts = []
    for e in chain:
        lines += [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == filename and f.lineno]
        texts.append(str(e))
    if program is not None:  # the conversion names a node of the decomposed program (`%zeta`, target
        # `prims.zeta`); the traced node it came from (`special_zeta`) carries the emitted line
        joined = "\n".join(texts)
        failed = set(re.findall(r"translating node %(\w+)", joined))
        failed |= {t.split(".")[-2] for t in re.findall(r"target=([\w.]+)", joined) if t.count(".") >= 2}
        for node in program.graph.nodes:
            if node.op == "call_function" and any(node.name == f or node.name.endswith("_" + f) for f in failed):
                trace = node.meta.get("stack_trace") or ""
                lines += [int(n) for n in re.findall(rf'File "{re.escape(filename)}", line (\d+)', trace)]
    pattern = rf'File "{re.escape(filename)}", line (\d+)'
    for t in texts:
        lines += [int(n) for n in re.findall(pattern, t)]
    return lines


def _node_at(g: Graph, source: str, line: int) -> Any:
    """The spec node whose statement covers ``line`` of the emitted source (None when unknown)."""
    src = source.splitlines()
    k = line - 1
    while 0 <= k < len(src) and not _ASSIGN.match(src[k]):
        k -= 1  # a call wrapped over several lines: back to the line that assigns its result
    if not 0 <= k < len(src):
        return None
    var = _ASSIGN.match(src[k]).group(1)  # type: ignore[union-attr]
    best = None
    for node in g.nodes.values():
        hint = sanitize(local_hint(node.path))
        if var == hint:
            return node
        if best is None and re.fullmatch(rf"{re.escape(hint)}_\d*", var):
            best = node
    return best


def _diagnose(g: Graph, mod: Any, exc: BaseException, program: Any, dynamic: list[str]) -> Diagnostic:
    why = _summary(exc)
    source = getattr(mod, "__modelspec_source__", "")
    for line in _lines_in_source(mod.__file__, exc, program):
        node = _node_at(g, source, line)
        if node is not None:
            return Diagnostic("MS080", f"`{node.path}` (op {node.op}) cannot be exported to ONNX: {why}",
                              node.pos or Pos(g.file, 1, 1),
                              suggestion="use an op that ONNX can express here, or export with `--backend "
                                         "torch` and run the module with PyTorch")
    hint = None
    if [s for s in dynamic if s != "B"]:
        fixed = " ".join(f"--dim {s}=N" for s in dynamic if s != "B")
        hint = f"fix the free sizes the model cannot keep symbolic: {fixed}"
    return Diagnostic("MS081", f"{g.name} cannot be exported to ONNX: {why}", Pos(g.file, 1, 1), suggestion=hint)


def read_weights(path: str) -> dict[str, Any]:
    """A weights file or checkpoint (``model.``-prefixed names, as training writes them) as a state_dict."""
    arrays = read_any(path)
    if any(k.startswith("model.") for k in arrays):
        arrays = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    return arrays


def run(g: Graph, output: str | None, dims: dict[str, int], weights: str | None) -> int:
    """``build --backend onnx``: write the file, print one line; the exit code (1 export failed, 2 usage)."""
    if not output:
        typer.echo("error: --backend onnx writes a binary file: pass -o model.onnx", err=True)
        return 2
    try:
        require_extra()
        state = None
        if weights:
            if os.path.isdir(weights):
                weights = os.path.join(weights, "weights.safetensors")
            state = read_weights(weights)
        done = export_onnx(g, output, dims, state)
    except MissingExtra as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except ExportFailed as exc:
        typer.echo(text([exc.diagnostic], _source_of(g)), err=True)
        return 1
    except (OSError, ValueError, ModelspecError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    shown = lambda io: ", ".join(f"{k} [{', '.join(map(str, v))}]" for k, v in io.items())  # noqa: E731
    typer.echo(f"onnx: wrote {output} (opset {done.opset}, checked): {shown(done.inputs)} -> {shown(done.outputs)}")
    return 0


def _source_of(g: Graph) -> dict[str, str]:
    """The spec's text for the diagnostic's source line (none when it cannot be read again)."""
    try:
        with open(g.file, encoding="utf-8") as fh:
            return {g.file: fh.read()}
    except (OSError, UnicodeDecodeError):
        return {}
