"""A file store the user may not write can still be read: opened read-only.

Opening a store takes a ``flock`` on its lock file, which was opened for writing (and
created if missing), so even ``bassline storage check`` failed with "Permission denied"
on a store the user may only read. Opened read-only, the lock file is locked through a
read-only descriptor when it cannot be opened for writing. A command that opens the store
for writing (``export`` cuts a torn tail, as recovery must) says how to read it instead.
The tests run as root in CI, where permissions do not stop root: there the store's files
and directories are made immutable (``chattr +i``: even root may not write them, and
opening one for writing fails with EPERM instead of EACCES); when not root, the store is
made read-only with ``chmod``. (Running the commands as ``nobody`` instead needs every
module and every installed package's metadata readable by ``nobody``, which a checkout in
a private directory, as CI's is, is not.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bassline.runtime import StorageBackedRuntime
from bassline.spec import load_spec
from bassline.storage import open_storage
from tests.root_support import IS_ROOT, cannot_run

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
CALCULATOR = HERE.parents[1] / "examples" / "calculator.json"


@pytest.fixture
def anyio_backend() -> str:
    """Opening does not depend on the event loop."""
    return "asyncio"


@pytest.fixture
def store() -> Iterator[Path]:
    """A file store holding the calculator (input-a = 5), which the tests' user, or
    ``nobody`` when they run as root, may read but not write."""
    top = Path(tempfile.mkdtemp(prefix="bassline-fs-"))
    top.chmod(0o755)  # pytest's tmp_path is private to root
    path = top / "store"
    try:
        yield path
    finally:
        if IS_ROOT:
            subprocess.run(["chattr", "-R", "-i", str(top)], capture_output=True, check=False)
        for root, dirs, _files in os.walk(top):
            for name in [root, *(os.path.join(root, n) for n in dirs)]:
                os.chmod(name, 0o755)
        shutil.rmtree(top, ignore_errors=True)


async def _fill(path: Path) -> None:
    async with (
        open_storage(f"file://{path}") as storage,
        StorageBackedRuntime(load_spec(CALCULATOR), storage) as runtime,
    ):
        await runtime.update_contact("input-a", 5)
    _forbid_writing(path)


def _forbid_writing(path: Path) -> None:
    """Make the store at ``path`` unwritable for the tests' user."""
    if IS_ROOT:  # permissions do not stop root; immutable files and directories do
        done = subprocess.run(["chattr", "-R", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            cannot_run(f"cannot make the store immutable here (chattr +i): {done.stderr}")
        return
    for root, dirs, files in os.walk(path):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        for name in [root, *(os.path.join(root, n) for n in dirs)]:
            os.chmod(name, 0o555)


def _bassline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bassline", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"},
    )


def _listing(path: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*")
    }


async def test_commands_that_only_read_work_on_a_store_the_user_may_not_write(
    store: Path,
) -> None:
    await _fill(store)
    before = _listing(store)
    read_only = f"file://{store}?read_only=true"
    checked = _bassline("storage", "check", f"file://{store}")
    assert checked.returncode == 0, checked.stderr
    exported = _bassline("export", read_only, "calculator")
    assert exported.returncode == 0, exported.stderr
    values = {c["contact"]: c["value"] for c in json.loads(exported.stdout)["contents"]}
    assert values["result"] == 25
    listed = _bassline("snapshot", read_only, "calculator", "--list")
    assert listed.returncode == 0, listed.stderr
    # a runtime opens it too: restoring and settling writes nothing back
    ran = _bassline("run", str(CALCULATOR), "--storage", read_only)
    assert ran.returncode == 0, ran.stderr
    assert _listing(store) == before


async def test_opening_for_writing_says_how_to_read_instead(store: Path) -> None:
    await _fill(store)
    exported = _bassline("export", f"file://{store}", "calculator")
    assert exported.returncode == 1
    (line,) = exported.stderr.splitlines()
    assert line.startswith(f"error: opening storage in file://{store} failed: permission: ")
    # the user's own (not root): Permission denied; root's, on an immutable store: EPERM
    assert ("Operation not permitted" if IS_ROOT else "Permission denied") in line
    assert line.endswith(
        "opening it for writing needs write access to it; to read a store you may not "
        "write, use read_only=true in its URL"
    )
