"""Opening a runtime on storage: check the stored spec, restore contents, queue what differs."""

from __future__ import annotations

import attrs
from returns.result import Failure, Success

from bassline.clock import INITIAL_STAMP
from bassline.engine import Network
from bassline.errors import BasslineError, ContentError, PersistenceError
from bassline.runtime.queue import StorageQueue
from bassline.storage import ErrorCode, NetworkStorage, StorageError, stored_spec_hash

__all__ = ["Recovered", "SpecMismatch", "persist_error", "recover"]


class SpecMismatch(BasslineError):
    """Storage holds this network with a different spec; pass ``replace_spec=True`` to replace it."""

    def __init__(self, network: str, stored: str, given: str) -> None:
        self.network = network
        self.stored_hash = stored
        self.given_hash = given
        super().__init__(
            f"storage holds network {network!r} with spec hash {stored[:12]}, but the spec given "
            f"has hash {given[:12]}; open with replace_spec=True to replace the stored spec "
            "(contents of contacts that still exist are kept)"
        )


def persist_error(error: StorageError, what: str) -> PersistenceError:
    """A :class:`~bassline.errors.PersistenceError` saying ``what`` failed, and why."""
    return PersistenceError(f"{what}: {error}", error)


@attrs.frozen
class Recovered:
    """What :func:`recover` restored."""

    count: int
    """Stored contents restored into the engine."""
    ignored: list[str]
    """Stored contacts the spec no longer has (after ``replace_spec``), sorted."""


async def recover(
    storage: NetworkStorage,
    network: Network,
    queue: StorageQueue,
    *,
    replace_spec: bool,
) -> Recovered:
    """Load ``network``'s stored spec and contents into it, and queue what storage lacks.

    Saves the spec when storage has none; raises :class:`SpecMismatch` when it holds
    another one, unless ``replace_spec`` (then the stored spec is replaced, and stored
    values stamped as the old spec's contents are dropped). The restored network is
    settled, and every content whose stamp differs from the stored one is put on
    ``queue``, so that once it is flushed storage equals the engine's state.
    :class:`~bassline.errors.PersistenceError` when storage fails.
    """
    spec = network.spec
    stored = await stored_spec_hash(storage, spec.id)
    if isinstance(stored, Failure):
        err = stored.failure()
        if err.code is not ErrorCode.NETWORK_NOT_FOUND:
            raise persist_error(err, f"cannot read network {spec.id!r} from storage")
        await _save_spec(storage, network)
    replaced = False
    if isinstance(stored, Success) and stored.unwrap() != spec.hash:
        if not replace_spec:
            raise SpecMismatch(spec.id, stored.unwrap(), spec.hash)
        await _save_spec(storage, network)
        replaced = True
    contents = await storage.load_contents(spec.id)
    if isinstance(contents, Failure):
        raise persist_error(contents.failure(), f"cannot load contents of {spec.id!r}")
    records = contents.unwrap()
    if replaced:
        # values stamped as spec content (or derived from it) belong to the old spec;
        # the new spec's initial contents take their place
        records = [r for r in records if r.stamp > INITIAL_STAMP]
    contacts = [r.contact for r in records]
    ignored = sorted(network.missing(contacts))
    if ignored:
        skip = set(ignored)
        records = [r for r in records if r.contact not in skip]
        contacts = [r.contact for r in records]
    try:
        network.restore((r.contact, r.value, r.stamp, r.justification) for r in records)
    except ValueError as exc:  # a stamp beyond the clock drift, or content (a ContentError)
        why = (
            "`bassline storage check` lists every stored content this network cannot hold"
            if isinstance(exc, ContentError)
            else "a stamp that far ahead means this machine's clock runs behind the "
            "writer's, or the stored stamp is wrong"
        )
        raise PersistenceError(
            f"cannot restore network {spec.id!r} from storage: {exc}; nothing was restored ({why})"
        ) from exc
    network.settle()
    group_of = {c.id: c.group for c in spec.contacts}
    # a content stored under another group than the spec's (a contact moved by a replaced
    # spec) is written again under its group, as one whose stamp differs
    stamps = {r.contact: r.stamp for r in records if r.group == group_of[r.contact]}
    differing = network.differing(stamps)
    if differing:
        for cid in differing:
            queue.put(
                cid,
                group_of[cid],
                network.value(cid),
                network.stamp(cid),
                network.stored_justification(cid),
            )
    return Recovered(len(records), ignored)


async def _save_spec(storage: NetworkStorage, network: Network) -> None:
    saved = await storage.save_network(network.spec)
    if isinstance(saved, Failure):
        raise persist_error(saved.failure(), f"cannot save network {network.spec.id!r}")
