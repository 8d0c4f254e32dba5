"""``bassline export``, ``import`` and ``snapshot``: a stored network out, in, and kept."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.table import Table
from rich.text import Text

from bassline.cli.console import UsageError, UserError, err, out
from bassline.cli.exchange import dump_export, parse_export
from bassline.cli.paths import (
    MAX_INPUT_BYTES,
    PATH,
    given_path,
    output_parser,
    read_input,
    write_file,
)
from bassline.cli.progress import Reporter, reporting
from bassline.cli.render import plural, print_json, say
from bassline.cli.storage_access import opened, opened_with, unwrap
from bassline.cli.storage_options import BatchOpt, JsonOpt, NetworkArg, OverwriteOpt, UrlArg
from bassline.cli.transfer import (
    DEFAULT_BATCH_SIZE,
    load_network,
    prepare_target,
    require_network,
    verify,
    write_network,
)
from bassline.storage import SnapshotInfo, mask_url

__all__ = ["commands"]

commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""


# ---------------------------------------------------------------------------- export


def _write_output(data: bytes, output: Path | None) -> None:
    if output is None or str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        write_file(output, data)
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror or exc}") from None


@commands.command("export")
def export(
    storage_url: UrlArg,
    network: NetworkArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            parser=output_parser("-o"),
            metavar=PATH,
            help="Write the export here (default: standard output).",
        ),
    ] = None,
    snapshot: Annotated[
        str | None,
        typer.Option("--snapshot", help="Export this snapshot (an id from `snapshot --list`)."),
    ] = None,
) -> None:
    """Export a network's spec and every stored content, with stamps, as one JSON document.

    The document is canonical JSON in export format version 1 (see the CLI guide); the
    same state always exports to the same bytes. Import it with `bassline import`.
    """

    to_file = output is not None and str(output) != "-"

    async def main(progress: Reporter) -> tuple[bytes, int]:
        async with opened_with(progress, storage_url, existing=True) as storage:
            info: SnapshotInfo | None = None
            if snapshot is None:
                spec, contents = await load_network(storage, storage_url, network, progress)
            else:
                with progress.phase(f"reading snapshot {snapshot} of {network}"):
                    loaded = await storage.load_snapshot(network, snapshot)
                snap = unwrap(
                    loaded, storage_url, f"loading snapshot {snapshot!r} of network {network!r}"
                )
                spec, contents, info = snap.spec, list(snap.contents), snap.info
        # contents of contacts a replaced spec no longer has: `import` refuses them
        left_out.extend(
            sorted({r.contact for r in contents if r.contact not in spec.contact_by_id})
        )
        if left_out:
            contents = [r for r in contents if r.contact in spec.contact_by_id]
        count = len(contents)
        data = dump_export(spec, contents, info, progress)
        return data, count

    left_out: list[str] = []
    with reporting() as progress:
        data, count = anyio.run(main, progress)
        if to_file:
            with progress.phase(f"writing {output}"):
                _write_output(data, output)
    if not to_file:  # once the display is gone: the document is the only output
        _write_output(data, output)
    if left_out:
        shown = ", ".join(repr(c) for c in left_out[:10]) + (", ..." if len(left_out) > 10 else "")
        err.print(
            f"warning: left out the stored contents of {plural(len(left_out), 'contact')} "
            f"the spec of {network!r} does not have ({shown}): a replaced spec leaves them "
            "unused, and `bassline import` refuses them",
            markup=False,
            highlight=False,
        )
    if to_file:
        what = f"snapshot {snapshot!r} of network" if snapshot else "network"
        say(
            f"exported {what} {network!r} ({count} contents) from {mask_url(storage_url)} "
            f"to {output}"
        )


# ---------------------------------------------------------------------------- import


_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")
"""A storage URL as a path keeps it (``file:///d`` is the path ``file:/d``)."""


@commands.command("import")
def import_(
    storage_url: UrlArg,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            parser=given_path,
            help="An export document ('-' reads standard input).",
        ),
    ],
    overwrite: OverwriteOpt = False,
    batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
    max_bytes: Annotated[
        int,
        typer.Option(
            "--max-bytes",
            min=1,
            metavar="N",
            help="Refuse a document of more than N bytes, before writing anything "
            "(default: 1 GiB).",
        ),
    ] = MAX_INPUT_BYTES,
    as_json: JsonOpt = False,
) -> None:
    """Import an export document into a storage, in atomic batches, and verify the result.

    Each batch is written all or nothing; the first one carries the spec. A network that
    already exists is refused unless --overwrite. A document of another export format
    version is refused.
    """

    async def main(progress: Reporter) -> int:
        async with opened_with(progress, storage_url) as storage:
            await prepare_target(
                storage, storage_url, spec.id, overwrite=overwrite, progress=progress
            )
            with progress.phase(f"importing {spec.id}", len(contents)) as bar:
                batches = await write_network(
                    storage, storage_url, spec, contents, batch_size=batch_size, bar=bar
                )
            await verify(storage, storage_url, spec, contents, progress)
            return batches

    if _URL_LIKE.match(str(file)) and not file.exists():
        raise UserError(
            f"FILE {str(file)!r} is no file but looks like a storage URL: the arguments are "
            "STORAGE_URL, then FILE (bassline import STORAGE_URL FILE)"
        )
    with reporting() as progress:
        with progress.phase(f"reading {file}"):
            data = read_input(file, max_bytes, "--max-bytes")
        document = parse_export(data, str(file), progress)
        spec, contents = document.spec, document.contents
        batches = anyio.run(main, progress)
    if as_json:
        print_json(
            {
                "network": spec.id,
                "storage": mask_url(storage_url),
                "contents": len(contents),
                "batches": batches,
                "spec_hash": spec.hash,
                "verified": True,
            }
        )
    else:
        say(
            f"imported network {spec.id!r} ({plural(len(contents), 'content')} in "
            f"{plural(batches, 'batch')}) into {mask_url(storage_url)}; verified"
        )


# ---------------------------------------------------------------------------- snapshot


def _utc(when: dt.datetime) -> str:
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _snapshot_json(info: SnapshotInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "network": info.network,
        "label": info.label,
        "created_at": info.created_at.isoformat(),
        "contents": info.contents,
    }


@commands.command()
def snapshot(
    storage_url: UrlArg,
    network: NetworkArg,
    label: Annotated[
        str | None, typer.Option("--label", "-l", help="A label to remember the snapshot by.")
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the network's snapshots instead of taking one.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Take a consistent snapshot of a stored network (or list its snapshots with --list).

    Export a snapshot with `bassline export URL NETWORK --snapshot ID -o FILE`, and
    import that file elsewhere to restore it.
    """
    if list_ and label is not None:
        raise UsageError("--label names a new snapshot; it cannot be used with --list")

    async def main() -> list[SnapshotInfo]:
        async with opened(storage_url, existing=True) as storage:
            await require_network(storage, storage_url, network)  # a clear error if absent
            if list_:
                return unwrap(
                    await storage.list_snapshots(network),
                    storage_url,
                    f"listing snapshots of {network!r}",
                )
            info = unwrap(
                await storage.save_snapshot(network, label),
                storage_url,
                f"taking a snapshot of {network!r}",
            )
            return [info]

    infos = anyio.run(main)
    if as_json:
        data = [_snapshot_json(i) for i in infos]
        print_json(data if list_ else data[0])
        return
    if not list_:
        info = infos[0]
        tag = f" (label {info.label!r})" if info.label else ""
        say(f"snapshot {info.id} of network {network!r}{tag}: {info.contents} contents")
        return
    title = f"snapshots of {network} in {mask_url(storage_url)}"
    table = Table(title=Text(title), title_justify="left", min_width=len(title))  # one line
    table.add_column("id", no_wrap=True, min_width=max((len(i.id) for i in infos), default=2))
    table.add_column("label")
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("contents", justify="right")
    for info in infos:
        table.add_row(
            Text(info.id),  # text as stored, never Rich markup ('[/x]' was a MarkupError)
            Text(info.label or ""),
            _utc(info.created_at),
            str(info.contents),
        )
    out.print(table)
