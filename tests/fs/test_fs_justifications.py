"""Justifications in the file store: WHYS records (log version 3, state and snapshot files
version 2), and a store written before them (fixtures/store-v2) still opening."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from bassline_storage_fs import open_fs_storage
from bassline_storage_fs.docfile import DOC_VERSION
from bassline_storage_fs.entries import WHYS, EntryError, Whys, decode_whys, whys_frame
from bassline_storage_fs.frames import Frame, read_frame
from bassline_storage_fs.logfile import LOG_VERSION
from bassline_storage_fs.table import Content, ContentTable

from bassline.engine.explanation import Kind
from bassline.runtime import StorageBackedRuntime
from tests.fs.fixtures.write_store_v2 import SPEC

pytestmark = pytest.mark.anyio
OLD_STORE = Path(__file__).parent / "fixtures" / "store-v2"


@pytest.fixture
def anyio_backend() -> str:
    """File format work: one event loop is enough."""
    return "asyncio"


def _kinds(path: Path) -> list[int]:
    data, pos, kinds = path.read_bytes(), 0, []
    while pos < len(data):
        found = read_frame(data, pos)
        assert isinstance(found, Frame), found
        kinds.append(found.kind)
        pos = found.end
    return kinds


def _version(path: Path) -> int:
    found = read_frame(path.read_bytes(), 0)
    assert isinstance(found, Frame)
    return int(orjson.loads(found.payload)["version"])


async def test_a_store_written_before_justifications_opens_and_upgrades(tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(OLD_STORE, store)
    (state,) = store.glob("networks/*/state")
    assert (_version(store / "log"), _version(state)) == (2, 1)
    url = f"file://{store}"
    async with open_fs_storage(url) as storage:
        loaded = {r.contact: r for r in (await storage.load_contents("prices")).unwrap()}
        assert {c: (r.value, r.justification) for c, r in loaded.items()} == {
            "net": (10, None),
            "extra": ("later", None),
        }
        async with StorageBackedRuntime(SPEC, storage, node_id="shop") as runtime:
            why = runtime.network.explain("net")
            assert why.justification is not None and why.justification.kind is Kind.RESTORED
            assert why.gaps() and not why.complete
            gross = runtime.network.explain("gross")
            assert gross.value == 12 and [p.contact for p in gross.premises()] == ["tax"]
            await runtime.update_contact("net", 20)
        # the version 2 log takes no WHYS records: nothing it cannot hold is written to it
        assert WHYS not in _kinds(store / "log")
        (await storage.compact()).unwrap()
        assert (_version(store / "log"), _version(state)) == (LOG_VERSION, DOC_VERSION)
    async with open_fs_storage(url) as storage:
        async with StorageBackedRuntime(SPEC, storage, node_id="shop") as runtime:
            assert not runtime.network.explain("gross").complete  # net 20: restored
            await runtime.update_contact("net", 20)  # the same value: nothing to store
            await runtime.update_contact("net", 21)
            await runtime.update_contact("extra", "now explained")
        assert WHYS in _kinds(store / "log")
        (await storage.compact()).unwrap()
        assert WHYS in _kinds(state)
    async with open_fs_storage(url) as storage:
        async with StorageBackedRuntime(SPEC, storage, node_id="shop") as runtime:
            extra = runtime.network.explain("extra").justification
            assert extra is not None and (extra.kind, extra.via) == (Kind.WRITE, "python")
            premises = runtime.network.explain("gross").premises()
            # total.b (and tax) hold what was stored before justifications: restored
            assert [(p.contact, p.value) for p in premises] == [("net", 21)]
            gaps = runtime.network.explain("gross").gaps()
            assert gaps == ("total.b: restored from storage without its justification",)


def test_a_justification_applies_only_to_the_content_of_its_stamp() -> None:
    table = ContentTable()
    table["a"] = Content("g", 5, "n", b"1", '{"kind":"wire","from":"b"}')
    table["b"] = Content("g", 9, "n", b"2")
    # replaying an older batch over a newer state file: its WHYS must not relabel "a"
    table.set_whys(["a", "b", "gone"], [4, 9, 1], ["n", "n", "n"], ["old", "new", "x"])
    assert table["a"].why == '{"kind":"wire","from":"b"}'
    assert table["b"].why == "new"
    assert "gone" not in table
    table["a"] = Content("g", 6, "n", b"3")
    assert table["a"].why is None, "a newer content without a justification has none"


def test_whys_records_round_trip_and_refuse_malformed_payloads() -> None:
    whys = Whys("net", ["a", "b"], [1, 2], ["n", "m"], ["x", "y"])
    built = whys_frame(whys)
    assert built is not None
    found = read_frame(built, 0)
    assert isinstance(found, Frame) and found.kind == WHYS
    assert decode_whys(found.payload) == whys
    for payload, reason in [
        (b"{", "not JSON"),
        (b'["net",["a"]]', "not \\[network, contacts, hlcs, nodes, whys\\]"),
        (b'["net",["a"],[1],["n"],[3]]', "malformed"),
        (b'["net",["a"],[1, 2],["n"],["x"]]', "malformed"),
    ]:
        with pytest.raises(EntryError, match=reason):
            decode_whys(payload)
