"""Progress for long work (export, import, copy, check), drawn on stderr.

A command's work is a sequence of *phases* (opening a storage, reading contents, encoding,
writing, reading back, comparing ...). Each phase shows while it runs: a bar with counts
and time left when its total is known, a spinner with the phase's name when it is not, so
a long command is never silent. The display only shows when stderr is a terminal, so
scripts and pipes see clean output.

Every phase is also announced to listeners (:func:`add_listener`) as :class:`PhaseEvent`
values, terminal or not: that is how tests check that each phase of a command shows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Literal

import attrs
from rich.console import RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bassline.cli.console import err

__all__ = ["Bar", "PhaseEvent", "Reporter", "add_listener", "phase", "reporting"]


@attrs.frozen
class PhaseEvent:
    """A phase of a command started or ended."""

    kind: Literal["start", "end"]
    phase: str
    """What the phase does, as shown (e.g. ``reading contents of calculator``)."""
    total: int | None
    """Units of work it has (None: unknown, shown as a spinner)."""
    done: int
    """Units done when it ended (0 at its start)."""


_listeners: list[Callable[[PhaseEvent], None]] = []


def add_listener(listener: Callable[[PhaseEvent], None]) -> Callable[[], None]:
    """Call ``listener`` with every :class:`PhaseEvent`; returns a function that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _emit(event: PhaseEvent) -> None:
    for listener in list(_listeners):
        listener(event)


class Bar:
    """The running phase: ``advance(n)`` as work completes, ``describe(text)`` to relabel."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task
        self.done = 0
        """Units marked done so far."""

    def advance(self, amount: int = 1) -> None:
        """Mark ``amount`` more units done."""
        self.done += amount
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def describe(self, text: str) -> None:
        """Change the label shown before the bar."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)


class _Counts(ProgressColumn):
    """``done/total`` when the total is known; nothing for a spinner phase."""

    def __init__(self) -> None:
        super().__init__()
        self._inner = MofNCompleteColumn()

    def render(self, task: Task) -> RenderableType:
        return self._inner.render(task) if task.total is not None else Text("")


class _Remaining(ProgressColumn):
    """Time left when the total is known; nothing for a spinner phase."""

    def __init__(self) -> None:
        super().__init__()
        self._inner = TimeRemainingColumn()

    def render(self, task: Task) -> RenderableType:
        return self._inner.render(task) if task.total is not None else Text("")


class Reporter:
    """The progress display of one command: its phases, each shown while it runs."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            _Counts(),
            TimeElapsedColumn(),
            _Remaining(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
            redirect_stdout=False,  # a command's output goes to stdout untouched
            redirect_stderr=False,
        )

    def __enter__(self) -> Reporter:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.__exit__(None, None, None)

    @contextlib.contextmanager
    def phase(self, description: str, total: int | None = None) -> Iterator[Bar]:
        """Show ``description`` while the body runs: a bar of ``total`` units, or a spinner."""
        _emit(PhaseEvent("start", description, total, 0))
        task = self._progress.add_task(description, total=total)
        bar = Bar(self._progress, task)
        try:
            yield bar
        finally:
            self._progress.remove_task(task)
            _emit(PhaseEvent("end", description, total, bar.done))


@contextlib.contextmanager
def reporting() -> Iterator[Reporter]:
    """A :class:`Reporter` for the body of a ``with`` (the display stops at its end)."""
    with Reporter() as reporter:
        yield reporter


@contextlib.contextmanager
def phase(reporter: Reporter | None, description: str, total: int | None = None) -> Iterator[Bar]:
    """``reporter.phase(...)``, or a bar that shows nothing when there is no reporter."""
    if reporter is None:
        yield Bar(None, None)
        return
    with reporter.phase(description, total) as bar:
        yield bar
