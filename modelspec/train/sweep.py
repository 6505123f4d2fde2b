"""`modelspec train SPEC --sweep KEY=V1,V2 ...`: train every combination, compare them in one table.

Each ``--sweep`` names a spec param (passed to the variant as ``--set KEY=V``),
a train setting (``lr``, ``epochs``, ``batch_size``, ``optimizer``, ``seed``, or
their paths ``train.lr``, ``train.optimizer.lr``, ..., passed as the flag), or
any dotted path `--set` takes (``params.width``, ``train.schedule.name``,
``layers.2.features``: passed as ``--set PATH=V``), with comma-separated
values; the grid is their product.
Each variant is a separate ``modelspec train`` process with its own run
folder, ``<sweep folder>/<key>-<value>_...``; ``--jobs N`` run at a time.

Resuming is running the same command again: a variant whose folder holds its
final ``weights.safetensors`` is finished and not run again, one that holds a
checkpoint (it was killed) goes on with ``--resume`` (the trainer's own
resume, which checks the spec and config are the same), the rest start.  The
sweep folder is ``--run-dir`` or ``runs/<model>-sweep``, so the same command
finds it again.

At the end one table (and ``sweep.csv`` in the sweep folder) has a row per
variant: its values, status, the final epoch's metrics, the best validation
loss, and the parameter count and MACs (per sample and step) of the variant's
own checked IR.  Every variant's graph is compiled before anything trains, so a
value the spec rejects is a located error, not a failed child.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from ..backends.checking import eval_dim
from ..diagnostics import Diagnostic, Diagnostics, Pos, did_you_mean
from ..expand.params import parse_overrides
from ..expand.setpath import is_path
from ..ir.graph import Graph
from ..load import load_document
from ..pipeline import compile_file
from ..shapes.dims import Dim, add, concrete
from ..validate.train_section import TrainSpec
from .ui import error

#: sweep keys that are train settings: key -> the `modelspec train` flag
TRAIN_KEYS = {"lr": "--lr", "epochs": "--epochs", "batch_size": "--batch-size", "optimizer": "--optimizer",
              "seed": "--seed"}
#: dotted keys into the `train:` section that are those same settings (passed as the flag, which wins)
TRAIN_PATHS = {"train.lr": "lr", "train.optimizer.lr": "lr", "train.epochs": "epochs",
               "train.batch_size": "batch_size", "train.optimizer": "optimizer", "train.optimizer.name": "optimizer",
               "train.seed": "seed"}
RESUMED, STARTED, SKIPPED, FAILED = "resumed", "trained", "skipped (finished)", "failed"
FINAL = "weights.safetensors"  # written by the trainer after the last epoch only
CHECKPOINT = "last.safetensors"
POLL_S = 0.2


@dataclass(frozen=True)
class Axis:
    key: str  # as written (the table's column, the folder name)
    values: list[str]  # as written: passed on to the child unchanged
    train: bool  # a train setting (a flag), else a spec param or dotted path (--set)
    flag: str = ""  # the train setting's flag


@dataclass
class Variant:
    values: dict[str, str]
    folder: str
    graph: Graph | None = None
    status: str = ""
    code: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items())


def sweep_label(k: int) -> str:
    """The file name of the `k`-th (0-based) ``--sweep`` argument in diagnostics."""
    return f"<--sweep {k + 1}>"


def _path_problem(key: str, g: Graph, doc: Any) -> tuple[str, str | None] | None:
    """Why the dotted ``key`` names nothing a sweep can vary (message, suggestion), or None.

    As with `--set`, a dotted key addresses the spec file as written (`params.width`, `layers.2.features`,
    `train.schedule.name`); a sweep must vary something that is there: a param the spec declares, a
    setting of the `train:` section, or a key the file holds."""
    parts = key.split(".")
    head = parts[0]
    if head == "params":
        name = parts[1]
        if name not in g.params or len(parts) > 2:
            return (f"{g.name} has no param `{'.'.join(parts[1:])}`",
                    did_you_mean(name, list(g.params)) or f"params: {', '.join(g.params) or '(none)'}")
        return None
    if head == "train":
        fields = list(TrainSpec.model_fields)
        if parts[1] not in fields:
            return (f"`{parts[1]}` is not a setting of the `train:` section",
                    did_you_mean(parts[1], fields) or f"train settings: {', '.join(fields)}")
        return None
    node, here = doc, []
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            where = ".".join(here) or "the file"
            keys = list(node) if isinstance(node, dict) else []
            return (f"{where} has no `{part}` in {g.name}'s spec file",
                    did_you_mean(part, keys) if keys else None)
        here.append(part)
    return None


def parse_axes(items: Sequence[str], g: Graph, diags: Diagnostics, doc: Any = None) -> list[Axis]:
    """``KEY=V1,V2`` arguments -> axes; problems are located in the argument (``<--sweep 2>:1:1``).

    KEY is a param (``width``), a train setting (``lr``, or its path ``train.lr``), or a dotted path
    into the spec file as `--set` takes it (``params.width``, ``train.schedule.name``,
    ``layers.2.features``); ``doc`` is the file's data, for checking that such a path exists."""
    axes: list[Axis] = []
    for k, item in enumerate(items):
        where = Pos(sweep_label(k), 1, 1)
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_") if key.strip() in ("batch-size",) else key.strip()
        values = split_values(text)
        if not sep or not key or not text.strip() or any(not v for v in values):
            diags.add("MS083", f"`--sweep {item[:80]}` is not of the form KEY=V1,V2,...", where,
                      suggestion="for example `--sweep recurrence=full,self` or `--sweep lr=1e-3,3e-4`")
            continue
        if any(a.key == key for a in axes):
            diags.add("MS083", f"`--sweep {key}=...` is given twice", where,
                      suggestion=f"list every value in one argument: --sweep {key}=A,B,C")
            continue
        if len(set(values)) != len(values):
            diags.add("MS083", f"`--sweep {item[:80]}` lists a value twice", where)
            continue
        if key in TRAIN_KEYS or key in TRAIN_PATHS:
            axes.append(Axis(key, values, True, TRAIN_KEYS[TRAIN_PATHS.get(key, key)]))
        elif key in g.params:
            axes.append(Axis(key, values, False))
        elif is_path(key):
            problem = _path_problem(key, g, doc if doc is not None else {})
            if problem is not None:
                diags.add("MS082", f"`--sweep {key}=...`: {problem[0]}", where,
                          suggestion=problem[1])
                continue
            axes.append(Axis(key, values, False))
        else:
            choices = list(g.params) + list(TRAIN_KEYS)
            diags.add("MS082", f"`--sweep {key}=...`: `{key}` is neither a param of {g.name} nor a train setting "
                      "(nor a dotted path such as `params.width` or `train.lr`)",
                      Pos(sweep_label(k), 1, 1 + len(item) - len(item.lstrip())),
                      suggestion=did_you_mean(key, choices) or
                      f"params: {', '.join(g.params) or '(none)'}; train settings: {', '.join(TRAIN_KEYS)}")
    return axes


def split_values(text: str) -> list[str]:
    """``full,self`` -> ``["full", "self"]``; commas inside brackets or quotes stay (``[64,128],[32,64]``)."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def folder_name(values: dict[str, str]) -> str:
    """``{"recurrence": "full", "lr": "1e-3"}`` -> ``recurrence-full_lr-1e-3`` (a safe, stable name)."""
    parts = [f"{k}-{v}" for k, v in values.items()]
    name = re.sub(r"[^0-9A-Za-z.+=-]+", "_", "_".join(parts)).strip("._") or "variant"
    return name[:120]


def grid(axes: list[Axis], root: str) -> list[Variant]:
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        values = {a.key: v for a, v in zip(axes, combo)}
        out.append(Variant(values, os.path.join(root, folder_name(values))))
    return out


def macs(g: Graph) -> Dim:
    """MACs per sample and step: the IR's count with the batch dim at 1 (other free sizes stay symbolic)."""
    m = functools.reduce(add, (n.macs for n in g.nodes.values()), 0)
    if concrete(m):
        return m
    try:
        return eval_dim(m, {"B": 1})
    except Exception:  # noqa: BLE001 - another free size: show the expression
        return m


def compile_variants(spec: str, variants: list[Variant], axes: list[Axis], sets: dict[str, str], trust: Any,
                     diags: Diagnostics) -> None:
    """Each variant's checked IR (for its counts), with the overrides its child will get."""
    for v in variants:
        items = [f"{k}={t}" for k, t in sets.items()]
        items += [f"{a.key}={v.values[a.key]}" for a in axes if not a.train]
        inner = Diagnostics()
        overrides = parse_overrides(items, inner)
        r = compile_file(spec, overrides, inner, trust=trust)
        if r.graph is None or inner.has_errors:
            for d in inner.sorted():
                if d.is_error:
                    diags.add(d.code, f"sweep variant {v.label}: {d.message}", d.pos, suggestion=d.suggestion)
        v.graph = r.graph


def state_of(v: Variant) -> str:
    if os.path.isfile(os.path.join(v.folder, FINAL)):
        return SKIPPED
    if os.path.isfile(os.path.join(v.folder, CHECKPOINT)):
        return RESUMED
    return STARTED


def child_command(spec: str, v: Variant, axes: list[Axis], base: list[str], resume: bool) -> list[str]:
    args = [sys.executable, "-m", "modelspec", "train", spec, *base]
    for a in axes:
        value = v.values[a.key]
        args += [a.flag, value] if a.train else ["--set", f"{a.key}={value}"]
    args += ["--resume" if resume else "--run-dir", v.folder, "--no-progress"]
    return args


def final_metrics(folder: str) -> dict[str, Any]:
    """The last epoch record, the best validation loss and the epochs done, from metrics.jsonl."""
    rows: list[dict[str, Any]] = []
    try:
        with open(os.path.join(folder, "metrics.jsonl"), encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and row.get("kind") == "epoch":
                    rows.append(row)
    except OSError:
        return {}
    if not rows:
        return {}
    last = rows[-1]
    vals = [r["val_loss"] for r in rows if isinstance(r.get("val_loss"), (int, float))]
    return {"epochs": last.get("epoch"), "train_loss": last.get("train_loss"), "train_acc": last.get("train_acc"),
            "val_loss": last.get("val_loss"), "val_acc": last.get("val_acc"),
            "best_val_loss": min(vals) if vals else None}


class Pool:
    """At most ``jobs`` children at a time; their output goes to ``<folder>/train.log``."""

    def __init__(self, jobs: int, console: Console) -> None:
        self.jobs = jobs
        self.console = console
        self.running: list[tuple[Variant, subprocess.Popen[bytes], Any]] = []

    def start(self, v: Variant, cmd: list[str]) -> None:
        while len(self.running) >= self.jobs:
            self.wait_one()
        os.makedirs(v.folder, exist_ok=True)
        log = open(os.path.join(v.folder, "train.log"), "ab")
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        self.running.append((v, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                                start_new_session=True), log))
        self.console.print(f"[{v.status}] {v.label}: {v.folder}", markup=False)

    def wait_one(self) -> None:
        while True:
            for item in self.running:
                v, proc, log = item
                if proc.poll() is not None:
                    self.running.remove(item)
                    log.close()
                    v.code = proc.returncode
                    if v.code != 0:
                        v.status = FAILED
                        self.console.print(f"[failed, exit {v.code}] {v.label}: see {v.folder}/train.log", markup=False)
                    return
            time.sleep(POLL_S)

    def drain(self) -> None:
        while self.running:
            self.wait_one()

    def stop(self, signum: int) -> None:
        """Ask every child to save and stop (they checkpoint on SIGTERM), then wait for them.

        Children run in their own sessions, so a Ctrl-C at the terminal reaches the sweep alone and each
        child gets exactly one signal (a second one would make it quit without saving)."""
        for _v, proc, _log in self.running:
            if proc.poll() is None:
                proc.send_signal(signum)
        for v, proc, log in self.running:
            proc.wait()
            log.close()
            v.code, v.status = proc.returncode, FAILED
        self.running = []


COLUMNS = ["variant", "status", "epochs", "train_loss", "train_acc", "val_loss", "val_acc", "best_val_loss",
           "parameters", "macs", "run_dir"]


def rows_of(variants: list[Variant], axes: list[Axis]) -> list[dict[str, Any]]:
    out = []
    for v in variants:
        g = v.graph
        row: dict[str, Any] = {"variant": folder_name(v.values), **v.values, "status": v.status,
                               **{k: None for k in COLUMNS[2:8]}, **v.metrics,
                               "parameters": g.n_params if g else None, "macs": macs(g) if g else None,
                               "run_dir": v.folder}
        out.append(row)
    return out


def write_csv(path: str, rows: list[dict[str, Any]], axes: list[Axis]) -> None:
    fields = ["variant"] + [a.key for a in axes] + COLUMNS[1:]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r[k]) for k in fields})
    os.replace(tmp, path)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def table(name: str, rows: list[dict[str, Any]], axes: list[Axis]) -> Table:
    t = Table(title=f"modelspec sweep: {name}, {len(rows)} variants", title_justify="left")
    keys = [a.key for a in axes] + ["status", "epochs", "train_loss", "val_loss", "val_acc", "best_val_loss",
                                    "parameters", "macs"]
    for k in keys:
        t.add_column(k, justify="right" if k not in [a.key for a in axes] + ["status"] else "left")
    for r in rows:
        t.add_row(*(_human_macs(r[k]) if k == "macs" else _cell(r.get(k)) for k in keys))
    return t


def _human_macs(m: Any) -> str:
    if not isinstance(m, int):
        return _cell(m)
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if m >= size:
            return f"{m / size:.2f}{unit}"
    return str(m)


def base_args(*, data: str | None, backend: str, device: str, flags: dict[str, Any], dims: list[str],
              loggers: list[str], sets: list[str], plugins: list[str], allow_plugins: bool,
              root: str | None) -> list[str]:
    """The flags every variant's `modelspec train` gets (the sweep's own and --run-dir/--resume are not)."""
    args = ["--backend", backend, "--device", device]
    if data is not None:
        args += ["--data", data]
    for key, flag in (("epochs", "--epochs"), ("batch_size", "--batch-size"), ("lr", "--lr"),
                      ("optimizer", "--optimizer"), ("seed", "--seed"), ("log_every", "--log-every")):
        if flags.get(key) is not None:
            args += [flag, str(flags[key])]
    for opt, items in (("--dim", dims), ("--logger", loggers), ("--set", sets), ("--plugin", plugins)):
        for item in items:
            args += [opt, item]
    if allow_plugins:
        args.append("--allow-plugins")
    if root is not None:
        args += ["--root", root]
    return args


@dataclass
class Sweep:
    spec: str
    graph: Graph
    items: list[str]
    jobs: int = 1
    folder: str | None = None
    base: list[str] = field(default_factory=list)  # the child's other flags (data, backend, --set, ...)
    sets: dict[str, str] = field(default_factory=dict)  # the base --set NAME=TEXT, for compiling variants
    trust: Any = None


def run(sw: Sweep, console: Console | None = None) -> tuple[int, list[Diagnostic]]:
    """Run the grid; (exit code, diagnostics for bad --sweep arguments or variants the spec rejects)."""
    if console is None:  # a table in a log or a pipe is not cut to 80 columns
        console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
    diags = Diagnostics()
    if sw.jobs < 1:
        error(f"--jobs must be at least 1, not {sw.jobs}")
        return 2, []
    doc = load_document(sw.spec, Diagnostics())  # the file as written, for dotted keys (`--set` paths)
    axes = parse_axes(sw.items, sw.graph, diags, doc.data if doc is not None else None)
    if diags.has_errors:
        return 2, diags.sorted()
    root = sw.folder or os.path.join("runs", f"{sw.graph.name}-sweep")
    variants = grid(axes, root)
    compile_variants(sw.spec, variants, axes, sw.sets, sw.trust, diags)
    if diags.has_errors:
        return 1, diags.sorted()
    os.makedirs(root, exist_ok=True)
    console.print(f"sweep of {sw.graph.name}: {len(variants)} variants, {sw.jobs} at a time, in {root}")
    pool = Pool(sw.jobs, console)
    stopped: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for v in variants:
            v.status = state_of(v)
            if v.status == SKIPPED:
                console.print(f"[{SKIPPED}] {v.label}: {v.folder}", markup=False)
                continue
            pool.start(v, child_command(sw.spec, v, axes, sw.base, v.status == RESUMED))
        pool.drain()
    except KeyboardInterrupt:
        signum = stopped[0] if stopped else signal.SIGINT
        console.print("stopping: every running variant saves a checkpoint; run the same command to go on")
        pool.stop(signal.SIGTERM)
        return 128 + signum, []
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    for v in variants:
        v.metrics = final_metrics(v.folder)
        if v.status == FAILED:
            v.status = f"failed (exit {v.code})"
    rows = rows_of(variants, axes)
    write_csv(os.path.join(root, "sweep.csv"), rows, axes)
    console.print(table(sw.graph.name, rows, axes))
    console.print(f"wrote {os.path.join(root, 'sweep.csv')}")
    failed = [v for v in variants if v.status.startswith(FAILED)]
    return (failed[0].code or 1) if failed else 0, []
