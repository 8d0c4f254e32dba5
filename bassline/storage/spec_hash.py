"""The hash of a stored spec, without rebuilding the spec when the backend can help."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bassline.storage.protocol import NetworkStorage, StorageResult

__all__ = ["stored_spec_hash"]


async def stored_spec_hash(storage: NetworkStorage, network: str) -> StorageResult[str]:
    """:attr:`Bassline.hash <bassline.spec.Bassline.hash>` of the spec stored for ``network``.

    NETWORK_NOT_FOUND (or any other ``load_network`` error) when there is none. A backend
    that keeps a spec's canonical JSON can answer without rebuilding the spec by offering
    ``async def load_network_hash(network) -> StorageResult[str]`` (optional: the
    built-in memory and filesystem backends do); for any other backend this is
    ``load_network(network)`` and the spec's hash. A runtime starting over a large
    network uses it to check the stored spec is the one it runs.
    """
    own: Callable[[str], Awaitable[StorageResult[str]]] | None = getattr(
        storage, "load_network_hash", None
    )
    if own is not None:
        return await own(network)
    loaded = await storage.load_network(network)
    return loaded.map(lambda spec: spec.hash)
