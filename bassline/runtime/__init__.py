"""The durable write path: StorageBackedRuntime, its queue, retries and circuit breaker."""

from bassline.runtime.breaker import BreakerState, CircuitBreaker
from bassline.runtime.policy import BreakerPolicy, Durability, RetryPolicy
from bassline.runtime.queue import StorageQueue
from bassline.runtime.runtime import (
    RuntimeEvent,
    RuntimeHealth,
    SpecMismatch,
    StorageBackedRuntime,
)

__all__ = [
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Durability",
    "RetryPolicy",
    "RuntimeEvent",
    "RuntimeHealth",
    "SpecMismatch",
    "StorageBackedRuntime",
    "StorageQueue",
]
