"""The helpers tests use to end PostgreSQL sessions end only the test's own.

Tests share one server (and, under xdist, one database, each test in its own schema):
ending every session of an ``application_name`` across the server ends another test's
session of the same name too. ``end_feed_sessions`` and ``end_claim_sessions``
(``tests/postgres_support.py``) pick the sessions through the test's own schema.
"""

from __future__ import annotations

from typing import Any

import anyio
import psycopg
import pytest
from bassline_storage_postgres.claims import APPLICATION_PREFIX

from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage
from tests.ownership_support import two_adders
from tests.postgres_support import end_claim_sessions, end_feed_sessions

pytestmark = pytest.mark.anyio

SPEC = parse_spec({"id": "feed", "groups": [{"id": "root"}], "contacts": [{"id": "a"}]})


def _alive(conn: psycopg.Connection[Any]) -> bool:
    try:
        return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


async def test_ending_a_feed_session_spares_another_tests_session_of_the_same_name(
    store_url: str, schema: str, postgres_url: str, admin: psycopg.Connection[Any]
) -> None:
    name = "bassline-feed:reader"
    with psycopg.connect(postgres_url, application_name=name, autocommit=True) as bystander:
        async with open_storage(store_url) as storage:
            (await storage.save_network(SPEC)).unwrap()
            async with storage.watch_changes("feed", member="reader") as watch:
                ended = end_feed_sessions(admin, schema, "reader")
                assert len(ended) == 1 and bystander.info.backend_pid not in ended
                with anyio.fail_after(30):
                    await watch.wait()  # the loss noticed, listening again
                assert watch.reconnects == 1
                # the first one may linger in pg_stat_activity: spared, the new one ends
                with anyio.fail_after(30):
                    while not (again := end_feed_sessions(admin, schema, "reader", ended)):  # noqa: ASYNC110
                        await anyio.sleep(0.01)  # a deadline poll on a server view
                assert not set(again) & {*ended, bystander.info.backend_pid}
        assert _alive(bystander)


async def test_ending_a_claim_session_spares_another_tests_session_of_the_same_name(
    store_url: str, schema: str, postgres_url: str, admin: psycopg.Connection[Any]
) -> None:
    spec = two_adders()
    name = APPLICATION_PREFIX + "first"
    with psycopg.connect(postgres_url, application_name=name, autocommit=True) as bystander:
        async with open_storage(store_url) as storage:
            async with StorageBackedRuntime(spec, storage, node_id="first") as first:
                assert first.run_groups == {"left", "right"}
                ended = end_claim_sessions(admin, schema, spec, "first")
                assert len(ended) == 1 and bystander.info.backend_pid not in ended
        assert _alive(bystander)
