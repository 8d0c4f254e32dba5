"""In-process memory storage for Bassline.

``memory://`` opens a fresh private store; ``memory://NAME`` opens the store called
NAME, shared by every storage of this process that opens the same name (it lives until
the process ends or :func:`drop_store`). Nothing is persisted to disk.
"""

from bassline_storage_memory.state import MemoryStore
from bassline_storage_memory.storage import MemoryStorage, open_memory_storage
from bassline_storage_memory.stores import drop_store, store_names

__all__ = ["MemoryStorage", "MemoryStore", "drop_store", "open_memory_storage", "store_names"]
