"""The storage conformance suite, queries: group queries against the reference semantics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.spec import Bassline, GroupSpec
from bassline.storage import (
    ErrorCode,
    GroupQuery,
    GroupRecord,
    NetworkStorage,
)
from bassline.testing._storage_strategies import (
    basslines,
    group_queries,
)
from bassline.testing.storage.support import (
    StorageSuite,
    assert_failure,
    assert_success,
    examples,
    group_view,
    make_query,
)

__all__ = ["QueryTests"]


@pytest.mark.anyio
class QueryTests(StorageSuite):
    """Group queries against the reference semantics."""

    async def test_query_groups_by_attributes_author_type_and_tags(
        self, storage: NetworkStorage
    ) -> None:
        spec = await self._with_network(storage)
        cases: list[tuple[GroupQuery, list[str]]] = [
            (GroupQuery(), ["adder", "calc", "root", "ui"]),
            (GroupQuery(attributes={"color": "red"}), ["ui"]),
            (GroupQuery(attributes={"size": 2}), ["calc"]),
            (GroupQuery(attributes={"color": "red", "size": 2}), []),
            (GroupQuery(author="ann"), ["ui"]),
            (GroupQuery(author="bob"), ["adder", "calc"]),
            (GroupQuery(type="calc"), ["calc"]),
            (make_query(tags=("red",)), ["calc", "ui"]),
            (make_query(tags=("red", "green")), ["ui"]),
            (make_query(tags=("blue",)), []),
            (make_query(author="bob", tags=("red",)), ["calc"]),
            (GroupQuery(author="bob", type="ui"), []),
        ]
        for query, expected in cases:
            found = assert_success(await storage.query_groups("calc", query), repr(query))
            assert [g.id for g in found] == expected, query
            reference = [g for g in spec.groups if query.matches(g)]
            assert group_view(found) == group_view(reference), query
        assert_success(
            await storage.write(
                [GroupRecord("calc", GroupSpec("late", "late", "ui", None, {"tags": ["blue"]}))]
            )
        )
        found = assert_success(await storage.query_groups("calc", make_query(tags=("blue",))))
        assert [g.id for g in found] == ["late"]
        assert_failure(
            await storage.query_groups("nope", GroupQuery()), ErrorCode.NETWORK_NOT_FOUND
        )

    @examples(25)
    @given(spec=basslines(), queries=st.lists(group_queries(), min_size=1, max_size=4))
    async def test_query_groups_agrees_with_the_reference_semantics(
        self, storage: NetworkStorage, spec: Bassline, queries: list[GroupQuery]
    ) -> None:
        assert_success(await storage.save_network(spec))
        try:
            for query in queries:
                found = assert_success(await storage.query_groups(spec.id, query), repr(query))
                reference = [g for g in spec.groups if query.matches(g)]
                assert group_view(found) == group_view(reference), query
        finally:
            assert_success(await storage.delete_network(spec.id))
