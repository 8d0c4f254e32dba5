"""What the built wheels and sdists carry: license, classifiers, files, extras.

Each distribution is built with hatchling, as ``pip wheel`` and ``python -m build`` would,
and the archives themselves are read.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from scripts.distributions import ROOT, Distribution, all_distributions
from scripts.floor_constraints import NoFloor, constraints, floor_of, floors

DISTRIBUTIONS = all_distributions()
LICENSE = (ROOT / "LICENSE").read_text()


def build(dist: Distribution, target: str, out: Path) -> Path:
    """Build ``dist`` as a ``wheel`` or ``sdist`` into ``out``; the archive's path."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", target, "-d", str(out)],
        cwd=dist.folder,
        check=True,
        capture_output=True,
    )
    (archive,) = out.glob("*.whl" if target == "wheel" else "*.tar.gz")
    return archive


@pytest.fixture(scope="module", params=DISTRIBUTIONS, ids=lambda d: d.name)
def wheel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(request.param, "wheel", tmp_path_factory.mktemp("wheel"))


def wheel_metadata(wheel: Path) -> tuple[Message, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(metadata).decode()), names


def test_every_wheel_carries_the_mit_license_and_its_classifiers(wheel: Path) -> None:
    metadata, names = wheel_metadata(wheel)
    assert metadata["License-Expression"] == "MIT"
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(license_file).decode() == LICENSE
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Typing :: Typed" in classifiers
    assert metadata["Requires-Python"] == ">=3.11"
    assert any(n.endswith("/py.typed") for n in names)  # Typing :: Typed is true


def test_each_backend_folder_has_the_same_license() -> None:
    for dist in DISTRIBUTIONS:
        assert (dist.folder / "LICENSE").read_text() == LICENSE, dist.name


def test_the_core_sdist_holds_the_core_only(tmp_path: Path) -> None:
    sdist = build(DISTRIBUTIONS[0], "sdist", tmp_path)
    with tarfile.open(sdist) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
    top = {n.split("/")[0] for n in names}
    assert top == {"bassline", "LICENSE", "README.md", "pyproject.toml", "PKG-INFO", ".gitignore"}
    assert "bassline/cli/templates/test_network.py.tmpl" in names
    assert not [n for n in names if "storage-" in n or "storage_" in n.split("/")[0]]


def test_the_postgres_sdist_has_its_migrations(tmp_path: Path) -> None:
    postgres = next(d for d in DISTRIBUTIONS if d.name == "bassline-storage-postgres")
    with tarfile.open(build(postgres, "sdist", tmp_path)) as archive:
        names = archive.getnames()
    prefix = "bassline_storage_postgres-0.3.0/"
    assert prefix + "LICENSE" in names
    assert prefix + "bassline_storage_postgres/migrations/env.py" in names


def test_postgres_offers_psycopg_binary_as_an_extra(tmp_path: Path) -> None:
    postgres = next(d for d in DISTRIBUTIONS if d.name == "bassline-storage-postgres")
    metadata, _ = wheel_metadata(build(postgres, "wheel", tmp_path))
    requires = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    plain = [r for r in requires if r.name == "psycopg" and r.marker is None]
    assert len(plain) == 1 and not plain[0].extras  # the libpq build: no binary forced
    binary = [r for r in requires if r.name == "psycopg" and r.marker is not None]
    assert binary and binary[0].extras == {"binary"}
    assert "binary" in (metadata.get_all("Provides-Extra") or [])


def test_the_core_offers_trio_and_testing_extras(tmp_path: Path) -> None:
    metadata, _ = wheel_metadata(build(DISTRIBUTIONS[0], "wheel", tmp_path))
    assert {"testing", "trio"} <= set(metadata.get_all("Provides-Extra") or [])
    requires = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    assert "bassline-storage-memory" in {r.name for r in requires if r.marker is None}


def test_every_requirement_has_a_floor_and_the_constraints_pin_them() -> None:
    text = constraints(DISTRIBUTIONS)
    pins = dict(line.split("==") for line in text.splitlines()[1:])
    assert pins == {name: str(version) for name, version in floors(DISTRIBUTIONS).items()}
    assert "typer" in pins and "bassline" not in pins and "bassline-storage-memory" not in pins
    # the highest floor wins when distributions disagree; a missing floor is an error
    assert str(floor_of(Requirement("anyio>=4.4,>=4.13"))) == "4.13"
    with pytest.raises(NoFloor, match="no lower bound"):
        floor_of(Requirement("anyio"))
