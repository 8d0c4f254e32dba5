"""Tests that need root (mounting a tmpfs, ``chattr +i``): skip where they cannot run.

A skip says why. ``BASSLINE_REQUIRE_ROOT_TESTS=1`` turns every such skip into a failure
(CI sets it, and runs as root), so these tests can never silently stop running there.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["IS_ROOT", "REQUIRE_ROOT_TESTS", "cannot_run", "require_root"]

IS_ROOT = os.geteuid() == 0
REQUIRE_ROOT_TESTS = "BASSLINE_REQUIRE_ROOT_TESTS"


def cannot_run(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when ``BASSLINE_REQUIRE_ROOT_TESTS=1``."""
    if os.environ.get(REQUIRE_ROOT_TESTS) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ROOT_TESTS}=1 forbids skipping")
    pytest.skip(f"{reason} (set {REQUIRE_ROOT_TESTS}=1 to make this a failure)")


def require_root(what: str) -> None:
    """Skip (or fail, see :func:`cannot_run`) unless the tests run as root."""
    if not IS_ROOT:
        cannot_run(f"{what} needs root")
