"""scripts/mutation.py names real files: its module set follows the code as it moves."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scripts.mutation import MODULES, ROOT, checkout_path, main, missing


def test_every_mutated_module_and_its_tests_exist_in_the_checkout() -> None:
    """Each module file and test path the script names is in the checkout."""
    assert missing() == []
    for file, tests in MODULES.values():
        assert checkout_path(file).is_file(), file
        assert tests, file
        for test in tests:
            assert checkout_path(test).exists(), test


def test_list_shows_every_module_and_exits_cleanly() -> None:
    """``--list`` prints one line per module (name, file, tests) and succeeds."""
    shown = subprocess.run(
        [sys.executable, "scripts/mutation.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(MODULES)
    for line, (file, tests) in zip(lines, MODULES.values(), strict=True):
        assert line.split()[1:] == [file, *tests]


def test_a_moved_module_file_fails_list_and_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module file or test path missing from the checkout is named, and ``--list`` fails."""
    monkeypatch.setitem(MODULES, "moved", ("bassline/moved_away.py", ["tests/gone"]))
    assert missing() == ["bassline/moved_away.py", "tests/gone"]
    monkeypatch.setattr(sys, "argv", ["mutation.py", "--list"])
    assert main() == 1
    assert "not in the checkout" in capsys.readouterr().err
    assert checkout_path("bassline_storage_fs/frames.py") == (
        ROOT / "bassline-storage-fs" / "bassline_storage_fs" / "frames.py"
    )


def test_an_unknown_event_loop_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--backends`` takes asyncio, trio or both; anything else is named in the refusal."""
    monkeypatch.setattr(sys, "argv", ["mutation.py", "clock", "--backends", "asyncio,uvloop"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "--backends takes asyncio, trio or both, comma-separated; got 'asyncio,uvloop'" in (
        capsys.readouterr().err
    )
