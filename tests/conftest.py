"""Shared test configuration: core async tests run on asyncio and trio."""

from __future__ import annotations

import os

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
