"""``bassline start`` takes its startup objects out of the garbage collector's passes."""

from __future__ import annotations

import subprocess
import sys

from .conftest import EXAMPLES
from .test_start import run_start

# run in a fresh interpreter: the collector's settings are process-wide, and this test's
# own process (pytest) must keep its own
PROBE = """
import gc, weakref
from bassline.cli.heap import YOUNG_THRESHOLD, settle_heap

class Node:
    pass

kept = Node()                       # held: frozen
garbage = Node(); garbage.me = garbage  # a cycle nobody holds: freed, not frozen
dead = weakref.ref(garbage); del garbage
frozen = settle_heap()
print(frozen == gc.get_freeze_count() > 0, dead() is None, gc.is_tracked(kept))
print(gc.get_threshold()[0] == YOUNG_THRESHOLD)
later = Node(); later.me = later    # a cycle made while serving is still collected
gone = weakref.ref(later); del later
gc.collect()
print(gone() is None)
"""


def test_settle_heap_frees_startup_garbage_freezes_the_rest_and_still_collects_cycles() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"] * 5


def test_start_settles_its_heap_once_serving() -> None:
    done = run_start(
        str(EXAMPLES / "calculator.json"), "--node-id", "n", "--listen", "127.0.0.1:0",
        "--no-discover", "--log-level", "info",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "startup objects frozen out of garbage collection" in done.stderr
