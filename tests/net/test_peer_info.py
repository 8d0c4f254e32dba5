"""What ``peers()`` reports about each link: who dialled, the peer's URL and groups."""

from __future__ import annotations

import pytest

from .conftest import ONE_SESSION, flat, node, wait_until

pytestmark = pytest.mark.anyio


async def test_each_side_reports_the_direction_url_and_groups_of_its_peer() -> None:
    spec = flat(1)
    async with node("a", spec, settings=ONE_SESSION) as (a, server):
        assert server.url is not None
        async with node("b", spec, peers=[server.url.ws], settings=ONE_SESSION) as (b, b_server):
            assert b_server.url is not None
            await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
            (of_b,), (of_a,) = a.peers(), b.peers()
            assert (of_b.node, of_b.direction, of_a.node, of_a.direction) == ("b", "in", "a", "out")
            assert (of_b.url, of_a.url) == (b.advertise_url, a.advertise_url)
            assert of_b.url is not None and of_a.url is not None
            assert of_b.groups == of_a.groups == ()
