"""``bassline explain SPEC CONTACT``: the tree it draws, its JSON, and every bad input as one
error line (issue 16). Explaining a running node is in ``tests/net/test_explain_cli.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import EXAMPLES, Cli

CALCULATOR = str(EXAMPLES / "calculator.json")


def one_error_line(done: object, code: int = 1) -> str:
    assert done.returncode == code, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    lines = done.stderr.splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in done.stderr  # type: ignore[attr-defined]
    return str(lines[0])


def write_spec(tmp_path: Path, spec: dict[str, object]) -> str:
    path = tmp_path / f"{spec['id']}.json"
    path.write_text(json.dumps(spec))
    return str(path)


def sensors(tmp_path: Path) -> str:
    return write_spec(
        tmp_path,
        {
            "id": "sensors",
            "contacts": [
                {"id": "left"},
                {"id": "right"},
                {"id": "reading", "lattice": "defined"},
                {"id": "unset"},
            ],
            "wires": [
                {"from": "left", "to": "reading", "type": "directed"},
                {"from": "right", "to": "reading", "type": "directed"},
            ],
        },
    )


def test_explain_draws_the_gadget_chain_back_to_its_premises(cli: Cli) -> None:
    done = cli("explain", CALCULATOR, "result", "--set", "input-a=5")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:6] == [
        "result = 25  <- wire from add-sum",
        "└── add-sum = 25  <- gadget add (group add-gadget)",
        "    ├── a: add-a = 5 (still holds)  <- wire from input-a",
        "    │   └── input-a = 5  <- written (cli) on node local",
        "    └── b: add-b = 20 (still holds)  <- wire from input-b",
        "        └── input-b = 20  <- the spec's content",
    ]
    assert lines[6] == "premises (the writes it rests on):"
    assert lines[7].startswith("  input-a = 5  (cli on node local, ") and lines[7].endswith(" UTC)")
    assert lines[8:] == [
        "  input-b = 20  (the spec's content)",
        "complete: these premises alone reproduce the value",
    ]


def test_explain_json_is_the_explanations_json_form(cli: Cli) -> None:
    done = cli("explain", CALCULATOR, "result", "--json", "-s", "input-b=1")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["contact"] == "result" and data["complete"] is True
    assert [s["contact"] for s in data["steps"]] == [
        "result",
        "add-sum",
        "add-a",
        "input-a",
        "add-b",
        "input-b",
    ]
    assert [(p["contact"], p["value"], p["via"]) for p in data["premises"]] == [
        ("input-a", 10, "spec"),
        ("input-b", 1, "cli"),
    ]
    assert data["steps"][1]["justification"]["inputs"][0] == {
        "contact": "add-a",
        "value": 10,
        "stamp": [1, ""],
        "holds": True,
        "port": "a",
        "explained": 2,
    }


def test_depth_cuts_the_tree_and_says_so(cli: Cli) -> None:
    done = cli("explain", CALCULATOR, "result", "--depth", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "result = 30  <- wire from add-sum",
        "└── add-sum = 30  <- gadget add (group add-gadget)",
        "    ├── a: add-a = 10 (still holds)  <- not explained (depth limit)",
        "    └── b: add-b = 20 (still holds)  <- not explained (depth limit)",
        "not fully explained:",
        "  - add-sum: input add-a not explained (depth limit)",
        "  - add-sum: input add-b not explained (depth limit)",
    ]


def test_a_contradiction_is_drawn_with_both_sides(cli: Cli, tmp_path: Path) -> None:
    spec = sensors(tmp_path)
    done = cli("explain", spec, "reading", "--set", "left=20", "--set", "right=21")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:5] == [
        "reading = 20  <- join of 1 contribution",
        "├── offered 20  <- wire from left",
        "│   └── left = 20  <- written (cli) on node local",
        "└── contradiction: refused 21 from right (20 and 21 disagree)  <- wire from right",
        "    └── right = 21  <- written (cli) on node local",
    ]
    assert lines[5] == "premises (the writes it rests on):"
    assert lines[6].startswith("  left = 20  (cli on node local, ")
    assert lines[7] == "premises of the refused 21:"
    assert lines[8].startswith("  right = 21  (cli on node local, ")
    data = json.loads(
        cli("explain", spec, "reading", "-s", "left=1", "-s", "right=2", "--json").stdout
    )
    refused = data["steps"][0]["contradiction"]
    assert refused["value"] == 2 and [p["contact"] for p in refused["premises"]] == ["right"]


@pytest.mark.parametrize("depth", ["0", "-1", "x", "1.5", "", "9" * 5000])
def test_a_bad_depth_is_one_usage_error_line(cli: Cli, depth: str) -> None:
    line = one_error_line(cli("explain", CALCULATOR, "result", "--depth", depth), code=2)
    assert line.startswith("error: --depth must be a whole number >= 1")
    assert len(line) < 200


def test_bad_input_is_one_error_line(cli: Cli, tmp_path: Path) -> None:
    spec = sensors(tmp_path)
    assert one_error_line(cli("explain", CALCULATOR, "resutl")) == (
        "error: unknown contact 'resutl' (did you mean 'result'?)"
    )
    assert one_error_line(cli("explain", spec, "unset")) == (
        "error: contact 'unset' has no value yet, so nothing to explain"
    )
    assert one_error_line(cli("explain", spec, "unset", "--json")) == (
        "error: contact 'unset' has no value yet, so nothing to explain"
    )
    missing = cli("explain", str(tmp_path / "nope.json"), "a")  # as `bassline run` says it
    assert one_error_line(missing) == f"error: file not found: {tmp_path / 'nope.json'}"
    assert "--set" in one_error_line(cli("explain", spec, "left", "--set", "left"))
    assert "unknown contact 'nope'" in one_error_line(cli("explain", spec, "left", "-s", "nope=5"))
    unreachable = one_error_line(cli("explain", "http://127.0.0.1:1", "result"))
    assert unreachable.startswith("error: cannot reach node at http://127.0.0.1:1 (GET ")
    assert "ftp://x" in one_error_line(cli("explain", "ftp://x", "result"))
    secret = tmp_path / "secret"
    secret.write_text("0123456789abcdef0123")
    line = one_error_line(cli("explain", spec, "left", "--secret-file", str(secret)), code=2)
    assert line == "error: --secret-file is for a node's URL, not a spec file"
    line = one_error_line(cli("explain", "http://127.0.0.1:1", "a", "--set", "a=1"), code=2)
    assert line == "error: --set runs a spec file; to write to a node use `bassline set`"


def test_a_contact_that_is_unset_because_its_gadget_failed_says_so(
    cli: Cli, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path,
        {
            "id": "failing",
            "groups": [{"id": "total", "gadget": "add"}],
            "contacts": [
                {"id": "x", "content": "text"},
                {"id": "y", "content": 1},
                {"id": "total.a", "group": "total", "name": "a", "boundary": "input"},
                {"id": "total.b", "group": "total", "name": "b", "boundary": "input"},
                {"id": "total.sum", "group": "total", "name": "sum", "boundary": "output"},
            ],
            "wires": [
                {"from": "x", "to": "total.a", "type": "directed"},
                {"from": "y", "to": "total.b", "type": "directed"},
            ],
        },
    )
    line = one_error_line(cli("explain", spec, "total.sum"))
    assert line.startswith(
        "error: contact 'total.sum' has no value yet, so nothing to explain (its gadget add failed: "
    )


def test_a_refused_interval_is_drawn_as_the_interval_kept_is(cli: Cli, tmp_path: Path) -> None:
    """``refused [6,9] ... ([1, 5] and [6, 9] do not overlap)``: the list written was
    drawn raw, beside the interval kept."""
    spec = tmp_path / "iv.json"
    spec.write_text(
        '{"id": "iv", "contacts": [{"id": "t", "blend": "merge", "lattice": "interval", '
        '"content": {"$type": "interval", "value": [1, 5]}}]}'
    )
    done = cli("explain", str(spec), "t", "--set", "t=[6,9]")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[2].startswith("└── contradiction: refused [6, 9] from update ([1, 5] and [6, 9]")
    assert "premises of the refused [6, 9]:" in lines
    assert any(line.startswith("  t = [6, 9]  (cli on node local") for line in lines)
