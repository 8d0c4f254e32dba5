"""``FaultyStorage``: wrap any storage to inject failures and latency on a seeded schedule.

Each call of a faulted operation draws from ``random.Random(seed)``: with probability
``transient_rate`` it returns ``Failure(StorageError(CONNECTION, transient=True))``,
with probability ``permanent_rate`` a permanent error (PERMISSION or CORRUPTION), and
otherwise it is passed to the wrapped storage. A failed call never reaches the wrapped
storage, so a failed write leaves nothing behind. ``latency`` (finite seconds, or a
``(min, max)`` range of them) delays every faulted call before it fails or is delegated.
Which operations are faulted is configurable; by default all but ``open``.

``down()`` simulates an outage: until ``up()``, every call except ``close`` fails
transiently, whatever the rates. ``disable()`` / ``enable()`` switch the random faults
and the latency off and on; ``configure()`` changes rates, latency or operations at
runtime. ``stats`` counts what was injected.

The same seed and the same sequence of calls give the same faults, so a failing test
replays exactly.

A ``FaultyStorage`` declares exactly the optional abilities
(:mod:`bassline.storage.abilities`) of the storage it wraps, and passes them through:
``load_network_hash`` (faulted like any operation), ``pool_stats``, and the
abilities of an unopened storage (``migrate_schema``, ``stamp_schema``,
``repair_store``, ``store_location``; ``existing_only`` and ``read_only`` wrap the copy they return with
the same faults). Wrapping a storage never changes which of its code runs.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from math import inf
from typing import Any, Self, TypeVar

import anyio
import attrs
from returns.result import Failure

from bassline.clock import Stamp
from bassline.plugins import closest
from bassline.spec import Bassline, GroupSpec
from bassline.storage import (
    Batch,
    Capabilities,
    ContentRecord,
    ErrorCode,
    GroupQuery,
    Health,
    NetworkStorage,
    Snapshot,
    SnapshotInfo,
    StorageError,
    StorageOpenError,
    StorageResult,
    WriteSummary,
)
from bassline.testing.fault_abilities import PASS_THROUGH

__all__ = [
    "ALL_OPERATIONS",
    "DEFAULT_OPERATIONS",
    "FEED_OPERATIONS",
    "FaultStats",
    "FaultyStorage",
]

_KINDS: dict[tuple[type, ...], type[FaultyStorage]] = {}
"""The FaultyStorage subclass for each combination of pass-through mixins."""

T = TypeVar("T")

ALL_OPERATIONS: frozenset[str] = frozenset(
    {
        "open",
        "health",
        "save_network",
        "load_network",
        "load_network_hash",
        "delete_network",
        "list_networks",
        "network_exists",
        "save_contact_content",
        "load_contact_content",
        "load_contents",
        "write",
        "query_groups",
        "save_snapshot",
        "load_snapshot",
        "list_snapshots",
        "delete_snapshot",
        "feed_position",
        "read_changes",
        "watchers",
    }
)
"""Every operation faults can be injected into (``close`` never fails)."""

FEED_OPERATIONS: frozenset[str] = frozenset({"feed_position", "read_changes", "watchers"})
"""The change feed's reads (:class:`~bassline.storage.FeedsChanges`, when the wrapped
storage has it)."""

DEFAULT_OPERATIONS: frozenset[str] = ALL_OPERATIONS - {"open"} - FEED_OPERATIONS
"""What random faults and latency apply to unless ``operations`` says otherwise: every
operation but ``open``, so ``async with`` succeeds and the faults meet the calls after it,
and but the change feed's reads, which a runtime makes in the background. Name them
explicitly to fault them (an outage affects every one of them either way)."""

Latency = float | tuple[float, float]


@attrs.frozen
class FaultStats:
    """What a :class:`FaultyStorage` has done so far."""

    calls: int = 0
    """Every call of an operation (``close`` excluded)."""
    delegated: int = 0
    """Calls passed on to the wrapped storage."""
    transient: int = 0
    """Random transient failures injected."""
    permanent: int = 0
    """Random permanent failures injected."""
    outage: int = 0
    """Calls refused because the storage was ``down()``."""
    delayed: int = 0
    """Calls that slept before failing or delegating."""
    delay_seconds: float = 0.0
    """Total injected latency."""

    @property
    def failures(self) -> int:
        """All injected failures: transient, permanent and outage."""
        return self.transient + self.permanent + self.outage


def _check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _check_latency(value: Latency) -> tuple[float, float]:
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"latency range must be (min, max), got {value!r}")
        low, high = value
    else:
        low = high = value
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not 0 <= bound < inf:
            raise ValueError(
                f"latency must be finite seconds >= 0 or a (min, max) range of them, got {value!r}"
            )
    if low > high:
        raise ValueError(f"latency range {value!r} has min > max")
    return float(low), float(high)


def _check_operations(operations: Iterable[str] | None) -> frozenset[str]:
    if operations is None:
        return DEFAULT_OPERATIONS
    if isinstance(operations, str):
        raise ValueError(f"operations must be a collection of names, got the string {operations!r}")
    chosen = frozenset(operations)
    for name in sorted(chosen - ALL_OPERATIONS):
        hint = closest(name, sorted(ALL_OPERATIONS))
        extra = f"; did you mean {hint!r}?" if hint else ""
        raise ValueError(
            f"unknown storage operation {name!r}{extra} "
            f"(operations: {', '.join(sorted(ALL_OPERATIONS))})"
        )
    return chosen


def _check_codes(name: str, codes: Sequence[ErrorCode]) -> tuple[ErrorCode, ...]:
    chosen = tuple(codes)
    if not chosen or not all(isinstance(c, ErrorCode) for c in chosen):
        raise ValueError(f"{name} must be a non-empty sequence of ErrorCode, got {codes!r}")
    return chosen


class FaultyStorage:
    """A :class:`~bassline.storage.NetworkStorage` that fails and slows on a seeded schedule.

    ``operations`` names the operations the rates and latency apply to (default
    :data:`DEFAULT_OPERATIONS`: all but ``open``). ``transient_codes`` and
    ``permanent_codes`` are the error codes injected failures are drawn from. The
    instance declares the optional abilities ``inner`` declares, and no others.
    """

    def __new__(cls, inner: NetworkStorage, **settings: Any) -> FaultyStorage:
        """An instance of the subclass that passes ``inner``'s abilities through."""
        mixins = tuple(m for ability, m in PASS_THROUGH if isinstance(inner, ability))
        kind = _KINDS.get(mixins)
        if kind is None:
            names = "".join(m.__name__.removeprefix("Pass") for m in mixins)
            kind = _KINDS[mixins] = type(f"FaultyStorage{names}", (*mixins, cls), {})
        return object.__new__(kind)

    def __init__(
        self,
        inner: NetworkStorage,
        *,
        seed: int,
        transient_rate: float = 0.0,
        permanent_rate: float = 0.0,
        latency: Latency = 0.0,
        operations: Iterable[str] | None = None,
        transient_codes: Sequence[ErrorCode] = (ErrorCode.CONNECTION,),
        permanent_codes: Sequence[ErrorCode] = (ErrorCode.PERMISSION, ErrorCode.CORRUPTION),
    ) -> None:
        self._inner = inner
        self._settings: dict[str, Any] = {
            "seed": seed,
            "transient_rate": transient_rate,
            "permanent_rate": permanent_rate,
            "latency": latency,
            "operations": operations,
            "transient_codes": transient_codes,
            "permanent_codes": permanent_codes,
        }
        self._seed = seed
        self._rng = random.Random(seed)
        self._transient_rate = 0.0
        self._permanent_rate = 0.0
        self._latency = (0.0, 0.0)
        self._operations = DEFAULT_OPERATIONS
        self.configure(
            transient_rate=transient_rate,
            permanent_rate=permanent_rate,
            latency=latency,
            operations=operations if operations is not None else DEFAULT_OPERATIONS,
        )
        self._transient_codes = _check_codes("transient_codes", transient_codes)
        self._permanent_codes = _check_codes("permanent_codes", permanent_codes)
        self._enabled = True
        self._down = False
        self._stats = FaultStats()

    def _wrap(self, inner: NetworkStorage) -> FaultyStorage:
        """``inner`` wrapped with this wrapper's settings (for the copies abilities make)."""
        return FaultyStorage(inner, **self._settings)

    # control

    @property
    def inner(self) -> NetworkStorage:
        """The wrapped storage (calls on it bypass every fault)."""
        return self._inner

    @property
    def stats(self) -> FaultStats:
        """Counts of calls, delegations and injected faults so far."""
        return self._stats

    def reset_stats(self) -> None:
        """Start counting from zero (the fault schedule itself continues)."""
        self._stats = FaultStats()

    @property
    def is_down(self) -> bool:
        """Whether an outage is being simulated."""
        return self._down

    def down(self) -> None:
        """Simulate an outage: every call but ``close`` fails transiently until :meth:`up`."""
        self._down = True

    def up(self) -> None:
        """End a simulated outage."""
        self._down = False

    @property
    def enabled(self) -> bool:
        """Whether random faults and latency are injected (outages apply either way)."""
        return self._enabled

    def enable(self) -> None:
        """Inject random faults and latency again."""
        self._enabled = True

    def disable(self) -> None:
        """Pass every call straight through (unless :meth:`down`)."""
        self._enabled = False

    def configure(
        self,
        *,
        transient_rate: float | None = None,
        permanent_rate: float | None = None,
        latency: Latency | None = None,
        operations: Iterable[str] | None = None,
    ) -> None:
        """Change rates, latency or the faulted operations; None leaves a setting as it is."""
        transient = (
            self._transient_rate
            if transient_rate is None
            else _check_rate("transient_rate", transient_rate)
        )
        permanent = (
            self._permanent_rate
            if permanent_rate is None
            else _check_rate("permanent_rate", permanent_rate)
        )
        if transient + permanent > 1.0:
            raise ValueError(
                f"transient_rate + permanent_rate must be at most 1, got {transient} + {permanent}"
            )
        new_latency = self._latency if latency is None else _check_latency(latency)
        new_operations = self._operations if operations is None else _check_operations(operations)
        self._transient_rate, self._permanent_rate = transient, permanent
        self._latency = new_latency
        self._operations = new_operations

    # the settings, read and set by name (setting one is configure(name=value): a plain
    # attribute of that name would be taken and never used)

    @property
    def transient_rate(self) -> float:
        """The probability that a faulted call fails with a transient error."""
        return self._transient_rate

    @transient_rate.setter
    def transient_rate(self, rate: float) -> None:
        self.configure(transient_rate=rate)

    @property
    def permanent_rate(self) -> float:
        """The probability that a faulted call fails with a permanent error."""
        return self._permanent_rate

    @permanent_rate.setter
    def permanent_rate(self, rate: float) -> None:
        self.configure(permanent_rate=rate)

    @property
    def latency(self) -> tuple[float, float]:
        """The range of seconds each faulted call is delayed, ``(low, high)``."""
        return self._latency

    @latency.setter
    def latency(self, latency: Latency) -> None:
        self.configure(latency=latency)

    @property
    def operations(self) -> frozenset[str]:
        """The operations the rates and latency apply to."""
        return self._operations

    @operations.setter
    def operations(self, operations: Iterable[str]) -> None:
        if operations is None:  # configure's None means "as it is": say so instead
            raise TypeError("operations must be an iterable of operation names, not None")
        self.configure(operations=operations)

    def _count(self, **changes: Any) -> None:
        self._stats = attrs.evolve(
            self._stats, **{k: getattr(self._stats, k) + v for k, v in changes.items()}
        )

    async def _call(
        self, operation: str, call: Callable[[], Awaitable[StorageResult[T]]]
    ) -> StorageResult[T]:
        self._count(calls=1)
        number = self._stats.calls
        if self._down:
            self._count(outage=1)
            return Failure(
                StorageError(
                    ErrorCode.CONNECTION,
                    f"injected outage: {operation} refused while the storage is down "
                    f"(FaultyStorage seed={self._seed}, call {number})",
                    transient=True,
                )
            )
        if not self._enabled or operation not in self._operations:
            self._count(delegated=1)
            return await call()
        roll = self._rng.random()
        low, high = self._latency
        delay = self._rng.uniform(low, high) if high > low else low
        if delay > 0:
            self._count(delayed=1, delay_seconds=delay)
            await anyio.sleep(delay)
        if roll < self._transient_rate:
            self._count(transient=1)
            return Failure(self._injected(operation, number, transient=True))
        if roll < self._transient_rate + self._permanent_rate:
            self._count(permanent=1)
            return Failure(self._injected(operation, number, transient=False))
        self._count(delegated=1)
        return await call()

    def _injected(self, operation: str, number: int, *, transient: bool) -> StorageError:
        codes = self._transient_codes if transient else self._permanent_codes
        code = codes[0] if len(codes) == 1 else self._rng.choice(codes)
        kind = "transient" if transient else "permanent"
        return StorageError(
            code,
            f"injected {kind} {code.value} fault on {operation} "
            f"(FaultyStorage seed={self._seed}, call {number})",
            transient=transient,
        )

    # the protocol

    @property
    def url(self) -> str:
        """The wrapped storage's URL."""
        return self._inner.url

    @property
    def capabilities(self) -> Capabilities:
        """The wrapped storage's capabilities."""
        return self._inner.capabilities

    async def __aenter__(self) -> Self:
        result = await self.open()
        if isinstance(result, Failure):
            await self.close()
            raise StorageOpenError(self.url, result.failure())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> StorageResult[None]:
        """Open the wrapped storage (random faults apply only if ``"open"`` is in ``operations``)."""
        return await self._call("open", self._inner.open)

    async def close(self) -> None:
        """Close the wrapped storage; never faulted."""
        await self._inner.close()

    async def health(self) -> StorageResult[Health]:
        """The wrapped storage's health (faults apply)."""
        return await self._call("health", self._inner.health)

    async def save_network(self, spec: Bassline) -> StorageResult[None]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("save_network", lambda: self._inner.save_network(spec))

    async def load_network(self, network: str) -> StorageResult[Bassline]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("load_network", lambda: self._inner.load_network(network))

    async def delete_network(self, network: str) -> StorageResult[None]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("delete_network", lambda: self._inner.delete_network(network))

    async def list_networks(self) -> StorageResult[list[str]]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("list_networks", self._inner.list_networks)

    async def network_exists(self, network: str) -> StorageResult[bool]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("network_exists", lambda: self._inner.network_exists(network))

    async def save_contact_content(
        self,
        network: str,
        group: str,
        contact: str,
        content: Any,
        stamp: Stamp | None = None,
    ) -> StorageResult[None]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call(
            "save_contact_content",
            lambda: self._inner.save_contact_content(network, group, contact, content, stamp),
        )

    async def load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call(
            "load_contact_content",
            lambda: self._inner.load_contact_content(network, group, contact),
        )

    async def load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("load_contents", lambda: self._inner.load_contents(network))

    async def write(self, batch: Batch) -> StorageResult[WriteSummary]:
        """Delegates to the wrapped storage unless a fault is injected (then nothing is written)."""
        return await self._call("write", lambda: self._inner.write(batch))

    async def query_groups(self, network: str, query: GroupQuery) -> StorageResult[list[GroupSpec]]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("query_groups", lambda: self._inner.query_groups(network, query))

    async def save_snapshot(
        self, network: str, label: str | None = None
    ) -> StorageResult[SnapshotInfo]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("save_snapshot", lambda: self._inner.save_snapshot(network, label))

    async def load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call(
            "load_snapshot", lambda: self._inner.load_snapshot(network, snapshot_id)
        )

    async def list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call("list_snapshots", lambda: self._inner.list_snapshots(network))

    async def delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Delegates to the wrapped storage unless a fault is injected."""
        return await self._call(
            "delete_snapshot", lambda: self._inner.delete_snapshot(network, snapshot_id)
        )
