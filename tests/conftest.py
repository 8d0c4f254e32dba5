"""Shared test configuration: core async tests run on asyncio and trio."""

from __future__ import annotations

import os
import signal

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("BASSLINE_HYPOTHESIS_PROFILE", "ci"))

# A run started in the background (`pytest ... &` from a script) inherits SIGINT ignored,
# and so would every command the tests start: the tests that stop one with Ctrl-C need
# the default a terminal gives (each xdist worker imports this too).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


BACKENDS = os.environ.get("BASSLINE_TEST_BACKENDS", "asyncio,trio").split(",")
"""The event loops async tests run on (``BASSLINE_TEST_BACKENDS``; mutation runs use one)."""
if not BACKENDS or not set(BACKENDS) <= {"asyncio", "trio"}:
    raise ValueError(
        f"BASSLINE_TEST_BACKENDS must name asyncio, trio or both, comma-separated; got {BACKENDS}"
    )


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on both backends (or those chosen)."""
    return str(request.param)
