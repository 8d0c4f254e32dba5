"""``Runtime``: the one door the node (``bassline.net``) and the CLI use into a running network."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol, TypeVar, overload, runtime_checkable

from bassline.clock import Stamp
from bassline.content import ABSENT, Absent, Content
from bassline.engine import ChangeStream, ContactState, Explanation, PropagationResult
from bassline.runtime.events import RuntimeHealth
from bassline.spec import Bassline
from bassline.storage import PoolStats

__all__ = ["FollowsFeed", "Runtime"]

_D = TypeVar("_D")


@runtime_checkable
class Runtime(Protocol):
    """What :class:`~bassline.net.BasslineNetwork` needs of the runtime it runs on.

    :class:`~bassline.runtime.StorageBackedRuntime` is one; any object with these members
    is another (``BasslineNetwork(runtime=...)`` takes it, entered and not owned). The
    members are the runtime's public face: a node or the CLI reads, writes, listens and
    checks stamps through them, never through the engine behind the runtime.

    Writes use the verbs every layer shares (decisions.md, D30): :meth:`update_contact`,
    :meth:`update_many` and :meth:`apply`. ``isinstance(x, Runtime)`` checks that every
    member is there (not their signatures; mypy checks those).
    """

    @property
    def spec(self) -> Bassline:
        """The Bassline this runtime runs."""
        ...

    @property
    def recovered(self) -> int:
        """How many stored contents were restored when the runtime opened (0 without storage)."""
        ...

    @property
    def run_groups(self) -> frozenset[str]:
        """The gadget groups this runtime runs now."""
        ...

    def group_owners(self) -> Mapping[str, str | None]:
        """Who runs each gadget group this runtime takes turns on with other processes
        (None: nobody); empty when it takes turns on none."""
        ...

    @property
    def queue_depth(self) -> int:
        """Changes waiting to be stored (0 without storage)."""
        ...

    @property
    def failure_counts(self) -> Mapping[str, int]:
        """Gadget failures recorded since the runtime started, by gadget id."""
        ...

    # ---------------------------------------------------------------- reading

    def __contains__(self, contact_id: object) -> bool:
        """Whether the Bassline has this contact."""
        ...

    @overload
    def value(self, contact_id: str) -> Content | Absent: ...
    @overload
    def value(self, contact_id: str, default: _D) -> Content | _D: ...
    def value(self, contact_id: str, default: object = ABSENT) -> object:
        """A contact's content, or ``default`` (ABSENT) when it has none."""
        ...

    def stamped(self, contact_id: str) -> tuple[Content | Absent, Stamp]:
        """A contact's content (ABSENT when none) and its stamp, in one read."""
        ...

    def contact(self, contact_id: str) -> ContactState:
        """Value, stamp, contradiction and gadget failure of one contact."""
        ...

    def values(self) -> dict[str, Content]:
        """Every contact that has content, by id."""
        ...

    def state(self) -> Iterator[tuple[str, Content, Stamp]]:
        """``(contact, value, stamp)`` for every contact that has content."""
        ...

    def explain(self, contact_id: str, depth: int | None = None) -> Explanation:
        """Why a contact holds its value: the derivation back to its premises (writes),
        ``depth`` contacts deep (None: no limit); see :meth:`bassline.engine.Network.explain`."""
        ...

    # ---------------------------------------------------------------- listening

    def add_listener(self, listener: Callable[[PropagationResult], None]) -> Callable[[], None]:
        """Call ``listener(result)`` after every run that changed something; returns an
        unsubscribe."""
        ...

    def changes(self, max_buffer: int = 1024) -> ChangeStream:
        """A bounded async stream of every run's result."""
        ...

    # ---------------------------------------------------------------- stamps

    def observe(self, stamp: Stamp) -> None:
        """Advance this runtime's clock past a stamp from elsewhere; ``ValueError`` when the
        stamp is too far in the future to accept."""
        ...

    def validate(self, contact_id: str, value: object) -> None:
        """Raise unless ``value`` could be written to ``contact_id``; change nothing."""
        ...

    # ---------------------------------------------------------------- writing

    async def update_contact(
        self, contact_id: str, content: Content, *, via: str = "python"
    ) -> PropagationResult:
        """Write ``content`` with a fresh stamp and run to the fixpoint; ``via`` says how
        the write came in (``"python"``, ``"http"``, ``"cli"``, ...), as :meth:`explain`
        reports it."""
        ...

    async def update_many(
        self, items: Mapping[str, Content], *, via: str = "python"
    ) -> PropagationResult:
        """Write several contents in one run (``via`` as for :meth:`update_contact`)."""
        ...

    async def apply(self, items: Iterable[tuple[str, Content, Stamp]]) -> PropagationResult:
        """Apply stamped values written elsewhere (a peer's) in one run."""
        ...

    # ---------------------------------------------------------------- observing

    def health(self) -> RuntimeHealth:
        """``ok`` or ``degraded``, with every reason."""
        ...

    def prometheus(self) -> str:
        """The runtime's metrics in Prometheus text format."""
        ...

    def pool_stats(self) -> PoolStats | None:
        """The storage's connection pool now, or None without one."""
        ...


@runtime_checkable
class FollowsFeed(Protocol):
    """A runtime that follows its storage's change feed (a store others write too); the
    node asks it so as not to gossip to a peer on the same store what that store already
    carried to it (``docs/network.md``, "Nodes that share a database")."""

    @property
    def feed_identity(self) -> str | None:
        """The identity of the store whose feed it follows
        (:meth:`~bassline.storage.FeedsChanges.feed_identity`); None when it follows no
        feed or the identity could not be read."""
        ...

    def from_feed(self) -> Callable[[str, Content, Stamp], bool] | None:
        """While a batch read from the feed is being applied (inside the listeners of its
        run): a test of whether a changed contact holds exactly what the store has
        (``(contact, value, stamp)``); otherwise None."""
        ...
