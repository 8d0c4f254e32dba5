"""A runtime process adding to one grow-set on PostgreSQL (test_merge_joins.py).

    python merge_child.py URL NODE_ID COUNT

Opens a runtime on :func:`~bassline.testing.storage.merge_spec` (following the feed, as
every process does), prints ``ready``, waits for a line on stdin, then durably adds
``NODE_ID-0`` ... ``NODE_ID-(COUNT-1)`` to the grow-set ``set`` one at a time, prints
``done`` and closes the runtime.
"""

from __future__ import annotations

import sys

import anyio
import anyio.to_thread

from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage
from bassline.testing.storage import merge_spec


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def main(url: str, node_id: str, count: str) -> None:
    async with open_storage(url) as storage:
        async with StorageBackedRuntime(merge_spec(), storage, node_id=node_id) as runtime:
            _say("ready")
            await anyio.to_thread.run_sync(sys.stdin.readline)
            for i in range(int(count)):
                await runtime.update_contact("set", [f"{node_id}-{i}"])
            _say("done")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
