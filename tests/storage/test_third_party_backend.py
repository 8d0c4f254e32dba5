"""A worked example of a third-party storage backend, registered and run through the suite.

``jsonfiles:///path/to/dir`` keeps one JSON document per network (its spec, contents and
snapshots) and rewrites the whole document on every write: write a temporary file,
fsync it, rename it over the old one, fsync the directory. File names are the sha256 of
the network id, so no id can escape the directory or collide with another on a
case-insensitive file system. Blocking file I/O runs in worker threads under a
``CapacityLimiter``; one ``anyio.Lock`` serialises read-modify-write cycles.

It is deliberately simple and unlike the built-in backends (fine for small networks;
every write costs a rewrite of the documents it touches). A batch touching several
networks is validated completely before any file changes, but a crash between two
renames can leave one network updated and not the other.

This is the module the Storage docs point to: the backend, its registration with
:func:`bassline.storage.register`, and the conformance suite in ~25 lines at the end.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import anyio
import attrs
import orjson
import pytest
from returns.result import Failure, Success

from bassline.clock import HybridLogicalClock, Stamp
from bassline.codec import loads, to_json
from bassline.errors import ContentError, SpecError
from bassline.spec import Bassline, GroupSpec, WireSpec, parse_spec
from bassline.storage import (
    Batch,
    Capabilities,
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    Health,
    NetworkRecord,
    Snapshot,
    SnapshotInfo,
    StorageBase,
    StorageError,
    StorageResult,
    WireRecord,
    WriteSummary,
    backends,
    open_storage,
    register,
)
from bassline.storage.validation import check_id, normalise_batch
from bassline.testing.storage import (
    PersistentStorageConformance,
    StorageConformance,
    StorageFactory,
)

T = TypeVar("T")
Document = dict[str, Any]
"""One network on disk: {"id", "spec", "contents": {contact: [group, value, stamp]}, "snapshots"}."""

# -- the backend -------------------------------------------------------------------------


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


_SHAPES: dict[type, tuple[str, type]] = {
    NetworkRecord: ("spec", Bassline),
    GroupRecord: ("group", GroupSpec),
    WireRecord: ("wire", WireSpec),
    ContentRecord: ("stamp", Stamp),
}
"""Which field of each record must hold which type."""


def _check_batch(records: list[Any]) -> StorageError | None:
    for n, record in enumerate(records):
        shape = _SHAPES.get(type(record))
        if shape is None or not isinstance(getattr(record, shape[0]), shape[1]):
            return _error(ErrorCode.INVALID, f"record {n} is not a well-formed storage record")
        if isinstance(record, ContentRecord):
            stamp = record.stamp
            if not (
                isinstance(stamp, Stamp)
                and type(stamp.hlc) is int
                and 0 <= stamp.hlc < 2**63
                and isinstance(stamp.node, str)
            ):
                return _error(ErrorCode.INVALID, f"record {n}: bad stamp {stamp!r}")
    return None


def _merge(spec: Bassline, groups: list[GroupSpec], wires: list[Any]) -> Bassline:
    by_group = {g.id: g for g in spec.groups} | {g.id: g for g in groups}
    by_wire = {w.id: w for w in spec.wires} | {w.id: w for w in wires}
    return attrs.evolve(
        spec,
        groups=tuple(sorted(by_group.values(), key=lambda g: g.id)),
        wires=tuple(sorted(by_wire.values(), key=lambda w: w.id)),
    )


class JsonFileStorage(StorageBase):
    """One JSON document per network in a directory (see the module docstring)."""

    def __init__(self, url: str, *, fsync: bool = True, threads: int = 4) -> None:
        parts = urlsplit(url)
        if parts.scheme != "jsonfiles" or parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"expected jsonfiles:///absolute/path, got {url!r}")
        self.url = url
        self.root = Path(unquote(parts.path))
        self._fsync = fsync
        self._limiter = anyio.CapacityLimiter(threads)
        self._lock = anyio.Lock()
        self._clock = HybridLogicalClock("jsonfiles")
        self._open = False

    @property
    def capabilities(self) -> Capabilities:
        """Persistent, atomic batches, one process at a time."""
        return Capabilities(persistent=True, transactions=True, shared=False)

    # plumbing: every blocking call goes through _io, every error becomes a StorageError

    async def _io(self, what: str, fn: Callable[[], T]) -> T | StorageError:
        if not self._open:
            return _error(ErrorCode.CONNECTION, f"{self.url} is not open")
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
        err = check_id("network", network)
        if err:
            return err
        doc = await self._io(f"reading network {network!r}", lambda: self._read(network))
        if doc is None:
            return StorageError.not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}")
        return doc

    # lifecycle

    async def open(self) -> StorageResult[None]:
        """Create the directory if needed."""
        self._open = True
        made = await self._io("creating the store directory", self._make_root)
        if isinstance(made, StorageError):
            self._open = False
            return Failure(made)
        return Success(None)

    def _make_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        """Nothing to release but the flag."""
        self._open = False

    async def health(self) -> StorageResult[Health]:
        """Healthy when the directory can be listed."""
        listed = await self._io("listing the store", lambda: len(list(self.root.iterdir())))
        if isinstance(listed, StorageError):
            return Failure(listed)
        return Success(Health(ok=True, detail=f"{self.root}: {listed} files"))

    # networks

    async def save_network(self, spec: Bassline) -> StorageResult[None]:
        """A one-record batch."""
        return (await self.write([NetworkRecord(spec)])).map(lambda _: None)

    async def load_network(self, network: str) -> StorageResult[Bassline]:
        """Parse the stored spec (it was checked to parse when it was written)."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        spec = _parse(doc["spec"], network)
        return Failure(spec) if isinstance(spec, StorageError) else Success(spec)

    async def delete_network(self, network: str) -> StorageResult[None]:
        """Remove the network's document."""
        if err := check_id("network", network):
            return Failure(err)
        async with self._lock:
            done = await self._io("deleting", lambda: self._write_all({network: None}))
        return Failure(done) if isinstance(done, StorageError) else Success(None)

    async def list_networks(self) -> StorageResult[list[str]]:
        """Read every document's id."""

        def ids() -> list[str]:
            return sorted(orjson.loads(p.read_bytes())["id"] for p in self.root.glob("*.json"))

        listed = await self._io("listing networks", ids)
        return Failure(listed) if isinstance(listed, StorageError) else Success(listed)

    async def network_exists(self, network: str) -> StorageResult[bool]:
        """Whether the network's document exists."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Success(False) if doc.code is ErrorCode.NETWORK_NOT_FOUND else Failure(doc)
        return Success(True)

    # contents

    async def save_contact_content(
        self, network: str, group: str, contact: str, content: Any, stamp: Stamp | None = None
    ) -> StorageResult[None]:
        """A one-record batch; without a stamp, this storage's clock stamps it."""
        record = ContentRecord(network, group, contact, content, stamp or self._clock.tick())
        return (await self.write([record])).map(lambda _: None)

    async def load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One stored content, if it is stored under ``group``."""
        err = check_id("group", group) or check_id("contact", contact)
        if err:
            return Failure(err)
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        found = doc["contents"].get(contact)
        if found is None or found[0] != group:
            return Failure(
                StorageError.not_found(ErrorCode.CONTACT_NOT_FOUND, f"contact {contact!r}")
            )
        return Success(_record(network, contact, found))

    async def load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of the network."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        return Success([_record(network, c, v) for c, v in sorted(doc["contents"].items())])

    async def write(self, batch: Batch) -> StorageResult[WriteSummary]:
        """Validate everything, then rewrite each touched document at once."""
        if not isinstance(batch, Iterable) or isinstance(batch, str | bytes):
            return Failure(_error(ErrorCode.INVALID, "a batch must be a sequence of records"))
        records = list(batch)
        err = _check_batch(records)
        normal = err or normalise_batch(records)
        if isinstance(normal, StorageError):
            return Failure(normal)
        async with self._lock:
            touched = (
                {r.network for r in normal.networks}
                | {r.network for r in normal.groups}
                | {r.network for r in normal.wires}
                | {r.network for r in normal.contents}
            )
            docs: dict[str, Document | None] = {}
            for network in touched:
                doc = await self._io(f"reading {network!r}", functools.partial(self._read, network))
                if isinstance(doc, StorageError):
                    return Failure(doc)
                docs[network] = doc
            try:
                planned = _plan(docs, normal)
            except (SpecError, KeyError, TypeError, ValueError) as exc:
                planned = _error(ErrorCode.CORRUPTION, f"a stored document is unreadable: {exc}")
            if isinstance(planned, StorageError):
                return Failure(planned)
            new_docs, summary = planned
            done = await self._io("writing", lambda: self._write_all(dict(new_docs)))
        return Failure(done) if isinstance(done, StorageError) else Success(summary)

    # queries

    async def query_groups(self, network: str, query: GroupQuery) -> StorageResult[list[GroupSpec]]:
        """Filter the stored spec's groups with the reference semantics."""
        if not isinstance(query, GroupQuery):
            return Failure(_error(ErrorCode.INVALID, "query must be a GroupQuery"))
        return (await self.load_network(network)).map(
            lambda spec: [g for g in spec.groups if query.matches(g)]
        )

    # snapshots

    async def save_snapshot(
        self, network: str, label: str | None = None
    ) -> StorageResult[SnapshotInfo]:
        """Copy the spec and contents into the document's snapshot list."""
        if label is not None and not isinstance(label, str):
            return Failure(_error(ErrorCode.INVALID, "snapshot label must be a string or None"))
        if label is not None and not label.isascii():
            try:
                label.encode()
            except UnicodeEncodeError:
                return Failure(_error(ErrorCode.INVALID, "snapshot label is not valid Unicode"))
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
            done = await self._io("writing", lambda: self._write_all({network: doc}))
        if isinstance(done, StorageError):
            return Failure(done)
        return Success(_info(network, info))

    async def load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """One snapshot of the document."""
        if err := check_id("snapshot", snapshot_id):
            return Failure(err)
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
        return Failure(StorageError.not_found(ErrorCode.SNAPSHOT_NOT_FOUND, repr(snapshot_id)))

    async def list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """Newest first: the list is kept in creation order."""
        doc = await self._load(network)
        if isinstance(doc, StorageError):
            return Failure(doc)
        return Success([_info(network, s) for s in reversed(doc["snapshots"])])

    async def delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Drop one snapshot; nothing to drop is fine."""
        if err := check_id("snapshot", snapshot_id):
            return Failure(err)
        async with self._lock:
            doc = await self._load(network)
            if isinstance(doc, StorageError):
                ok = doc.code is ErrorCode.NETWORK_NOT_FOUND
                return Success(None) if ok else Failure(doc)
            doc["snapshots"] = [s for s in doc["snapshots"] if s["id"] != snapshot_id]
            done = await self._io("writing", lambda: self._write_all({network: doc}))
        return Failure(done) if isinstance(done, StorageError) else Success(None)


def _parse(data: Any, network: str) -> Bassline | StorageError:
    try:
        return parse_spec(data)
    except SpecError as exc:
        return _error(ErrorCode.CORRUPTION, f"stored spec of {network!r} is unreadable", exc)


def _record(network: str, contact: str, stored: list[Any]) -> ContentRecord:
    group, value, stamp = stored
    # values are kept as the codec's canonical text: embedding them as JSON would add the
    # document's own nesting to theirs, and the deepest content would no longer fit
    return ContentRecord(network, group, contact, loads(value), Stamp.from_json(stamp))


def _info(network: str, snap: dict[str, Any]) -> SnapshotInfo:
    created = dt.datetime.fromisoformat(snap["created_at"])
    return SnapshotInfo(snap["id"], network, snap["label"], created, len(snap["contents"]))


def _plan(
    docs: dict[str, Document | None], batch: Any
) -> tuple[dict[str, Document], WriteSummary] | StorageError:
    """The documents after applying ``batch`` (pure: nothing is written here)."""
    specs: dict[str, Bassline] = {}
    for record in batch.networks:
        specs[record.network] = record.spec
    for network, doc in docs.items():
        if network not in specs and doc is not None:
            specs[network] = parse_spec(doc["spec"])
    added: dict[str, tuple[list[GroupSpec], list[Any]]] = {}
    for record in [*batch.groups, *batch.wires]:
        if record.network not in specs:
            return StorageError.not_found(
                ErrorCode.NETWORK_NOT_FOUND, f"network {record.network!r}"
            )
        groups, wires = added.setdefault(record.network, ([], []))
        (groups if isinstance(record, GroupRecord) else wires).append(
            record.group if isinstance(record, GroupRecord) else record.wire
        )
    for network, (groups, wires) in added.items():
        specs[network] = _merge(specs[network], groups, wires)
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
            return StorageError.not_found(
                ErrorCode.NETWORK_NOT_FOUND, f"network {record.network!r}"
            )
        if record.group not in specs[record.network].group_by_id:
            return StorageError.not_found(ErrorCode.GROUP_NOT_FOUND, f"group {record.group!r}")
        contents = out[record.network]["contents"]
        current = contents.get(record.contact)
        if current is not None and record.stamp < Stamp.from_json(current[2]):
            stale += 1
            continue
        contents[record.contact] = [record.group, encoded.decode(), record.stamp.to_json()]
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
    """The factory registered for ``jsonfiles://`` (an entry point would name this too)."""
    return JsonFileStorage(url, **options)


# -- registering it and running the conformance suite -------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _jsonfiles_registered() -> Iterator[None]:
    register("jsonfiles", open_json_file_storage)
    yield
    backends.unregister("jsonfiles")


class TestJsonFileBackend(StorageConformance, PersistentStorageConformance):
    """The third-party backend passes the whole suite, including the persistence checks."""

    @pytest.fixture
    def storage_factory(self, tmp_path: Path) -> StorageFactory:
        url = "jsonfiles://" + tmp_path.joinpath("store").as_uri().removeprefix("file://")
        return lambda: open_storage(url)
