"""SQL injection attempts in every id, name and attribute are stored and read back verbatim."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from bassline.clock import Stamp
from bassline.codec import to_json
from bassline.spec import GroupSpec, WireSpec, parse_spec
from bassline.storage import ContentRecord, GroupQuery, GroupRecord, WireRecord, open_storage

pytestmark = pytest.mark.anyio

PAYLOADS = [
    "'; DROP TABLE bassline_networks; --",
    "x' OR '1'='1",
    '"; DROP SCHEMA public CASCADE; --',
    "Robert'); DELETE FROM bassline_contacts; --",
    "$1",
    "$$; SELECT pg_sleep(10); $$",
    "%s",
    "%(network)s",
    ":network",
    "?",
    "\\'; --",
    "x') ON CONFLICT DO NOTHING; --",
    "{}'::jsonb @> '{}",
    "E'\\x27'",
]


def _spec(network: str, payload: str, n: int) -> Any:
    return parse_spec(
        to_json(
            {
                "id": network,
                "version": payload,
                "metadata": {payload: payload},
                "groups": [
                    {
                        "id": f"g{n}{payload}",
                        "name": payload,
                        "attributes": {payload: payload, "bassline.tags": [payload]},
                    }
                ],
                "contacts": [
                    {"id": f"a{n}{payload}", "group": f"g{n}{payload}", "name": payload},
                    {"id": f"b{n}{payload}", "group": f"g{n}{payload}", "attributes": {payload: 1}},
                ],
                "wires": [{"id": f"w{payload}", "from": f"a{n}{payload}", "to": f"b{n}{payload}"}],
            }
        )
    )


async def test_injection_attempts_are_plain_data(
    admin: psycopg.Connection[tuple[Any, ...]], store_url: str, schema: str
) -> None:
    async with open_storage(store_url) as storage:
        for n, payload in enumerate(PAYLOADS):
            network = f"{payload}{n}"
            spec = _spec(network, payload, n)
            group = f"g{n}{payload}"
            (await storage.save_network(spec)).unwrap()
            extra = GroupSpec(payload, payload, "root", None, {payload: [payload]})
            wire = WireSpec(payload, f"a{n}{payload}", f"b{n}{payload}")
            records: list[Any] = [
                GroupRecord(network, extra),
                WireRecord(network, wire),
                ContentRecord(network, group, payload, {payload: payload}, Stamp(n, payload)),
            ]
            (await storage.write(records)).unwrap()
            snap = (await storage.save_snapshot(network, payload)).unwrap()

            loaded = (await storage.load_network(network)).unwrap()
            assert loaded.version == payload and loaded.metadata == {payload: payload}
            assert loaded.group(group).name == payload
            assert loaded.group(group).attributes == {payload: payload, "bassline.tags": [payload]}
            assert loaded.group(payload) == extra and loaded.group(payload).attributes == {
                payload: [payload]
            }
            assert wire in loaded.wires
            record = (await storage.load_contact_content(network, group, payload)).unwrap()
            assert (record.value, record.stamp) == ({payload: payload}, Stamp(n, payload))
            found = (await storage.query_groups(network, GroupQuery({payload: payload}))).unwrap()
            assert [g.id for g in found] == [group]
            tagged = (await storage.query_groups(network, GroupQuery(tags=(payload,)))).unwrap()
            assert [g.id for g in tagged] == [group]
            listed = (await storage.list_snapshots(network)).unwrap()
            assert [(s.id, s.label) for s in listed] == [(snap.id, payload)]
            assert (await storage.load_snapshot(network, snap.id)).unwrap().spec == loaded
        names = (await storage.list_networks()).unwrap()
        assert names == sorted(f"{p}{n}" for n, p in enumerate(PAYLOADS))
    tables = admin.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema]
    ).fetchone()
    assert tables == (9,)  # eight tables and the version table, all still there
    count = admin.execute(
        sql.SQL("SELECT count(*) FROM {}.bassline_contacts").format(sql.Identifier(schema))
    ).fetchone()
    assert count == (len(PAYLOADS),)
