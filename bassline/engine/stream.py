"""A bounded, async stream of propagation results for one subscriber."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from bassline.errors import BasslineError

if TYPE_CHECKING:
    from bassline.engine.results import PropagationResult

__all__ = ["ChangeStream", "ChangeStreamOverflow"]


class ChangeStreamOverflow(BasslineError):
    """The subscriber fell more than ``max_buffer`` results behind; later results were not kept."""


class ChangeStream:
    """Results of the network's runs, in order, for ``async for`` iteration.

    The buffer is bounded: a subscriber that falls ``max_buffer`` results behind is cut
    off — iteration raises :class:`ChangeStreamOverflow` after the buffered results — so a
    slow consumer never grows memory and never silently misses changes.
    """

    def __init__(self, max_buffer: int, on_close: Callable[[ChangeStream], None]) -> None:
        if type(max_buffer) is not int:  # inf (or True) would make the buffer unbounded
            raise TypeError(f"max_buffer must be a whole number, not {max_buffer!r}")
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        send: MemoryObjectSendStream[PropagationResult]
        receive: MemoryObjectReceiveStream[PropagationResult]
        send, receive = anyio.create_memory_object_stream(max_buffer)
        self._send = send
        self._receive = receive
        self._on_close = on_close
        self.overflowed = False
        self._closed = False

    def publish(self, result: PropagationResult) -> None:
        """Hand one result to the subscriber (called by the network)."""
        if self._closed:
            return
        try:
            self._send.send_nowait(result)
        except anyio.WouldBlock:
            self.overflowed = True
            self._detach()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._detach()

    def _detach(self) -> None:
        if not self._closed:
            self._closed = True
            self._send.close()
            self._on_close(self)

    def close(self) -> None:
        """Stop receiving results: iteration ends, in a task waiting for the next result
        too, and results not yet taken are dropped."""
        self._detach()
        self._receive.close()

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> PropagationResult:
        try:
            return await self._receive.receive()
        except anyio.ClosedResourceError:  # closed by the subscriber: iteration ends
            raise StopAsyncIteration from None
        except anyio.EndOfStream:
            if self.overflowed:
                raise ChangeStreamOverflow(
                    "change stream overflowed: the subscriber fell behind and was cut off"
                ) from None
            raise StopAsyncIteration from None

    async def __aenter__(self) -> ChangeStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
