"""The in-memory index: every network's spec and contents, loaded at open.

Reads never touch the disk. The index is changed only by the store's single writer,
on the event loop thread, after the change is durable in the log.
"""

from __future__ import annotations

import attrs

from bassline_storage_fs.table import Content, ContentTable

__all__ = ["Content", "ContentTable", "Index", "NetworkState"]


@attrs.define
class NetworkState:
    """One network: its spec (canonical JSON), group ids and contents by contact id."""

    spec: bytes
    groups: frozenset[str]
    contents: ContentTable = attrs.field(factory=ContentTable)


class Index:
    """Every stored network, plus which ones changed since the last compaction."""

    def __init__(self) -> None:
        self.networks: dict[str, NetworkState] = {}
        self.dirty: set[str] = set()
        """Networks whose state files are older than the log."""
        self.max_hlc = 0
        """The greatest stamp clock value stored (so unstamped writes can be newer)."""

    def set_spec(self, network: str, spec: bytes, groups: frozenset[str]) -> None:
        """Create ``network`` or replace its spec; its contents are kept."""
        state = self.networks.get(network)
        if state is None:
            self.networks[network] = NetworkState(spec, groups)
        else:
            state.spec, state.groups = spec, groups
        self.dirty.add(network)

    def delete(self, network: str) -> None:
        """Forget ``network`` and its contents."""
        self.networks.pop(network, None)
        self.dirty.add(network)

    def put(self, network: str, contact: str, content: Content) -> bool:
        """Store ``content`` unless a newer stamp is stored; True if it was stored.

        A content for a network that does not exist is ignored: during replay that is a
        record of a network whose deletion follows later in the log.
        """
        state = self.networks.get(network)
        if state is None:
            return False
        current = state.contents.get(contact)
        if current is not None and (content.hlc, content.node) < (current.hlc, current.node):
            return False
        state.contents[contact] = content
        self.dirty.add(network)
        if content.hlc > self.max_hlc:
            self.max_hlc = content.hlc
        return True
