"""The real ``bassline`` CLI (as a subprocess): validate and run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "examples"


def bassline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bassline", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def test_prototype_calculator_runs_to_30_and_set_propagates() -> None:
    out = bassline("run", str(EXAMPLES / "calculator.json"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["contacts"]["result"] == 30
    out = bassline(
        "run",
        str(EXAMPLES / "calculator.json"),
        "--set",
        "input-a=5",
        "--set",
        "input-b=1",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["contacts"]["result"] == 6


def test_table_output_lists_contacts_and_hides_ports_unless_asked() -> None:
    out = bassline("run", str(EXAMPLES / "calculator.json"), "--set", "input-a=5")
    assert out.returncode == 0
    assert "result" in out.stdout and "25" in out.stdout
    assert "add-sum" not in out.stdout
    assert "add-sum" in bassline("run", str(EXAMPLES / "calculator.json"), "--all").stdout


def test_temperature_both_ways() -> None:
    out = bassline("run", str(EXAMPLES / "temperature.json"), "--set", "fahrenheit=212", "--json")
    assert json.loads(out.stdout)["contacts"]["celsius"] == 100


def test_contradiction_is_shown_with_both_values_and_source() -> None:
    out = bassline("run", str(EXAMPLES / "meeting.json"), "--set", 'carol=["fri"]', "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    (c,) = data["contradictions"]
    assert c["contact"] == "day" and c["source"] == "carol"
    assert c["incoming"] == {"$type": "shrink-set", "value": ["fri"]}
    assert data["contacts"]["day"] == {"$type": "shrink-set", "value": ["tue", "wed"]}
    table = bassline("run", str(EXAMPLES / "meeting.json"), "--set", 'carol=["fri"]')
    assert "contradiction" in table.stdout and "carol" in table.stdout


def test_validate_ok_and_every_problem_listed(tmp_path: Path) -> None:
    ok = bassline("validate", str(EXAMPLES / "temperature.json"))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"contacts": [{"id": "a", "blend": "x"}], "wires": [{"from": "a", "to": "b"}]})
    )
    out = bassline("validate", str(bad))
    assert out.returncode == 1
    assert "$.contacts[0].blend: unknown value 'x'" in out.stderr
    assert "$.wires[0].to: unknown contact 'b'" in out.stderr
    assert "Traceback" not in out.stderr


def test_validate_draws_the_path_id_and_version_as_written(tmp_path: Path) -> None:
    """An id or a version holding ``[/x]`` made ``validate`` an internal error (Rich's
    ``MarkupError``, exit status 70), and ``[bold]`` in the file's name vanished."""
    spec = tmp_path / "[bold]spec.json"
    spec.write_text(json.dumps({"id": "n[/x]", "version": "[/v]", "contacts": []}))
    done = bassline("validate", str(spec))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith(f"ok {spec}: network 'n[/x]' v[/v], 1 groups, 0 contacts")


def test_user_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    calc = str(EXAMPLES / "calculator.json")
    cases = [
        (["run", calc, "--set", "input-a=abc"], "is not valid JSON"),
        (["run", calc, "--set", "nope=1"], "unknown contact 'nope'"),
        (["run", calc, "--set", "input-a"], "expected CONTACT=JSON"),
        (["run", calc, "--set", "input-a=1e999"], "not valid JSON"),
        (["run", str(tmp_path / "missing.json")], "file not found"),
        (["run", calc, "--set", 'input-a={"a": NaN}'], "not valid JSON"),
        (["run", calc, "--set", "input-a=123456789012345678901234567890"], "64 bits"),
        (
            ["run", str(EXAMPLES / "meeting.json"), "--set", "day=5"],
            "contact 'day': this number is not a value of the shrink-set lattice",
        ),
    ]
    for args, message in cases:
        out = bassline(*args)
        assert out.returncode == 1, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_unknown_gadget_lists_installed_ones(tmp_path: Path) -> None:
    spec = tmp_path / "g.json"
    spec.write_text(json.dumps({"groups": [{"id": "g", "gadget": "ad"}]}))
    out = bassline("validate", str(spec))
    assert out.returncode == 1
    assert "unknown gadget 'ad'" in out.stderr and "installed: abs, add" in out.stderr


def test_help_and_usage_errors() -> None:
    assert bassline("--help").returncode == 0
    assert bassline("run", "--help").returncode == 0
    usage = bassline("run")
    assert usage.returncode == 2 and "Missing argument" in usage.stderr  # as Click, argparse


def test_version_prints_the_installed_version_and_nothing_else() -> None:
    import bassline as package

    out = bassline("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"bassline {package.__version__}\n" and out.stderr == ""


def test_temperature_both_ways_with_intervals_in_the_tagged_form() -> None:
    tagged = '{"$type": "interval", "value": [20, 21]}'
    out = bassline(
        "run", str(EXAMPLES / "temperature.json"), "--set", f"celsius={tagged}", "--json"
    )
    assert out.returncode == 0, out.stderr
    fahrenheit = json.loads(out.stdout)["contacts"]["fahrenheit"]
    assert fahrenheit == {"$type": "interval", "value": [68.0, 69.80000000000001]}
    tagged = '{"$type": "interval", "value": [50, 59]}'
    out = bassline(
        "run", str(EXAMPLES / "temperature.json"), "--set", f"fahrenheit={tagged}", "--json"
    )
    celsius = json.loads(out.stdout)["contacts"]["celsius"]
    assert celsius == {"$type": "interval", "value": [9.999999999999998, 15.0]}
    bad = bassline(
        "run", str(EXAMPLES / "temperature.json"), "--set", 'celsius={"$type": "x", "value": 1}'
    )
    assert bad.returncode == 1 and "unknown tagged type 'x'" in bad.stderr


def test_a_gadget_given_what_it_cannot_compute_with_is_reported_with_port_and_kind() -> None:
    out = bassline("run", str(EXAMPLES / "calculator.json"), "--set", 'input-a="five"', "--json")
    assert out.returncode == 0, out.stderr
    (failure,) = json.loads(out.stdout)["failures"]
    assert failure["gadget"] == "add" and failure["contact"] == "add-sum"
    assert (failure["port"], failure["kind"]) == ("a", "a string")
    table = bassline("run", str(EXAMPLES / "calculator.json"), "--set", 'input-a="five"')
    assert "add: port 'a' got a string ('five')" in table.stdout
