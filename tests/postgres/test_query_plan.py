"""``query_groups`` is served by its indexes: the plans, checked with EXPLAIN.

The test tables are tiny, where a sequential scan is always cheapest, so each plan is
taken with ``SET enable_seqscan = off``: that shows the index *can* serve the query
shape (the planner's real choice depends on table size; docs/postgres.md shows plans on
a large table). Every query with a criterion must go through the GIN index on the
group search documents; a query without one through the groups' primary key.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from bassline_storage_postgres import PostgresStorage
from bassline_storage_postgres.queries import query_groups_statement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from bassline.spec import GroupSpec
from bassline.storage import GroupQuery, GroupRecord, open_storage
from bassline.testing.storage import sample_bassline

pytestmark = pytest.mark.anyio


class Explain(Executable, ClauseElement):
    """``EXPLAIN <statement>``, with the statement's parameters bound as usual."""

    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain)
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN " + str(compiler.process(element.statement, **kw))


def plan(storage: PostgresStorage, query: GroupQuery, network: str = "calc") -> str:
    """The plan of ``query_groups(network, query)`` with sequential scans disabled."""
    assert storage.engine is not None
    with storage.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.execute(Explain(query_groups_statement(network, query))).all()
        conn.rollback()
    return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize(
    "query",
    [
        GroupQuery(attributes={"color": "red"}),
        GroupQuery(attributes={"size": 2, "color": "red"}),
        GroupQuery(author="bob"),
        GroupQuery(type="calc"),
        GroupQuery(tags=("red", "green")),
        GroupQuery(attributes={"size": 2}, author="bob", type="calc", tags=("red",)),
    ],
    ids=repr,
)
async def test_queries_with_criteria_use_the_gin_index(store_url: str, query: GroupQuery) -> None:
    async with open_storage(store_url) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        (await storage.save_network(sample_bassline("other"))).unwrap()
        more = [
            GroupRecord("other", GroupSpec(f"g{i}", attributes={"color": "red"})) for i in range(50)
        ]
        (await storage.write(more)).unwrap()
        text = plan(storage, query)
        assert "bassline_groups_search_gin" in text, text
        assert "Seq Scan on bassline_groups" not in text, text
        expected = [g.id for g in sample_bassline("calc").groups if query.matches(g)]
        assert [g.id for g in (await storage.query_groups("calc", query)).unwrap()] == expected


async def test_a_query_without_criteria_uses_the_primary_key(store_url: str) -> None:
    async with open_storage(store_url) as storage:
        assert isinstance(storage, PostgresStorage)
        (await storage.save_network(sample_bassline("calc"))).unwrap()
        text = plan(storage, GroupQuery())
        assert "bassline_groups_pkey" in text and "Seq Scan" not in text, text
        assert storage.engine is not None
        with storage.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM bassline_groups")) == 4
