"""``bassline init``: the scaffolded project validates, runs, and its tests pass as generated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import Cli, run_cli


def test_scaffold_runs_and_its_hypothesis_tests_pass(cli: Cli, tmp_path: Path) -> None:
    project = tmp_path / "My Project"
    made = cli("init", str(project), "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["network"] == "my-project"
    assert {Path(f).relative_to(project).as_posix() for f in created["files"]} == {
        "network.json",
        "README.md",
        "tests/test_network.py",
    }
    test_text = (project / "tests" / "test_network.py").read_text()
    assert "from bassline.testing import strategies as bst" in test_text
    assert "my-project" in (project / "README.md").read_text()

    assert cli("validate", str(project / "network.json")).returncode == 0
    ran = cli("run", str(project / "network.json"), "--set", "a=40", "--json")
    assert json.loads(ran.stdout)["contacts"]["total"] == 43

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout


def test_init_refuses_to_overwrite_without_force(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", str(tmp_path), "--name", "calc").returncode == 0
    (tmp_path / "README.md").write_text("mine")
    again = cli("init", str(tmp_path))
    assert again.returncode == 1
    assert "already exist" in again.stderr and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert (tmp_path / "README.md").read_text() == "mine"
    forced = cli("init", str(tmp_path), "--name", "calc", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "calc" in (tmp_path / "README.md").read_text()
    assert json.loads((tmp_path / "network.json").read_text())["id"] == "calc"


def test_init_rejects_a_bad_name_and_a_file_as_directory(cli: Cli, tmp_path: Path) -> None:
    bad = cli("init", str(tmp_path / "p"), "--name", 'no"quotes')
    assert bad.returncode == 1 and "--name" in bad.stderr
    assert not (tmp_path / "p").exists()
    # a name of good characters but too long said only which characters to use
    long = cli("init", str(tmp_path / "p"), "--name", "n" * 201)
    assert long.returncode == 1 and "at most 200 characters, not 201" in long.stderr
    assert cli("init", str(tmp_path / "p"), "--name", "n" * 200).returncode == 0
    a_file = tmp_path / "f"
    a_file.write_text("")
    clash = cli("init", str(a_file))
    assert clash.returncode == 1 and "not a directory" in clash.stderr
    assert "Traceback" not in bad.stderr + clash.stderr


def test_init_defaults_to_the_current_directory(cli: Cli, tmp_path: Path) -> None:
    made = run_cli("init", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "network.json").is_file()
    assert (tmp_path / "tests" / "test_network.py").is_file()


def test_init_says_how_to_get_what_the_tests_need(cli: Cli, tmp_path: Path) -> None:
    made = cli("init", str(tmp_path / "calc"))
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert lines[-2] == f"next: cd {tmp_path / 'calc'} && bassline run network.json --set a=40"
    assert lines[-1] == 'tests: pip install "bassline[testing]" && python -m pytest'
    # the scaffolded README says it too (the extra itself covers every import of the test:
    # tests/packaging/test_dependencies.py)
    assert 'pip install "bassline[testing]"' in (tmp_path / "calc" / "README.md").read_text()


def test_the_next_command_is_quoted_for_the_shell(cli: Cli, tmp_path: Path) -> None:
    """A directory with a space printed `next: cd /tmp/.../my net && ...`, which fails."""
    made = cli("init", str(tmp_path / "my net"))
    assert made.returncode == 0, made.stderr
    hint = made.stdout.splitlines()[-2]
    assert hint == f"next: cd '{tmp_path / 'my net'}' && bassline run network.json --set a=40"
    command = hint.removeprefix("next: ").replace("bassline run", "test -f")
    assert subprocess.run(["sh", "-c", command.split(" --set")[0]]).returncode == 0


def test_a_directory_that_cannot_be_looked_into_is_one_error_line(cli: Cli, tmp_path: Path) -> None:
    """Looking for existing files raised from ``Path.exists`` (Python 3.11 raises on any
    error but "not found": a directory without permission, a name too long) and was an
    internal error, exit status 70. A name too long fails the same way for root too."""
    directory = tmp_path / ("d" * 300)
    done = cli("init", str(directory))
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert done.stderr == f"error: cannot create the project in {directory}: File name too long\n"
    assert list(tmp_path.iterdir()) == []


def test_a_dir_that_is_a_symlink_loop_or_dangling_is_one_error_line(
    cli: Cli, tmp_path: Path
) -> None:
    """A symlink loop was an internal error (``Path.resolve`` raises RuntimeError), and a
    link to nowhere failed with "File exists"."""
    loop_a, loop_b, dangling = tmp_path / "a", tmp_path / "b", tmp_path / "d"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    dangling.symlink_to(tmp_path / "nowhere")
    for link, target in ((loop_a, loop_b), (dangling, tmp_path / "nowhere")):
        done = cli("init", str(link))
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        assert done.stderr == (
            f"error: {link} is a symbolic link to {target}, which does not lead to a "
            "directory; choose another DIR\n"
        )
    assert not (tmp_path / "nowhere").exists()
