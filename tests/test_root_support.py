"""The switch that keeps root-only tests from silently skipping in CI."""

from __future__ import annotations

import pytest

from tests import root_support
from tests.root_support import REQUIRE_ROOT_TESTS, require_root


def test_a_root_only_test_skips_elsewhere_and_fails_under_the_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(root_support, "IS_ROOT", False)
    monkeypatch.delenv(REQUIRE_ROOT_TESTS, raising=False)
    with pytest.raises(pytest.skip.Exception, match="mounting a tmpfs needs root"):
        require_root("mounting a tmpfs")
    monkeypatch.setenv(REQUIRE_ROOT_TESTS, "1")
    with pytest.raises(pytest.fail.Exception, match="BASSLINE_REQUIRE_ROOT_TESTS=1 forbids"):
        require_root("mounting a tmpfs")
    monkeypatch.setattr(root_support, "IS_ROOT", True)
    require_root("mounting a tmpfs")  # as root: runs
