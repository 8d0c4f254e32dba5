"""A runtime process on PostgreSQL driven over stdin (test_feed_failover.py).

    python feed_child.py URL NODE_ID all|none

Opens a runtime on the two-adder spec (``all``: taking turns on both gadget groups;
``none``: running no gadget), prints ``ready`` with the groups it runs, then answers one
line per command: ``set CONTACT JSON`` (a durable write; ``ok``), ``get CONTACT`` (the
value as JSON, ``null`` if none) and ``groups`` (the groups it runs, JSON).
"""

from __future__ import annotations

import json
import sys

import anyio
import anyio.to_thread

from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage
from tests.ownership_support import two_adders


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def main(url: str, node_id: str, runs: str) -> None:
    run_groups = None if runs == "all" else []
    async with open_storage(url) as storage:
        async with StorageBackedRuntime(
            two_adders(), storage, node_id=node_id, claim_interval=0.05, run_groups=run_groups
        ) as runtime:
            _say("ready " + json.dumps(sorted(runtime.run_groups)))
            while line := await anyio.to_thread.run_sync(sys.stdin.readline):
                command, _, rest = line.strip().partition(" ")
                if command == "set":
                    contact, _, value = rest.partition(" ")
                    await runtime.update_contact(contact, json.loads(value))
                    _say("ok")
                elif command == "get":
                    _say(json.dumps(runtime.value(rest, None)))
                elif command == "groups":
                    _say(json.dumps(sorted(runtime.run_groups)))
                else:
                    _say(f"unknown command {command!r}")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])
