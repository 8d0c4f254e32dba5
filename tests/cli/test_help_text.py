"""``--help`` in a terminal: paragraphs wrap at the terminal's width, not the source's."""

from __future__ import annotations

from bassline.cli.app import reflow

from .conftest import cli_env, run_cli


def test_help_paragraphs_wrap_at_the_terminal_width() -> None:
    done = run_cli("start", "--help", env=cli_env(COLUMNS="80"))
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    # the docstring breaks its line after "shut down"; at 80 columns the terminal wraps
    # elsewhere, and no line ends early where the source did
    assert any(line.startswith("gracefully: peers are told goodbye") for line in lines), lines
    listing = run_cli("--help", env=cli_env(COLUMNS="80")).stdout
    assert "explain" in listing
    assert not any(line.strip("│ ").endswith("merges") for line in listing.splitlines())


def test_reflow_joins_lines_within_paragraphs_and_keeps_lists() -> None:
    doc = """First line
        goes on.

        Second paragraph,
        two lines.

        - an item
        - another
    """
    assert reflow(doc) == (
        "First line goes on.\n\nSecond paragraph, two lines.\n\n- an item\n- another"
    )
