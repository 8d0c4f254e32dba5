"""Run ``python -m bassline ...`` under cProfile on process time, for bench_network.py.

Usage (bench_network.py runs it so when ``BENCH_PROFILE_DIR`` is set and
``BENCH_PROFILE_WRAPPER`` names this file)::

    python bench/profile_node.py OUT.prof start SPEC ...

The profiler is switched on by SIGUSR1 (bench_network.py sends it to every node as its
writes start, so start-up is not counted; without the signal nothing is profiled) and the
statistics are written to ``OUT.prof`` when the node exits. Process time, not wall time:
with ten nodes on two cores a wall-clock profile charges a node for the time it waited
for a core. Read the files with ``pstats.Stats(*paths)``.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time
from types import FrameType


def main() -> None:
    out = sys.argv[1]
    sys.argv = ["bassline", *sys.argv[2:]]
    profile = cProfile.Profile(time.process_time)

    def start(_signum: int, _frame: FrameType | None) -> None:
        profile.enable()

    signal.signal(signal.SIGUSR1, start)
    try:
        runpy.run_module("bassline", run_name="__main__")
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
