"""A spec written with compound parts is stored in PostgreSQL as its expansion, hash and all."""

from __future__ import annotations

from pathlib import Path

import pytest

from bassline import load_spec
from bassline.spec import PART_ATTRIBUTE
from bassline.storage import open_storage, stored_spec_hash

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.anyio
async def test_postgres_keeps_the_expansion_and_its_hash(store_url: str) -> None:
    spec = load_spec(EXAMPLES / "rooms.json")
    async with open_storage(store_url) as storage:
        (await storage.save_network(spec)).unwrap()
        back = (await storage.load_network(spec.id)).unwrap()
        assert (await stored_spec_hash(storage, spec.id)).unwrap() == spec.hash
    assert back == spec and back.hash == spec.hash
    assert back.group("kitchen/c-times").parent == "kitchen"
    assert back.group("attic").attributes[PART_ATTRIBUTE] == "c-to-f"
