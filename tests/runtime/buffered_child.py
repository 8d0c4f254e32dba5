"""Child process for the SIGKILL test: buffered writes on fs, reporting each completed flush."""

from __future__ import annotations

import sys

import anyio

from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage


async def main(path: str, start: int) -> None:
    spec = parse_spec({"id": "killme", "contacts": [{"id": f"c{i}"} for i in range(2000)]})
    async with open_storage(f"file://{path}") as storage:
        async with StorageBackedRuntime(spec, storage, durability="buffered") as runtime:
            i = start
            while True:
                for _ in range(25):
                    await runtime.update_contact(f"c{i % 2000}", i)
                    i += 1
                await runtime.flush()
                print(f"flushed {i}", flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], int(sys.argv[2]))
