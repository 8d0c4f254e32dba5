"""Progress bars for long work (export, import, copy), drawn on stderr.

The bar only shows when stderr is a terminal, so scripts and pipes see clean output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bassline.cli.app import err

__all__ = ["Bar", "progress_bar"]


class Bar:
    """One task on a progress display: ``advance(n)`` as work completes."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: int = 1) -> None:
        """Mark ``amount`` more units done."""
        self._progress.advance(self._task, amount)

    def describe(self, text: str) -> None:
        """Change the label shown before the bar."""
        self._progress.update(self._task, description=text)


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Bar]:
    """A progress bar for ``total`` units of work, shown on stderr when it is a terminal."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with progress:
        yield Bar(progress, progress.add_task(description, total=total))
