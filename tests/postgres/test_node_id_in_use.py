"""Two processes with the same node id on one PostgreSQL network: the second is refused."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bassline.errors import NodeIdInUse
from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage
from tests.net.nodes import Node

CALCULATOR = Path(__file__).parents[2] / "examples" / "calculator.json"


@pytest.mark.anyio
async def test_a_second_runtime_with_the_same_node_id_is_refused(store_url: str) -> None:
    """Planted: the member lock not taken (``self._member_key = None``) -> both start."""
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with StorageBackedRuntime(CALCULATOR, s1, node_id="twin") as first:
            with pytest.raises(NodeIdInUse) as refused:
                async with StorageBackedRuntime(CALCULATOR, s2, node_id="twin"):
                    pass
            message = str(refused.value)
            assert "node id 'twin' is already in use on network 'calculator'" in message
            assert "PostgreSQL session" in message and "bassline-feed:twin" in message
            # the first one runs on; another id is welcome
            await first.update_contact("input-a", 1)
            async with StorageBackedRuntime(CALCULATOR, s2, node_id="other") as other:
                await other.catch_up()
                assert other.value("input-a") == 1
        # once the first has gone, the id is free again
        async with StorageBackedRuntime(CALCULATOR, s2, node_id="twin") as again:
            assert again.value("input-a") == 1


@pytest.fixture
def cleanup() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for n in started:
        if n.proc is not None and n.proc.poll() is None:
            n.stop(signal.SIGKILL)


@pytest.mark.slow
def test_a_second_bassline_start_with_the_same_node_id_fails_naming_both(
    tmp_path: Path, store_url: str, cleanup: list[Node]
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"id": "twins", "contacts": [{"id": "c"}]}))
    first = Node(tmp_path, spec, "same", "--storage", store_url).start()
    cleanup.append(first)
    (tmp_path / "second").mkdir()
    second = Node(tmp_path / "second", spec, "same", "--storage", store_url).launch()
    cleanup.append(second)
    assert second.proc is not None
    code = second.proc.wait(timeout=60)
    err = second.log.read_text()
    assert code == 1, err
    assert "node id 'same' is already in use on network 'twins'" in err
    assert "PostgreSQL session" in err and "application_name 'bassline-feed:same'" in err
    assert "Traceback" not in err
    assert first.proc is not None and first.proc.poll() is None  # the first runs on
    first.write({"c": 1})
