"""Storage: the ``NetworkStorage`` protocol, its records and errors, and ``open_storage``.

Backends derive from :class:`StorageBackend` and use :mod:`bassline.storage.toolkit`;
optional abilities are the small protocols of :mod:`bassline.storage.abilities`.
"""

from bassline.storage.abilities import (
    ChangeBatch,
    ChangeWatch,
    Claims,
    ClaimsGroups,
    CreatesOnOpen,
    FeedsChanges,
    GroupClaims,
    HashesSpecs,
    JoinsMerges,
    LocatesStore,
    MigratesSchema,
    OpensReadOnly,
    RepairsStore,
    Watcher,
)
from bassline.storage.backend import StorageBackend
from bassline.storage.base import StorageBase, StorageOpenError
from bassline.storage.errors import ErrorCode, StorageError
from bassline.storage.protocol import NetworkStorage, PooledStorage, StorageResult
from bassline.storage.records import (
    Batch,
    Capabilities,
    ContentRecord,
    GroupQuery,
    GroupRecord,
    Health,
    NetworkRecord,
    PoolStats,
    Record,
    Snapshot,
    SnapshotInfo,
    WireRecord,
    WriteSummary,
)
from bassline.storage.registry import (
    StorageFactory,
    available_schemes,
    backends,
    mask_url,
    open_storage,
    register,
)
from bassline.storage.spec_hash import stored_spec_hash

__all__ = [
    "Batch",
    "Capabilities",
    "ChangeBatch",
    "ChangeWatch",
    "Claims",
    "ClaimsGroups",
    "ContentRecord",
    "CreatesOnOpen",
    "ErrorCode",
    "FeedsChanges",
    "GroupClaims",
    "GroupQuery",
    "GroupRecord",
    "HashesSpecs",
    "Health",
    "JoinsMerges",
    "LocatesStore",
    "MigratesSchema",
    "NetworkRecord",
    "NetworkStorage",
    "OpensReadOnly",
    "PoolStats",
    "PooledStorage",
    "Record",
    "RepairsStore",
    "Snapshot",
    "SnapshotInfo",
    "StorageBackend",
    "StorageBase",
    "StorageError",
    "StorageFactory",
    "StorageOpenError",
    "StorageResult",
    "Watcher",
    "WireRecord",
    "WriteSummary",
    "available_schemes",
    "backends",
    "mask_url",
    "open_storage",
    "register",
    "stored_spec_hash",
]
