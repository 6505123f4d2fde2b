"""Every example output in README.md and docs/*.md is what the command prints now.

The blocks are marked `<!-- output: COMMAND -->` (tools/docs_outputs.py explains the
format); `make docs` regenerates them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import docs_outputs  # noqa: E402

BLOCKS = [b for path in docs_outputs.documents() for b in docs_outputs.blocks(path)]


def test_the_docs_mark_their_example_outputs() -> None:
    files = {b.file.name for b in BLOCKS}
    assert {"README.md", "commands.md"} <= files
    commands = " ".join(c for b in BLOCKS for c in b.commands)
    for needed in ("modelspec lint", "modelspec summary", "modelspec graph", "modelspec ops", "modelspec render",
                   "modelspec explain", "--depth", "--rankdir", "--dim"):
        assert needed in commands, needed


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.file.name}:{'; '.join(b.commands)}" for b in BLOCKS])
def test_example_output_is_current(block: docs_outputs.Block) -> None:
    assert docs_outputs.run(block) == block.current, (
        f"{block.file.name}: the output of `{'; '.join(block.commands)}` changed; run `make docs`")


def test_check_finds_a_stale_block_and_the_rewrite_fixes_it(tmp_path: Path) -> None:
    md = tmp_path / "x.md"
    md.write_text("Intro.\n\n<!-- output: echo hi; false; echo $? -->\n```\n$ echo hi\nold\n```\n\nEnd.\n"
                  "<!-- output head=2: printf 'a\\nb\\nc\\n' -->\n```text\n```\n")
    assert docs_outputs.main(["--check", str(md)]) == 1
    assert "old" in md.read_text()
    assert docs_outputs.main([str(md)]) == 0
    assert md.read_text() == ("Intro.\n\n<!-- output: echo hi; false; echo $? -->\n```\n$ echo hi\nhi\n$ false\n"
                              "$ echo $?\n1\n```\n\nEnd.\n<!-- output head=2: printf 'a\\nb\\nc\\n' -->\n```text\n"
                              "$ printf 'a\\nb\\nc\\n'\na\nb\n...\n```\n")
    assert docs_outputs.main(["--check", str(md)]) == 0
