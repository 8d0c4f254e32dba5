"""Differential test: memory, filesystem and PostgreSQL storage answer alike.

A hypothesis state machine runs one random sequence of protocol calls against every
backend at once — batches mixing network, group, wire and content records (stale
stamps, duplicate contacts, missing groups and networks, two networks in one batch,
bad records), network saves, loads and deletes, contents, group queries, snapshots, and
closing and reopening the persistent stores — and checks after every call that the
backends gave the same answer: the same ``Success`` value (specs by canonical JSON,
contents by canonical JSON and stamp, snapshots by label, count, spec and contents;
never snapshot ids or timestamps) or a ``Failure`` with the same code and ``transient``.

The memory and filesystem backends always run; the PostgreSQL variant needs a server
(skipped with the reason when unreachable, a failure with ``BASSLINE_REQUIRE_POSTGRES=1``).
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from bassline_storage_memory import drop_store
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from psycopg import sql
from returns.result import Failure, Result, Success

from bassline.clock import Stamp
from bassline.codec import encode, to_json
from bassline.spec import Bassline, GroupSpec, WireSpec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupQuery,
    GroupRecord,
    NetworkRecord,
    NetworkStorage,
    Record,
    Snapshot,
    SnapshotInfo,
    StorageError,
    WireRecord,
    WriteSummary,
    open_storage,
    stored_spec_hash,
)
from bassline.testing import strategies as public
from bassline.testing._storage_strategies import (
    HOSTILE_IDS,
    basslines,
    content_values,
    group_queries,
    ids,
    json_values,
)
from bassline.testing.storage import sample_bassline

# -- the id pools: few enough that records collide, hostile enough to matter ---------------

NETWORKS = ("calc", "Calc", "A", "a", "é", "e\u0301", "日本語のid", "../x", "n" * 512)
"""Network ids: case-only and normalisation-only differences, a path, the longest id."""
GROUPS = ("root", "ui", "calc", "adder", "G", "g", "ünï", "../g", "g" * 512)
CONTACTS = ("x", "X", "y", "total", "adder.sum", "ß", "SS", "emoji-😀", "c" * 512)
NODES = ("a", "b", "B", "é", "")
_CLOCK_STAMPED = 1 << 40
"""Explicit stamps stay below this; an unstamped save's clock reading is far above it."""

network_ids = st.one_of(st.sampled_from(NETWORKS), st.sampled_from(NETWORKS), ids)
group_ids = st.one_of(st.sampled_from(GROUPS), st.sampled_from(GROUPS), ids)
contact_ids = st.one_of(st.sampled_from(CONTACTS), st.sampled_from(CONTACTS), ids)
stamps = st.builds(Stamp, st.integers(0, 8), st.sampled_from(NODES))
labels = st.one_of(st.none(), st.sampled_from(HOSTILE_IDS), st.text(max_size=20))
values = st.one_of(content_values, public.contents())


@st.composite
def specs(draw: st.DrawFn, network: str) -> Bassline:
    """A spec for ``network``: generated (two generators), the suite's sample, or bare."""
    kind = draw(st.sampled_from(["sample", "generated", "public", "bare", "unsorted"]))
    if kind == "bare":
        return Bassline(id=network)  # no groups at all, not even root: storage keeps it
    if kind in ("sample", "unsorted") or len(network) > 200:
        spec = sample_bassline(network) if len(network) <= 200 else _renamed(network)
        if kind == "unsorted":  # built without parse_spec: items not sorted by id
            wires = (WireSpec("z", "x", "y"), WireSpec("a", "y", "x"))
            spec = attrs.evolve(spec, groups=spec.groups[::-1], wires=wires)
        return spec
    if kind == "generated":
        return draw(basslines(network_id=st.just(network)))
    return attrs.evolve(draw(public.specs(max_groups=2, max_contacts=4)), id=network)


def _renamed(network: str) -> Bassline:
    """The sample network under an id longer than ``parse_spec`` allows (storage takes 512)."""
    return attrs.evolve(sample_bassline("long"), id=network)


@st.composite
def group_specs(draw: st.DrawFn) -> GroupSpec:
    attributes = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "bassline.author": st.sampled_from(["ann", "bob"]),
                "author": st.sampled_from(["ann", "bob"]),
                "type": st.sampled_from(["calc", "ui"]),
                "bassline.tags": st.lists(st.sampled_from(["red", "blue"]), unique=True),
                "tags": st.one_of(st.lists(st.sampled_from(["red", "blue"])), json_values),
                "color": st.sampled_from(["red", "blue"]),
                "size": st.integers(0, 3),
            },
        )
    )
    return GroupSpec(
        draw(group_ids),
        draw(st.text(max_size=8)),
        draw(st.one_of(st.none(), group_ids)),
        draw(st.one_of(st.none(), st.just("add"))),
        attributes,
    )


wire_specs = st.builds(WireSpec, ids, contact_ids, contact_ids)
queries = st.one_of(
    group_queries(),
    st.builds(
        GroupQuery,
        attributes=st.dictionaries(st.sampled_from(["color", "size", "tags"]), json_values),
        author=st.one_of(st.none(), st.sampled_from(["ann", "bob"])),
        type=st.one_of(st.none(), st.sampled_from(["calc", "ui"])),
        tags=st.lists(st.sampled_from(["red", "blue"]), max_size=2).map(tuple),
    ),
)


@st.composite
def records(draw: st.DrawFn, network: str) -> Record:
    """One well-formed record, mostly for ``network``."""
    net = draw(st.one_of(st.just(network), st.just(network), network_ids))
    kind = draw(st.sampled_from(["content"] * 5 + ["group", "group", "wire", "network"]))
    if kind == "content":
        return ContentRecord(net, draw(group_ids), draw(contact_ids), draw(values), draw(stamps))
    if kind == "group":
        return GroupRecord(net, draw(group_specs()))
    if kind == "wire":
        return WireRecord(net, draw(wire_specs))
    return NetworkRecord(draw(specs(net)))


def _bad_records(network: str) -> list[Any]:
    return [
        ContentRecord(network, "ui", "x", float("nan"), Stamp(1, "a")),
        ContentRecord(network, "ui", "x\x00", 1, Stamp(1, "a")),
        ContentRecord(network, "ui", "x", 1, Stamp(-1, "a")),
        GroupRecord(network, GroupSpec("")),
        WireRecord(network, WireSpec("w", "x", "y" * 513)),
    ]


@st.composite
def batches(draw: st.DrawFn, network: str) -> list[Record]:
    """Up to seven records, and now and then one bad record among them (one: which of
    several bad records a write reports is not part of the contract)."""
    batch = draw(st.lists(records(network), min_size=1, max_size=7))
    if draw(st.integers(0, 7)) == 0:
        bad = draw(st.sampled_from(_bad_records(network)))
        batch.insert(draw(st.integers(0, len(batch))), bad)
    return batch


# -- comparing answers ------------------------------------------------------------------------


def _stamp(stamp: Stamp) -> Any:
    return ("clock", stamp.node and "node") if stamp.hlc >= _CLOCK_STAMPED else tuple(stamp)


def _content(record: ContentRecord) -> Any:
    return (
        record.network,
        record.group,
        record.contact,
        encode(record.value),
        _stamp(record.stamp),
    )


def _group(group: GroupSpec) -> Any:
    return (group.id, encode(to_json([group.name, group.parent, group.gadget, group.attributes])))


def _info(info: SnapshotInfo, numbering: dict[str, int]) -> Any:
    return ("snapshot", numbering.get(info.id), info.network, info.label, info.contents)


def view(value: Any, numbering: dict[str, int]) -> Any:
    """What two backends must agree on in a ``Success`` value."""
    if isinstance(value, Bassline):
        return ("spec", value.canonical_json())
    if isinstance(value, ContentRecord):
        return _content(value)
    if isinstance(value, GroupSpec):
        return _group(value)
    if isinstance(value, SnapshotInfo):
        return _info(value, numbering)
    if isinstance(value, Snapshot):
        return (
            _info(value.info, numbering),
            view(value.spec, numbering),
            [_content(r) for r in value.contents],
        )
    if isinstance(value, list):
        return [view(v, numbering) for v in value]
    if isinstance(value, WriteSummary | bool | str) or value is None:
        return value
    raise AssertionError(f"unexpected value {value!r}")


def outcome(result: Result[Any, StorageError], numbering: dict[str, int]) -> Any:
    """A backend's answer, reduced to what every backend must agree on."""
    if isinstance(result, Failure):
        error = result.failure()
        assert isinstance(error, StorageError), error
        return ("failure", error.code, error.transient)
    assert isinstance(result, Success), result
    return ("success", view(result.unwrap(), numbering))


_NOT_FOUND = (ErrorCode.NETWORK_NOT_FOUND, ErrorCode.GROUP_NOT_FOUND)

# -- the machine ------------------------------------------------------------------------------


@attrs.define
class Backend:
    """One backend under test: how to open it, and its snapshot ids by logical number."""

    name: str
    url: str
    storage: NetworkStorage | None = None
    snapshots: dict[str, int] = attrs.field(factory=dict)
    """This backend's snapshot id -> the machine's number for that snapshot."""


class ParityMachine(RuleBasedStateMachine):
    """Every rule calls all backends with the same arguments and compares the answers."""

    urls: Callable[[], list[tuple[str, str]]] = staticmethod(lambda: [])
    """Set by the test: (name, URL) of fresh, empty stores for one run."""

    def __init__(self) -> None:
        super().__init__()
        self._portal_cm = start_blocking_portal("asyncio")
        self.portal: BlockingPortal = self._portal_cm.__enter__()
        self.backends = [Backend(name, url) for name, url in type(self).urls()]
        for backend in self.backends:
            self._open(backend)
        self.numbers = itertools.count()
        self.snapshots: dict[int, tuple[str, list[str]]] = {}
        """Logical snapshot number -> (network, each backend's snapshot id)."""
        self.networks: set[str] = set()
        """Networks some call has tried to create (for picking likely-existing ids)."""

    def _open(self, backend: Backend) -> None:
        storage = open_storage(backend.url)
        opened = self.portal.call(storage.open)
        assert isinstance(opened, Success), f"{backend.name}: open failed: {opened!r}"
        backend.storage = storage

    def teardown(self) -> None:
        try:
            for backend in self.backends:
                if backend.storage is not None:
                    self.portal.call(backend.storage.close)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def same(
        self,
        what: str,
        call: Callable[[NetworkStorage], Awaitable[Result[Any, StorageError]]],
        *,
        batch: bool = False,
    ) -> list[Result[Any, StorageError]]:
        """Run ``call`` on every backend and assert the answers agree.

        For a ``batch``, backends may name different missing references when a batch
        holds several (which one a write reports is not part of the contract), as long
        as all of them refuse it with a not-found code.
        """
        results = []
        for backend in self.backends:
            assert backend.storage is not None

            async def run(storage: NetworkStorage = backend.storage) -> Any:
                return await call(storage)

            results.append(self.portal.call(run))
        outcomes = [outcome(r, b.snapshots) for r, b in zip(results, self.backends, strict=True)]
        if batch and all(o[0] == "failure" and o[1] in _NOT_FOUND for o in outcomes):
            outcomes = [("failure", "not found", False) for _ in outcomes]
        if any(o != outcomes[0] for o in outcomes):
            lines = [f"backends disagree on {what}:"]
            lines += [
                f"  {b.name}: {r!r}\n    -> {o!r}"
                for b, r, o in zip(self.backends, results, outcomes, strict=True)
            ]
            raise AssertionError("\n".join(lines))
        return results

    def _known_network(self, data: st.DataObject) -> str:
        pool = sorted(self.networks) or list(NETWORKS)
        return data.draw(st.one_of(st.sampled_from(pool), network_ids), label="network")

    # -- rules --------------------------------------------------------------------------

    @initialize(spec=specs("calc"))
    def start_with_a_network(self, spec: Bassline) -> None:
        self.networks.add(spec.id)
        self.same("save_network", lambda s: s.save_network(spec))

    @rule(data=st.data())
    def save_network(self, data: st.DataObject) -> None:
        network = data.draw(network_ids, label="network")
        spec = data.draw(specs(network), label="spec")
        self.networks.add(network)
        self.same(f"save_network({network!r})", lambda s: s.save_network(spec))

    @rule(data=st.data())
    def write_batch(self, data: st.DataObject) -> None:
        network = self._known_network(data)
        batch = data.draw(batches(network), label="batch")
        self.networks.update(r.spec.id for r in batch if isinstance(r, NetworkRecord))
        self.same(f"write({batch!r})", lambda s: s.write(batch), batch=True)

    @rule(data=st.data())
    def write_one_networks_contents(self, data: st.DataObject) -> None:
        """A batch of content records only (the backends' fast paths)."""
        network = self._known_network(data)
        contents = data.draw(
            st.lists(
                st.builds(
                    ContentRecord,
                    st.just(network),
                    st.sampled_from(["root", "ui", "calc", "adder", "nope"]),
                    contact_ids,
                    json_values,
                    stamps,
                ),
                min_size=1,
                max_size=8,
            ),
            label="contents",
        )
        self.same(f"write({contents!r})", lambda s: s.write(contents), batch=True)

    @rule(data=st.data(), stamped=st.booleans())
    def save_contact_content(self, data: st.DataObject, stamped: bool) -> None:
        network = self._known_network(data)
        group, contact = (
            data.draw(group_ids, label="group"),
            data.draw(contact_ids, label="contact"),
        )
        value = data.draw(values, label="value")
        stamp = data.draw(stamps, label="stamp") if stamped else None
        self.same(
            f"save_contact_content({network!r}, {group!r}, {contact!r}, {value!r}, {stamp!r})",
            lambda s: s.save_contact_content(network, group, contact, value, stamp),
        )

    @rule(data=st.data())
    def load_contact_content(self, data: st.DataObject) -> None:
        network = self._known_network(data)
        group, contact = (
            data.draw(group_ids, label="group"),
            data.draw(contact_ids, label="contact"),
        )
        self.same(
            f"load_contact_content({network!r}, {group!r}, {contact!r})",
            lambda s: s.load_contact_content(network, group, contact),
        )

    @rule(data=st.data())
    def load_contents(self, data: st.DataObject) -> None:
        network = self._known_network(data)
        self.same(f"load_contents({network!r})", lambda s: s.load_contents(network))

    @rule(data=st.data())
    def load_network(self, data: st.DataObject) -> None:
        network = self._known_network(data)
        self.same(f"load_network({network!r})", lambda s: s.load_network(network))
        self.same(f"stored_spec_hash({network!r})", lambda s: stored_spec_hash(s, network))
        self.same(f"network_exists({network!r})", lambda s: s.network_exists(network))

    @rule(data=st.data())
    def delete_network(self, data: st.DataObject) -> None:
        network = self._known_network(data)
        self.same(f"delete_network({network!r})", lambda s: s.delete_network(network))

    @rule(data=st.data(), query=queries)
    def query_groups(self, data: st.DataObject, query: GroupQuery) -> None:
        network = self._known_network(data)
        self.same(f"query_groups({network!r}, {query!r})", lambda s: s.query_groups(network, query))

    @rule(data=st.data(), label=labels)
    def save_snapshot(self, data: st.DataObject, label: str | None) -> None:
        network = self._known_network(data)
        number = next(self.numbers)
        results = self.same(
            f"save_snapshot({network!r}, {label!r})", lambda s: s.save_snapshot(network, label)
        )
        if isinstance(results[0], Success):
            ids_ = [r.unwrap().id for r in results]
            for backend, sid in zip(self.backends, ids_, strict=True):
                backend.snapshots[sid] = number
            self.snapshots[number] = (network, ids_)

    def _snapshot(self, data: st.DataObject) -> tuple[str, list[str]]:
        """A snapshot taken earlier (perhaps deleted since), or ids no backend made."""
        if self.snapshots and data.draw(st.integers(0, 4), label="pick") > 0:
            number = data.draw(st.sampled_from(sorted(self.snapshots)), label="snapshot")
            network, ids_ = self.snapshots[number]
            if data.draw(st.integers(0, 5), label="other network") == 0:
                network = self._known_network(data)
            return network, ids_
        sid = data.draw(st.one_of(ids, st.just("snap-0000000000000001")), label="snapshot id")
        return self._known_network(data), [sid] * len(self.backends)

    @rule(data=st.data())
    def load_snapshot(self, data: st.DataObject) -> None:
        network, ids_ = self._snapshot(data)
        by_backend = dict(zip((b.name for b in self.backends), ids_, strict=True))
        self.same(
            f"load_snapshot({network!r}, {ids_!r})",
            lambda s: s.load_snapshot(network, by_backend[self._name(s)]),
        )

    @rule(data=st.data())
    def delete_snapshot(self, data: st.DataObject) -> None:
        network, ids_ = self._snapshot(data)
        by_backend = dict(zip((b.name for b in self.backends), ids_, strict=True))
        self.same(
            f"delete_snapshot({network!r}, {ids_!r})",
            lambda s: s.delete_snapshot(network, by_backend[self._name(s)]),
        )

    @rule(data=st.data())
    def list_snapshots(self, data: st.DataObject) -> None:
        network = self._known_network(data)
        self.same(f"list_snapshots({network!r})", lambda s: s.list_snapshots(network))

    @rule()
    def reopen(self) -> None:
        """Close every store and open it again: what was stored must survive."""
        for backend in self.backends:
            assert backend.storage is not None
            self.portal.call(backend.storage.close)
            self._open(backend)

    def _name(self, storage: NetworkStorage) -> str:
        return next(b.name for b in self.backends if b.storage is storage)

    # -- after every step -----------------------------------------------------------------

    @invariant()
    def every_network_and_its_contents_agree(self) -> None:
        results = self.same("list_networks()", lambda s: s.list_networks())
        for network in results[0].unwrap():
            self.same(f"load_network({network!r})", lambda s, n=network: s.load_network(n))
            self.same(f"load_contents({network!r})", lambda s, n=network: s.load_contents(n))


# -- the tests --------------------------------------------------------------------------------

_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
"""Memory and fs: up to 25 runs of 40 steps (it was 12 x 25)."""
_PG_SETTINGS = settings(_SETTINGS, max_examples=16)
"""With PostgreSQL every operation is a round trip: 16 runs of 40 steps."""
_names = itertools.count()


def _memory_and_fs(tmp_path: Path) -> Callable[[], list[tuple[str, str]]]:
    names: list[str] = []

    def urls() -> list[tuple[str, str]]:
        run = f"parity-{uuid.uuid4().hex[:8]}-{next(_names)}"
        names.append(run)
        return [("memory", f"memory://{run}"), ("fs", f"file://{tmp_path / run}")]

    urls.names = names  # type: ignore[attr-defined]
    return urls


@contextlib.contextmanager
def _machine(urls: Callable[[], list[tuple[str, str]]]) -> Iterator[type[ParityMachine]]:
    machine = type("Parity", (ParityMachine,), {"urls": staticmethod(urls)})
    try:
        yield machine
    finally:
        for name in getattr(urls, "names", []):
            drop_store(name)


def test_memory_and_filesystem_agree(tmp_path: Path) -> None:
    urls = _memory_and_fs(tmp_path)
    with _machine(urls) as machine:
        run_state_machine_as_test(machine, settings=_SETTINGS)


@pytest.mark.postgres
def test_memory_filesystem_and_postgres_agree(tmp_path: Path) -> None:
    from bassline_storage_postgres import migrate

    from tests.postgres_support import require_postgres_url, with_query

    server = require_postgres_url()
    schema = f"bt_parity_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        pg_url = with_query(server, schema=schema)
        migrate(pg_url)
        base = _memory_and_fs(tmp_path)

        def urls() -> list[tuple[str, str]]:
            with psycopg.connect(server, autocommit=True) as admin:  # a fresh, empty store
                admin.execute(
                    sql.SQL("DELETE FROM {}.bassline_networks").format(sql.Identifier(schema))
                )
            return [*base(), ("postgresql", pg_url)]

        urls.names = base.names  # type: ignore[attr-defined]
        with _machine(urls) as machine:
            run_state_machine_as_test(machine, settings=_PG_SETTINGS)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
