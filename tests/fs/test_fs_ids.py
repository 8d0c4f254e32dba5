"""Hostile ids: none escapes the store, none collides, all fit the file name limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bassline_storage_fs import open_fs_storage
from bassline_storage_fs.naming import NETWORK_DIR_PATTERN, network_dirname
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import ContentRecord, ErrorCode, NetworkRecord

pytestmark = pytest.mark.anyio

HOSTILE = [
    "..",
    ".",
    "/",
    "../../etc/passwd",
    "a/b",
    "\\..\\x",
    "CON",
    "con",
    "Con.txt",
    "NUL",
    "A",
    "a",
    " spaced ",
    "trailing.",
    "日本語",
    "e\u0301",
    "\u00e9",
    "x" * 512,
    "X" * 512,
    "€" * 512,
    "🎉" * 512,
]


def test_directory_names_are_safe_distinct_and_short() -> None:
    names = [network_dirname(n) for n in HOSTILE]
    assert len({n.lower() for n in names}) == len(HOSTILE), "case-insensitive collision"
    for name in names:
        assert NETWORK_DIR_PATTERN.match(name), name
        assert len(name.encode()) <= 255 and name == name.lower()
        assert "/" not in name and "." not in name and name not in ("con", "nul")


@given(st.text(min_size=1, max_size=512))
def test_any_id_gives_a_safe_name(network: str) -> None:
    name = network_dirname(network)
    assert NETWORK_DIR_PATTERN.match(name) and len(name) <= 73


def _assert_all_inside(store_dir: Path) -> None:
    for root, subdirs, files in os.walk(store_dir):
        for name in subdirs + files:
            assert len(name.encode()) <= 255
            assert Path(root, name).resolve().is_relative_to(store_dir.resolve())


async def test_hostile_network_ids_stay_inside_the_store(store_url: str, store_dir: Path) -> None:
    specs: list[Bassline] = [Bassline(id=n, groups=()) for n in HOSTILE]
    async with open_fs_storage(store_url) as storage:
        for s in specs:
            (await storage.write([NetworkRecord(s)])).unwrap()
            (await storage.save_snapshot(s.id, label=s.id)).unwrap()
        (await storage.compact()).unwrap()
    outside = sorted(p.name for p in store_dir.parent.iterdir())
    assert outside == ["store"], "nothing may be written beside the store"
    dirs = sorted(p.name for p in (store_dir / "networks").iterdir())
    assert len(dirs) == len(HOSTILE)
    _assert_all_inside(store_dir)
    async with open_fs_storage(store_url) as storage:
        assert (await storage.list_networks()).unwrap() == sorted(HOSTILE)
        for s in specs:
            assert (await storage.load_network(s.id)).unwrap() == s
            (snap,) = (await storage.list_snapshots(s.id)).unwrap()
            assert snap.label == s.id


async def test_hostile_contact_and_group_ids_round_trip(store_url: str) -> None:
    groups = ["..", "/", "CON", "G" * 512]
    spec = Bassline(id="n", groups=tuple(GroupSpec(g) for g in groups))
    async with open_fs_storage(store_url) as storage:
        await storage.save_network(spec)
        batch = [
            ContentRecord("n", g, c, c, Stamp(1, "🎉" * 100))
            for g in groups
            for c in ["..", "/x", "C" * 512, "c" * 512, "€" * 512]
        ]
        assert (await storage.write(batch)).unwrap().contents == 5  # one per contact id
    async with open_fs_storage(store_url) as storage:
        loaded = (await storage.load_contents("n")).unwrap()
        assert sorted(r.contact for r in loaded) == sorted(
            ["..", "/x", "C" * 512, "c" * 512, "€" * 512]
        )
        assert all(r.value == r.contact and r.group == "G" * 512 for r in loaded)


async def test_bad_ids_and_snapshot_ids_are_refused(store_url: str, spec: Bassline) -> None:
    async with open_fs_storage(store_url) as storage:
        await storage.save_network(spec)
        for bad in ["", "a\x00b", "x" * 513, "tab\there"]:
            result = await storage.load_network(bad)
            assert result.failure().code is ErrorCode.INVALID
        for snap in ["../../log", "snap-zz", "snap-0000000000000000"]:
            missing = await storage.load_snapshot("calc", snap)
            assert missing.failure().code is ErrorCode.SNAPSHOT_NOT_FOUND
            assert (await storage.delete_snapshot("calc", snap)).unwrap() is None
