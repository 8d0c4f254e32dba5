"""Mutation testing of the modules where a bug loses or corrupts data (mutmut 3).

Each module is mutated (an operator flipped, a constant changed, a call dropped, ...) one
mutant at a time, and the tests that reach the mutated function run against it; a mutant
the tests do not notice *survives*. docs/testing.md records the survivors per module.

    pip install "mutmut>=3.8,<4"                 # into the project's virtual environment
    python scripts/mutation.py --list            # the module set and the tests of each
    python scripts/mutation.py clock codec       # some modules
    python scripts/mutation.py                   # all of them, one after another
    python scripts/mutation.py runtime --workdir W --mutants '*ǁ__init__*'   # those first

Each module runs on its own, against only its tests, in a scratch copy of its own
(``--workdir``/MODULE; ``--workdir`` defaults to a new temporary directory), never in the
checkout: the packages are laid side by side at its top (mutmut imports the mutated
copies from ``mutants/`` and names modules by their path, so
``bassline-storage-fs/bassline_storage_fs`` becomes ``bassline_storage_fs``). Running
again with the same ``--workdir`` continues where mutmut left off. As each module
finishes it prints how many mutants were killed, survived, timed out or reached no test;
the survival rate (mutants that survived or reached no test, of all); their names
(``mutmut show NAME`` in the module's directory shows one); and the seconds taken.
``summary.json`` in the work directory holds the same, and each module's ``mutmut.log``
mutmut's own output. Property tests run with the ``dev`` Hypothesis profile (50
examples) unless ``--hypothesis-profile`` says otherwise, and async tests on asyncio only
unless ``--backends asyncio,trio`` says otherwise.
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
    # name: (file in the scratch copy, the tests that check it: the module's own tests and
    # the fast ones that exercise it, not the slow end-to-end ones, so that every module
    # fits in minutes; a mutant is run against the selected tests that reach its function)
    "engine": (  # the offer/merge path: a value offered to a contact, merged, propagated
        "bassline/engine/propagation.py",
        [
            "tests/core/test_engine.py",
            "tests/core/test_engine_records.py",
            "tests/core/test_constraints.py",
            "tests/core/test_parts.py",
            "tests/core/test_provenance.py",  # the justification each offer leaves
        ],
    ),
    "engine-checks": (  # which content and stamps the engine accepts, and equal-stamp ties
        "bassline/engine/checks.py",
        [
            "tests/core/test_engine_checks.py",
            "tests/core/test_engine.py",
            "tests/core/test_engine_records.py",
            "tests/core/test_absent.py",
            "tests/core/test_constraints.py",
        ],
    ),
    "engine-network": (  # the public verbs: apply, update, submit/flush, restore
        "bassline/engine/network.py",
        [
            "tests/core/test_engine_verbs.py",
            "tests/core/test_engine_checks.py",
            "tests/core/test_engine.py",
            "tests/core/test_engine_records.py",
            "tests/core/test_provenance.py",
            "tests/core/test_run_groups.py",
            "tests/test_testing_strategies.py",
        ],
    ),
    "lattices": (
        "bassline/lattices/builtin.py",
        ["tests/core/test_lattices.py", "tests/core/test_lattice_messages.py"],
    ),
    "lattice-values": (
        "bassline/lattices/values.py",
        [
            "tests/core/test_lattice_values.py",
            "tests/core/test_lattices.py",
            "tests/core/test_codec.py",
        ],
    ),
    "clock": (
        "bassline/clock.py",
        ["tests/core/test_clock.py", "tests/core/test_codec.py", "tests/net/test_protocol.py"],
    ),
    "codec": (
        "bassline/codec.py",
        ["tests/core/test_codec.py", "tests/core/test_codec_details.py"],
    ),
    "storage-validation": (
        "bassline/storage/validation.py",
        [
            "tests/storage/test_validation.py",
            "tests/storage/test_fastpath.py",
            "tests/storage/test_memory.py",
        ],
    ),
    "fs-frames": (
        "bassline_storage_fs/frames.py",
        ["tests/fs/test_fs_frames.py", "tests/fs/test_fs_frame_errors.py"],
    ),
    "fs-log": (
        "bassline_storage_fs/logfile.py",
        [
            "tests/fs/test_fs_log_scan.py",
            "tests/fs/test_fs_log_format.py",
            "tests/fs/test_fs_recovery.py",
            "tests/fs/test_fs_repair.py",
            "tests/fs/test_fs_persistence.py",
            "tests/fs/test_fs_io_errors.py",
        ],
    ),
    "fs-recovery": (
        "bassline_storage_fs/recovery.py",
        ["tests/fs/test_fs_log_scan.py", "tests/fs/test_fs_recovery.py"],
    ),
    "runtime-queue": (
        "bassline/runtime/queue.py",
        ["tests/runtime/test_breaker_and_queue.py", "tests/runtime/test_runtime.py"],
    ),
    "runtime": (  # the write path: admission, durable waits, flush, health
        "bassline/runtime/runtime.py",
        [
            "tests/runtime/test_runtime_defaults.py",
            "tests/postgres/test_ownership.py",  # which groups run, claimed or fixed
            "tests/runtime/test_runtime_feed_memory.py",  # following the store's change feed
            "tests/runtime/test_runtime.py",
            "tests/runtime/test_runtime_outages.py",
            "tests/runtime/test_runtime_yields.py",
            "tests/runtime/test_runtime_reports.py",
            "tests/runtime/test_runtime_recovery.py",
            "tests/runtime/test_runtime_explain.py",  # writes labelled by how they came in
            "tests/runtime/test_runtime_provenance.py",  # the justification stored with a write
            "tests/runtime/test_runtime_claims.py",  # a failed claim round in health
            "tests/runtime/test_metrics.py",
        ],
    ),
    "runtime-sharing": (  # the change feed followed, turns taken on gadget groups
        "bassline/runtime/sharing.py",
        [
            "tests/runtime/test_runtime_claims.py",
            "tests/runtime/test_runtime_feed_memory.py",
            "tests/runtime/test_runtime_defaults.py",
            "tests/postgres/test_ownership.py",
            "tests/postgres/test_runtime_feed.py",
        ],
    ),
    "runtime-flusher": (  # batches written, retried, requeued or dropped; the breaker fed
        "bassline/runtime/flusher.py",
        [
            "tests/runtime/test_runtime.py",
            "tests/runtime/test_runtime_outages.py",
            "tests/runtime/test_runtime_reports.py",
            "tests/runtime/test_breaker_and_queue.py",
            "tests/runtime/test_runtime_feed_memory.py",  # its own writes not read back
        ],
    ),
    "runtime-recovery": (  # opening on storage: spec check, contents restored, diff queued
        "bassline/runtime/recovery.py",
        [
            "tests/runtime/test_runtime.py",
            "tests/runtime/test_runtime_recovery.py",
            "tests/runtime/test_runtime_outages.py",
            "tests/runtime/test_runtime_provenance.py",  # what recovery queues keeps its why
        ],
    ),
    "runtime-breaker": (
        "bassline/runtime/breaker.py",
        ["tests/runtime/test_breaker_and_queue.py"],
    ),
    "gossip-peer": (  # one link: digests, rewinds, pushing deltas, how a link ends
        "bassline/net/peer.py",
        [
            "tests/net/test_cluster.py",
            "tests/net/test_reports.py",
            "tests/net/test_convergence_regressions.py",
            "tests/net/test_storage_failures.py",
            "tests/net/test_delta_cursor.py",
            "tests/net/test_goodbye.py",
            "tests/net/test_after_handshake.py",
            "tests/net/test_peer_info.py",
            "tests/net/test_session_ends.py",  # frame counters, a stop's deadline, close frames
            "tests/postgres/test_feed_gossip.py",  # the peer's store, from its hello
            "tests/net/test_lazy_push.py",  # prune, announce, graft (protocol v3)
            "tests/net/test_lazy_push_frames.py",  # the prune's cut, grafts waiting, labels
        ],
    ),
    "gossip-replicator": (  # change log marks, cursors, deltas built and applied, digests
        "bassline/net/replicator.py",
        [
            "tests/net/test_cluster.py",
            "tests/net/test_reports.py",
            "tests/net/test_convergence_regressions.py",
            "tests/net/test_storage_failures.py",
            "tests/net/test_delta_cursor.py",
            "tests/net/test_node_verbs.py",  # the size check on a local write
            "tests/net/test_after_handshake.py",  # a delta naming an unknown contact
            "tests/net/test_digest_cache.py",  # the digest after local, applied, merge changes
            "tests/net/test_wire_provenance.py",  # justifications carried with the values
            "tests/net/test_wire_provenance_hostile.py",  # and refused when they are bad
            "tests/postgres/test_feed_gossip.py",  # what a store's feed brought, not gossiped
            "tests/net/test_lazy_push.py",  # held copies dropped, origins pruned, announced
            "tests/net/test_lazy_push_frames.py",  # deltas and graft replies halved, stale copies
        ],
    ),
    "gossip-digest": (  # the sum of line hashes, kept up to date from the change log
        "bassline/net/content_digest.py",
        ["tests/net/test_digest_cache.py"],
    ),
    "gossip-protocol": (
        "bassline/net/protocol.py",
        [
            "tests/net/test_protocol.py",
            "tests/net/test_protocol_messages.py",
            "tests/net/test_lazy_push_messages.py",  # have, prune and graft
        ],
    ),
}
SKIP = [
    "test_mypy_narrows",  # type-checks the code, and mutmut's copy carries unused ignores
    "test_deprecation_warnings_point_at_the_caller",  # mutmut's trampoline adds a frame
]
DESELECT: dict[str, list[str]] = {
    # per module, tests (pytest -k words) left out of its set: every test of a set that
    # reaches ``__init__`` runs against each of its mutants, so a slow one costs its
    # seconds hundreds of times over
    # the runtime's modules call anyio only, the same on both backends: asyncio suffices
    "runtime-flusher": ["trio"],
    "runtime-recovery": ["trio"],
    "runtime-sharing": ["trio", "test_kill_9_of_the_owning_process_hands_its_groups_to_another"],
    "runtime": [
        "trio",
        # the claim hand-over after a lost session or a killed process (3 s and 2 s):
        # sharing.py and ownership.py; the fast ownership tests reach runtime.py's part
        "test_a_terminated_claim_session_hands_the_groups_over_with_catch_up",
        "test_kill_9_of_the_owning_process_hands_its_groups_to_another",
    ],
}
OUTCOMES = ("killed", "survived", "timeout", "no tests", "suspicious", "skipped")
_RESULT = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


def checkout_path(scratch: str) -> Path:
    """Where a path of the scratch copy (a module file or a test path) lives in the checkout."""
    top, _, rest = scratch.partition("/")
    return PACKAGES[top] / rest if top in PACKAGES else ROOT / scratch


def missing() -> list[str]:
    """The module files and test paths in :data:`MODULES` that the checkout lacks."""
    paths = [p for file, tests in MODULES.values() for p in (file, *tests)]
    return [p for p in dict.fromkeys(paths) if not checkout_path(p).exists()]


def _scratch(workdir: Path, chosen: list[str], timeout_multiplier: float = 4.0) -> None:
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
    skip = [*SKIP, *(t for m in chosen for t in DESELECT.get(m, []))]
    config = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {json.dumps(list(PACKAGES))}",
            f"only_mutate = {json.dumps(files)}",
            f"also_copy = {json.dumps(ALSO[:-1])}",
            f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
            f"timeout_multiplier = {timeout_multiplier}",
            "pytest_add_cli_args = "
            + json.dumps(
                ["-p", "no:cacheprovider", "-q", "-k", " and ".join(f"not {t}" for t in skip)]
            ),
            "",
        ]
    )
    with (workdir / "pyproject.toml").open("a") as pyproject:
        pyproject.write(config)
    with (workdir / "tests" / "conftest.py").open("a") as conftest:
        # mutmut's trampoline adds frames to every call of a mutated function, so the
        # codec's 254-level nesting tests need more room than Python's default 1,000
        conftest.write("\n\nimport sys\n\nsys.setrecursionlimit(10_000)\n")


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
            if match["status"] in ("survived", "no tests"):  # no test noticed either
                survivors.append(match["name"])
        total = sum(counts.values())
        out[module] = {
            "mutants": total,
            **{k: counts[k] for k in OUTCOMES if counts[k]},
            **{k: v for k, v in counts.items() if k not in OUTCOMES},
            "survival": round(len(survivors) / total, 3) if total else None,
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
    parser.add_argument(
        "--mutants",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="run only the mutants whose names match (mutmut's names, e.g. "
        "'*xǁRuntimeǁ__init__*'); with the same --workdir a later run does the rest",
    )
    parser.add_argument(
        "--backends",
        default="asyncio",
        help="event loops the async tests run on (asyncio, trio or both, comma-separated; "
        "default asyncio: the code under test is the same on both, and one halves the time)",
    )
    parser.add_argument(
        "--timeout-multiplier",
        type=float,
        default=4.0,
        help="a mutant's tests are stopped as timed out (killed) after this many times "
        "their clean run's seconds, plus one (default 4; mutmut's own is 15, and a mutant "
        "that spins, a loop that never awaits, then held a worker for half an hour at "
        "nice 10 on a loaded machine)",
    )
    parser.add_argument(
        "--hypothesis-profile",
        default="dev",
        help="examples per property test (tests/conftest.py: dev 50, ci 100; default dev)",
    )
    args = parser.parse_args()
    gone = missing()
    if args.list:
        for name, (path, tests) in MODULES.items():
            print(f"{name:20} {path:40} {' '.join(tests)}")
    if gone:
        print(f"not in the checkout (update MODULES): {', '.join(gone)}", file=sys.stderr)
        return 1
    if args.list:
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; choose from: {', '.join(MODULES)}")
    if not set(args.backends.split(",")) <= {"asyncio", "trio"}:
        parser.error(
            f"--backends takes asyncio, trio or both, comma-separated; got {args.backends!r}"
        )
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
    print(f"mutating {', '.join(chosen)} in {workdir} (mutmut {found})", flush=True)
    env = {
        **os.environ,
        "BASSLINE_HYPOTHESIS_PROFILE": args.hypothesis_profile,
        "BASSLINE_TEST_BACKENDS": args.backends,
    }
    summary: dict[str, dict[str, object]] = {}
    failed = False
    for module in chosen:  # one run each, so each runs only its own tests
        where = workdir / module
        _scratch(where, [module], args.timeout_multiplier)
        started = time.monotonic()
        log = where / "mutmut.log"
        with log.open("w") as out:
            run = subprocess.run(
                [
                    *(sys.executable, "-m", "mutmut", "run"),
                    *("--max-children", str(args.max_children), *args.mutants),
                ],
                cwd=where,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        seconds = round(time.monotonic() - started)
        if run.returncode != 0:
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            print(
                f"{module}: mutmut run failed (exit {run.returncode}); see {log}", file=sys.stderr
            )
            failed = True
            continue
        result = {**_summary(where, [module])[module], "seconds": seconds}
        summary[module] = result
        counts = ", ".join(f"{k} {v}" for k, v in result.items() if k != "survivors")
        print(f"{module}: {counts}", flush=True)
        for name in result["survivors"]:  # type: ignore[attr-defined]
            print(f"    not killed: {name}", flush=True)
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"details: cd {workdir}/MODULE && mutmut show NAME")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
