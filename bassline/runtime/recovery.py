"""Opening a runtime on storage: check the stored spec, restore contents, queue what differs."""

from __future__ import annotations

from operator import attrgetter

import attrs
from returns.result import Failure, Success

from bassline.clock import INITIAL_STAMP
from bassline.engine import Network
from bassline.errors import BasslineError, ContentError, PersistenceError
from bassline.runtime.queue import StorageQueue
from bassline.spec import Bassline
from bassline.storage import ErrorCode, NetworkStorage, StorageError, stored_spec_hash

__all__ = ["Recovered", "SpecMismatch", "persist_error", "recover", "spec_groups"]

_CONTACT = attrgetter("contact")
_VALUE = attrgetter("value")
_STAMP = attrgetter("stamp")
_JUSTIFICATION = attrgetter("justification")
_GROUP = attrgetter("group")
_ID = attrgetter("id")


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
    try:  # each field a column, read in a C loop: the engine takes them as columns
        restored = network.restore_stored(
            list(map(_CONTACT, records)),
            list(map(_VALUE, records)),
            list(map(_STAMP, records)),
            list(map(_JUSTIFICATION, records)),
            list(map(_GROUP, records)),
        )
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
    # (a content stored under another group than the spec's, a contact moved by a
    # replaced spec, is among them: written again under its group)
    differing, ignored = restored.differing(), restored.ignored
    if differing:
        group_of = queue.group_map() or spec_groups(spec)
        for cid in differing:
            queue.put(
                cid,
                group_of[cid],
                network.value(cid),
                network.stamp(cid),
                network.stored_justification(cid),
            )
    return Recovered(len(records) - len(ignored), ignored)


def spec_groups(spec: Bassline) -> dict[str, str]:
    """Each contact's group, by contact id (built in C loops)."""
    contacts = spec.contacts
    return dict(zip(map(_ID, contacts), map(_GROUP, contacts), strict=True))


async def _save_spec(storage: NetworkStorage, network: Network) -> None:
    saved = await storage.save_network(network.spec)
    if isinstance(saved, Failure):
        raise persist_error(saved.failure(), f"cannot save network {network.spec.id!r}")
