"""``bassline storage migrate|check|repair|copy``: looking after storage backends."""

from __future__ import annotations

import os
from typing import Annotated, NoReturn

import anyio
import typer
from returns.result import Failure, Success
from rich.table import Table
from rich.text import Text

from bassline.cli.console import UserError, out
from bassline.cli.integrity import NetworkReport, check_network
from bassline.cli.progress import Reporter, reporting
from bassline.cli.render import plural, print_json, say
from bassline.cli.storage_access import (
    StorageFailed,
    backend_function,
    migrator_for,
    one_line,
    open_unopened,
    opened_with,
    scrub,
    unwrap,
)
from bassline.cli.storage_options import BatchOpt, JsonOpt, OverwriteOpt, UrlArg
from bassline.cli.transfer import (
    DEFAULT_BATCH_SIZE,
    load_network,
    prepare_target,
    require_network,
    verify,
    write_network,
)
from bassline.errors import BasslineError
from bassline.spec import Bassline
from bassline.storage import (
    ContentRecord,
    CreatesOnOpen,
    ErrorCode,
    FeedsChanges,
    LocatesStore,
    NetworkStorage,
    StorageOpenError,
    mask_url,
)

__all__ = ["storage_app"]

storage_app = typer.Typer(
    name="storage",
    help="Look after storage backends: migrate schemas, check integrity, repair damage, "
    "copy networks.",
    no_args_is_help=True,
)

# ---------------------------------------------------------------------------- storage migrate


@storage_app.command("migrate")
def storage_migrate(
    url: UrlArg,
    stamp: Annotated[
        str | None,
        typer.Option(
            "--stamp",
            metavar="REVISION",
            help="Only record that the schema is at REVISION (when its version record is "
            "damaged); refused unless its tables are those of REVISION.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Bring a storage's schema up to date (PostgreSQL); other backends need nothing.

    Safe to run again and while other processes migrate: it does nothing when the schema
    is already current. A backend takes part by declaring bassline.storage.MigratesSchema
    (`migrate_schema()`, and `stamp_schema(revision)` for --stamp).
    """
    if stamp is not None:
        _stamp(url, stamp, as_json)
        return
    package, migrate = migrator_for(url)
    masked = mask_url(url)
    revision: str | None = None
    if migrate is not None:
        try:
            revision = str(migrate(url))
        except (BasslineError, ValueError) as exc:
            raise UserError(one_line(scrub(str(exc), url))) from None
    if as_json:
        print_json(
            {
                "url": masked,
                "backend": package,
                "migrations": migrate is not None,
                "revision": revision,
            }
        )
    elif migrate is None:
        say(f"{masked}: the {package} backend has no schema to migrate; nothing to do")
    else:
        say(f"{masked}: schema at revision {revision}")


def _stamp(url: str, revision: str, as_json: bool) -> None:
    """``storage migrate --stamp``: record the schema's revision, changing no table."""
    package, stamp = backend_function(url, "stamp")
    masked = mask_url(url)
    if stamp is None:
        raise UserError(f"{masked}: the {package} backend keeps no schema revision to record")
    try:
        recorded = str(stamp(url, revision))
    except (BasslineError, ValueError) as exc:
        raise UserError(one_line(scrub(str(exc), url))) from None
    if as_json:
        print_json({"url": masked, "backend": package, "stamped": recorded})
    else:
        say(f"{masked}: recorded schema revision {recorded} (no other table changed)")


# ---------------------------------------------------------------------------- storage check


def _once(names: list[str] | None) -> list[str] | None:
    """The ``--network`` names in order, each once (naming one twice is no reason to fail)."""
    return list(dict.fromkeys(names)) if names else names


def _report_table(url: str, reports: list[NetworkReport]) -> Table:
    title = f"integrity of {mask_url(url)}"
    table = Table(title=Text(title), title_justify="left", min_width=len(title))  # one line
    table.add_column("network", style="bold")
    table.add_column("contents", justify="right")
    table.add_column("snapshots", justify="right")
    table.add_column("status")
    for r in reports:
        status = (
            "[green]ok[/green]"
            if not r.problems
            else f"[red]{plural(len(r.problems), 'problem')}[/red]"
        )
        table.add_row(Text(r.network), str(r.contents), str(r.snapshots), status)
    return table


@storage_app.command("check")
def storage_check(
    url: UrlArg,
    network: Annotated[
        list[str] | None,
        typer.Option("--network", "-n", help="Check only this network; repeatable."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a storage's integrity and print a report (exit 1 if anything is wrong).

    Every network's spec loads and is valid, every content decodes, belongs to a
    contact of the spec in that contact's group and has a valid stamp (not in the
    future, naming a node id gossip can carry), merge contacts hold values of their
    lattice, and every snapshot loads. A network named twice is checked once.
    The check never changes the storage: a file store is opened read-only, so damage
    (a torn tail of its log, say) is reported, not cut.
    """
    network = _once(network)

    async def main(progress: Reporter) -> tuple[list[NetworkReport], str]:
        async with opened_with(progress, url, read_only=True) as storage:
            with progress.phase(f"checking the health of {mask_url(url)}"):
                health = await storage.health()
            health_problem = ""
            if isinstance(health, Failure):
                health_problem = str(health.failure())
            elif not health.unwrap().ok:
                health_problem = health.unwrap().detail or "unhealthy"
            with progress.phase(f"listing the networks in {mask_url(url)}"):
                names = network or unwrap(await storage.list_networks(), url, "listing networks")
            for name in network or ():  # a name not stored is a typo, not damage
                await require_network(storage, url, name, progress)
            reports = []
            with progress.phase("checking", len(names)) as bar:
                for name in names:
                    bar.describe(f"checking {name}")
                    reports.append(await check_network(storage, name))
                    bar.advance()
            return reports, health_problem

    try:
        with reporting() as progress:
            reports, health_problem = anyio.run(main, progress)
    except StorageFailed as failed:
        if failed.error.code is not ErrorCode.CORRUPTION:
            raise
        _damaged(url, failed.error.message, as_json)
    problems = sum(len(r.problems) for r in reports) + bool(health_problem)
    if as_json:
        print_json(
            {
                "url": mask_url(url),
                "ok": problems == 0,
                "health": health_problem or "ok",
                "damage": None,
                "networks": [r.to_json() for r in reports],
            }
        )
    else:
        out.print(_report_table(url, reports))
        if health_problem:
            say(f"health: {health_problem}")
        for r in reports:
            for p in r.problems:
                say(f"  {r.network}: {p}")
        if not reports:
            say("no networks stored")
    if problems:
        raise UserError(
            f"{problems} integrity problem{'s' if problems != 1 else ''} in {mask_url(url)} "
            "(listed above); repair or restore the affected networks from an export"
        )


def _damaged(url: str, message: str, as_json: bool) -> NoReturn:
    """Report a storage too damaged to open (its backend's message says what to do)."""
    text = one_line(scrub(message, url))
    if as_json:
        print_json(
            {"url": mask_url(url), "ok": False, "health": text, "damage": text, "networks": []}
        )
    else:
        say(f"damage: {text}")
    raise UserError(f"{mask_url(url)} is damaged and does not open (see above for what to do)")


# ---------------------------------------------------------------------------- storage repair


@storage_app.command("repair")
def storage_repair(
    url: UrlArg,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only say what a repair would discard; change nothing."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Discard the damaged part of a file store's log, keeping it in a side file.

    Opening a store never discards a committed batch: a log damaged before its end, a
    log whose header is unreadable, or a missing log make it refuse to open. When no
    backup is at hand, this discards the log from the damage on (or sets the whole log
    aside, or starts a new one), after copying what it discards into the store's
    discarded/ directory. Stop every process using the store first. Exit 1 if damage
    remains that repair does not touch (a damaged state file).
    """
    package, repair = backend_function(url, "repair")
    masked = mask_url(url)
    if repair is None:
        if as_json:
            print_json({"url": masked, "backend": package, "repairable": False})
        else:
            say(f"{masked}: the {package} backend keeps no log of its own; nothing to repair")
        return
    try:
        report = repair(url, dry_run=dry_run)
    except StorageOpenError as exc:
        message = f"cannot repair {masked}: {exc.error.code.value}: {exc.error.message}"
        raise UserError(one_line(scrub(message, url))) from None
    except ValueError as exc:
        raise UserError(one_line(scrub(str(exc), url))) from None
    if as_json:
        print_json(
            {
                "url": masked,
                "backend": package,
                "repairable": True,
                "dry_run": dry_run,
                "needed": report.needed,
                "problem": report.problem,
                "offset": report.offset,
                "bytes": report.bytes,
                "committed_batches": report.committed_batches,
                "unfinished_batch": report.unfinished_batch,
                "contents": report.contents,
                "new_log": report.new_log,
                "saved_to": report.saved_to,
                "remaining": report.remaining,
            }
        )
    else:
        prefix = f"{masked} (dry run, nothing changed)" if dry_run else masked
        say(f"{prefix}: {report.describe()}")
    if report.remaining is not None:
        raise UserError(f"damage remains in {masked}: {report.remaining}")


# ---------------------------------------------------------------------------- storage copy


async def _refuse_one_store(
    src: NetworkStorage, dst: NetworkStorage, src_url: str, dst_url: str
) -> None:
    """Two URLs spelt differently can open one store (``localhost`` and ``127.0.0.1``):
    copying it onto itself with --overwrite deleted its snapshots. Stores with a change
    feed name themselves (``feed_identity``); a file store is locked by its first opener."""
    if not (isinstance(src, FeedsChanges) and isinstance(dst, FeedsChanges)):
        return
    mine, theirs = await src.feed_identity(), await dst.feed_identity()
    if isinstance(mine, Success) and isinstance(theirs, Success) and mine == theirs:
        raise UserError(
            f"source and destination are the same storage ({mask_url(src_url)} and "
            f"{mask_url(dst_url)} open one store)"
        )


def _refuse_one_location(src_url: str, dst_url: str) -> None:
    """A file store under two spellings (``file:///x`` and ``file:///x/``, a symlink,
    ``..``) is one store: say so before opening, where the second open said "locked"."""
    src, dst = open_unopened(src_url), open_unopened(dst_url)
    if not (isinstance(src, LocatesStore) and isinstance(dst, LocatesStore)):
        return
    if type(src) is type(dst) and src.store_location() == dst.store_location():
        raise UserError(
            f"source and destination are the same storage ({mask_url(src_url)} and "
            f"{mask_url(dst_url)} open one store, {src.store_location()})"
        )


def _not_there(url: str) -> bool:
    """Whether ``url`` names a store that opening would create (a file store's directory
    that does not exist): it cannot be the source's store, and need not be made."""
    storage = open_unopened(url)
    if not (isinstance(storage, CreatesOnOpen) and isinstance(storage, LocatesStore)):
        return False
    return not os.path.lexists(storage.store_location())


@storage_app.command("copy")
def storage_copy(
    src_url: Annotated[str, typer.Argument(metavar="SRC_URL", help="Storage to copy from.")],
    dst_url: Annotated[str, typer.Argument(metavar="DST_URL", help="Storage to copy into.")],
    network: Annotated[
        list[str] | None,
        typer.Option("--network", "-n", help="Copy only this network; repeatable (default: all)."),
    ] = None,
    overwrite: OverwriteOpt = False,
    batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
    as_json: JsonOpt = False,
) -> None:
    """Copy networks (specs and contents with their stamps) from one storage to another.

    Contents go in atomic batches; afterwards the destination is read back and compared
    with the source. Networks that already exist at the destination are refused unless
    --overwrite. Snapshots are not copied. A network named twice is copied once.
    """
    network = _once(network)
    if src_url == dst_url:
        raise UserError(f"source and destination are the same storage ({mask_url(src_url)})")
    _refuse_one_location(src_url, dst_url)

    async def main(progress: Reporter) -> list[tuple[str, int]]:
        # the source is read first: a copy that fails there, or has nothing to copy,
        # leaves a destination that is not there yet uncreated
        async with opened_with(progress, src_url, existing=True) as src:
            with progress.phase(f"listing the networks in {mask_url(src_url)}"):
                names = network or unwrap(await src.list_networks(), src_url, "listing networks")
            loaded = [await load_network(src, src_url, name, progress) for name in names]
            if not loaded and _not_there(dst_url):
                return []
            async with opened_with(progress, dst_url) as dst:
                await _refuse_one_store(src, dst, src_url, dst_url)
                return await copy_all(dst, loaded, progress)

    async def copy_all(
        dst: NetworkStorage, loaded: list[tuple[Bassline, list[ContentRecord]]], progress: Reporter
    ) -> list[tuple[str, int]]:
        if not overwrite:  # refuse before writing anything
            for spec, _ in loaded:
                await prepare_target(dst, dst_url, spec.id, overwrite=False, progress=progress)
        total = sum(len(c) for _, c in loaded)
        copied = []
        with progress.phase("copying", total) as bar:
            for spec, contents in loaded:
                bar.describe(f"copying {spec.id}")
                await prepare_target(dst, dst_url, spec.id, overwrite=overwrite, progress=progress)
                await write_network(dst, dst_url, spec, contents, batch_size=batch_size, bar=bar)
                await verify(dst, dst_url, spec, contents, progress)
                copied.append((spec.id, len(contents)))
        return copied

    with reporting() as progress:
        copied = anyio.run(main, progress)
    if as_json:
        print_json(
            {
                "source": mask_url(src_url),
                "destination": mask_url(dst_url),
                "networks": [{"network": n, "contents": c, "verified": True} for n, c in copied],
            }
        )
        return
    for name, count in copied:
        say(f"copied network {name!r} ({count} contents) to {mask_url(dst_url)}; verified")
    if not copied:
        private = " (memory:// is private to one process: empty when a command starts)"
        empty = private if src_url.startswith("memory:") else ""
        say(f"no networks in {mask_url(src_url)}{empty}; nothing copied")
