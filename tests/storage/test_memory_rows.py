"""A memory store's table keeps plain tuples (``Row``): whichever way a content was
stored (checked columns, records one by one, over a stored one), every reader gives the
same group, value, stamp, sequence and justification, and ``MemoryStore``'s own readers
still hand out :class:`StoredContent`."""

from __future__ import annotations

import pytest
from bassline_storage_memory import MemoryStorage, open_memory_storage
from bassline_storage_memory.state import StoredContent
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.codec import encode
from bassline.spec import parse_spec
from bassline.storage import ContentRecord, NetworkRecord
from bassline.storage.fastpath import queued_columns

WHY = '{"kind":"write","via":"python","local":true}'
SPEC = parse_spec(
    {
        "id": "n",
        "groups": [{"id": "g"}, {"id": "h"}],
        "contacts": [{"id": f"c{i}", "group": "g" if i % 2 else "h"} for i in range(6)],
    }
)
GROUP = {f"c{i}": "g" if i % 2 else "h" for i in range(6)}

_WRITE = st.tuples(
    st.sampled_from(sorted(GROUP)),
    st.one_of(st.integers(-5, 5), st.text(max_size=3), st.lists(st.booleans(), max_size=2)),
    st.integers(1, 20),
    st.sampled_from([None, WHY]),
)


async def _store(batches: list[list[tuple[str, object, int, str | None]]], columns: bool):
    storage = open_memory_storage()
    assert isinstance(storage, MemoryStorage)
    await storage.open()
    (await storage.write([NetworkRecord(SPEC)])).unwrap()
    for batch in batches:
        latest: dict[str, tuple[str, object, int, str | None]] = {}
        for write in batch:
            latest[write[0]] = write  # each contact once, as the queue hands them out
        writes = list(latest.values())
        if columns:
            made = queued_columns(
                "n",
                [GROUP[c] for c, *_ in writes],
                [c for c, *_ in writes],
                [v for _, v, _, _ in writes],
                [Stamp(h, "x") for _, _, h, _ in writes],
                [w for *_, w in writes],
            )
            assert made is not None
            (await storage.write_columns(made)).unwrap()
        else:
            records = [
                ContentRecord("n", GROUP[c], c, v, Stamp(h, "x"), w) for c, v, h, w in writes
            ]
            (await storage.write(records)).unwrap()
    return storage


@pytest.mark.anyio
@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(_WRITE, min_size=1, max_size=6), min_size=1, max_size=4))
async def test_every_reader_sees_the_same_whichever_way_contents_were_stored(
    batches: list[list[tuple[str, object, int, str | None]]],
) -> None:
    by_columns = await _store(batches, columns=True)
    by_records = await _store(batches, columns=False)
    try:
        for storage in (by_columns, by_records):
            await storage.save_snapshot("n", "s")
        seen = []
        for storage in (by_columns, by_records):
            store = storage.store
            contents = store.contents("n")
            assert isinstance(contents, dict)
            assert all(type(s) is StoredContent for s in contents.values())
            rows = store.rows("n")
            assert isinstance(rows, dict)
            assert {c: tuple(s) for c, s in contents.items()} == rows
            for contact, stored in contents.items():
                one = store.content("n", stored.group, contact)
                assert type(one) is StoredContent and one == stored
                assert stored.encoded == encode(stored.record("n", contact).value)
            (info,) = (await storage.list_snapshots("n")).unwrap()
            snap = store.snapshot("n", info.id)
            assert not isinstance(snap, Exception)
            assert all(type(s) is StoredContent for s in snap.contents.values())
            loaded = (await storage.load_contents("n")).unwrap()
            assert loaded == [s.record("n", c) for c, s in sorted(contents.items())]
            changes = (await storage.read_changes("n", 0)).unwrap()
            assert sorted(changes.records, key=lambda r: r.contact) == loaded
            seen.append(
                (
                    sorted(
                        (c, s.group, s.encoded, s.stamp, s.justification)
                        for c, s in contents.items()
                    ),
                    loaded,
                    (await storage.load_snapshot("n", info.id)).unwrap().contents,
                )
            )
        assert seen[0] == seen[1]
    finally:
        await by_columns.close()
        await by_records.close()
