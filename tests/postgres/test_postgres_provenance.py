"""Provenance survives a restart on PostgreSQL: a fresh storage (a new pool) and a fresh
runtime on the same schema explain every value as before. (Rows written before revision
0005 load without a justification: tests/postgres/test_migrations.py.)"""

from __future__ import annotations

import pytest

from bassline.storage import NetworkStorage, open_storage
from tests.provenance_restart import restart_keeps_explanations

pytestmark = pytest.mark.anyio


async def test_justifications_survive_a_new_storage_and_runtime(store_url: str) -> None:
    opened: list[NetworkStorage] = [open_storage(store_url)]

    async def reopen() -> NetworkStorage:
        await opened[-1].close()
        opened.append(open_storage(store_url))
        (await opened[-1].open()).unwrap()
        return opened[-1]

    (await opened[0].open()).unwrap()
    try:
        await restart_keeps_explanations(opened[-1], reopen)
    finally:
        await opened[-1].close()
