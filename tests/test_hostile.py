"""Hostile specs, each linted by the real command in a child process.

CI lints specs that strangers wrote, so every case below must end with exit 1
or 2, a located message (``FILE:LINE:COL: MS###``), no traceback, no code run
(no marker file appears), no raw terminal escape in the output, within a
generous timeout and a bounded peak memory (the child's VmHWM).

Cases run concurrently, several files per child where one ``lint`` can check
them together; each case is still judged on its own file's diagnostics.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "wait4") or not hasattr(os, "mkfifo"),
                                reason="FIFOs, symlinks and wait4 are POSIX")

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 20  # catches a hang on a loaded 2-core machine; the target is far below it
MAX_RSS_MB = 300
ADDRESS_SPACE = 3 << 29  # 1.5 GiB: a safety net for the machine running the tests; the measure is VmHWM
#: control characters that must never reach a terminal raw
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HEAD = "modelspec: 1\nname: T\ninputs: {x: [B, 8]}\n"
TOML_HEAD = 'modelspec = 1\nname = "T"\n[inputs]\nx = ["B", 8]\n'


@dataclass
class Case:
    """One hostile input: files written into a fresh directory, then ``modelspec lint ARGS``."""

    id: str
    files: dict[str, str | bytes | Callable[[Path], None]]
    #: the file whose diagnostics judge the case (as the command line names it)
    target: str
    #: codes of which one must be reported, located in ``target``; empty: any code
    codes: frozenset[str] = frozenset()
    args: list[str] | None = None  # default: lint the target
    exit_codes: frozenset[int] = frozenset({1})
    #: text that must not appear in the output (a leaked secret)
    absent: tuple[str, ...] = ()
    xfail: str | None = None
    located: bool = True


def spec(layers: str, head: str = HEAD) -> str:
    return head + "layers:\n" + layers


def fifo(name: str) -> Callable[[Path], None]:
    return lambda d: os.mkfifo(d / name)


def symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda d: (d / name).symlink_to(target)


def mkdir(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir()


def outside_lib(name: str) -> Callable[[Path], None]:
    """A block library outside the tree (beside it), and a symlink to it inside."""
    def make(d: Path) -> None:
        lib = d.parent / f"{d.name}-outside.yaml"
        lib.write_text("modelspec: 1\nblocks:\n  B:\n    layers: [ReLU]\n")
        (d / name).symlink_to(lib)
    return make


def nested_repeats(depth: int, n: int) -> str:
    text, pad = "", "  "
    for k in range(depth):
        text += f"{pad * (k + 1)}- layers:\n"
    text += f"{pad * (depth + 1)}  - ReLU\n"
    for k in reversed(range(depth)):
        text += f"{pad * (k + 1)}  repeat: {n}\n"
    return spec(text)


def fan_out(levels: int, width: int) -> str:
    blocks = "".join(f"  L{k}:\n    layers: [{', '.join([f'{{block: L{k + 1}}}'] * width)}]\n"
                     for k in range(levels))
    return HEAD + f"blocks:\n{blocks}  L{levels}:\n    layers: [ReLU]\nlayers:\n  - {{block: L0}}\n"


def squaring_chain(n: int) -> str:
    params = '  p0: "${2**62}"\n' + "".join(f'  p{k}: "${{p{k - 1}*p{k - 1}}}"\n' for k in range(1, n))
    return HEAD + f"params:\n{params}layers:\n  - {{op: Linear, features: \"${{p{n - 1}}}\"}}\n"


def many_params(n: int) -> str:
    params = "  p0: 1\n" + "".join(f'  p{k}: "${{p{k - 1}}}"\n' for k in range(1, n))
    return HEAD + f"params:\n{params}layers:\n  - {{op: Linear, features: \"${{p{n - 1}}}\", featurs: 1}}\n"


def billion_laughs() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, 10)]
    return HEAD + "\n".join(lines) + "\nlayers: [ReLU]\n"


MARK = "MARK"  # a file an executed payload would create in the working directory
PAYLOAD = f"__import__('os').system('touch {MARK}')"

# Cases checked together by one `lint batch/` child: loader limits, expressions, tags, TOML, text.
BATCH: list[Case] = [
    # -- bombs the loaders and the expression evaluator bound
    Case("billion-laughs", {"laughs.yaml": billion_laughs()}, "laughs.yaml", frozenset({"MS004"})),
    Case("deep-yaml", {"deep.yaml": "a: " + "[" * 100_000 + "]" * 100_000 + "\n"}, "deep.yaml",
         frozenset({"MS004"})),  # libyaml's own depth cap is found again by the pure-Python parser
    Case("deep-toml", {"deep.toml": "a = " + "[" * 100_000 + "]" * 100_000 + "\n"}, "deep.toml",
         frozenset({"MS004"})),
    Case("deep-inline-toml", {"inline.toml": "a = " + "{b = " * 100_000 + "1" + "}" * 100_000 + "\n"},
         "inline.toml", frozenset({"MS004", "MS002"})),
    Case("huge-file", {"huge.yaml": HEAD + "# " + "x" * (9 << 20) + "\nlayers: [ReLU]\n"}, "huge.yaml",
         frozenset({"MS004"})),
    Case("string-bomb", {"strbomb.yaml": spec("  - {op: Linear, features: \"${'a'*10**9}\"}\n")}, "strbomb.yaml",
         frozenset({"MS023", "MS022"})),
    # -- expressions that try to run code
    Case("expr-import", {"import.yaml": spec(f'  - {{op: Linear, features: "${{{PAYLOAD}}}"}}\n')}, "import.yaml",
         frozenset({"MS021", "MS022"})),
    Case("expr-dunder", {"dunder.yaml": spec('  - {op: Linear, features: "${().__class__.__bases__}"}\n')},
         "dunder.yaml", frozenset({"MS022"})),
    Case("expr-lambda", {"lambda.yaml": spec('  - {op: Linear, features: "${(lambda: 1)()}"}\n')}, "lambda.yaml",
         frozenset({"MS022"})),
    Case("expr-comprehension", {"comp.yaml": spec('  - {op: Linear, features: "${[c for c in range(3)][0]}"}\n')},
         "comp.yaml", frozenset({"MS022"})),
    Case("expr-fstring", {"fstr.yaml": spec("  - {op: Linear, features: \"${f'{1}'}\"}\n")}, "fstr.yaml",
         frozenset({"MS022"})),
    Case("expr-open", {"open.yaml": spec("  - {op: Linear, features: \"${open('/etc/passwd')}\"}\n")}, "open.yaml",
         frozenset({"MS022", "MS021"})),
    Case("expr-walrus", {"walrus.yaml": spec('  - {op: Linear, features: "${(a := 1)}"}\n')}, "walrus.yaml",
         frozenset({"MS022", "MS020"})),
    Case("expr-builtins", {"builtins.yaml": spec('  - {op: Linear, features: "${__builtins__}"}\n')},
         "builtins.yaml", frozenset({"MS021", "MS022"})),
    # -- YAML tags
    Case("tag-apply", {"apply.yaml": spec(f"  - !!python/object/apply:os.system ['touch {MARK}']\n")},
         "apply.yaml", frozenset({"MS003"})),
    Case("tag-name", {"pyname.yaml": spec("  - !!python/name:os.system\n")}, "pyname.yaml", frozenset({"MS003"})),
    Case("tag-binary", {"binary.yaml": spec("  - !!binary aGVsbG8=\n")}, "binary.yaml", frozenset({"MS003"})),
    Case("tag-custom", {"custom.yaml": spec("  - !custom ReLU\n")}, "custom.yaml", frozenset({"MS003"})),
    # -- TOML edge cases
    Case("toml-duplicate", {"dup.toml": 'modelspec = 1\nname = "T"\nname = "U"\n'}, "dup.toml",
         frozenset({"MS002", "MS005"})),
    Case("toml-bad-date", {"baddate.toml": 'modelspec = 1\nname = 2023-13-45\n'}, "baddate.toml",
         frozenset({"MS002"})),
    Case("toml-date", {"date.toml": TOML_HEAD + '[[layers]]\nop = "Linear"\nfeatures = 1979-05-27T07:32:00Z\n'},
         "date.toml", frozenset({"MS012"})),  # dates load as ISO strings, so this is a wrong type
    # -- encodings and empty files
    Case("not-utf8", {"latin.yaml": b"modelspec: 1\nname: \"\xff\xfe\"\n"}, "latin.yaml", frozenset({"MS001"})),
    Case("empty", {"empty.yaml": ""}, "empty.yaml", frozenset({"MS010"})),
    Case("nul-bytes", {"nul.yaml": HEAD + "layers: [\x00ReLU]\n"}, "nul.yaml", frozenset({"MS002", "MS001"})),
    # -- terminal escapes in names and comments (the output check rejects raw ESC, BEL, C1, bidi)
    Case("escape-in-op", {"osc.yaml": spec('  - {op: "Re\\e]0;pwned\\aLU\\e[2J"}\n')}, "osc.yaml",
         frozenset({"MS030"})),
    Case("escape-in-name", {"csi.yaml": spec('  - {name: "a\\e[31mb\\u202e", op: ReLU}\n')}, "csi.yaml",
         frozenset({"MS014"})),
    Case("escape-in-toml", {"esc.toml": TOML_HEAD + '[[layers]]\nop = "A\\u001b]0;x\\u0007\\u009b"\n'}, "esc.toml",
         frozenset({"MS030"})),
    Case("raw-escape-comment", {"comment.yaml": HEAD + "# \x1b]0;pwned\x07\nlayers: [ReLU]\n"}, "comment.yaml",
         frozenset({"MS002"})),
    Case("bidi-in-source-line", {"bidi.yaml": spec("  - {op: Re\u202eLU}\n")}, "bidi.yaml", frozenset({"MS030"})),
]

# Cases with a child of their own: special files, plugins, imports, usage errors, bombs that may hang.
SINGLE: list[Case] = [
    # -- special files
    Case("fifo", {"x.yaml": fifo("x.yaml")}, "x.yaml", frozenset({"MS006"})),
    Case("fifo-in-walk", {"x.yaml": fifo("x.yaml"), "ok.yaml": spec("  - ReLU\n")}, "specs/x.yaml",
         frozenset({"MS006"}), args=["specs"]),
    Case("dev-zero", {"zero.yaml": symlink("zero.yaml", "/dev/zero")}, "zero.yaml", frozenset({"MS006"})),
    Case("etc-passwd", {"passwd.yaml": symlink("passwd.yaml", "/etc/passwd")}, "passwd.yaml",
         frozenset({"MS006"}), absent=("root:",)),
    Case("directory-named-yaml", {"d.yaml": mkdir("d.yaml")}, "d.yaml", exit_codes=frozenset({2}), located=False),
    Case("missing-path", {}, "missing.yaml", frozenset({"MS001"}), exit_codes=frozenset({2})),
    # -- plugins and imports
    Case("untrusted-plugin", {"evilplug.py": f"open({MARK!r}, 'w').write('ran')\n",
                              "plugin.yaml": HEAD + "plugins: [evilplug]\nlayers:\n  - {op: EvilOp}\n"},
         "plugin.yaml", frozenset({"MS038"})),
    Case("absolute-import", {"abs.yaml": HEAD + "imports: {lib: /etc/passwd.yaml}\nlayers: [ReLU]\n"}, "abs.yaml",
         frozenset({"MS006"}), absent=("root:",)),
    Case("dotdot-import", {"up.yaml": HEAD + "imports: {lib: " + "../" * 30 + "etc/passwd.yaml}\nlayers: [ReLU]\n"},
         "up.yaml", frozenset({"MS006"})),
    Case("symlinked-import", {"lib.yaml": outside_lib("lib.yaml"),
                              "uses.yaml": HEAD + "imports: {lib: lib.yaml}\nlayers:\n  - {block: lib.B}\n"},
         "uses.yaml", frozenset({"MS006"})),
    # -- bombs bounded on the expansion-bounds branch
    Case("nested-repeats", {"repeats.yaml": nested_repeats(3, 1000)}, "repeats.yaml", frozenset({"MS004"})),
    Case("block-fan-out", {"fan.yaml": fan_out(20, 4)}, "fan.yaml", frozenset({"MS004"})),
    Case("squaring-chain", {"square.yaml": squaring_chain(40)}, "square.yaml", frozenset({"MS023"})),
    Case("200k-params", {"params.yaml": many_params(200_000)}, "params.yaml", frozenset({"MS011"})),
    Case("huge-features", {"features.yaml": spec("  - {op: Linear, features: 1000000000000}\n")}, "features.yaml",
         frozenset({"MS012"})),
    Case("toml-int-above-2-64", {"bigint.toml": TOML_HEAD + '[[layers]]\nop = "Linear"\nfeatures = '
                                 '18446744073709551617\n'}, "bigint.toml", frozenset({"MS012"})),
    Case("huge-steps", {"steps.yaml": HEAD + "time: {steps: 1000000000}\nlayers: [ReLU]\n"}, "steps.yaml",
         frozenset({"MS060"})),
    Case("deep-set", {"set.yaml": spec("  - ReLU\n")}, "<--set 1>", frozenset({"MS004"}),
         args=["set.yaml", "--set", "p=" + "[" * 30_000 + "]" * 30_000], exit_codes=frozenset({1, 2})),
]

# Injection into emitted source: the names branch makes each of these an MS014 error.
INJECTION: list[Case] = [
    Case("quote-in-block-name", {"blk.yaml": HEAD + "blocks:\n  \"A'); import os; ('\":\n    layers: [ReLU]\n"
                                 "layers:\n  - {block: \"A'); import os; ('\"}\n"}, "blk.yaml",
         frozenset({"MS014"})),
    Case("newline-in-edge-name", {"edge.yaml": HEAD + "time: {steps: 2}\nlayers:\n  - {name: a, op: ReLU}\n"
                                  "  - {name: b, op: ReLU}\nedges:\n  - {name: \"e\\nimport os\", from: b, to: a, "
                                  "delay: 1}\n"}, "edge.yaml", frozenset({"MS014"})),
    Case("code-in-model-name", {"model.yaml": HEAD.replace("name: T", 'name: "Evil; import os"') +
                                "layers: [ReLU]\n"}, "model.yaml", frozenset({"MS014"})),
    Case("quote-in-node-name", {"node.yaml": spec("  - {name: \"a'b\", op: ReLU}\n")}, "node.yaml",
         frozenset({"MS014"})),
    Case("newline-in-input-name", {"input.yaml": "modelspec: 1\nname: T\ninputs: {\"x\\nimport os\": [B, 8]}\n"
                                   "layers: [ReLU]\n"}, "input.yaml", frozenset({"MS014"})),
]


@dataclass
class Outcome:
    rc: int
    out: str
    max_rss_mb: float
    timed_out: bool
    cwd: Path
    extra: dict[str, str] = field(default_factory=dict)


#: runs `python -m modelspec` and, at exit, writes the peak resident memory of this process image
#: (VmHWM). Not ``ru_maxrss``: Linux carries the parent's high-water mark across fork and exec, so a
#: child of a large pytest process would report pytest's memory.
CHILD = """\
import atexit, os, runpy, sys

def _peak():
    try:
        with open('/proc/self/status') as fh:
            kb = next(line.split()[1] for line in fh if line.startswith('VmHWM'))
    except OSError:
        return
    with open(os.environ['HOSTILE_PEAK_FILE'], 'w') as out:
        out.write(kb)

atexit.register(_peak)
sys.argv = ['modelspec'] + sys.argv[1:]
runpy.run_module('modelspec', run_name='__main__', alter_sys=True)
"""


def run_lint(cwd: Path, args: list[str]) -> Outcome:
    """``python -m modelspec lint ARGS`` in ``cwd``; its exit code, output and peak memory."""
    log, peak = cwd.parent / f"{cwd.name}.out", cwd.parent / f"{cwd.name}.peak"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               COLUMNS="200", HOSTILE_PEAK_FILE=str(peak))
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, "lint", *args], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)
        if hasattr(resource, "prlimit"):  # no preexec_fn: the children start from several threads
            resource.prlimit(proc.pid, resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(TIMEOUT_S, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    # where /proc is missing, ru_maxrss (in KiB on Linux, bytes on macOS) is the fallback
    peak_kb = float(peak.read_text()) if peak.exists() else usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    return Outcome(proc.returncode, log.read_text("utf-8", errors="replace"), peak_kb / 1024,
                   timed_out.is_set(), cwd)


def _write(d: Path, files: dict[str, str | bytes | Callable[[Path], None]]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if callable(content):
            content(d)
        elif isinstance(content, bytes):
            (d / name).write_bytes(content)
        else:
            (d / name).write_text(content, encoding="utf-8")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Run every child at once (a few at a time): the suite takes as long as its slowest case."""
    base = tmp_path_factory.mktemp("hostile")
    jobs: dict[str, tuple[Path, list[str]]] = {}
    batch = base / "batch"
    (batch / ".git").mkdir(parents=True)
    for c in BATCH:
        _write(batch / "specs", c.files)
    jobs["batch"] = (batch, ["specs"])
    for c in SINGLE + INJECTION:
        d = base / c.id
        (d / ".git").mkdir(parents=True)
        _write(d / "specs" if c.args == ["specs"] else d, c.files)
        jobs[c.id] = (d, c.args or [c.target])
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {k: pool.submit(run_lint, d, a) for k, (d, a) in jobs.items()}
        yield {k: f.result() for k, f in futures.items()}


def _judge(c: Case, o: Outcome, shown: str) -> None:
    assert not o.timed_out, f"{c.id}: still running after {TIMEOUT_S} s"
    assert "Traceback" not in o.out and "internal error" not in o.out, o.out[-3000:]
    assert not list(o.cwd.rglob(MARK + "*")), f"{c.id}: a payload ran"
    assert not RAW_CONTROL.search(o.out), f"{c.id}: raw control character in the output: {o.out[-2000:]!r}"
    for secret in c.absent:
        assert secret not in o.out, f"{c.id}: leaked {secret!r}"
    assert o.max_rss_mb < MAX_RSS_MB, f"{c.id}: peak memory {o.max_rss_mb:.0f} MB"
    assert o.rc in c.exit_codes, f"{c.id}: exit {o.rc}\n{o.out[-3000:]}"
    if c.located:
        found = re.findall(rf"^{re.escape(shown)}:\d+:\d+: (MS\d{{3}}) ", o.out, re.M)
        assert found, f"{c.id}: no located message for {shown}\n{o.out[-3000:]}"
        if c.codes:
            assert set(found) & c.codes, f"{c.id}: got {found}, expected one of {sorted(c.codes)}"
    else:
        assert "error:" in o.out


def _params(cases: list[Case]) -> list[object]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=False, reason=c.xfail)] if c.xfail else [])
            for c in cases]


@pytest.mark.parametrize("case", _params(BATCH))
def test_batch_case(case: Case, outcomes: dict[str, Outcome]) -> None:
    _judge(case, outcomes["batch"], f"specs/{case.target}")


@pytest.mark.parametrize("case", _params(SINGLE))
def test_single_case(case: Case, outcomes: dict[str, Outcome]) -> None:
    _judge(case, outcomes[case.id], case.target)


@pytest.mark.parametrize("case", _params(INJECTION))
def test_injection_case(case: Case, outcomes: dict[str, Outcome]) -> None:
    _judge(case, outcomes[case.id], case.target)


def test_usage_errors_say_what_is_wrong(outcomes: dict[str, Outcome]) -> None:
    assert "no spec files" in outcomes["directory-named-yaml"].out
    assert "no such file or directory: missing.yaml" in outcomes["missing-path"].out
