"""Moving a network (spec and stamped contents) into a storage in batches, and verifying it."""

from __future__ import annotations

from collections.abc import Sequence

from returns.result import Failure, Success

from bassline.cli.console import UserError
from bassline.cli.progress import Bar, Reporter, phase
from bassline.cli.storage_access import unwrap
from bassline.codec import encode
from bassline.spec import Bassline
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    NetworkRecord,
    NetworkStorage,
    Record,
    mask_url,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "differences",
    "load_network",
    "prepare_target",
    "require_network",
    "verify",
    "write_network",
]

DEFAULT_BATCH_SIZE = 1000
"""Content records per atomic batch."""


async def require_network(
    storage: NetworkStorage, url: str, network: str, progress: Reporter | None = None
) -> None:
    """Nothing if ``network`` is stored; a UserError listing what is stored if not.

    Only asks whether it exists: neither its spec nor its contents are read.
    """
    with phase(progress, f"looking for {network} in {mask_url(url)}"):
        found = await storage.network_exists(network)
    if not unwrap(found, url, f"looking up network {network!r}"):
        raise await _not_found(storage, url, network)


async def _not_found(storage: NetworkStorage, url: str, network: str) -> UserError:
    stored = await storage.list_networks()
    names = ", ".join(stored.unwrap()) if isinstance(stored, Success) else ""
    return UserError(
        f"no network {network!r} in {mask_url(url)}; stored networks: {names or 'none'}"
    )


async def load_network(
    storage: NetworkStorage, url: str, network: str, progress: Reporter | None = None
) -> tuple[Bassline, list[ContentRecord]]:
    """A stored network's spec and contents; a UserError listing what is stored if absent."""
    with phase(progress, f"reading the spec of {network}"):
        result = await storage.load_network(network)
    if isinstance(result, Failure):
        if result.failure().code is ErrorCode.NETWORK_NOT_FOUND:
            raise await _not_found(storage, url, network)
        unwrap(result, url, f"loading network {network!r}")
    spec = result.unwrap()
    with phase(progress, f"reading the contents of {network}"):
        loaded = await storage.load_contents(network)
    contents = unwrap(loaded, url, f"loading contents of {network!r}")
    return spec, contents


async def prepare_target(
    storage: NetworkStorage,
    url: str,
    network: str,
    *,
    overwrite: bool,
    progress: Reporter | None = None,
) -> None:
    """Refuse to write over an existing network unless ``overwrite``; then delete it."""
    with phase(progress, f"looking for {network} in {mask_url(url)}"):
        found = await storage.network_exists(network)
    exists = unwrap(found, url, f"looking up network {network!r}")
    if not exists:
        return
    if not overwrite:
        raise UserError(
            f"network {network!r} already exists in {mask_url(url)}; pass --overwrite to replace "
            "it (its contents and snapshots there are deleted first)"
        )
    with phase(progress, f"deleting the old {network}"):
        deleted = await storage.delete_network(network)
    unwrap(deleted, url, f"deleting network {network!r}")


async def write_network(
    storage: NetworkStorage,
    url: str,
    spec: Bassline,
    contents: Sequence[ContentRecord],
    *,
    batch_size: int,
    bar: Bar,
) -> int:
    """Write the spec and ``contents`` in atomic batches; returns how many batches.

    The first batch carries the spec, so a network is never stored without it.
    """
    limit = storage.capabilities.max_batch_size
    size = batch_size if limit is None else max(1, min(batch_size, limit - 1))
    batches = 0
    start = 0
    while True:
        chunk = [
            ContentRecord(spec.id, r.group, r.contact, r.value, r.stamp, r.justification)
            for r in contents[start : start + size]
        ]
        batch: list[Record] = [NetworkRecord(spec), *chunk] if start == 0 else list(chunk)
        unwrap(
            await storage.write(batch), url, f"writing network {spec.id!r} (batch {batches + 1})"
        )
        batches += 1
        bar.advance(len(chunk))
        start += size
        if start >= len(contents):
            return batches


def _key(record: ContentRecord) -> tuple[str, bytes, tuple[int, str]]:
    return record.group, encode(record.value), (record.stamp.hlc, record.stamp.node)


async def differences(
    storage: NetworkStorage,
    url: str,
    spec: Bassline,
    contents: Sequence[ContentRecord],
    progress: Reporter | None = None,
) -> list[str]:
    """How what ``storage`` holds for ``spec.id`` differs from ``spec`` and ``contents``."""
    with phase(progress, f"reading {spec.id} back"):
        stored_spec = await storage.load_network(spec.id)
        stored = unwrap(stored_spec, url, f"reading network {spec.id!r} back")
        stored_contents = await storage.load_contents(spec.id)
        loaded = unwrap(stored_contents, url, f"reading {spec.id!r} back")
    # everything below is work on every content: inside the phase, freeing included
    with phase(
        progress, f"comparing {spec.id} with the source", len(contents) + len(loaded)
    ) as bar:
        problems = _compare(spec, stored, contents, loaded, bar)
        del loaded, stored_contents
    return problems


def _compare(
    spec: Bassline,
    stored: Bassline,
    contents: Sequence[ContentRecord],
    loaded: Sequence[ContentRecord],
    bar: Bar,
) -> list[str]:
    problems: list[str] = []
    if stored.hash != spec.hash:
        problems.append(f"spec hash {stored.hash[:12]} instead of {spec.hash[:12]}")
    want: dict[str, tuple[str, bytes, tuple[int, str]]] = {}
    for r in contents:
        want[r.contact] = _key(r)
        bar.advance()
    have: dict[str, tuple[str, bytes, tuple[int, str]]] = {}
    for r in loaded:
        have[r.contact] = _key(r)
        bar.advance()
    missing = sorted(want.keys() - have.keys())
    extra = sorted(have.keys() - want.keys())
    changed = sorted(c for c in want.keys() & have.keys() if want[c] != have[c])
    for label, ids in (("missing", missing), ("unexpected", extra), ("different", changed)):
        if ids:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            problems.append(f"{len(ids)} {label} contents ({shown})")
    return problems


async def verify(
    storage: NetworkStorage,
    url: str,
    spec: Bassline,
    contents: Sequence[ContentRecord],
    progress: Reporter | None = None,
) -> None:
    """Raise a UserError unless ``storage`` holds exactly ``spec`` and ``contents``."""
    problems = await differences(storage, url, spec, contents, progress)
    if problems:
        raise UserError(
            f"verification failed: network {spec.id!r} in {mask_url(url)} differs from the "
            f"source: {'; '.join(problems)}; run `bassline storage check {mask_url(url)}`"
        )
