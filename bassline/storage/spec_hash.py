"""The hash of a stored spec, without rebuilding the spec when the backend can help."""

from __future__ import annotations

from bassline.storage.abilities import HashesSpecs
from bassline.storage.protocol import NetworkStorage, StorageResult

__all__ = ["stored_spec_hash"]


async def stored_spec_hash(storage: NetworkStorage, network: str) -> StorageResult[str]:
    """:attr:`Bassline.hash <bassline.spec.Bassline.hash>` of the spec stored for ``network``.

    NETWORK_NOT_FOUND (or any other ``load_network`` error) when there is none. A storage
    that declares :class:`~bassline.storage.HashesSpecs` answers with its own
    ``load_network_hash`` (every :class:`~bassline.storage.StorageBackend` does; memory
    and filesystem without rebuilding the spec); for any other storage this is
    ``load_network(network)`` and the spec's hash. A runtime starting over a large
    network uses it to check the stored spec is the one it runs.
    """
    if isinstance(storage, HashesSpecs):
        return await storage.load_network_hash(network)
    loaded = await storage.load_network(network)
    return loaded.map(lambda spec: spec.hash)
