"""``repair(url)``: the one explicit way to discard damaged parts of a store's log.

Opening a store never discards a committed batch: damage followed by committed batches,
an unreadable log header or a missing log make it refuse to open. Repair is the way out
when no backup is at hand. It discards the damaged part of the log — from the first
bad byte to the end (the damaged batch and every batch after it), the whole log if its
header is unreadable — and starts a new, empty log if the log is missing. What it
discards is copied first, and synced, into ``<store>/discarded/`` with a JSON report
beside it, so nothing is destroyed. ``dry_run=True`` reports what would be discarded
and changes nothing.

The bassline CLI runs it as ``bassline storage repair URL [--dry-run]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import attrs
import orjson

from bassline.storage import ErrorCode, StorageError, StorageOpenError
from bassline_storage_fs.fsutil import NotRegularFile, fsync_dir, read_regular, write_atomic
from bassline_storage_fs.layout import MARKER, Layout, StoreLock
from bassline_storage_fs.logfile import (
    LogCorrupt,
    LogFile,
    LogVersionUnsupported,
    count_commits,
    count_contents,
    readable_frames,
    scan_log,
)
from bassline_storage_fs.opening import state_file_damage
from bassline_storage_fs.url import parse_fs_url

__all__ = ["DISCARDED_DIR", "RepairReport", "repair"]

DISCARDED_DIR = "discarded"
"""Where repair keeps what it discarded, inside the store directory."""


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


@attrs.frozen
class RepairReport:
    """What a repair found in the log, and what it discarded (or, dry, would discard)."""

    store: str
    """The store directory."""
    dry_run: bool
    """True when nothing was changed."""
    problem: str | None = None
    """What is wrong with the log (None: the log is intact, nothing to repair)."""
    offset: int = 0
    """Where the discarded part of the log starts (0: the whole log)."""
    bytes: int = 0
    """How many bytes of the log are discarded."""
    committed_batches: int = 0
    """Committed — acknowledged — batches discarded (the damaged one included)."""
    unfinished_batch: bool = False
    """Whether an unfinished batch (a torn tail, never acknowledged) is discarded."""
    contents: int = 0
    """Contact contents readable in the discarded bytes (damaged records may hold more)."""
    new_log: bool = False
    """Whether a new, empty log replaces the old one (or the missing one)."""
    saved_to: str | None = None
    """The side file holding the discarded bytes (None on a dry run or when there were none)."""
    remaining: str | None = None
    """Damage this repair does not touch (a damaged state file), with its remedy."""

    @property
    def needed(self) -> bool:
        """Whether the log needs (or needed) repairing."""
        return self.problem is not None

    def describe(self) -> str:
        """What was (or would be) discarded, for people."""
        if self.problem is None:
            return "the log is intact: nothing to repair"
        verb = "would discard" if self.dry_run else "discarded"
        parts = []
        if self.committed_batches:
            parts.append(
                f"{_plural(self.committed_batches, 'committed batch', 'committed batches')} "
                "(acknowledged writes)"
            )
        if self.unfinished_batch:
            parts.append("1 unfinished batch (never acknowledged)")
        held = " and ".join(parts) or "no readable batch"
        if self.bytes:
            what = (
                f"{verb} {_plural(self.bytes, 'byte')} of the log from offset {self.offset}: "
                f"{held}, holding {_plural(self.contents, 'readable content')}"
            )
        else:
            what = f"{verb} nothing on disk"
        text = f"{self.problem}; {what}"
        if self.new_log:
            text += "; " + ("would start" if self.dry_run else "started") + " a new, empty log"
        if self.saved_to is not None:
            text += f"; the discarded bytes are kept in {self.saved_to}"
        elif self.dry_run and self.bytes:
            text += f"; the bytes would be kept in {self.store}/{DISCARDED_DIR}/"
        return text


def _fail(code: ErrorCode, message: str, url: str) -> StorageOpenError:
    return StorageOpenError(url, StorageError(code, message, transient=False))


def repair(url: str, *, dry_run: bool = False) -> RepairReport:
    """Repair the log of the store at ``url`` (``file:///dir``); see the module docs.

    Takes the store's lock (a store open elsewhere is a CONFLICT: stop that process
    first). Raises :class:`~bassline.storage.StorageOpenError` when the directory is not
    a store, is locked, or holds a log of a newer format (never discarded), and
    :class:`ValueError` for a malformed URL.
    """
    options = parse_fs_url(url, {})
    layout = Layout(options.path)
    if not layout.has_marker():  # a pipe or a directory there is damage, named below
        raise _fail(
            ErrorCode.INVALID,
            f"{layout.root} is not a Bassline store (it has no {MARKER} marker): nothing to repair",
            url,
        )
    err = layout.check_marker()
    if err is not None and err.code is ErrorCode.CORRUPTION:
        err = attrs.evolve(
            err,
            message=f"{err.message} (repair mends only the log: nothing was changed)",
        )
    if err is not None:
        raise StorageOpenError(url, err)
    lock = StoreLock(layout.lock)
    try:
        err = lock.acquire(note_pid=not dry_run)
    except OSError as exc:
        raise _fail(ErrorCode.PERMISSION, f"cannot lock {layout.lock}: {exc}", url) from None
    if err is not None:
        raise StorageOpenError(url, err)
    try:
        report = _repair(layout, dry_run, url)
        return attrs.evolve(report, remaining=state_file_damage(layout))
    finally:
        lock.release()


def _repair(layout: Layout, dry_run: bool, url: str) -> RepairReport:
    store = str(layout.root)
    if not layout.log.exists():
        report = RepairReport(
            store,
            dry_run,
            problem=(
                "the log is missing: every batch written since the last compaction is gone "
                "(restore the log from a backup instead, if you have one)"
            ),
            new_log=True,
        )
        if not dry_run:
            LogFile.create(layout.log, 1).close()
        return report
    try:
        data = read_regular(layout.log)
    except NotRegularFile as exc:  # a pipe was waited on, /dev/zero read, for ever
        raise _fail(
            ErrorCode.CORRUPTION,
            f"log {exc}: repair sets aside only a log file it can read; move it out of the "
            "store and run repair again to start a new, empty log (or restore the log from "
            "a backup)",
            url,
        ) from None
    try:
        scan = scan_log(data)
    except LogVersionUnsupported as exc:
        raise _fail(
            ErrorCode.UNSUPPORTED,
            f"log {layout.log}: {exc}; repair never discards a newer release's log: open "
            "the store with the release that wrote it, or a newer one",
            url,
        ) from None
    except LogCorrupt as exc:
        report = RepairReport(
            store,
            dry_run,
            problem=f"the log's header is damaged ({exc.message})",
            offset=0,
            bytes=len(data),
            committed_batches=count_commits(data),
            contents=count_contents(readable_frames(data, 0)),
            new_log=True,
        )
        if dry_run:
            return report
        saved = _save(layout, data, report)
        LogFile.create(layout.log, 1).close()
        return attrs.evolve(report, saved_to=saved)
    if scan.good_end == len(data):
        return RepairReport(store, dry_run)
    reason = scan.problem or "unexpected bytes after the last batch"
    committed = scan.later_commits + 1 if scan.later_commits else 0
    report = RepairReport(
        store,
        dry_run,
        problem=(
            f"the log is damaged ({reason}) in the batch that starts at byte "
            f"{scan.good_end}, with "
            f"{_plural(scan.later_commits, 'committed batch', 'committed batches')} after it"
            if committed
            else f"the log ends in a torn tail ({reason})"
        ),
        offset=scan.good_end,
        bytes=len(data) - scan.good_end,
        committed_batches=committed,
        unfinished_batch=not committed,
        contents=count_contents(readable_frames(data, scan.good_end)),
    )
    if dry_run:
        return report
    saved = _save(layout, data[scan.good_end :], report)
    LogFile.cut(layout.log, scan.good_end)
    return attrs.evolve(report, saved_to=saved)


def _save(layout: Layout, discarded: bytes, report: RepairReport) -> str:
    """Copy the bytes about to be discarded, and a JSON account of them, into the store's
    discarded/ directory, durably, before anything is cut."""
    directory = layout.root / DISCARDED_DIR
    if not directory.is_dir():
        directory.mkdir()
        fsync_dir(layout.root)
    now = dt.datetime.now(dt.UTC)
    name = f"log-{now.strftime('%Y%m%dT%H%M%S%fZ')}-from-{report.offset}"
    path = directory / f"{name}.bin"
    write_atomic(path, [discarded])
    account = {
        "store": str(layout.root),
        "repaired_at": now.isoformat(),
        "log": str(layout.log),
        "offset": report.offset,
        "bytes": len(discarded),
        "sha256": hashlib.sha256(discarded).hexdigest(),
        "problem": report.problem,
        "committed_batches": report.committed_batches,
        "unfinished_batch": report.unfinished_batch,
        "contents": report.contents,
        "new_log": report.new_log,
    }
    write_atomic(directory / f"{name}.json", [orjson.dumps(account, option=orjson.OPT_INDENT_2)])
    return str(path)
