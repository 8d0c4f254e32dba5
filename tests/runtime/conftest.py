"""Fixtures for the durable runtime: specs and storages."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bassline.spec import Bassline, parse_spec


def flat_spec(n: int, network: str = "flat", lattice: str | None = None) -> Bassline:
    """``n`` unconnected contacts: every write touches exactly one contact."""
    contacts: list[dict[str, Any]] = [{"id": f"c{i}"} for i in range(n)]
    if lattice:
        for c in contacts:
            c["lattice"] = lattice
    return parse_spec({"id": network, "contacts": contacts})


@pytest.fixture
def memory_url() -> str:
    """A fresh shared in-process store, so a second storage can read what the runtime wrote."""
    return f"memory://runtime-{uuid.uuid4().hex}"
