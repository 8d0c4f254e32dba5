"""docs/cli-reference.md is generated from the commands and must match them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).parents[2] / "scripts" / "gen_cli_docs.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_up_to_date() -> None:
    gen = _generator()
    expected = gen.render()
    assert gen.OUTPUT.read_text("utf-8") == expected, (
        "docs/cli-reference.md is stale: run python scripts/gen_cli_docs.py"
    )


def test_the_reference_covers_every_command_with_its_options() -> None:
    text = _generator().render()
    for heading in (
        "## bassline init",
        "## bassline graph",
        "## bassline run",
        "## bassline export",
        "## bassline import",
        "## bassline snapshot",
        "## bassline storage migrate",
        "## bassline storage check",
        "## bassline storage copy",
    ):
        assert heading in text
    assert "bassline storage copy [OPTIONS] SRC_URL DST_URL" in text
    assert (
        "| `--batch-size <int range>` | Content records per atomic batch. [default: 1000; x>=1] |"
        in text
    )
    assert (
        "| `--node-id <str>` | This node's id (unique). [env var: BASSLINE_NODE_ID; required] |"
        in (text)
    )
