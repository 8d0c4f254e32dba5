"""A third-party backend, installed as a plug-in would be, passes the conformance suite.

:mod:`jsonfiles_backend` (beside this file, outside the bassline packages) implements
only the narrow hooks of :class:`~bassline.storage.toolkit.StorageBackend`. Here it is
"installed" the way ``pip install`` would: a distribution's metadata with a
``bassline.storage`` entry point on ``sys.path``, which :func:`open_storage` finds by
scheme. Then the shipped suite runs on it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bassline.storage import StorageBackend, available_schemes, backends, open_storage
from bassline.testing.storage import (
    PersistentStorageConformance,
    StorageConformance,
    StorageFactory,
)

HERE = Path(__file__).parent

NARROW_INTERFACE = {
    "capabilities",
    "do_open",
    "do_write",
    "do_load_network",
    "do_list_networks",
    "do_delete_network",
    "do_load_contents",
    "do_save_snapshot",
    "do_load_snapshot",
    "do_list_snapshots",
    "do_delete_snapshot",
}
"""What the example implements: a property and ten hooks (``do_open`` is optional)."""


@pytest.fixture(scope="module", autouse=True)
def _installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Install ``bassline-jsonfiles`` into a fresh site directory: metadata and entry point."""
    site = tmp_path_factory.mktemp("site")
    dist = site / "bassline_jsonfiles-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: bassline-jsonfiles\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[bassline.storage]\njsonfiles = jsonfiles_backend:open_json_file_storage\n",
        encoding="utf-8",
    )
    sys.path[:0] = [str(site), str(HERE)]
    backends.refresh()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        sys.path.remove(str(HERE))
        backends.refresh()


def test_the_entry_point_makes_the_scheme_open() -> None:
    assert "jsonfiles" in available_schemes()
    storage = open_storage("jsonfiles:///nonexistent/store")
    assert type(storage).__module__ == "jsonfiles_backend"
    assert isinstance(storage, StorageBackend)


def test_the_backend_implements_only_the_narrow_interface() -> None:
    storage = open_storage("jsonfiles:///nonexistent/store")
    own = {name for name in vars(type(storage)) if not name.startswith("_")}
    assert own == NARROW_INTERFACE


class TestJsonFileBackend(StorageConformance, PersistentStorageConformance):
    """The third-party backend passes the whole suite, including the persistence checks."""

    @pytest.fixture
    def storage_factory(self, tmp_path: Path) -> StorageFactory:
        url = "jsonfiles://" + tmp_path.joinpath("store").as_uri().removeprefix("file://")
        return lambda: open_storage(url)
