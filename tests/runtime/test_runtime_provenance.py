"""Provenance survives a restart: the memory and file backends (PostgreSQL in
tests/postgres/test_postgres_provenance.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bassline_storage_fs import FileStorage, open_fs_storage

from bassline.storage import NetworkStorage, open_storage
from tests.provenance_restart import restart_keeps_explanations

pytestmark = pytest.mark.anyio


async def test_a_named_memory_store_keeps_justifications_across_runtimes(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        await restart_keeps_explanations(storage)


@pytest.mark.parametrize("compact", [False, True], ids=["from-the-log", "from-state-files"])
async def test_a_file_store_keeps_justifications_across_a_reopen(
    tmp_path: Path, compact: bool
) -> None:
    url = f"file://{tmp_path / 'store'}"
    opened: list[FileStorage] = [open_fs_storage(url)]

    async def reopen() -> NetworkStorage:
        if compact:  # the state files (version 2) then hold every justification
            (await opened[-1].compact()).unwrap()
        await opened[-1].close()
        opened.append(open_fs_storage(url))
        (await opened[-1].open()).unwrap()
        return opened[-1]

    (await opened[0].open()).unwrap()
    try:
        await restart_keeps_explanations(opened[-1], reopen)
    finally:
        await opened[-1].close()
