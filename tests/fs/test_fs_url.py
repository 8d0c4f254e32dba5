"""Opening: malformed URLs and options are ValueErrors; foreign directories are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from bassline_storage_fs import FileStorage

from bassline.storage import ErrorCode, NetworkStorage, StorageOpenError, open_storage

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("file://relative/dir", {}, "names host 'relative'"),
        ("file://example.com/data", {}, "names host 'example.com'"),
        ("file:relative", {}, "malformed storage URL"),
        ("file:///data#frag", {}, "#fragment"),
        ("file:///data%00x", {}, "NUL"),
        ("file:///data?compact_bytes=big", {}, "must be a whole number"),
        ("file:///data?compact_bytes=-5", {}, "must be a whole number"),
        ("file:///data?compact_bytes=0", {}, "must be in [1,"),
        ("file:///data?read_only=maybe", {}, "must be true or false"),
        ("file:///data?repair=true", {}, "bassline storage repair file:///data --dry-run"),
        ("file:///data?repair=false", {}, "the repair option is gone"),
        ("file:///data?compact_byte=5", {}, "did you mean 'compact_bytes'"),
        ("file:///data?threads=2&threads=3", {}, "given twice"),
        ("file:///data?threads=2", {"threads": 3}, "both in"),
        ("file:///data", {"compact_bytes": "1000"}, "must be int, got str"),
        ("file:///data", {"compact_bytes": True}, "must be int, got bool"),
        ("file:///data", {"read_only": 1}, "must be bool, got int"),
        ("file:///data", {"repair": True}, "bassline storage repair file:///data --dry-run"),
        ("file:///data", {"threads": 0}, "must be in [1, 64]"),
        ("file:///data", {"colour": "red"}, "unknown file storage option 'colour'"),
    ],
)
def test_malformed_urls_and_options_are_value_errors(
    url: str, options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValueError) as caught:
        open_storage(url, **options)
    assert expected in str(caught.value)


def test_good_urls_and_options_parse(tmp_path: Path) -> None:
    storage = open_storage(f"file://localhost{tmp_path}/a%20b?compact_bytes=4096&read_only=yes")
    assert isinstance(storage, FileStorage)
    assert storage.options.path == tmp_path / "a b"
    assert (storage.options.compact_bytes, storage.options.read_only) == (4096, True)
    other = open_storage(f"file://{tmp_path}", threads=2, create=False)
    assert isinstance(other, FileStorage)
    assert (other.options.threads, other.options.create) == (2, False)


async def _open_error(url: str) -> Any:
    with pytest.raises(StorageOpenError) as caught:
        async with open_storage(url):
            pass
    return caught.value.error


async def test_a_directory_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "important.txt").write_text("do not touch")
    error = await _open_error(f"file://{tmp_path}")
    assert error.code is ErrorCode.INVALID
    assert "is not a Bassline store" in error.message and "important.txt" in error.message
    assert os.listdir(tmp_path) == ["important.txt"]


async def test_a_marker_of_another_kind_or_version_is_refused(store_dir: Path) -> None:
    async with open_storage(f"file://{store_dir}"):
        pass
    marker = store_dir / "bassline-store.json"
    marker.write_text(json.dumps({"format": "bassline-fs", "version": 99}))
    error = await _open_error(f"file://{store_dir}")
    assert error.code is ErrorCode.UNSUPPORTED and "version 99" in error.message
    marker.write_text(json.dumps({"format": "something-else"}))
    error = await _open_error(f"file://{store_dir}")
    assert error.code is ErrorCode.INVALID and "not a Bassline filesystem store" in error.message
    marker.write_text("{not json")
    error = await _open_error(f"file://{store_dir}")
    assert error.code is ErrorCode.CORRUPTION


@pytest.mark.parametrize("version", ["1", None, True, 0, -3])
async def test_a_marker_whose_version_is_no_version_is_damage(
    store_dir: Path, version: object
) -> None:
    """Only a newer version asks for a newer package: a marker saying ``"1"`` (or none)
    was reported as "format version '1'; this bassline-storage-fs reads version 1
    (upgrade the package to open it)", which no upgrade mends."""
    async with open_storage(f"file://{store_dir}"):
        pass
    marker = store_dir / "bassline-store.json"
    marker.write_text(json.dumps({"format": "bassline-fs", "version": version}))
    error = await _open_error(f"file://{store_dir}")
    assert error.code is ErrorCode.CORRUPTION, error
    assert f"store marker {marker} has no valid version ({version!r}" in error.message
    assert "upgrade" not in error.message


async def test_a_file_or_a_missing_directory_without_create(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    error = await _open_error(f"file://{tmp_path / 'plain'}")
    assert error.code is ErrorCode.INVALID and "not a directory" in error.message
    error = await _open_error(f"file://{tmp_path / 'missing'}?create=false")
    assert error.code is ErrorCode.INVALID and "does not exist" in error.message
    assert not (tmp_path / "missing").exists()


async def test_a_place_where_no_directory_can_be_made_is_not_corruption() -> None:
    """``file:///proc/x``: making the directory fails (ENOENT, though /proc is one), and
    that was "corruption: cannot open store directory /proc/x", with the advice to run
    `bassline storage check`, when no store exists to be damaged."""
    error = await _open_error("file:///proc/bassline-no-store")
    # root may write to /proc but the kernel makes nothing there; anyone else may not
    assert error.code is (ErrorCode.INVALID if os.geteuid() == 0 else ErrorCode.PERMISSION)
    assert error.message.startswith("cannot create store directory /proc/bassline-no-store: ")
    if error.code is ErrorCode.INVALID:
        assert error.message.endswith(
            "No such file or directory (ENOENT): a store is a directory on an ordinary file "
            "system (not /proc or /sys)"
        )


async def test_a_symlink_that_leads_nowhere_is_refused_saying_so(tmp_path: Path) -> None:
    """A dangling link (or a loop) was "corruption: cannot open store directory ...: File
    exists (EEXIST)", with the advice to run `bassline storage check`."""
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for link, target in (("dangling", tmp_path / "nowhere"), ("a", tmp_path / "b")):
        error = await _open_error(f"file://{tmp_path / link}")
        assert error.code is ErrorCode.INVALID, error
        assert error.message == (
            f"store directory {tmp_path / link} is a symbolic link to {target}, which does "
            "not lead to a directory: check the path, or create the directory it names"
        )
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "nowhere").mkdir()  # a link to a directory is fine
    async with open_storage(f"file://{tmp_path / 'dangling'}") as storage:
        assert (await storage.list_networks()).unwrap() == []


def _fs(url: str) -> FileStorage:
    storage = open_storage(url)
    assert isinstance(storage, FileStorage)
    return storage


async def _copy_open_error(storage: NetworkStorage) -> Any:
    with pytest.raises(StorageOpenError) as caught:
        async with storage:
            pass
    return caught.value.error


async def test_a_refusal_quotes_only_the_options_the_user_wrote(tmp_path: Path) -> None:
    """A caller's existing-only or read-only copy (a CLI command that only reads) must not
    blame options the user never wrote; it says what the user can do instead."""
    url = f"file://{tmp_path / 'missing'}"
    message = (await _copy_open_error(_fs(url).existing_only())).message
    assert "create=false" not in message and "opened to use an existing store only" in message
    assert "check the path, or create the store by writing to it first" in message
    message = (await _copy_open_error(_fs(url).read_only())).message
    assert "read_only=true" not in message and "(opened read-only): check the path" in message
    message = (await _open_error(f"{url}?create=false")).message
    assert "(create=false): check the path, or leave out create=false" in message
    message = (await _copy_open_error(_fs(f"{url}?create=false").existing_only())).message
    assert "(create=false)" in message  # the user's own option is kept, and named
    (tmp_path / "foreign").mkdir()
    message = (await _copy_open_error(_fs(f"file://{tmp_path / 'foreign'}").read_only())).message
    assert "read_only=true" not in message and "not made one (opened read-only)" in message
    assert not (tmp_path / "missing").exists()


async def test_a_new_store_is_created_with_its_parents(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "er" / "store"
    async with open_storage(f"file://{root}") as storage:
        assert (await storage.health()).unwrap().ok
    marker = json.loads((root / "bassline-store.json").read_text())
    assert (marker["format"], marker["version"]) == ("bassline-fs", 1)
