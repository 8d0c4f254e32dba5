"""Shared plumbing for backends: the async context manager around ``open``/``close``."""

from __future__ import annotations

import abc
from typing import Self

from returns.result import Failure

from bassline.errors import BasslineError
from bassline.storage.errors import StorageError
from bassline.storage.protocol import StorageResult

__all__ = ["StorageBase", "StorageOpenError"]


class StorageOpenError(BasslineError):
    """``async with storage`` could not open it; ``error`` says why."""

    def __init__(self, url: str, error: StorageError) -> None:
        self.url = url
        self.error = error
        super().__init__(f"cannot open storage {url}: {error}")


class StorageBase(abc.ABC):
    """Base class giving a backend ``async with`` on top of its ``open``/``close``."""

    url: str

    @abc.abstractmethod
    async def open(self) -> StorageResult[None]:
        """Connect / lock / replay (see :class:`~bassline.storage.NetworkStorage`)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release every resource; never raises."""

    async def __aenter__(self) -> Self:
        result = await self.open()
        if isinstance(result, Failure):
            await self.close()
            raise StorageOpenError(self.url, result.failure())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
