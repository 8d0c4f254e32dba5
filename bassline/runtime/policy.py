"""Retry and circuit-breaker settings for the durable write path."""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable

import attrs

__all__ = ["BreakerPolicy", "Durability", "RetryPolicy", "check_options", "positive_seconds"]


class Durability(enum.StrEnum):
    """When ``update_contact`` returns."""

    DURABLE = "durable"
    """After the batch holding the update committed; raises if it cannot."""
    BUFFERED = "buffered"
    """After the update is queued; ``flush()`` is the barrier that raises."""

    @classmethod
    def _missing_(cls, value: object) -> None:
        raise ValueError(f"durability must be 'durable' or 'buffered', not {value!r}")


def positive_seconds(name: str, value: float) -> float:
    """``value`` if it is a number of seconds above 0 and finite, else the error naming
    the option ``name`` and the value: a :class:`TypeError` for what is not an ``int`` or
    ``float``, a :class:`ValueError` for 0, a negative number, infinity or NaN (an
    infinite interval stops what it paces, and no comparison with NaN ever ends a wait)."""
    if type(value) not in (int, float):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if not 0 < value < math.inf:  # NaN included
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return value


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    positive_seconds(attribute.name, value)


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"{attribute.name} must be a whole number >= 1, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with full jitter for transient storage errors, within a time budget."""

    initial_delay: float = attrs.field(default=0.01, validator=_positive)
    max_delay: float = attrs.field(default=1.0, validator=_positive)
    multiplier: float = attrs.field(default=2.0, validator=_positive)
    budget: float = attrs.field(default=5.0, validator=_positive)
    """Seconds a batch may spend retrying before it counts as failed."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The pause before retry number ``attempt`` (1-based): uniform in [0, cap]."""
        cap = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return rng.uniform(0, cap)


@attrs.frozen
class BreakerPolicy:
    """When the circuit breaker opens and how long it stays open before a trial write."""

    failure_threshold: int = attrs.field(default=1, validator=_at_least_one)
    """Consecutive failed batches (after their retries) that open the breaker."""
    reset_timeout: float = attrs.field(default=1.0, validator=_positive)
    """Seconds the breaker stays open before letting one trial batch through (half-open)."""
    clock: Callable[[], float] | None = attrs.field(default=None, eq=False, repr=False)
    """Where the breaker reads the time, in seconds (default: the event loop's clock,
    ``anyio.current_time``). A test passes a clock it moves itself, so the breaker stays
    open exactly until the test lets ``reset_timeout`` pass, however loaded the machine."""


def check_options(
    *,
    batch_size: int,
    queue_bound: int,
    flush_interval: float,
    retry: RetryPolicy | None,
    breaker: BreakerPolicy | None,
    replace_spec: bool,
    follow: bool,
) -> None:
    """Raise unless the write path's options of a runtime are of their types and ranges."""
    if type(batch_size) is not int:
        raise TypeError(f"batch_size must be a whole number, not {batch_size!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if type(queue_bound) is not int:  # 1.5 was taken (as 2), '10' failed comparing
        raise TypeError(f"queue_bound must be a whole number, not {queue_bound!r}")
    if type(flush_interval) not in (int, float):
        raise TypeError(f"flush_interval must be a number of seconds, not {flush_interval!r}")
    if not 0 <= flush_interval < math.inf:
        raise ValueError(
            f"flush_interval must be a finite number of seconds >= 0, not {flush_interval!r}"
        )
    for name, policy, kind in (
        ("retry", retry, RetryPolicy),
        ("breaker", breaker, BreakerPolicy),
    ):
        if policy is not None and not isinstance(policy, kind):
            raise TypeError(f"{name} must be a {kind.__name__} or None, not {policy!r:.80}")
    for flag, given in (("replace_spec", replace_spec), ("follow", follow)):
        if type(given) is not bool:  # "no" is truthy: it would replace a stored spec
            raise TypeError(f"{flag} must be True or False, not {given!r:.80}")
