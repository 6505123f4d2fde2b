"""The `modelspec` command line (typer).

Each command lives in `modelspec.commands`; this module only parses options.
Front-end commands never import torch or jax, so they start fast.
Exit codes: 0 clean, 1 problems found in a spec, 2 usage or internal error.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

import typer

from .commands.colour import console
from .commands.dimargs import DimsError, parse_dims
from .commands.guard import guarded
from .version import __version__

app = typer.Typer(
    name="modelspec",
    help="A declarative model-spec compiler: YAML/TOML in, checked IR, PyTorch and JAX source out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"modelspec {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """A declarative model-spec compiler: YAML/TOML in, checked IR, PyTorch and JAX source out."""

SetOpt = typer.Option(None, "--set", metavar="NAME=VALUE", help="Override a spec param (value read as YAML).")
AllowPluginsOpt = typer.Option(False, "--allow-plugins", help="Trust (import) every plugin module the spec names.")
PluginOpt = typer.Option(None, "--plugin", metavar="MODULE",
                         help="Trust this plugin module (repeatable); pyproject.toml can list them too.")
RootOpt = typer.Option(None, "--root", metavar="DIR",
                       help="The tree spec files and imports must stay in (default: the repository root).")


@app.command()
def lint(
    paths: List[str] = typer.Argument(..., help="Spec files or directories."),
    format: str = typer.Option("text", "--format", "-f", help="text | github | sarif | json"),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the report to a file."),
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
    project_plugins: bool = typer.Option(
        True, "--project-plugins/--no-project-plugins",
        help="Trust the plugins listed in the tree's pyproject.toml; CI that lints a pull request which may "
             "edit pyproject.toml can turn this off."),
    only_specs: bool = typer.Option(
        False, "--only-specs",
        help="Skip, silently, files without a top-level `modelspec` key (the pre-commit hook passes every "
             "YAML file)."),
) -> None:
    """Validate and shape-check specs; exit 0 clean, 1 problems found, 2 usage error (no spec, missing path)."""
    from .commands import front, lint as linter  # lazy: each command loads only what it runs

    if format not in linter.FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(linter.FORMATS)}, not {format!r}", err=True)
        raise typer.Exit(2)
    raise typer.Exit(linter.run(paths, front.overrides_or_exit(sets),
                                front.trust_or_exit(allow_plugins, plugin, root, project_plugins),
                                format, strict, output, only_specs, typer.echo))


@app.command()
def summary(
    spec: str = typer.Argument(..., help="The spec file."),
    format: str = typer.Option("table", "--format", "-f", help="table | markdown | json"),
    depth: Optional[int] = typer.Option(None, "--depth", "-d", help="Collapse scopes deeper than N."),
    dims: Optional[List[str]] = typer.Option(
        None, "--dim", metavar="NAME=SIZE",
        help="Bind a free input size (repeatable): concrete shapes, MACs and activation memory, e.g. --dim B=32."),
    input_size: Optional[List[str]] = typer.Option(
        None, "--input-size", metavar="[INPUT=]N,C,...",
        help="As torchinfo: a whole input shape, batch first (one per input, in order), e.g. 32,3,224,224; "
             "binds the free sizes it gives."),
    columns: Optional[str] = typer.Option(
        None, "--columns", "-c", metavar="A,B,...",
        help="Table columns: node, op, inputs, shape, dtype, params, trainable, macs, activations, "
             "first_step, history."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Also build with torch and check the counts."),
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
) -> None:
    """A table of the model: scopes, ops, inputs with delays, shapes, parameters, MACs."""
    from .commands import front, summary as table, verify  # lazy: each command loads only what it runs

    if format not in table.FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(table.FORMATS)}, not {format!r}", err=True)
        raise typer.Exit(2)
    try:
        keys = table.parse_columns(columns) if columns is not None else None
        sizes = parse_dims(dims or [])
    except (ValueError, DimsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    g = front.load_or_exit(spec, sets, trust=front.trust_or_exit(allow_plugins, plugin, root))
    try:
        sizes = table.input_size_dims(g, input_size or [], sizes)
        bound = table.bind_graph(g, sizes)
    except DimsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    table.render_summary(bound, format, depth, keys, sizes)
    if backend:
        raise typer.Exit(verify.verify_backend(g, backend))


@app.command()
def graph(
    spec: str = typer.Argument(..., help="The spec file."),
    output: str = typer.Option(..., "--output", "-o", help="model.dot | model.mmd | model.svg | model.png"),
    depth: Optional[int] = typer.Option(None, "--depth", "-d",
                                        help="Fold scopes deeper than N into one box each (0: the top level)."),
    rankdir: str = typer.Option("TB", "--rankdir", help="TB (top to bottom) | LR (left to right)"),
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
) -> None:
    """Draw the graph: DOT and Mermaid always, SVG/PNG through Graphviz's `dot`."""
    from .commands import front, graph as drawing  # lazy: each command loads only what it runs

    g = front.load_or_exit(spec, sets, trust=front.trust_or_exit(allow_plugins, plugin, root))
    raise typer.Exit(drawing.write_graph(g, output, depth, rankdir.upper()))


@app.command()
def render(
    spec: str = typer.Argument(..., help="The spec file."),
    format: str = typer.Option("yaml", "--format", "-f", help="yaml | json"),
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
) -> None:
    """The fully expanded spec, every default filled in."""
    from .commands import front  # lazy: each command loads only what it runs
    from .ir.render import render_spec  # lazy: each command loads only what it runs

    g = front.load_or_exit(spec, sets, trust=front.trust_or_exit(allow_plugins, plugin, root))
    typer.echo(render_spec(g, format))


@app.command()
def build(
    spec: str = typer.Argument(..., help="The spec file."),
    backend: str = typer.Option("torch", "--backend", "-b",
                                help="torch (default), jax, or onnx (a model.onnx file through the Torch module)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the source here (default: stdout)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="--backend onnx: weights (.safetensors, .pt, "
                                          ".npz) or a run folder to put in the file (default: fresh init)."),
    check: bool = typer.Option(False, "--check", help="Import the code and run one forward and backward pass."),
    dims: Optional[List[str]] = typer.Option(
        None, "--dim", metavar="NAME=SIZE", help="Size of a free input dim for --check (default B=2)."),
    stateful: bool = typer.Option(
        False, "--stateful", help="A time model's forward (JAX: apply) takes and returns the time loop's state, "
        "so a stream can be fed in chunks."),
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
) -> None:
    """Emit standalone source for a backend; --check runs it once on random inputs."""
    from .commands import build as builder, front  # lazy: each command loads only what it runs

    g = front.load_or_exit(spec, sets, trust=front.trust_or_exit(allow_plugins, plugin, root))
    raise typer.Exit(builder.run_build(g, backend, output, check, dims or [], weights, stateful))


@app.command()
def schema(output: Optional[str] = typer.Option(None, "--output", "-o", help="Write to a file.")) -> None:
    """Print the JSON Schema of the spec language (for editors)."""
    from .validate.schema import schema_text  # lazy: each command loads only what it runs

    text = schema_text()
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        typer.echo(text, nl=False)


@app.command()
def explain(code: Optional[str] = typer.Argument(None, help="A code such as MS050; none lists them all.")) -> None:
    """What an error code means and how to fix it."""
    from .commands.explain import explain as explain_code  # lazy: each command loads only what it runs

    raise typer.Exit(explain_code(code))


@app.command()
def ops(
    name: Optional[str] = typer.Argument(None, help="An op such as Conv2d; none lists them all."),
    format: str = typer.Option("text", "--format", "-f", help="text | json"),
) -> None:
    """The ops: one line each, or one op's attributes (types, defaults), shape rule and an example."""
    from .commands import colour, ops as catalog  # lazy: each command loads only what it runs

    code, out, err = catalog.ops_command(name, format)
    if out:
        typer.echo(out, color=colour.wants_colour(sys.stdout))
    if err:
        typer.echo(err, err=True, color=colour.wants_colour(sys.stderr))
    raise typer.Exit(code)


# ---- params: parameter files (safetensors, torch, npz) ------------------------------------

params_app = typer.Typer(help="Inspect and convert parameter files (safetensors, .pt, .npz).",
                         no_args_is_help=True, add_completion=False, rich_markup_mode=None)
app.add_typer(params_app, name="params")


def _weights() -> Any:
    from . import weights  # lazy: numpy and safetensors, for the `params` commands only

    return weights


def _read_params_or_exit(path: str) -> Any:
    try:
        return _weights().read_any(path)
    except Exception as exc:  # noqa: BLE001 - a bad file is a usage problem, not a crash
        typer.echo(f"error: cannot read {path}: {exc}", err=True)
        raise typer.Exit(2)


@params_app.command("inspect")
def params_inspect(file: str = typer.Argument(..., help="A .safetensors, .pt/.pth or .npz file.")) -> None:
    """Names, shapes, dtypes and element counts, with the total."""
    from rich.table import Table

    arrays = _read_params_or_exit(file)
    table = Table(title=file, title_justify="left")
    table.add_column("name", overflow="fold")
    table.add_column("shape")
    table.add_column("dtype")
    table.add_column("count", justify="right")
    total = 0
    for name in sorted(arrays, key=lambda n: [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in n.split(".")]):
        arr = arrays[name]
        total += int(arr.size)
        table.add_row(name, str(list(arr.shape)), str(arr.dtype), f"{int(arr.size):,}")
    table.add_section()
    table.add_row(f"{len(arrays)} arrays", "", "", f"{total:,}")
    console(soft_wrap=True).print(table)


@params_app.command("convert")
def params_convert(
    src: str = typer.Argument(..., help="Input: .pt/.pth/.bin/.ckpt state_dict, .safetensors or .npz."),
    dst: str = typer.Argument(..., help="Output: .safetensors (default choice), .npz or .pt."),
) -> None:
    """Convert a parameter file between .pt (torch state_dict), .safetensors and .npz."""
    import os

    arrays = _read_params_or_exit(src)
    try:
        _weights().write_any(dst, arrays, {"source": os.path.basename(src)})
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    typer.echo(f"wrote {len(arrays)} arrays ({sum(int(a.size) for a in arrays.values()):,} values) to {dst}")


def _dims(items: Optional[List[str]]) -> dict[str, int]:
    """``--dim L=16`` bindings for symbolic sizes (synthetic data, ambiguous reshapes)."""
    try:
        return parse_dims(items or [])
    except DimsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)


DataOpt = typer.Option(None, "--data", help="A .npz/.npy file, X.npy,Y.npy, an MNIST or CIFAR-10 folder, "
                       "or `synthetic[:N]`; default: the spec's `train.data`.")
BackendOpt = typer.Option("torch", "--backend", help="torch | jax")
DeviceOpt = typer.Option("cpu", "--device", help="cpu | cuda")
DimOpt = typer.Option(None, "--dim", metavar="NAME=INT", help="Size of a symbolic dim (e.g. L=16).")


def _runner() -> Any:
    from .train import runner  # lazy: a heavy command (numpy, a backend)

    return runner


@app.command()
def train(
    spec: str = typer.Argument(..., help="The spec file."),
    data: Optional[str] = DataOpt,
    backend: str = BackendOpt,
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Passes over the data (spec: train.epochs)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per step, over all processes."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (spec: train.optimizer.lr)."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd | adam | adamw"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Same seed, same run."),
    run_dir: Optional[str] = typer.Option(None, "--run-dir", help="Run folder; default runs/<name>-<time>."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue from a run folder or checkpoint."),
    device: str = DeviceOpt,
    dims: Optional[List[str]] = DimOpt,
    log_every: Optional[int] = typer.Option(None, "--log-every", help="Also log metrics every N batches."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    allow_changes: bool = typer.Option(False, "--allow-changes",
                                       help="--resume even though the spec or config changed (recorded)."),
    loggers: Optional[List[str]] = typer.Option(
        None, "--logger", metavar="tensorboard|mlflow[=URI]",
        help="Also log to TensorBoard (event files in the run folder) or MLflow (default store mlruns/)."),
    sweep: Optional[List[str]] = typer.Option(
        None, "--sweep", metavar="KEY=V1,V2,...",
        help="Train every combination: KEY is a spec param or a train setting (lr, epochs, ...)."),
    jobs: int = typer.Option(1, "--jobs", help="--sweep: variants trained at a time (subprocesses)."),
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
) -> None:
    """Train a spec: progress bars, metrics, checkpoints; Ctrl-C saves and --resume continues.

    Exit codes: 0 done, 1 spec errors or a nan/inf loss, 2 usage or data problem, 3 checkpoint refused
    (damaged, or from another spec/config), 4 a run file could not be written (disk full), 130/143 signal."""
    from .commands import front, report  # lazy: each command loads only what it runs

    overrides = front.overrides_or_exit(sets)
    g = front.load_or_exit(spec, sets, trust=front.trust_or_exit(allow_plugins, plugin, root))
    flags = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer, "seed": seed,
             "run_dir": run_dir, "log_every": log_every}
    runner = _runner()
    if sweep:  # the grid in `modelspec train` subprocesses (train/sweep.py); bad items are located errors
        if resume:
            typer.echo("error: a sweep resumes by running the same command again (finished variants are "
                       "skipped, killed ones resume); --resume is for one run", err=True)
            raise typer.Exit(2)
        sweeper = runner.sweep
        base = sweeper.base_args(data=data, backend=backend, device=device, dims=dims or [], loggers=loggers or [],
                                 flags={k: v for k, v in flags.items() if k != "run_dir"}, sets=sets or [],
                                 plugins=plugin or [], allow_plugins=allow_plugins, root=root)
        raw = {item.partition("=")[0].strip(): item.partition("=")[2] for item in sets or []}
        code, problems = sweeper.run(sweeper.Sweep(spec, g, sweep, jobs, run_dir, base, raw,
                                                   front.trust_or_exit(allow_plugins, plugin, root)))
        if problems:
            sources = {sweeper.sweep_label(k): item for k, item in enumerate(sweep) if len(item) <= 200}
            typer.echo(report.text(problems, sources), err=True)
        raise typer.Exit(code)
    req = runner.Request(spec, g, overrides, data, backend, device, _dims(dims), resume, progress, flags,
                  allow_changes=allow_changes, loggers=loggers or [])
    raise typer.Exit(runner.train(req))


@app.command("eval")
def eval_(
    spec: str = typer.Argument(..., help="The spec file."),
    checkpoint: str = typer.Option(..., "--checkpoint", help="A checkpoint (.safetensors) or a run folder."),
    data: Optional[str] = DataOpt,
    backend: str = BackendOpt,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per forward pass."),
    device: str = DeviceOpt,
    dims: Optional[List[str]] = DimOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
) -> None:
    """Evaluate a checkpoint of either backend on a data source (its test split)."""
    runner, req = _inference_request(spec, sets, allow_plugins, plugin, root, data, backend, device, dims, batch_size)
    raise typer.Exit(runner.evaluate(req, checkpoint, as_json))


@app.command()
def predict(
    spec: str = typer.Argument(..., help="The spec file."),
    weights: str = typer.Option(..., "--weights", help="A run folder, a checkpoint or a weights file."),
    output: str = typer.Option(..., "--output", "-o", help="out.npz (one array per output) or out.csv."),
    data: Optional[str] = DataOpt,
    split: str = typer.Option("test", "--split", help="test (default) or train: the split of a source that has both."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Samples per forward pass."),
    device: str = DeviceOpt,
    dims: Optional[List[str]] = DimOpt,
    sets: Optional[List[str]] = SetOpt,
    allow_plugins: bool = AllowPluginsOpt,
    plugin: Optional[List[str]] = PluginOpt,
    root: Optional[str] = RootOpt,
) -> None:
    """Write a model's outputs for a data source to a file (.npz or .csv), in evaluation mode."""
    runner, req = _inference_request(spec, sets, allow_plugins, plugin, root, data, "torch", device, dims, batch_size)
    raise typer.Exit(runner.predict(req, weights, output, split))


def _inference_request(spec: str, sets: Optional[List[str]], allow_plugins: bool, plugin: Optional[List[str]],
                       root: Optional[str], data: Optional[str], backend: str, device: str,
                       dims: Optional[List[str]], batch_size: Optional[int]) -> tuple[Any, Any]:
    """(the runner module, its Request) for `eval` and `predict`: the spec compiled with its
    overrides and trust, or a located error and exit."""
    from .commands import front  # lazy: each command loads only what it runs

    overrides = front.overrides_or_exit(sets)
    g = front.load_or_exit(spec, sets, trust=front.trust_or_exit(allow_plugins, plugin, root))
    runner = _runner()
    req = runner.Request(spec, g, overrides, data, backend, device, _dims(dims), flags={"batch_size": batch_size})
    return runner, req


def main(argv: Optional[List[str]] = None) -> None:
    guarded(lambda: app(args=argv, prog_name="modelspec"))


if __name__ == "__main__":
    main()
