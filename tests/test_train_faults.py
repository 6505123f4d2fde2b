"""Training under faults, each compared with an uninterrupted run of the same spec, seed and data:
kill -9 at every checkpoint write, a flipped byte, bad metadata, a full disk, a changed spec or
config on resume, and a resume in the middle of an epoch (the running averages of the records)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from modelspec.train import checkpoint as ckpt  # noqa: E402
from modelspec.train import runner, storage  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
modelspec: 1
name: MLP
params:
  hidden: [16]
  dropout: 0.1
inputs:
  x: [B, 8]
outputs:
  logits: head
layers:
  - foreach: {h: "${hidden}"}
    layers:
      - {op: Linear, features: "${h}"}
      - ReLU
      - {op: Dropout, p: "${dropout}"}
  - {name: head, op: Linear, features: 4}
"""
EPOCHS = 2
FLAGS = ["--batch-size", "32", "--log-every", "2", "--no-progress"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The spec and its data (200 samples of a seeded linear rule), written by the test."""
    d = tmp_path_factory.mktemp("faults")
    (d / "mlp.yaml").write_text(SPEC)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    np.savez(d / "data.npz", x=x, y=np.argmax(x @ rng.standard_normal((8, 4)), axis=1))
    return d


def args(base: Path, *more: str, spec: str = "mlp.yaml", backend: str = "torch") -> list[str]:
    return ["train", str(base / spec), "--data", str(base / "data.npz"), "--backend", backend, *FLAGS, *more]


def cli(*argv: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(argv))
    return res.exit_code, res.output


def subprocess_run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelspec", *argv], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180)


def rows(run: Path) -> list[dict[str, Any]]:
    """metrics.jsonl without the wall-clock fields (the only ones allowed to differ between runs)."""
    out = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("wall_")} for r in out]


def tensors(path: Path) -> dict[str, np.ndarray]:
    return ckpt.model_tensors(ckpt.load(str(path))[0])


def assert_same_run(run: Path, ref: Path) -> None:
    """Same records and bit-identical weights in every checkpoint as the uninterrupted run."""
    assert rows(run) == rows(ref)
    for name in (ckpt.LAST, ckpt.BEST, ckpt.WEIGHTS):
        a, b = tensors(run / name), tensors(ref / name)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), name


def temporaries(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def reference(base: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Uninterrupted runs, one per backend: the independent truth every faulty run is held to."""
    out = {}
    for backend in ("torch", "jax"):
        if backend == "jax" and not _has_jax():
            continue
        run = tmp_path_factory.mktemp(f"ref-{backend}") / "run"
        code, text = cli(*args(base, "--epochs", str(EPOCHS), "--run-dir", str(run), backend=backend))
        assert code == 0, text
        out[backend] = run
    return out


def _has_jax() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def saves(ref: Path) -> list[str]:
    """The checkpoint writes of a run, in order: each epoch's best (when it is) before its last."""
    names = []
    for r in rows(ref):
        if r["kind"] == "epoch":
            names += ([ckpt.BEST] if r["best"] else []) + [ckpt.LAST]
    return names + [ckpt.WEIGHTS]


# -- 1 and 2: kill -9 at each checkpoint write, then resume -------------------------------------------------

@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_kill_9_at_each_checkpoint_write_then_resume_matches_an_uninterrupted_run(
        backend: str, base: Path, reference: dict[str, Path], tmp_path: Path) -> None:
    if backend not in reference:
        pytest.skip("jax not installed")
    ref = reference[backend]
    order = saves(ref)
    assert order.count(ckpt.BEST) >= 1 and order.count(ckpt.LAST) == EPOCHS  # both kinds are exercised
    # torch: every write; jax (slower to start): the last epoch's, where a record and two files meet
    points = range(1, len(order) + 1) if backend == "torch" else range(len(order) - 2, len(order))
    for n in points:
        run = tmp_path / f"kill{n}"
        done = subprocess_run(args(base, "--epochs", str(EPOCHS), "--run-dir", str(run), backend=backend),
                              {storage.KILL_ENV: str(n)})
        assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
        torn = temporaries(run)
        assert len(torn) == 1 and torn[0].startswith("." + order[n - 1] + "."), (n, torn)
        # the command that goes on: --resume once a last checkpoint exists, else the same command again
        again = ["--resume", str(run)] if (run / ckpt.LAST).exists() else ["--run-dir", str(run)]
        code, out = cli(*args(base, "--epochs", str(EPOCHS), *again, backend=backend))
        assert code == 0, out
        assert "removed 1 temporary file(s)" in out
        assert temporaries(run) == []
        assert_same_run(run, ref)


def test_a_record_cut_short_is_dropped_and_written_again(base: Path, reference: dict[str, Path],
                                                        tmp_path: Path) -> None:
    """A kill while a record is appended leaves half a line after the last checkpoint's records."""
    run = tmp_path / "run"
    assert cli(*args(base, "--epochs", "1", "--run-dir", str(run)))[0] == 0
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"kind": "batch", "epoch": 2, "batch": 2, "step": 8, "lo')
    code, out = cli(*args(base, "--epochs", str(EPOCHS), "--resume", str(run)))
    assert code == 0, out
    assert_same_run(run, reference["torch"])


def test_a_fresh_start_does_not_overwrite_a_run(base: Path, one_epoch: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    before = (run / ckpt.LAST).read_bytes(), (run / "metrics.jsonl").read_text()
    code, out = cli(*args(base, "--epochs", "2", "--run-dir", str(run)))
    assert code == 2 and "holds a run already" in out and f"--resume {run}" in out, out
    assert ((run / ckpt.LAST).read_bytes(), (run / "metrics.jsonl").read_text()) == before


def test_a_folder_another_process_writes_is_refused(base: Path, one_epoch: Path, tmp_path: Path) -> None:
    """While a run holds its folder, a second start there neither trains nor cleans its temporaries."""
    fcntl = pytest.importorskip("fcntl")
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    live = run / ".last.safetensors.abcd1234.tmp"  # what a live writer has half-written
    live.write_bytes(b"\0" * 100)
    with open(run / storage.LOCK, "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, out = cli(*args(base, "--epochs", "2", "--resume", str(run)))
    assert code == 2 and "another modelspec process is training in" in out, out
    assert live.exists() and ckpt.load(str(run / ckpt.LAST))[1]["epoch"] == "1"
    code, out = cli(*args(base, "--epochs", "2", "--resume", str(run)))  # released: now it goes on
    assert code == 0 and not live.exists(), out


def test_temporaries_of_other_programs_are_left_alone(base: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert cli(*args(base, "--epochs", "1", "--run-dir", str(run)))[0] == 0
    theirs = [".notes.txt.abcd1234.tmp", ".last.safetensors.tmp", "last.safetensors.abcd1234.tmp",
              ".last.safetensors.abcd1234.tmp.keep"]
    for name in theirs:
        (run / name).write_text("not ours")
    (run / ".best.safetensors.zz_9ab12.tmp").write_bytes(b"\0" * 1000)  # the pattern mkstemp makes
    code, out = cli(*args(base, "--epochs", "2", "--resume", str(run)))
    assert code == 0, out
    assert "removed 1 temporary file(s)" in out
    assert sorted(p.name for p in run.iterdir() if p.name in theirs) == sorted(theirs)
    assert not (run / ".best.safetensors.zz_9ab12.tmp").exists()


# -- 3: a flipped byte in the weight data --------------------------------------------------------------------

def flip_weight_byte(path: Path, tensor: str) -> None:
    """Flip one byte inside ``tensor``'s data (not the header)."""
    raw = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    start, _ = json.loads(raw[8:8 + n])[tensor]["data_offsets"]
    raw[8 + n + start + 5] ^= 0x10
    path.write_bytes(bytes(raw))


class SetUpCounter:
    """Counts data loads and model builds: a refused checkpoint must be refused before either."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        load, trainer = runner.data_mod.load, runner._trainer

        def counted(fn: Any) -> Any:
            def wrapper(*a: Any, **k: Any) -> Any:
                self.calls += 1
                return fn(*a, **k)
            return wrapper

        monkeypatch.setattr(runner.data_mod, "load", counted(load))
        monkeypatch.setattr(runner, "_trainer", counted(trainer))


def test_a_flipped_byte_is_refused_for_resume_and_eval(base: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    assert cli(*args(base, "--epochs", "1", "--run-dir", str(run)))[0] == 0
    counter = SetUpCounter(monkeypatch)
    flip_weight_byte(run / ckpt.LAST, "model.linear_0.weight")
    flip_weight_byte(run / ckpt.WEIGHTS, "linear_0.weight")
    code, out = cli(*args(base, "--epochs", "2", "--resume", str(run)))
    assert code == runner.EXIT_CHECKPOINT == 3, out
    assert f"{run / ckpt.LAST} is damaged" in out and "digest" in out and "Traceback" not in out
    for target in (run, run / ckpt.WEIGHTS):  # a run folder (its last checkpoint) and the final weights
        code, out = cli("eval", str(base / "mlp.yaml"), "--checkpoint", str(target), "--data",
                        str(base / "data.npz"))
        assert code == 3 and "is damaged" in out and "Traceback" not in out, out
    assert counter.calls == 0
    from modelspec.weights import load as load_params

    with pytest.raises(ckpt.CheckpointError, match="weights.safetensors is damaged"):
        load_params(run / ckpt.WEIGHTS)
    code, out = cli("eval", str(base / "mlp.yaml"), "--checkpoint", str(run / ckpt.BEST), "--data",
                    str(base / "data.npz"))
    assert code == 0 and counter.calls == 2, out  # the untouched checkpoint still evaluates


def test_plain_weights_without_a_digest_load_with_a_warning(base: Path, tmp_path: Path) -> None:
    """Exported or converted weights carry no digest: they load, and eval says they are unverified."""
    from modelspec.weights import save as save_params

    run = tmp_path / "run"
    assert cli(*args(base, "--epochs", "1", "--run-dir", str(run)))[0] == 0
    plain = tmp_path / "exported.safetensors"
    save_params(plain, tensors(run / ckpt.WEIGHTS))
    evals = {}
    for path in (run / ckpt.WEIGHTS, plain):
        code, out = cli("eval", str(base / "mlp.yaml"), "--checkpoint", str(path), "--data", str(base / "data.npz"),
                        "--json")
        assert code == 0, out
        evals[path.name] = (json.loads(out.strip().splitlines()[-1])["loss"], "carries no digest" in out)
    assert evals[ckpt.WEIGHTS][1] is False and evals["exported.safetensors"][1] is True
    assert evals[ckpt.WEIGHTS][0] == evals["exported.safetensors"][0]


# -- 4: bad metadata, before set-up; a full disk ------------------------------------------------------------

@pytest.mark.parametrize("key,value,expect", [
    ("epoch", "x", "metadata `epoch` is 'x', not a whole number"),
    ("step", "-3", "metadata `step` is '-3', not a whole number"),
    ("best", '"low"', "metadata `best`"),
    ("sums", "[{", "metadata `sums` is '[{', not valid JSON"),
    ("config", "[]", "metadata `config` is '[]', not a JSON dict"),
    ("optim", '{"groups": []}', "metadata `optim` names no optimiser"),
    ("metrics_rows", "many", "metadata `metrics_rows`"),
])
def test_bad_metadata_is_refused_before_set_up(key: str, value: str, expect: str, base: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint with a valid digest but a value modelspec never writes (another tool, a bug)."""
    run = tmp_path / "run"
    assert cli(*args(base, "--epochs", "1", "--run-dir", str(run)))[0] == 0
    t, meta = ckpt.load(str(run / ckpt.LAST))
    ckpt.save(str(run / ckpt.LAST), t, {**meta, key: value})
    counter = SetUpCounter(monkeypatch)
    code, out = cli(*args(base, "--epochs", "2", "--resume", str(run)))
    assert code == 3 and expect in out and str(run / ckpt.LAST) in out and "Traceback" not in out, out
    assert counter.calls == 0


def test_bad_metadata_is_refused_by_eval_before_set_up(base: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    assert cli(*args(base, "--epochs", "1", "--run-dir", str(run)))[0] == 0
    t, meta = ckpt.load(str(run / ckpt.LAST))
    ckpt.save(str(run / ckpt.LAST), t, {**meta, "config": "{not json"})
    counter = SetUpCounter(monkeypatch)
    code, out = cli("eval", str(base / "mlp.yaml"), "--checkpoint", str(run), "--data", str(base / "data.npz"))
    assert code == 3 and "metadata `config` is '{not json', not valid JSON" in out and "Traceback" not in out, out
    assert counter.calls == 0


def test_edited_metadata_breaks_the_digest(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Metadata edited without modelspec (the digest not recomputed) is damage too."""
    from safetensors.numpy import save_file

    run = tmp_path / "run"
    assert cli(*args(base, "--epochs", "1", "--run-dir", str(run)))[0] == 0
    t, meta = ckpt.load(str(run / ckpt.LAST))
    save_file(t, str(run / ckpt.LAST), metadata={**meta, "epoch": "0"})
    counter = SetUpCounter(monkeypatch)
    code, out = cli(*args(base, "--epochs", "2", "--resume", str(run)))
    assert code == 3 and "is damaged" in out and counter.calls == 0, out


def test_full_disk_exits_4_and_keeps_the_previous_checkpoint(base: Path, reference: dict[str, Path],
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = reference["torch"]
    order = saves(ref)
    n = len(order) - 1 - order[::-1].index(ckpt.LAST)  # the last epoch's last.safetensors (0-based)
    run = tmp_path / "run"
    monkeypatch.setattr(storage, "_saves", 0)
    monkeypatch.setenv(storage.DISK_FULL_ENV, str(n + 1))
    code, out = cli(*args(base, "--epochs", str(EPOCHS), "--run-dir", str(run)))
    monkeypatch.delenv(storage.DISK_FULL_ENV)
    assert code == runner.EXIT_WRITE == 4, out
    last = run / ckpt.LAST
    assert f"no space left on device writing {last}; the previous file {last} is kept" in out
    assert f"the run can go on from {last}: modelspec train" in out and f"--resume {run}" in out
    assert "Traceback" not in out and "internal error" not in out
    assert temporaries(run) == []  # the half-written file is removed at once
    before = ckpt.load(str(last))[1]  # intact (digest checked) and loadable: the epoch before
    assert before["epoch"] == str(EPOCHS - 1)
    code, out = cli(*args(base, "--epochs", str(EPOCHS), "--resume", str(run)))
    assert code == 0, out
    assert_same_run(run, ref)


def test_full_disk_from_the_command_line(base: Path, tmp_path: Path) -> None:
    """The real entry point: one message, exit 4, no traceback."""
    run = tmp_path / "run"
    done = subprocess_run(args(base, "--epochs", "1", "--run-dir", str(run)), {storage.DISK_FULL_ENV: "1"})
    assert done.returncode == 4, done.stdout + done.stderr
    assert "error: no space left on device writing" in done.stderr and "Traceback" not in done.stderr
    assert not (run / ckpt.BEST).exists() and not (run / ckpt.LAST).exists() and temporaries(run) == []


# -- 5: a changed spec or config on resume ------------------------------------------------------------------

CHANGES = [
    ("relu-gelu", {"spec": ("      - ReLU\n", "      - GELU\n")}, "node relu_0 -> gelu_0: op ReLU -> GELU"),
    ("dropout", {"set": "dropout=0.5"}, "node dropout_0: p 0.1 -> 0.5"),
    ("seed", {"flag": ["--seed", "1"]}, "train.seed: 0 -> 1"),
    ("lr", {"flag": ["--lr", "0.1"]}, "train.optimizer.lr: 0.001 -> 0.1"),
    ("name", {"spec": ("name: MLP\n", "name: MLP2\n")}, "name: MLP -> MLP2"),
]


@pytest.fixture(scope="module")
def one_epoch(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("one") / "run"
    code, out = cli(*args(base, "--epochs", "1", "--run-dir", str(run)))
    assert code == 0, out
    return run


@pytest.mark.parametrize("what,change,line", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_changed_spec_or_config_is_refused_then_recorded_when_allowed(
        what: str, change: dict[str, Any], line: str, base: Path, one_epoch: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    spec = "mlp.yaml"
    if "spec" in change:
        old, new = change["spec"]
        assert old in SPEC
        (tmp_path / "changed.yaml").write_text(SPEC.replace(old, new))
        spec = str(tmp_path / "changed.yaml")
    more = ["--set", change["set"]] if "set" in change else change.get("flag", [])
    original_spec = (run / "spec.yaml").read_text()
    original_last = (run / ckpt.LAST).read_bytes()
    counter = SetUpCounter(monkeypatch)
    code, out = cli(*args(base, "--epochs", "2", "--resume", str(run), *more, spec=spec))
    assert code == 3, out
    assert "this run differs from the one that wrote it" in out and f"  {line}\n" in out and "--allow-changes" in out
    assert counter.calls == 0
    assert (run / "spec.yaml").read_text() == original_spec and (run / ckpt.LAST).read_bytes() == original_last
    assert not (run / "changes.jsonl").exists()
    code, out = cli(*args(base, "--epochs", "2", "--resume", str(run), "--allow-changes", *more, spec=spec))
    assert code == 0, out
    assert "resuming with changes" in out and line in out
    assert (run / "spec.yaml").read_text() == original_spec  # the original spec is kept
    record = [json.loads(x) for x in (run / "changes.jsonl").read_text().splitlines()]
    assert len(record) == 1 and line in record[0]["changes"] and record[0]["epoch"] == 1
    kept = (run / record[0]["spec"]).read_text()
    assert record[0]["spec"] == "spec.resume-1.yaml" and ("GELU" in kept if what == "relu-gelu" else True)
    assert ckpt.load(str(run / ckpt.LAST))[1]["epoch"] == "2"
    # the next resume compares with what the run now is: the same change is no longer one
    code, out = cli(*args(base, "--epochs", "3", "--resume", str(run), *more, spec=spec))
    assert code == 0, out


def test_what_changes_nothing_is_not_a_change(base: Path, one_epoch: Path, tmp_path: Path) -> None:
    """Comments, docs, more epochs (constant learning rate) and other logging resume without a word."""
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    (tmp_path / "same.yaml").write_text("# a comment\n" + SPEC.replace("name: MLP\n", "name: MLP\ndoc: same\n"))
    code, out = cli("train", str(tmp_path / "same.yaml"), "--data", str(base / "data.npz"), "--batch-size", "32",
                    "--no-progress", "--epochs", "3", "--resume", str(run))
    assert code == 0 and "resuming with changes" not in out and "differs" not in out, out
    assert not (run / "changes.jsonl").exists()


def test_fingerprints_need_neither_torch_nor_jax() -> None:
    code = ("import sys; from modelspec.pipeline import load; from modelspec.train import fingerprint as fp; "
            "from modelspec.train import resume; "
            f"g = load({str(ROOT / 'specs' / 'resnet18.yaml')!r}, {{}}); d = fp.describe(g); "
            "assert fp.graph_changes(d, fp.describe(load(g.file, {}))) == []; "
            "print(len(d['nodes']), 'torch' in sys.modules, 'jax' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    nodes, torch_loaded, jax_loaded = done.stdout.split()
    assert int(nodes) > 20 and (torch_loaded, jax_loaded) == ("False", "False")


# -- 6: a resume in the middle of an epoch writes the records of an uninterrupted run -----------------------

@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_resume_mid_epoch_writes_the_same_records(backend: str, base: Path, reference: dict[str, Path],
                                                  tmp_path: Path) -> None:
    if backend not in reference:
        pytest.skip("jax not installed")
    from modelspec.pipeline import load as load_graph
    from modelspec.train.runner import Request, train

    graph = load_graph(str(base / "mlp.yaml"), {})
    flags = dict(epochs=EPOCHS, batch_size=32, lr=None, optimizer=None, seed=None, log_every=2)

    def stop(loop: Any) -> None:
        if loop.pos.step == 9:  # epoch 2, batch 3 of 6
            os.kill(os.getpid(), signal.SIGTERM)

    run = tmp_path / "cut"

    def req(**kw: Any) -> Request:
        return Request(str(base / "mlp.yaml"), graph, {}, str(base / "data.npz"), backend, progress=False,
                       flags={**flags, "run_dir": str(run)}, **kw)

    assert train(req(on_batch=stop)) == 143
    meta = ckpt.load(str(run / ckpt.LAST))[1]
    assert (meta["epoch"], meta["batch"], meta["step"]) == ("1", "3", "9")
    assert len(rows(run)) < len(rows(reference[backend]))
    assert train(req(resume=str(run))) == 0
    assert_same_run(run, reference[backend])
