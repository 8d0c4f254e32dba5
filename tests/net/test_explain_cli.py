"""``bassline set`` and ``bassline explain`` against a running node on a real socket (issue 16):
the CLI's writes are explained as come in via ``cli``, and the node's explanation is drawn."""

from __future__ import annotations

import json

import anyio.to_thread
import pytest

from bassline.cli.app import main

from .conftest import calculator, node

pytestmark = pytest.mark.anyio


async def test_the_cli_writes_via_cli_and_explains_what_the_node_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with node("n1", calculator()) as (net, server):
        assert server.url is not None
        url = server.url.http
        await net.update_contact("input-b", 2, via="http")

        def cli(*args: str) -> tuple[int, str, str]:
            code = main(list(args))
            shown = capsys.readouterr()
            return code, shown.out, shown.err

        code, _, err = await anyio.to_thread.run_sync(cli, "set", url, "input-a", "40")
        assert code == 0, err
        why = net.explain("result")
        assert {(p.contact, p.value, p.via) for p in why.premises()} == {
            ("input-a", 40, "cli"),
            ("input-b", 2, "http"),
        }
        code, out, err = await anyio.to_thread.run_sync(cli, "explain", url, "result")
        assert code == 0, err
        lines = out.splitlines()
        assert lines[:6] == [
            "result = 42  <- wire from adder.sum",
            "└── adder.sum = 42  <- gadget add (group adder)",
            "    ├── a: adder.a = 40 (still holds)  <- wire from input-a",
            "    │   └── input-a = 40  <- written (cli) on node n1",
            "    └── b: adder.b = 2 (still holds)  <- wire from input-b",
            "        └── input-b = 2  <- written (http) on node n1",
        ]
        assert lines[-1] == "complete: these premises alone reproduce the value"
        code, out, err = await anyio.to_thread.run_sync(
            cli, "explain", server.url.ws, "result", "--json", "--depth", "2"
        )
        assert code == 0, err
        assert json.loads(out) == net.explain("result", 2).to_json()
        for args, message in (
            (
                ("explain", url, "resul"),
                f"error: node at {url} refused GET /api/contacts/resul/explain: unknown contact "
                "'resul' (did you mean 'result'?) (HTTP 404 unknown-contact)",
            ),
            (("explain", url, "input-a", "--depth", "0"), "error: --depth must be a whole number"),
        ):
            code, out, err = await anyio.to_thread.run_sync(cli, *args)
            assert code in (1, 2) and out == "" and err.startswith(message), err
            assert len(err.splitlines()) == 1
    async with node("n2", calculator()) as (net, server):
        assert server.url is not None
        code, out, err = await anyio.to_thread.run_sync(cli, "explain", server.url.http, "result")
        assert code == 1 and out == ""
        assert err == "error: contact 'result' has no value yet, so nothing to explain\n"
