"""A clock that only moves when the test moves it (for ``BreakerPolicy(clock=...)``)."""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """Seconds that stand still until :meth:`advance`: time-based logic (the circuit
    breaker's ``reset_timeout``) then depends on what the test does, never on how long a
    loaded machine took between two steps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds
