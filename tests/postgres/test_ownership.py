"""Gadget group ownership on one PostgreSQL database: advisory locks, failover, catch-up.

Runtimes (and processes) sharing a database take turns on each gadget group: exactly one
runs it; when its claim session dies (``pg_terminate_backend``, ``kill -9`` of its
process) another takes the group over and computes its outputs from the inputs stored.
Every wait is a poll with a deadline; ``claim_interval`` is lowered to keep tests short.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from bassline.cli.app import main
from bassline.net import BasslineNetwork, NodeServer
from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline
from bassline.storage import ClaimsGroups, open_storage
from tests.ownership_support import output_first_adder, two_adders
from tests.postgres_support import end_claim_sessions

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parents[2]
BOTH = frozenset({"left", "right"})


async def wait_until(predicate: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``within`` seconds (a deadline)."""
    with anyio.move_on_after(within):
        while not predicate():  # noqa: ASYNC110 - polling with a deadline, as the rules allow
            await anyio.sleep(0.01)
        return
    raise AssertionError(f"timed out after {within}s waiting for {what}")


@asynccontextmanager
async def runtime(
    url: str, node_id: str, spec: Bassline | None = None, **kwargs: Any
) -> AsyncIterator[StorageBackedRuntime]:
    """A runtime on its own storage (its own pool and claim session) on ``url``."""
    kwargs.setdefault("claim_interval", 0.05)
    async with open_storage(url) as storage:
        assert isinstance(storage, ClaimsGroups)
        async with StorageBackedRuntime(
            spec or two_adders(), storage, node_id=node_id, **kwargs
        ) as rt:
            yield rt


async def test_two_runtimes_on_one_database_one_runs_each_group(store_url: str) -> None:
    async with runtime(store_url, "first") as first, runtime(store_url, "second") as second:
        assert first.run_groups == BOTH and second.run_groups == frozenset()
        assert first.group_owners() == {"left": "first", "right": "first"}
        await wait_until(
            lambda: second.group_owners() == {"left": "first", "right": "first"},
            "the second to see who owns the groups",
        )
        # the second computes nothing: its write reached its fixpoint when it returned
        await second.update_many({"l-a": 1, "l-b": 2})
        assert second.value("left.a") == 1 and second.value("l-sum", None) is None
        await first.update_many({"r-a": 3, "r-b": 4})
        assert first.value("r-sum") == 7
        assert first.health().ok and second.health().ok


async def test_a_terminated_claim_session_hands_the_groups_over_with_catch_up(
    store_url: str, schema: str, admin: psycopg.Connection[Any]
) -> None:
    # the first waits 2 s before claiming again after a loss: the second (polling every
    # 0.05 s) is the one that takes over
    first_rt = runtime(store_url, "first", claim_interval=1.0)
    async with first_rt as first, runtime(store_url, "second") as second:
        await first.update_many({"l-a": 10, "l-b": 5, "r-a": 1, "r-b": 1})
        assert first.value("l-sum") == 15 and second.run_groups == frozenset()
        assert len(end_claim_sessions(admin, schema, two_adders(), "first")) == 1
        # the holder stops at once (its session is gone), the other takes over
        await wait_until(lambda: first.run_groups == frozenset(), "the first to stop")
        await wait_until(lambda: second.run_groups == BOTH, "the second to take over")
        # catching up: the second never saw the first's writes but read them from storage
        assert second.value("l-sum") == 15 and second.value("r-sum") == 2
        await second.update_contact("l-a", 100)
        assert second.value("l-sum") == 105
        # the first reconnects and keeps trying, but the groups stay with the second
        rounds = first.ownership.rounds if first.ownership else 0
        await wait_until(
            lambda: first.ownership is not None and first.ownership.rounds >= rounds + 2,
            "two more claim rounds of the first",
        )
        assert first.run_groups == frozenset() and second.run_groups == BOTH
        assert first.group_owners() == {"left": "second", "right": "second"}
        assert first.ownership is not None and first.ownership.losses == 1


async def test_a_group_taken_over_is_caught_up_on_every_input_whatever_the_port_order(
    store_url: str, schema: str, admin: psycopg.Connection[Any]
) -> None:
    """The group's output port comes first (in the spec and by id): the process taking the
    group over still reads every input port from storage. Neither follows the feed, so the
    second knows the inputs only from its catch-up."""
    spec = output_first_adder()
    first_rt = runtime(store_url, "first", spec, claim_interval=1.0, follow=False)
    async with first_rt as first, runtime(store_url, "second", spec, follow=False) as second:
        await first.update_many({"x": 10, "y": 5})
        assert first.value("total") == 15 and second.run_groups == frozenset()
        assert len(end_claim_sessions(admin, schema, spec, "first")) == 1
        await wait_until(lambda: second.run_groups == frozenset({"g"}), "the second to take over")
        assert second.value("g.x") == 10 and second.value("g.y") == 5
        assert second.value("g.out") == 15 and second.value("total") == 15


async def test_kill_9_of_the_owning_process_hands_its_groups_to_another(
    store_url: str, tmp_path: Path
) -> None:
    ready, errors = tmp_path / "ready.json", tmp_path / "child.err"
    script = Path(__file__).with_name("owner_child.py")
    writes = ["l-a=2", "l-b=3", "r-a=20", "r-b=30"]
    with errors.open("wb") as err:
        child = await anyio.open_process(
            [sys.executable, str(script), store_url, "child", str(ready), *writes],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    async with child:
        try:
            await wait_until(
                lambda: ready.exists() or child.returncode is not None, "the child", 60
            )
            assert ready.exists(), errors.read_text()
            assert ready.read_text() == '["left", "right"]'
            async with runtime(store_url, "parent") as parent:
                assert parent.run_groups == frozenset()
                assert parent.value("l-sum", None) == 5  # recovered from storage
                child.send_signal(signal.SIGKILL)
                await child.wait()
                await wait_until(lambda: parent.run_groups == BOTH, "the parent to take over")
                await parent.update_contact("r-a", 70)
                assert parent.value("r-sum") == 100
                assert parent.group_owners() == {"left": "parent", "right": "parent"}
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()


async def test_nodes_on_one_database_share_unassigned_groups_and_keep_assigned_ones(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = two_adders({"left": {"node": "n1"}})
    async with open_storage(store_url) as s1, open_storage(store_url) as s2:
        async with BasslineNetwork("n1", spec, storage=s1) as n1:
            async with (
                BasslineNetwork("n2", spec, storage=s2) as n2,
                NodeServer(n2, "127.0.0.1", 0) as server,
            ):
                assert n1.runtime is not None and n1.runtime.run_groups == BOTH
                assert n2.runtime is not None and n2.runtime.run_groups == frozenset()
                await wait_until(
                    lambda: n2.owners()["right"] == {"owner": "n1", "by": "database"},
                    "n2 to see n1 holding right",
                )
                assert n2.owners()["left"] == {"owner": "n1", "by": "endpoints"}
                assert n1.status()["groups"] == ["left", "right"]
                assert n2.status()["groups"] == []
                assert 'bassline_gadget_group_running{group="right"} 1' in n1.prometheus()
                assert 'bassline_gadget_group_running{group="right"} 0' in n2.prometheus()
                assert server.url is not None
                code = await anyio.to_thread.run_sync(main, ["status", str(server.url)])
                shown = capsys.readouterr()
                assert code == 0, shown.err
                assert "owners: left -> n1 (endpoints), right -> n1 (database)" in shown.out
            # n2 gone changes nothing for n1; now n1 leaves and a fresh n2 takes "right" only
        async with BasslineNetwork("n2", spec, storage=s2) as n2:
            assert n2.runtime is not None and n2.runtime.run_groups == frozenset({"right"})
            assert n2.owners()["right"] == {"owner": "n2", "by": "database"}


async def test_a_storage_without_the_ability_runs_every_group() -> None:
    async with open_storage("memory://") as storage:
        assert not isinstance(storage, ClaimsGroups)
        async with StorageBackedRuntime(two_adders(), storage) as rt:
            assert rt.run_groups == BOTH and rt.group_owners() == {}
            await rt.update_many({"l-a": 1, "l-b": 1})
            assert rt.value("l-sum") == 2


async def test_groups_given_to_run_are_run_alone_and_never_claimed(store_url: str) -> None:
    """``run_groups`` alone: exactly those groups, always, and no turns taken on the rest;
    ``claim_groups`` alone: turns on exactly those, and every other group always."""
    async with runtime(store_url, "fixed", run_groups=["left"]) as fixed:
        assert fixed.run_groups == frozenset({"left"}) and fixed.group_owners() == {}
        assert fixed.ownership is None  # no turns to take
        async with runtime(store_url, "taker", claim_groups=["right"]) as taker:
            assert taker.run_groups == BOTH
            assert taker.group_owners() == {"right": "taker"}
