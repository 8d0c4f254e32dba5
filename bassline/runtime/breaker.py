"""A circuit breaker: closed, open (fail fast), half-open (one trial)."""

from __future__ import annotations

import enum
from collections import Counter

import anyio

from bassline.runtime.policy import BreakerPolicy

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Tracks consecutive failures; while open, callers should not touch storage."""

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._clock = policy.clock or anyio.current_time
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self.transitions: Counter[str] = Counter()
        self.last_error: str | None = None

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker turns half-open once its timeout has passed."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.policy.reset_timeout
        ):
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def _move(self, state: BreakerState) -> None:
        if state is not self._state:
            self.transitions[f"{self._state.value}->{state.value}"] += 1
            self._state = state

    def allows_writes(self) -> bool:
        """False while open (fail fast); true when closed or half-open (trial)."""
        if self._state is BreakerState.CLOSED:  # every durable write asks: the cheap case first
            return True
        return self.state is not BreakerState.OPEN

    def seconds_until_trial(self) -> float:
        """How long until an open breaker allows a trial (0 if it already does)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.reset_timeout - self._clock())

    def record_success(self) -> None:
        """A batch committed: close."""
        self._failures = 0
        self.last_error = None
        self._move(BreakerState.CLOSED)

    def record_failure(self, error: str) -> None:
        """A batch failed after its retries: open after ``failure_threshold`` in a row."""
        self._failures += 1
        self.last_error = error
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.policy.failure_threshold:
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN)
