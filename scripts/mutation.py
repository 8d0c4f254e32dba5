"""Mutation testing of the modules where a bug loses or corrupts data (mutmut 3).

Each module is mutated (an operator flipped, a constant changed, a call dropped, ...) one
mutant at a time, and the tests that reach the mutated function run against it; a mutant
the tests do not notice *survives*. docs/testing.md records the survivors per module.

    pip install "mutmut>=3.8,<4"                 # into the project's virtual environment
    python scripts/mutation.py --list            # the module set and the tests of each
    python scripts/mutation.py clock codec       # some modules
    python scripts/mutation.py                   # all of them (needs the whole machine)

The work happens in a scratch copy (``--workdir``, default a new temporary directory),
never in the checkout: the packages are laid side by side at its top (mutmut imports the
mutated copies from ``mutants/`` and names modules by their path, so
``bassline-storage-fs/bassline_storage_fs`` becomes ``bassline_storage_fs``). Running
again with the same ``--workdir`` continues where mutmut left off. At the end it prints,
per module, how many mutants were killed, survived, timed out or reached no test, the
surviving mutants' names (``mutmut show NAME`` in the work directory shows one), and the
time taken; ``summary.json`` in the work directory holds the same.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {  # top-level package in the scratch copy: where it lives in the checkout
    "bassline": ROOT / "bassline",
    "bassline_storage_memory": ROOT / "bassline-storage-memory" / "bassline_storage_memory",
    "bassline_storage_fs": ROOT / "bassline-storage-fs" / "bassline_storage_fs",
    "bassline_storage_postgres": ROOT / "bassline-storage-postgres" / "bassline_storage_postgres",
}
ALSO = ["tests", "examples", "docs", "README.md", "pyproject.toml"]

MODULES: dict[str, tuple[str, list[str]]] = {
    # name: (file in the scratch copy, the tests that check it)
    "engine": (
        "bassline/engine/propagation.py",
        ["tests/core", "tests/test_testing_strategies.py"],
    ),
    "engine-network": (
        "bassline/engine/network.py",
        ["tests/core", "tests/test_testing_strategies.py"],
    ),
    "lattices": ("bassline/lattices/builtin.py", ["tests/core"]),
    "lattice-values": ("bassline/lattices/values.py", ["tests/core"]),
    "clock": ("bassline/clock.py", ["tests/core", "tests/net/test_protocol.py"]),
    "codec": ("bassline/codec.py", ["tests/core", "tests/storage/test_memory.py"]),
    "storage-validation": ("bassline/storage/validation.py", ["tests/storage", "tests/fs"]),
    "fs-frames": ("bassline_storage_fs/frames.py", ["tests/fs"]),
    "fs-log": ("bassline_storage_fs/logfile.py", ["tests/fs"]),
    "fs-recovery": ("bassline_storage_fs/recovery.py", ["tests/fs"]),
    "runtime-queue": ("bassline/runtime/queue.py", ["tests/runtime"]),
    "runtime": ("bassline/runtime/runtime.py", ["tests/runtime"]),
    "runtime-breaker": ("bassline/runtime/breaker.py", ["tests/runtime"]),
    "gossip-peer": ("bassline/net/peer.py", ["tests/net"]),
    "gossip-protocol": ("bassline/net/protocol.py", ["tests/net"]),
}
OUTCOMES = ("killed", "survived", "timeout", "no tests", "suspicious", "skipped")
_RESULT = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


def _scratch(workdir: Path, chosen: list[str]) -> None:
    """Lay out the scratch copy and its mutmut configuration."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name, source in PACKAGES.items():
        target = workdir / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ALSO:
        source, target = ROOT / name, workdir / name
        if source.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    files = [MODULES[m][0] for m in chosen]
    tests = sorted({t for m in chosen for t in MODULES[m][1]})
    config = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {json.dumps(list(PACKAGES))}",
            f"only_mutate = {json.dumps(files)}",
            f"also_copy = {json.dumps(ALSO[:-1])}",
            f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]',
            "",
        ]
    )
    with (workdir / "pyproject.toml").open("a") as pyproject:
        pyproject.write(config)


def _summary(workdir: Path, chosen: list[str]) -> dict[str, dict[str, object]]:
    """Per module: counts of each outcome and the surviving mutants' names."""
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    out: dict[str, dict[str, object]] = {}
    for module in chosen:
        prefix = MODULES[module][0].removesuffix(".py").replace("/", ".") + "."
        counts: Counter[str] = Counter()
        survivors = []
        for line in shown.splitlines():
            match = _RESULT.match(line)
            if match is None or not match["name"].startswith(prefix):
                continue
            counts[match["status"]] += 1
            if match["status"] == "survived":
                survivors.append(match["name"])
        total = sum(counts.values())
        out[module] = {
            "mutants": total,
            **{k: counts[k] for k in OUTCOMES if counts[k]},
            **{k: v for k, v in counts.items() if k not in OUTCOMES},
            "survival": round(counts["survived"] / total, 3) if total else None,
            "survivors": survivors,
        }
    return out


def main() -> int:
    """Run mutmut on the chosen modules and print what survived."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"default: all ({', '.join(MODULES)})")
    parser.add_argument("--list", action="store_true", help="show the modules and their tests")
    parser.add_argument("--workdir", type=Path, help="scratch directory (kept; reused if given)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.list:
        for name, (path, tests) in MODULES.items():
            print(f"{name:20} {path:40} {' '.join(tests)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; choose from: {', '.join(MODULES)}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mutmut")
    except PackageNotFoundError:
        found = ""
    if not found.startswith("3."):
        print(
            f"needs mutmut 3 (found {found or 'none'}): pip install 'mutmut>=3.8,<4'",
            file=sys.stderr,
        )
        return 2
    chosen = args.modules or list(MODULES)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bassline-mutation-"))
    _scratch(workdir, chosen)
    print(f"mutating {', '.join(chosen)} in {workdir} (mutmut {found})", flush=True)
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if run.returncode != 0:
        print(run.stderr[-4000:], file=sys.stderr)
        print(f"mutmut run failed (exit {run.returncode})", file=sys.stderr)
        return 1
    summary = _summary(workdir, chosen)
    (workdir / "summary.json").write_text(
        json.dumps({"seconds": round(seconds), "modules": summary}, indent=2) + "\n"
    )
    for module, result in summary.items():
        counts = ", ".join(f"{k} {v}" for k, v in result.items() if k not in ("survivors",))
        print(f"{module}: {counts}")
        for name in result["survivors"]:  # type: ignore[attr-defined]
            print(f"    survived: {name}")
    print(f"{round(seconds)} s; details: cd {workdir} && mutmut show NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
