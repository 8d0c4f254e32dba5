"""Fixtures for the filesystem backend's tests: a fresh store URL and a small network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bassline.spec import Bassline, parse_spec


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Where this test's store lives (not created yet)."""
    return tmp_path / "store"


@pytest.fixture
def store_url(store_dir: Path) -> str:
    """``file://`` URL of this test's store."""
    return f"file://{store_dir}"


def _spec(network: str = "calc", **extra: Any) -> Bassline:
    return parse_spec(
        {
            "id": network,
            "metadata": {"owner": "tests"},
            "groups": [
                {"id": "g", "attributes": {"bassline.tags": ["x", "y"], "author": "ann"}},
                {"id": "h", "parent": "g", "attributes": {"type": "adder"}},
            ],
            "contacts": [
                {"id": "a", "group": "g", "content": 1},
                {"id": "b", "group": "h", "blend": "merge", "lattice": "max", "boundary": "input"},
            ],
            "wires": [{"id": "w", "from": "a", "to": "b"}],
            **extra,
        }
    )


@pytest.fixture
def spec() -> Bassline:
    """A small network ``calc`` with groups ``root``, ``g`` and ``h``."""
    return _spec()


@pytest.fixture
def make_spec() -> Any:
    """``make_spec(network_id)``: the same small network under another id."""
    return _spec
