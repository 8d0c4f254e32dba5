"""A node's listener that raises on contents a peer sent is logged: the link and the node
go on, and the other listeners hear every run (concepts.md, "Content is copied; every
listener hears every run"). A write made on the node raises it to its caller."""

from __future__ import annotations

import logging

import pytest

from bassline.engine.results import PropagationResult

from .conftest import converged, flat, node, wait_until

pytestmark = pytest.mark.anyio


async def test_a_listener_raising_on_a_peers_contents_ends_no_link(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = flat(3)
    raised: list[PropagationResult] = []
    heard: list[PropagationResult] = []

    def bad(result: PropagationResult) -> None:
        raised.append(result)
        raise RuntimeError("a bug in a listener")

    async with node("p", spec) as (p, _), node("q", spec) as (q, sq):
        assert sq.url is not None
        q.add_listener(bad)
        q.add_listener(heard.append)
        await p.connect_to_peer(sq.url.ws, wait=True)
        with caplog.at_level(logging.ERROR, logger="bassline.net"):
            await p.update_contact("c1", 1)
            await wait_until(lambda: q.value("c1") == 1, what="c1 on q")
            await p.update_contact("c2", 2)  # the link still carries the next change
            await wait_until(lambda: converged([p, q]), what="convergence")
        assert len(raised) == len(heard) >= 2
        assert [p_.node for p_ in q.peers()] == ["p"]
        assert "raised on a run no verb of this node started" in caplog.text
        with pytest.raises(RuntimeError, match="a bug in a listener"):
            await q.update_contact("c0", 5)  # a write made here: its caller hears it
