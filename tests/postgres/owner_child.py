"""A process that owns gadget groups on PostgreSQL until it is killed (test_ownership.py).

    python owner_child.py URL NODE_ID READY_FILE [CONTACT=VALUE ...]

Opens a runtime on the two-adder spec, writes the given values (JSON), then writes
READY_FILE with the groups it runs (JSON) and waits to be killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio

from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage
from tests.ownership_support import two_adders


async def main(url: str, node_id: str, ready: Path, writes: list[str]) -> None:
    async with open_storage(url) as storage:
        async with StorageBackedRuntime(
            two_adders(), storage, node_id=node_id, claim_interval=0.05
        ) as runtime:
            for item in writes:
                contact, value = item.split("=", 1)
                await runtime.update_contact(contact, json.loads(value))
            tmp = ready.with_suffix(".tmp")
            tmp.write_text(json.dumps(sorted(runtime.run_groups)))
            tmp.rename(ready)
            await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
