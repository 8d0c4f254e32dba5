"""A worked example of a third-party storage backend: ``jsonfiles:///path/to/dir``.

It keeps one JSON document per network (its spec, contents and snapshots) and rewrites
the whole document on every write: write a temporary file, fsync it, rename it over the
old one, fsync the directory. File names are the sha256 of the network id, so no id can
escape the directory or collide with another on a case-insensitive file system. Blocking
file I/O runs in worker threads under a ``CapacityLimiter``; one ``anyio.Lock``
serialises read-modify-write cycles.

It derives from :class:`bassline.storage.toolkit.StorageBackend` and implements only
the narrow hooks (``capabilities``, ``do_open``, ``do_write``, ``do_load_network``,
``do_list_networks``, ``do_delete_network``, ``do_load_contents`` and the four snapshot
hooks): the base class checks every id, stamp, label, query and batch, and derives
``save_network``, ``save_contact_content``, ``network_exists``, ``load_contact_content``,
``query_groups`` and the spec hash. It imports nothing from the core but
``bassline.storage``, ``bassline.storage.toolkit`` and the public codec and spec modules.

It is deliberately simple (fine for small networks). A batch touching several networks
is checked completely before any file changes, but a crash between two renames can
leave one network updated and not the other. ``tests/storage/test_third_party_backend.py``
registers it through an entry point, as an installed package would be, and runs the
conformance suite on it.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import anyio
import attrs
import orjson
from returns.result import Failure, Success

from bassline.clock import Stamp
from bassline.codec import loads, to_json
from bassline.errors import ContentError, SpecError
from bassline.spec import Bassline, GroupSpec, WireSpec, parse_spec
from bassline.storage import (
    Capabilities,
    ContentRecord,
    ErrorCode,
    Snapshot,
    SnapshotInfo,
    StorageError,
    StorageResult,
    WriteSummary,
)
from bassline.storage.toolkit import (
    CheckedBatch,
    StorageBackend,
    missing_group,
    missing_network,
    network_not_found,
    snapshot_not_found,
)

__all__ = ["JsonFileStorage", "open_json_file_storage"]

T = TypeVar("T")
Document = dict[str, Any]
"""One network on disk: {"id", "spec", "contents": {contact: [group, value, stamp, justification]}, "snapshots"}."""


def _error(code: ErrorCode, message: str, cause: BaseException | None = None) -> StorageError:
    return StorageError(code, message, transient=False, cause=cause)


def _os_error(exc: OSError, what: str) -> StorageError:
    if isinstance(exc, PermissionError):
        return _error(ErrorCode.PERMISSION, f"{what}: {exc}", exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _error(ErrorCode.LIMIT_EXCEEDED, f"{what}: {exc}", exc)
    return StorageError(ErrorCode.CONNECTION, f"{what}: {exc}", transient=True, cause=exc)


def _spec_json(spec: Bassline) -> Any:
    """The spec as plain JSON data, or a StorageError if it cannot be stored and read back."""
    try:
        data = to_json(spec.to_dict())
        back = parse_spec(data)  # store only what loads back, exactly
    except ContentError as exc:
        return _error(ErrorCode.SERIALIZATION, f"spec of network {spec.id!r}: {exc}", exc)
    except (SpecError, AttributeError, TypeError) as exc:
        return _error(ErrorCode.INVALID, f"spec of network {spec.id!r} is not valid: {exc}", exc)
    if back.hash != spec.hash:  # parse_spec sorts items and adds the root group
        return _error(
            ErrorCode.INVALID,
            f"spec of network {spec.id!r} would not load back as saved (parse_spec changes "
            "it: build specs with bassline.load_spec or parse_spec)",
        )
    return data


def _merge(spec: Bassline, groups: list[GroupSpec], wires: list[WireSpec]) -> Bassline:
    by_group = {g.id: g for g in spec.groups} | {g.id: g for g in groups}
    by_wire = {w.id: w for w in spec.wires} | {w.id: w for w in wires}
    return attrs.evolve(
        spec,
        groups=tuple(sorted(by_group.values(), key=lambda g: g.id)),
        wires=tuple(sorted(by_wire.values(), key=lambda w: w.id)),
    )


class JsonFileStorage(StorageBackend):
    """One JSON document per network in a directory (see the module docstring)."""

    def __init__(self, url: str, *, fsync: bool = True, threads: int = 4) -> None:
        parts = urlsplit(url)
        if parts.scheme != "jsonfiles" or parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"expected jsonfiles:///absolute/path, got {url!r}")
        super().__init__(url, clock_node="jsonfiles")
        self.root = Path(unquote(parts.path))
        self._fsync = fsync
        self._limiter = anyio.CapacityLimiter(threads)
        self._lock = anyio.Lock()

    @property
    def capabilities(self) -> Capabilities:
        """Persistent, atomic batches, one process at a time."""
        return Capabilities(persistent=True, transactions=True, shared=False)

    # plumbing: every blocking call goes through _io, every error becomes a StorageError

    async def _io(self, what: str, fn: Callable[[], T]) -> T | StorageError:
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
        except OSError as exc:
            return _os_error(exc, what)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return _error(ErrorCode.CORRUPTION, f"{what}: unreadable document: {exc!r}", exc)

    def _path(self, network: str) -> Path:
        return self.root / (hashlib.sha256(network.encode()).hexdigest() + ".json")

    def _read(self, network: str) -> Document | None:
        try:
            data = self._path(network).read_bytes()
        except FileNotFoundError:
            return None
        doc: Document = orjson.loads(data)
        return doc

    def _write_all(self, docs: dict[str, Document | None]) -> None:
        staged: list[tuple[Path, Path | None]] = []
        for network, doc in docs.items():
            final = self._path(network)
            if doc is None:
                staged.append((final, None))
                continue
            tmp = final.with_suffix(f".{uuid.uuid4().hex}.tmp")
            with open(tmp, "wb") as f:
                f.write(orjson.dumps(doc))
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
            staged.append((final, tmp))
        for target, staged_file in staged:  # everything is on disk; now switch over
            if staged_file is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(staged_file, target)
        if self._fsync:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    async def _load(self, network: str) -> Document | StorageError:
        doc = await self._io(f"reading network {network!r}", lambda: self._read(network))
        return network_not_found(network) if doc is None else doc

    async def _save(self, docs: dict[str, Document | None]) -> StorageResult[None]:
        done = await self._io("writing", lambda: self._write_all(docs))
        return Failure(done) if isinstance(done, StorageError) else Success(None)

    # the hooks

    async def do_open(self) -> StorageResult[None]:
        """Create the directory if needed."""
        made = await self._io("creating the store directory", self._make_root)
        return Failure(made) if isinstance(made, StorageError) else Success(None)

    def _make_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def do_load_network(self, network: str) -> StorageResult[Bassline]:
        """Parse the stored spec (it was checked to parse when it was written)."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        spec = _parse(doc["spec"], network)
        return Failure(spec) if isinstance(spec, StorageError) else Success(spec)

    async def do_delete_network(self, network: str) -> StorageResult[None]:
        """Remove the network's document."""
        async with self._lock:
            return await self._save({network: None})

    async def do_list_networks(self) -> StorageResult[list[str]]:
        """Read every document's id."""

        def ids() -> list[str]:
            return sorted(orjson.loads(p.read_bytes())["id"] for p in self.root.glob("*.json"))

        listed = await self._io("listing networks", ids)
        return Failure(listed) if isinstance(listed, StorageError) else Success(listed)

    async def do_load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of the network, sorted by contact."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        return Success([_record(network, c, v) for c, v in sorted(doc["contents"].items())])

    async def do_write(self, batch: CheckedBatch) -> StorageResult[WriteSummary]:
        """Read each touched document, plan the new ones, then rewrite them all at once."""
        async with self._lock:
            touched = (
                {r.network for r in batch.networks}
                | {r.network for r in batch.groups}
                | {r.network for r in batch.wires}
                | {r.network for r in batch.contents}
            )
            docs: dict[str, Document | None] = {}
            for network in touched:
                doc = await self._io(f"reading {network!r}", lambda n=network: self._read(n))
                if isinstance(doc, StorageError):
                    return Failure(doc)
                docs[network] = doc
            try:
                planned = _plan(docs, batch)
            except (SpecError, KeyError, TypeError, ValueError) as exc:
                planned = _error(ErrorCode.CORRUPTION, f"a stored document is unreadable: {exc}")
            if isinstance(planned, StorageError):
                return Failure(planned)
            new_docs, summary = planned
            saved = await self._save(dict(new_docs))
        return saved.map(lambda _: summary)

    async def do_save_snapshot(
        self, network: str, label: str | None
    ) -> StorageResult[SnapshotInfo]:
        """Copy the spec and contents into the document's snapshot list."""
        async with self._lock:
            doc = await self._load(network)
            if isinstance(doc, StorageError):
                return Failure(doc)
            info = {
                "id": uuid.uuid4().hex,
                "label": label,
                "created_at": dt.datetime.now(dt.UTC).isoformat(),
                "spec": doc["spec"],
                "contents": doc["contents"],
            }
            doc["snapshots"].append(info)
            saved = await self._save({network: doc})
        return saved.map(lambda _: _info(network, info))

    async def do_load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """One snapshot of the document."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        for snap in doc["snapshots"]:
            if snap["id"] == snapshot_id:
                spec = _parse(snap["spec"], network)
                if isinstance(spec, StorageError):
                    return Failure(spec)
                contents = tuple(_record(network, c, v) for c, v in snap["contents"].items())
                return Success(Snapshot(_info(network, snap), spec, contents))
        return Failure(snapshot_not_found(network, snapshot_id))

    async def do_list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """Newest first: the list is kept in creation order."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        return Success([_info(network, s) for s in reversed(doc["snapshots"])])

    async def do_delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Drop one snapshot; nothing to drop is fine."""
        async with self._lock:
            doc = await self._load(network)
            if isinstance(doc, StorageError):
                ok = doc.code is ErrorCode.NETWORK_NOT_FOUND
                return Success(None) if ok else Failure(doc)
            doc["snapshots"] = [s for s in doc["snapshots"] if s["id"] != snapshot_id]
            return await self._save({network: doc})


def _parse(data: Any, network: str) -> Bassline | StorageError:
    try:
        return parse_spec(data)
    except SpecError as exc:
        return _error(ErrorCode.CORRUPTION, f"stored spec of {network!r} is unreadable", exc)


def _record(network: str, contact: str, stored: list[Any]) -> ContentRecord:
    group, value, stamp, *why = stored  # files written before justifications have three
    # values are kept as the codec's canonical text: embedding them as JSON would add the
    # document's own nesting to theirs, and the deepest content would no longer fit
    return ContentRecord(
        network, group, contact, loads(value), Stamp.from_json(stamp), why[0] if why else None
    )


def _info(network: str, snap: dict[str, Any]) -> SnapshotInfo:
    created = dt.datetime.fromisoformat(snap["created_at"])
    return SnapshotInfo(snap["id"], network, snap["label"], created, len(snap["contents"]))


def _plan(
    docs: dict[str, Document | None], batch: CheckedBatch
) -> tuple[dict[str, Document], WriteSummary] | StorageError:
    """The documents after applying ``batch`` (pure: nothing is written here)."""
    specs: dict[str, Bassline] = {r.network: r.spec for r in batch.networks}
    for network, doc in docs.items():
        if network not in specs and doc is not None:
            specs[network] = parse_spec(doc["spec"])
    groups: dict[str, list[GroupSpec]] = {}
    wires: dict[str, list[WireSpec]] = {}
    for g in batch.groups:
        if g.network not in specs:
            return missing_network("group", g.group.id, g.network)
        groups.setdefault(g.network, []).append(g.group)
    for w in batch.wires:
        if w.network not in specs:
            return missing_network("wire", w.wire.id, w.network)
        wires.setdefault(w.network, []).append(w.wire)
    for network in groups.keys() | wires.keys():
        specs[network] = _merge(specs[network], groups.get(network, []), wires.get(network, []))
    out: dict[str, Document] = {}
    for network, spec in specs.items():
        data = _spec_json(spec)
        if isinstance(data, StorageError):
            return data
        old = docs.get(network)
        out[network] = {
            "id": network,
            "spec": data,
            "contents": old["contents"] if old else {},
            "snapshots": old["snapshots"] if old else [],
        }
    stored = stale = 0
    for record, encoded in zip(batch.contents, batch.encoded, strict=True):
        if record.network not in specs:
            return missing_network("content", record.contact, record.network)
        if record.group not in specs[record.network].group_by_id:
            return missing_group(record.network, record.group, record.contact)
        contents = out[record.network]["contents"]
        current = contents.get(record.contact)
        if current is not None and record.stamp < Stamp.from_json(current[2]):
            stale += 1
            continue
        contents[record.contact] = [
            record.group,
            encoded.decode(),
            record.stamp.to_json(),
            record.justification,
        ]
        stored += 1
    summary = WriteSummary(
        networks=len(batch.networks),
        groups=len(batch.groups),
        wires=len(batch.wires),
        contents=stored,
        stale=stale,
    )
    return out, summary


def open_json_file_storage(url: str, **options: Any) -> JsonFileStorage:
    """The factory the ``bassline.storage`` entry point ``jsonfiles`` names."""
    return JsonFileStorage(url, **options)
