"""A/B of two checkouts: the engine, storage, runtime and network benchmarks, alternated.

Run: python bench/ab_architecture.py --old /path/to/old/worktree [--rounds 5] [--quick]
     [--benches engine,storage,runtime,network] [--json results.json]

Both sides run *these* bench files (the ones beside this script), each with its own
checkout's interpreter: ``OLD/.venv/bin/python`` and, for the new side, ``--new``'s
(default: the interpreter running this script). A bench file must therefore work against
both versions of the code (bench_engine.py picks the update verb the code has).

Each round runs every bench once per side, the two sides back to back, the side that goes
first alternating from round to round. The table gives, per measure, the median and the
range (min .. max) over the rounds for each side, the after/before ratio of the medians,
and whether the two ranges overlap ("within noise": run-to-run variation covers the
difference) or lie apart. The default sizes take about 4 minutes a round on a quiet
2-core machine, so 5 rounds take about 20 minutes; ``--quick`` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# (bench file, arguments, arguments with --quick)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "engine": (
        "bench_engine.py",
        ["--repeat", "5", "--memory-contacts", "100000"],
        ["--quick", "--repeat", "1", "--memory-contacts", "10000"],
    ),
    "storage": ("bench_storage.py", ["--repeat", "5"], ["--contacts", "10000", "--repeat", "1"]),
    "runtime": (
        "bench_runtime.py",
        ["--backends", "memory,fs", "--updates", "20000"],
        ["--backends", "memory", "--updates", "2000"],
    ),
    "network": (
        "bench_network.py",
        ["--quick", "--only", "procs-10-distinct,inproc-25"],
        ["--quick", "--only", "inproc-25"],
    ),
}

_NUM = r"([\d,]+(?:\.\d+)?)"


def _num(text: str) -> float:
    return float(text.replace(",", ""))


@dataclass(frozen=True)
class Pattern:
    """A line of a bench's output and the measures it yields (name template, group)."""

    regex: re.Pattern[str]
    measures: tuple[tuple[str, int, str], ...]
    """(name, group number, unit); ``{1}``-style fields in the name take a group's text."""


def _p(regex: str, *measures: tuple[str, int, str]) -> Pattern:
    return Pattern(re.compile(regex), measures)


PATTERNS: dict[str, list[Pattern]] = {
    "engine": [
        _p(
            r"^\((a'?|b|c|d)\) .*?engine\s+" + _NUM + r" steps/s.*ratio " + _NUM,
            ("engine ({1})", 2, "steps/s"),
            ("engine ({1}) ratio to bare loop", 3, "x"),
        ),
        _p(
            r"^peak traced memory .*: " + _NUM + " bytes/contact", ("engine memory", 1, "B/contact")
        ),
    ],
    "storage": [
        _p(r"^(memory|fs)\s+(write|load|open)\s+" + _NUM + "/s", ("storage {1} {2}", 3, "/s")),
        _p(r"^fs/bare write ratio " + _NUM, ("storage fs/bare write ratio", 1, "x")),
    ],
    "runtime": [
        _p(
            r"^\[(\w+)\] raw storage\.write.*: " + _NUM + " records/s",
            ("runtime {1} raw write", 2, "/s"),
        ),
        _p(
            r"^\[(\w+)\] (durable, 1 writer|durable, 100 writers|buffered, 1 writer):\s+"
            + _NUM
            + r" updates/s\s+ratio "
            + _NUM
            + r"(?:\s+p50 "
            + _NUM
            + " ms)?",
            ("runtime {1} {2}", 3, "/s"),
            ("runtime {1} {2} p50", 5, "ms"),
        ),
    ],
    "network": [
        _p(
            r"^(\S+)\s+(?:processes|in-process)\s+nodes=.*?e2e="
            + _NUM
            + r" upd/s .*?wire/upd="
            + _NUM
            + r" B.*?mem/node="
            + _NUM
            + " MiB",
            ("network {1} e2e", 2, "/s"),
            ("network {1} wire/update", 3, "B"),
            ("network {1} mem/node", 4, "MiB"),
        ),
    ],
}


def parse(bench: str, output: str) -> dict[str, tuple[float, str]]:
    """The measures in one run's output: name -> (value, unit). A measure whose group did
    not match (a p50 on a line without one) is left out."""
    found: dict[str, tuple[float, str]] = {}
    for line in output.splitlines():
        for pattern in PATTERNS[bench]:
            match = pattern.regex.search(line)
            if not match:
                continue
            for name, group, unit in pattern.measures:
                if match.group(group) is None:
                    continue
                label = name.format(match.group(0), *match.groups())
                found[label] = (_num(match.group(group)), unit)
    return found


@dataclass
class Series:
    """One measure's values per side, in round order."""

    unit: str
    before: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


def _summary(values: list[float]) -> str:
    return f"{_fmt(statistics.median(values))} ({_fmt(min(values))} .. {_fmt(max(values))})"


def overlap(before: list[float], after: list[float]) -> bool:
    """Whether the run-to-run ranges of the two sides overlap."""
    return min(after) <= max(before) and min(before) <= max(after)


def table(series: dict[str, Series]) -> Iterator[str]:
    """Markdown rows: measure, before, after (median and range), ratio, noise verdict."""
    yield "| measure | before: median (range) | after: median (range) | after/before | ranges |"
    yield "|---|---|---|---|---|"
    for name, s in series.items():
        if not s.before or not s.after:
            yield f"| {name} ({s.unit}) | {len(s.before)} runs | {len(s.after)} runs | - | missing |"
            continue
        ratio = statistics.median(s.after) / statistics.median(s.before)
        verdict = "overlap" if overlap(s.before, s.after) else "apart"
        yield (
            f"| {name} ({s.unit}) | {_summary(s.before)} | {_summary(s.after)} | "
            f"{ratio:.2f} | {verdict} |"
        )


def git_head(tree: Path) -> str:
    """The commit a checkout is at (short hash), or '?' outside git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return out.stdout.strip()


def run_bench(python: str, bench: str, quick: bool, log: Callable[[str], None]) -> str:
    """One run of a bench file under ``python``; its stdout. Raises on a failed run."""
    script, args, quick_args = BENCHES[bench]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory(prefix="ab-") as cwd:  # nothing found in the cwd
        done = subprocess.run(
            [python, str(BENCH / script), *(quick_args if quick else args)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        log(done.stdout[-2000:] + done.stderr[-4000:])
        raise SystemExit(f"{script} failed under {python} (exit {done.returncode})")
    return done.stdout


def main(argv: list[str] | None = None) -> None:
    """Run the A/B and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the old checkout (with .venv)")
    parser.add_argument(
        "--new", type=Path, default=BENCH.parent, help="the new checkout (default: this one)"
    )
    parser.add_argument("--old-python", default=None, help="default: OLD/.venv/bin/python")
    parser.add_argument("--new-python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--benches", default=",".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write every value here")
    args = parser.parse_args(argv)
    benches = [b.strip() for b in args.benches.split(",") if b.strip()]
    unknown = sorted(set(benches) - set(BENCHES))
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)} (choose from {', '.join(BENCHES)})")
    old_python = args.old_python or str(args.old / ".venv" / "bin" / "python")
    if not Path(old_python).exists():
        parser.error(f"no interpreter at {old_python} (make a venv in the old checkout)")
    sides = {"before": old_python, "after": args.new_python}

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    start = time.monotonic()
    load_start = os.getloadavg()
    series: dict[str, Series] = {}
    raw: list[dict[str, object]] = []
    for r in range(args.rounds):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for bench in benches:
            for side in order:
                t0 = time.monotonic()
                output = run_bench(sides[side], bench, args.quick, log)
                measures = parse(bench, output)
                if not measures:
                    log(output)
                    raise SystemExit(f"no measure found in the output of {bench} ({side})")
                for name, (value, unit) in measures.items():
                    getattr(series.setdefault(name, Series(unit)), side).append(value)
                raw.append(
                    {
                        "round": r + 1,
                        "bench": bench,
                        "side": side,
                        "measures": measures,
                        "output": output,
                    }
                )
                log(
                    f"round {r + 1}/{args.rounds} {bench:<8} {side:<6} "
                    f"{time.monotonic() - t0:5.1f} s, load {os.getloadavg()[0]:.2f}"
                )
    load_end = os.getloadavg()
    minutes = (time.monotonic() - start) / 60
    print(
        f"before: {args.old} at {git_head(args.old)} ({old_python}); "
        f"after: {args.new} at {git_head(args.new)} ({args.new_python})"
    )
    print(
        f"{args.rounds} rounds of {', '.join(benches)}{' (quick)' if args.quick else ''}, "
        f"sides alternating, {minutes:.1f} min; load average "
        f"{' '.join(f'{x:.2f}' for x in load_start)} at the start, "
        f"{' '.join(f'{x:.2f}' for x in load_end)} at the end"
    )
    for bench in benches:
        script, bench_args, quick_args = BENCHES[bench]
        print(
            f"  {bench}: python bench/{script} {' '.join(quick_args if args.quick else bench_args)}"
        )
    print()
    for row in table(series):
        print(row)
    if args.json:
        args.json.write_text(json.dumps({"rounds": raw, "load": [load_start, load_end]}, indent=1))


if __name__ == "__main__":
    main()
