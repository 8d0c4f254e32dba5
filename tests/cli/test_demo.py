"""``bassline demo``: three real nodes gossiping on loopback agree after every step."""

from __future__ import annotations

import json

from .conftest import Cli, run_cli

EXPECTED = {"a": 10, "b": 3, "c": 1, "d": 1, "sum": 13, "product": 13, "result": 12}


def test_demo_changes_arrive_on_every_node(cli: Cli) -> None:
    done = cli("demo", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["network"] == "demo-calculator"
    assert [(n["node"], n["groups"]) for n in data["nodes"]] == [
        ("node-1", ["adder"]),
        ("node-2", ["multiplier"]),
        ("node-3", ["subtracter"]),
    ]
    assert all(n["url"].startswith("ws://127.0.0.1:") for n in data["nodes"])
    start, first, second = data["steps"]
    assert start["step"] is None
    assert first["step"] == {"node": "node-3", "contact": "a", "value": 10}
    for step in data["steps"]:
        assert step["converged"] is True
        assert set(step["arrived_ms"]) == {"node-1", "node-2", "node-3"}
    for node in ("node-1", "node-2", "node-3"):
        assert start["values"][node]["result"] == 19  # (2 + 3) * 4 - 1
        assert first["values"][node]["result"] == 51  # a = 10 relayed from node-3 to node-1
        assert second["values"][node] == EXPECTED


def test_demo_table_and_custom_steps_in_a_real_process() -> None:
    done = run_cli("demo", "--step", "node-2:d=100", "--pause", "0")
    assert done.returncode == 0, done.stderr
    assert "node-1 listening on ws://127.0.0.1:" in done.stdout
    assert "step 1/1: node-2 sets d = 100" in done.stdout
    assert done.stdout.count("-80") == 3 and "all agree after" in done.stdout
    bad = run_cli("demo", "--step", "node-9:a=1")
    assert bad.returncode == 1 and "expected NODE:CONTACT=JSON" in bad.stderr
    bad_json = run_cli("demo", "--step", "node-1:a=oops")
    assert bad_json.returncode == 1 and "is not valid JSON" in bad_json.stderr


def test_a_step_value_that_looks_like_markup_is_drawn_as_written(cli: Cli) -> None:
    """A string holding ``[/x]`` ended the demo with an internal error (Rich's
    ``MarkupError``), and ``[bold]`` vanished into styling, in the step's title and the
    table's changed cells."""
    done = cli("demo", "--step", 'node-1:a="[/x] [bold]b"', "--pause", "0")
    assert done.returncode == 0, done.stderr
    assert 'step 1/1: node-1 sets a = "[/x] [bold]b"' in done.stdout
    assert done.stdout.count('"[/x] [bold]b"') == 4  # the title, and a on every node


def test_a_step_takes_the_codec_form_as_run_set_does(cli: Cli) -> None:
    """A tagged interval was written as a plain object (the adder failed on it and ``sum``
    kept its value), and an empty interval was written at all."""
    interval = '{"$type": "interval", "value": [20, 21]}'
    done = cli("demo", "--step", f"node-1:a={interval}", "--json")
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout)["steps"][-1]
    assert last["step"]["value"] == {"$type": "interval", "value": [20, 21]}
    for node in ("node-1", "node-2", "node-3"):
        assert last["values"][node]["sum"] == {"$type": "interval", "value": [23, 24]}
    table = cli("demo", "--step", f"node-1:a={interval}", "--pause", "0")
    assert table.returncode == 0, table.stderr
    assert "node-1 sets a = [20, 21]" in table.stdout and "[23, 24]" in table.stdout
    empty = cli("demo", "--step", 'node-1:a={"$type": "interval", "value": [3, 1]}')
    assert (empty.returncode, empty.stdout) == (1, "")
    assert "the interval [3, 1] is empty (lo > hi)" in empty.stderr
