"""The storage conformance suite, contents: contents: exact round-trips, not-found codes, encodings, no aliasing."""

from __future__ import annotations

import reprlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.lattices import GrowMap, GrowSet, Interval, ShrinkSet
from bassline.spec import parse_spec
from bassline.storage import (
    ContentRecord,
    ErrorCode,
    GroupQuery,
    NetworkStorage,
    WriteSummary,
)
from bassline.testing._storage_strategies import (
    content_values,
    ids,
)
from bassline.testing.storage.support import (
    UNENCODABLE,
    StorageSuite,
    assert_failure,
    assert_success,
    containing_itself,
    examples,
    make_stamp,
    nested_lists,
    records_by_key,
    same_content,
    unique_ids,
)

__all__ = ["ContentTests"]


@pytest.mark.anyio
class ContentTests(StorageSuite):
    """Contents: exact round-trips, not-found codes, encodings, no aliasing."""

    async def test_contact_content_round_trips_with_its_stamp(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        stamp = Stamp(2**62 + 5, "node-ü")
        value = {"a": [1, 2.0, None, True], "b": {"$type": "mine"}, "c": Interval(0, None)}
        assert_success(await storage.save_contact_content("calc", "ui", "x", value, stamp))
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert isinstance(record, ContentRecord)
        assert (record.network, record.group, record.contact, record.stamp) == (
            "calc",
            "ui",
            "x",
            stamp,
        )
        assert same_content(record.value, value)

    async def test_unstamped_saves_replace_each_other(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "first"))
        first = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert isinstance(first.stamp, Stamp)
        assert_success(await storage.save_contact_content("calc", "ui", "x", "second"))
        second = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert second.value == "second" and second.stamp > first.stamp

    async def test_contents_not_found_codes(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(await storage.save_contact_content("calc", "ui", "x", 1, make_stamp(1)))
        assert_failure(
            await storage.load_contact_content("nope", "ui", "x"), ErrorCode.NETWORK_NOT_FOUND
        )
        assert_failure(
            await storage.load_contact_content("calc", "ui", "total"), ErrorCode.CONTACT_NOT_FOUND
        )
        assert_failure(
            await storage.load_contact_content("calc", "calc", "x"),
            ErrorCode.CONTACT_NOT_FOUND,
            "content stored under another group",
        )
        assert_failure(
            await storage.save_contact_content("calc", "nogroup", "x", 1, make_stamp(2)),
            ErrorCode.GROUP_NOT_FOUND,
        )
        assert_failure(
            await storage.save_contact_content("nope", "ui", "x", 1, make_stamp(2)),
            ErrorCode.NETWORK_NOT_FOUND,
        )
        assert_failure(await storage.load_contents("nope"), ErrorCode.NETWORK_NOT_FOUND)
        record = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert (record.value, record.stamp) == (1, make_stamp(1)), "a failed save changed content"

    async def test_load_contents_returns_every_content_with_stamps(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        await self._with_network(storage, "other")
        assert assert_success(await storage.load_contents("calc")) == []
        records = [
            ContentRecord("calc", "ui", "x", [1], make_stamp(3, "a")),
            ContentRecord("calc", "ui", "y", GrowSet(["s"]), make_stamp(4, "b")),
            ContentRecord("calc", "calc", "total", None, make_stamp(5, "c")),
            ContentRecord("calc", "adder", "adder.sum", 2.5, make_stamp(6, "d")),
            ContentRecord("other", "ui", "x", "elsewhere", make_stamp(9)),
        ]
        summary = assert_success(await storage.write(records))
        assert summary == WriteSummary(contents=5)
        loaded = assert_success(await storage.load_contents("calc"))
        assert all(isinstance(r, ContentRecord) for r in loaded)
        assert records_by_key(loaded) == records_by_key(records[:4])

    async def test_justifications_round_trip_with_their_contents(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        write = '{"kind":"write","via":"http","local":true}'
        gadget = (
            '{"kind":"gadget","group":"adder","inputs":'
            '[["a","x",[1],[3,"a"]],["b","y",{"$type":"grow_set","items":["s"]},[4,"b"]]]}'
        )
        merge = (
            '{"kind":"merge","contributions":[[{"kind":"wire","from":"x"},2,[5,"c"]],'
            '[{"kind":"write","via":"cli","local":false,"stamp":[6,"d"]},3,[6,"d"]]],'
            '"omitted":2}'
        )
        records = [  # four or more contents: the batch takes the fast path
            ContentRecord("calc", "ui", "x", [1], make_stamp(3, "a"), write),
            ContentRecord("calc", "ui", "y", "plain", make_stamp(4, "b"), None),
            ContentRecord("calc", "adder", "adder.sum", 2.5, make_stamp(6, "d"), gadget),
            ContentRecord("calc", "calc", "total", 3, make_stamp(7, "d"), merge),
            ContentRecord("calc", "ui", "z", 1, make_stamp(8, "d"), write),
        ]
        assert_success(await storage.write(records))
        loaded = assert_success(await storage.load_contents("calc"))
        assert {r.contact: r.justification for r in loaded} == {
            r.contact: r.justification for r in records
        }
        one = assert_success(await storage.load_contact_content("calc", "adder", "adder.sum"))
        assert one.justification == gadget
        # one record alone (the general path); a newer content without one clears it
        later = ContentRecord("calc", "ui", "x", [2], make_stamp(9, "a"), merge)
        assert_success(await storage.write([later]))
        assert_success(await storage.save_contact_content("calc", "ui", "z", 2, make_stamp(9)))
        stale = ContentRecord("calc", "ui", "y", "old", make_stamp(1, "b"), write)
        assert assert_success(await storage.write([stale])).stale == 1
        found = {
            r.contact: r.justification for r in assert_success(await storage.load_contents("calc"))
        }
        assert (found["x"], found["y"], found["z"]) == (merge, None, None)
        info = assert_success(await storage.save_snapshot("calc", "why"))
        snap = assert_success(await storage.load_snapshot("calc", info.id))
        assert {r.contact: r.justification for r in snap.contents} == found

    @pytest.mark.parametrize(
        ("justification", "problem"),
        [
            (b"{}", "must be a string"),
            ("not json", "is not JSON"),
            ('{"kind":"guess"}', "has kind 'guess'"),
            ('{"kind":"write"}', "a write needs via"),
            ('{"kind":"wire","from":3}', "a wire needs from"),
            ('{"kind":"gadget","group":"g","inputs":[["a","x",1]]}', "gadget input 0 must be"),
            ('{"kind":"merge","contributions":[]}', "a merge needs contributions"),
            ('{"kind":"wire","from":"x","stamp":[1]}', "stamp must be [hlc, node]"),
        ],
    )
    async def test_a_malformed_justification_is_refused_and_nothing_is_stored(
        self, storage: NetworkStorage, justification: Any, problem: str
    ) -> None:
        await self._with_network(storage)
        good = [ContentRecord("calc", "ui", f"c{i}", i, make_stamp(3)) for i in range(4)]
        bad = ContentRecord("calc", "ui", "x", 1, make_stamp(3), justification)
        for batch in ([*good, bad], [bad]):
            error = assert_failure(await storage.write(batch), ErrorCode.INVALID)
            assert "ContentRecord.justification" in error.message and problem in error.message
            assert f"record {len(batch) - 1}" in error.message
        assert assert_success(await storage.load_contents("calc")) == []

    @examples(25)
    @given(
        values=st.lists(content_values, min_size=1, max_size=6),
        contacts=st.lists(ids, min_size=6, max_size=6, unique=True),
    )
    async def test_generated_contents_round_trip_exactly(
        self, storage: NetworkStorage, values: list[Any], contacts: list[str]
    ) -> None:
        network = f"contents-{next(unique_ids)}"
        await self._with_network(storage, network)
        try:
            records = [
                ContentRecord(network, "ui", contact, value, make_stamp(n + 1))
                for n, (contact, value) in enumerate(zip(contacts, values, strict=False))
            ]
            summary = assert_success(await storage.write(records), "write")
            assert summary.contents == len(records) and summary.stale == 0
            for record in records:
                loaded = assert_success(
                    await storage.load_contact_content(network, "ui", record.contact)
                )
                assert same_content(loaded.value, record.value), (loaded.value, record.value)
                assert loaded.stamp == record.stamp
            assert records_by_key(
                assert_success(await storage.load_contents(network))
            ) == records_by_key(records)
        finally:
            assert_success(await storage.delete_network(network))

    async def test_lattice_values_and_tag_like_user_dicts_round_trip(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        values: list[Any] = [
            GrowSet([1, "a", {"k": [1]}, None]),
            ShrinkSet([1.5, "b"]),
            Interval(None, 3),
            Interval(-2.5, 2.5),
            GrowMap({"m": GrowSet([1]), "n": {"$type": "grow-set", "value": [1]}}),
            {"$type": "grow-set", "value": [1, 2]},
            {"$type": "object", "value": {"a": 1}},
            [GrowMap({}), GrowSet([]), {"$type": 7}],
            "",
            [],
            {},
            0,
            -0.0,
            1e308,
            2**64 - 1,
            -(2**63),
        ]
        for n, value in enumerate(values):
            contact = f"v{n}"
            assert_success(
                await storage.save_contact_content("calc", "ui", contact, value, make_stamp(1))
            )
            loaded = assert_success(await storage.load_contact_content("calc", "ui", contact))
            assert same_content(loaded.value, value), f"{value!r} came back as {loaded.value!r}"
            assert type(loaded.value) is type(value) or isinstance(value, list | dict)

    async def test_large_values_round_trip(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        size = self.large_value_chars
        text = ("ünïcødé 日本 " * (size // 11 + 1))[:size]
        nested = [{"i": i, "s": "x" * 90, "f": i / 7} for i in range(size // 120)]
        for contact, value in (("big-text", text), ("big-list", nested)):
            assert_success(
                await storage.save_contact_content("calc", "ui", contact, value, make_stamp(1))
            )
            loaded = assert_success(await storage.load_contact_content("calc", "ui", contact))
            assert same_content(loaded.value, value), f"large value {contact} changed"

    async def test_text_with_nul_characters_round_trips(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        value = {"nul": "a\x00b", "key\x00": ["\x00"], "ctl": "\x01\x1f\x7f"}
        assert_success(await storage.save_contact_content("calc", "ui", "x", value, make_stamp(1)))
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert same_content(loaded.value, value)

    async def test_unencodable_content_is_a_serialization_error(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        for value in UNENCODABLE:
            assert_failure(
                await storage.save_contact_content("calc", "ui", "x", value, make_stamp(1)),
                ErrorCode.SERIALIZATION,
                f"saving {reprlib.repr(value)}",
            )
        assert_failure(
            await storage.load_contact_content("calc", "ui", "x"), ErrorCode.CONTACT_NOT_FOUND
        )

    async def test_content_nested_to_the_limit_round_trips_and_deeper_fails_a_whole_batch(
        self, storage: NetworkStorage
    ) -> None:
        await self._with_network(storage)
        deepest = nested_lists(253)  # 254 levels of lists: as deep as content may go
        assert_success(
            await storage.save_contact_content("calc", "ui", "x", deepest, make_stamp(1))
        )
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert loaded.value == deepest
        batch = [ContentRecord("calc", "ui", f"b{i}", i, make_stamp(2)) for i in range(8)]
        batch[5] = ContentRecord("calc", "ui", "b5", nested_lists(100_000), make_stamp(2))
        assert_failure(await storage.write(batch), ErrorCode.SERIALIZATION, "a too-deep batch")
        batch[5] = ContentRecord("calc", "ui", "b5", containing_itself(), make_stamp(2))
        assert_failure(await storage.write(batch), ErrorCode.SERIALIZATION, "a cyclic batch")
        assert_failure(
            await storage.load_contact_content("calc", "ui", "b0"), ErrorCode.CONTACT_NOT_FOUND
        )

    async def test_saved_values_cannot_change_behind_the_callers_back(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        value: dict[str, Any] = {"list": [1, 2], "map": {"k": "v"}}
        assert_success(await storage.save_contact_content("calc", "ui", "x", value, make_stamp(1)))
        value["list"].append(3)
        value["map"]["k"] = "changed"
        spec.metadata["owner"] = "mallory"
        spec.group("ui").attributes["color"] = "blue"
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert loaded.value == {"list": [1, 2], "map": {"k": "v"}}
        stored = assert_success(await storage.load_network("calc"))
        assert stored.metadata["owner"] == "ann"
        assert stored.group("ui").attributes["color"] == "red"

    async def test_contact_attributes_and_contents_in_a_spec_are_not_shared(
        self, storage: NetworkStorage
    ) -> None:
        spec = parse_spec(
            {
                "id": "calc",
                "contacts": [
                    {"id": "k", "attributes": {"ui": {"widget": "slider"}}, "content": [1, [2]]},
                    {"id": "plain", "content": 5},
                ],
            }
        )
        assert_success(await storage.save_network(spec))
        spec.contact("k").attributes["ui"]["widget"] = "mallory"
        given: Any = spec.contact("k").content  # a list: mutating it must not reach storage
        given[1].append(3)
        loaded = assert_success(await storage.load_network("calc"))
        assert loaded.contact("k").attributes == {"ui": {"widget": "slider"}}
        assert loaded.contact("k").content == [1, [2]]
        loaded.contact("k").attributes["ui"]["widget"] = "changed"
        read: Any = loaded.contact("k").content
        read[1].append(4)
        again = assert_success(await storage.load_network("calc"))
        assert again.contact("k").attributes == {"ui": {"widget": "slider"}}
        assert again.contact("k").content == [1, [2]]
        assert again.contact("plain").content == 5

    async def test_loaded_values_do_not_change_storage(self, storage: NetworkStorage) -> None:
        await self._with_network(storage)
        assert_success(
            await storage.save_contact_content("calc", "ui", "x", {"list": [1]}, make_stamp(1))
        )
        loaded = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        value: Any = loaded.value  # an object: mutating it must not reach storage
        value["list"].append(2)
        for record in assert_success(await storage.load_contents("calc")):
            each: Any = record.value
            each["list"].append(3)
        spec = assert_success(await storage.load_network("calc"))
        spec.metadata["owner"] = "mallory"
        spec.group("ui").attributes.clear()
        groups = assert_success(await storage.query_groups("calc", GroupQuery()))
        for group in groups:
            group.attributes["poison"] = True
        again = assert_success(await storage.load_contact_content("calc", "ui", "x"))
        assert again.value == {"list": [1]}
        fresh = assert_success(await storage.load_network("calc"))
        assert fresh.metadata["owner"] == "ann" and fresh.group("ui").attributes["color"] == "red"
        hits = assert_success(await storage.query_groups("calc", GroupQuery({"poison": True})))
        assert hits == []
