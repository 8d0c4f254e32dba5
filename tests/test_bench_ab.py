"""The A/B script's reading of the benchmarks' output (bench/ab_architecture.py).

The script runs the bench files and reads their figures from what they print; these
lines are copied from real runs, so a change to a bench's output format that the script
no longer reads fails here rather than leaving a measure out of the A/B table.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ab() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ab_architecture", ROOT / "bench" / "ab_architecture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ENGINE = """\
(a) 10,000-contact chain, one update         engine      742,991 steps/s (10,000 steps)   bare    3,145,271 visits/s (10,000)   ratio 0.24
(a') same, reading result.changes too        engine      350,490 steps/s (10,000 steps)   bare    3,145,271 visits/s (10,000)   ratio 0.11
(c) 1,000 updates on 100 10-chains           engine      251,275 steps/s (10,000 steps)   bare      729,968 visits/s (10,000)   ratio 0.34
peak traced memory at 100,000 contacts (spec + network + one update): 625 bytes/contact (target <= 1024)
"""

STORAGE = """\
python 3.11.7, 2 cpus, load average 11.14 11.10 11.01
memory  write      83,952/s  (runs 73,211 .. 97,129)
memory  load       61,648/s  (runs 59,464 .. 67,682)
fs      write      75,556/s  (runs 66,483 .. 90,958)
bare    write     288,071/s  (runs 166,472 .. 463,033)  same 105 bytes/contact, write+sync
fs/bare write ratio 0.262 (medians; target >= 0.5)
fs      open       96,013/s  (runs 60,499 .. 102,816)  (reopen = read and replay the whole log)
"""

RUNTIME = """\
[memory] raw storage.write, 1,000-record batches: 81,137 records/s (median of 3)
[memory] durable, 1 writer:          2,154 updates/s  ratio 0.03  p50 0.11 ms  p99 12.32 ms
[fs] durable, 100 writers:       6,162 updates/s  ratio 0.14  p50 15.94 ms  p99 35.66 ms  (target >= 0.3)
[fs] buffered, 1 writer:        22,256 updates/s  ratio 0.50  (target >= 0.6)
"""

NETWORK = """\
procs-10-distinct    processes  nodes=10  updates=2000    write=6.17s settle=3.38s (poll 0.05s) e2e=209 upd/s (0.005x baseline 45,306) wire/upd=98.0 B vs id+payload 102.9 B (0.95x) mem/node=65.0 MiB
inproc-25            in-process nodes=25  updates=2000    write=0.20s settle=13.42s (poll 0.1s) e2e=147 upd/s (0.004x baseline 33,763) wire/upd=57.8 B vs id+payload 101.9 B (0.57x) mem/node=4.3 MiB
bench process peak RSS 109 MiB; cpu count 2
"""


def test_engine_figures_are_read(ab: ModuleType) -> None:
    found = ab.parse("engine", ENGINE)
    assert found == {
        "engine (a)": (742_991, "steps/s"),
        "engine (a) ratio to bare loop": (0.24, "x"),
        "engine (a')": (350_490, "steps/s"),
        "engine (a') ratio to bare loop": (0.11, "x"),
        "engine (c)": (251_275, "steps/s"),
        "engine (c) ratio to bare loop": (0.34, "x"),
        "engine memory": (625, "B/contact"),
    }


def test_storage_figures_are_read(ab: ModuleType) -> None:
    found = ab.parse("storage", STORAGE)
    assert found == {
        "storage memory write": (83_952, "/s"),
        "storage memory load": (61_648, "/s"),
        "storage fs write": (75_556, "/s"),
        "storage fs/bare write ratio": (0.262, "x"),
        "storage fs open": (96_013, "/s"),
    }


def test_runtime_figures_are_read_with_p50_only_where_printed(ab: ModuleType) -> None:
    found = ab.parse("runtime", RUNTIME)
    assert found == {
        "runtime memory raw write": (81_137, "/s"),
        "runtime memory durable, 1 writer": (2_154, "/s"),
        "runtime memory durable, 1 writer p50": (0.11, "ms"),
        "runtime fs durable, 100 writers": (6_162, "/s"),
        "runtime fs durable, 100 writers p50": (15.94, "ms"),
        "runtime fs buffered, 1 writer": (22_256, "/s"),
    }


def test_network_figures_are_read(ab: ModuleType) -> None:
    found = ab.parse("network", NETWORK)
    assert found == {
        "network procs-10-distinct e2e": (209, "/s"),
        "network procs-10-distinct wire/update": (98.0, "B"),
        "network procs-10-distinct mem/node": (65.0, "MiB"),
        "network inproc-25 e2e": (147, "/s"),
        "network inproc-25 wire/update": (57.8, "B"),
        "network inproc-25 mem/node": (4.3, "MiB"),
    }


def test_the_table_calls_overlapping_ranges_noise_and_says_what_is_missing(
    ab: ModuleType,
) -> None:
    series = {
        "same": ab.Series("/s", before=[10.0, 12.0, 11.0], after=[11.5, 13.0, 12.5]),
        "slower": ab.Series("/s", before=[10.0, 11.0, 12.0], after=[7.0, 8.0, 9.0]),
        "gone": ab.Series("/s", before=[1.0], after=[]),
    }
    rows = list(ab.table(series))
    assert rows[2] == "| same (/s) | 11.0 (10.0 .. 12.0) | 12.5 (11.5 .. 13.0) | 1.14 | overlap |"
    assert rows[3] == "| slower (/s) | 11.0 (10.0 .. 12.0) | 8.00 (7.00 .. 9.00) | 0.73 | apart |"
    assert rows[4] == "| gone (/s) | 1 runs | 0 runs | - | missing |"
