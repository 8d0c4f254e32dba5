"""Every command prints ``--json`` one way: keys sorted at every depth (``render.print_json``)."""

from __future__ import annotations

import json
from typing import Any

from .conftest import EXAMPLES, Cli


def _keys_sorted(data: Any) -> bool:
    if isinstance(data, dict):
        return list(data) == sorted(data) and all(_keys_sorted(v) for v in data.values())
    if isinstance(data, list):
        return all(_keys_sorted(v) for v in data)
    return True


def test_json_of_every_kind_of_command_has_its_keys_sorted(cli: Cli, tmp_path: Any) -> None:
    store = f"file://{tmp_path / 'store'}"
    outputs = [
        cli("run", str(EXAMPLES / "calculator.json"), "--set", "input-a=5", "--json"),
        cli("run", str(EXAMPLES / "calculator.json"), "--storage", store, "--json"),
        cli("storage", "migrate", store, "--json"),
        cli("snapshot", store, "calculator", "--json"),
        cli("init", str(tmp_path / "project"), "--json"),
    ]
    for done in outputs:
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert _keys_sorted(data), done.stdout
    assert json.loads(outputs[0].stdout)["contacts"]["result"] == 25
