"""One storage at a time per store directory: a second gets a clear CONFLICT."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bassline.spec import Bassline
from bassline.storage import ErrorCode, StorageOpenError, open_storage

pytestmark = pytest.mark.anyio

PROBE = Path(__file__).with_name("lock_probe.py")


def _probe(url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(PROBE), url], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


async def test_a_second_open_in_this_process_is_a_conflict(store_url: str, store_dir: Path) -> None:
    async with open_storage(store_url):
        second = open_storage(store_url)
        with pytest.raises(StorageOpenError) as caught:
            async with second:
                pass
        assert caught.value.error.code is ErrorCode.CONFLICT
        assert str(store_dir) in caught.value.error.message
        assert "locked" in caught.value.error.message
        failed = await second.open()
        assert failed.failure().code is ErrorCode.CONFLICT
    async with open_storage(store_url):  # released on close
        pass


async def test_a_second_process_gets_a_conflict_naming_the_directory(
    store_url: str, store_dir: Path, spec: Bassline
) -> None:
    async with open_storage(store_url) as storage:
        await storage.save_network(spec)
        outcome = await _run_probe(store_url)
        assert outcome["ok"] is False and outcome["code"] == ErrorCode.CONFLICT.value
        message = str(outcome["message"])
        assert str(store_dir) in message and "locked" in message
    assert await _run_probe(store_url) == {"ok": True, "networks": ["calc"]}


async def _run_probe(url: str) -> dict[str, object]:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(_probe, url)
