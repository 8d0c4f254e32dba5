"""The durable write path: StorageBackedRuntime, its queue, retries and circuit breaker.

:class:`Runtime` is what a node needs of a runtime; ``StorageBackedRuntime`` is one.
"""

from bassline.runtime.breaker import BreakerState, CircuitBreaker
from bassline.runtime.events import RuntimeEvent, RuntimeHealth
from bassline.runtime.policy import BreakerPolicy, Durability, RetryPolicy
from bassline.runtime.protocol import FollowsFeed, Runtime
from bassline.runtime.queue import StorageQueue
from bassline.runtime.runtime import SpecMismatch, StorageBackedRuntime
from bassline.runtime.view import EngineView

__all__ = [
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Durability",
    "EngineView",
    "FollowsFeed",
    "RetryPolicy",
    "Runtime",
    "RuntimeEvent",
    "RuntimeHealth",
    "SpecMismatch",
    "StorageBackedRuntime",
    "StorageQueue",
]
