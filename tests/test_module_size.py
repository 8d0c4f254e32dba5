"""No module of ``bassline`` or the storage backends runs much over 500 lines.

Issue 14's goal: one job per module, none over ~500 lines (tests aside). A module that
grows past :data:`MAX_LINES` is a sign it holds two jobs: split it rather than raise the
limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MAX_LINES = 550
"""About 500, with room for a module near it to take a small change."""


def too_long(package_dirs: Iterable[Path], limit: int = MAX_LINES) -> dict[str, int]:
    """Each ``.py`` file under the directories with more than ``limit`` lines, by path."""
    found: dict[str, int] = {}
    for package_dir in package_dirs:
        for path in sorted(package_dir.rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found[path.relative_to(package_dir.parent).as_posix()] = lines
    return found


def _packages() -> list[Path]:
    return [ROOT / "bassline", *sorted(ROOT.glob("bassline-storage-*/bassline_storage_*"))]


def test_no_module_runs_much_over_500_lines() -> None:
    packages = _packages()
    assert len(packages) == 4
    assert too_long(packages) == {}


def test_the_check_sees_a_long_module_anywhere_below_a_package(tmp_path: Path) -> None:
    package = tmp_path / "bassline_storage_x"
    (package / "inner").mkdir(parents=True)
    (package / "short.py").write_text("x = 1\n" * MAX_LINES, encoding="utf-8")
    (package / "inner" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
    assert too_long([package]) == {"bassline_storage_x/inner/long.py": MAX_LINES + 1}
