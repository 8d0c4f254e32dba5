"""What a node reports about itself (peers(), health(), /metrics) agrees with what it did."""

from __future__ import annotations

import re
import secrets

import anyio
import attrs
import httpx
import pytest

from bassline.net import BasslineNetwork, GossipSettings
from bassline.net.gossip_metrics import frame_overhead
from bassline.net.handshake import handshake
from bassline.net.protocol import PROTOCOL_VERSION, dump
from bassline.net.transport import ConnectionClosed, dial
from bassline.spec import parse_spec

from .conftest import (
    FAST,
    ONE_SESSION,
    converged,
    cursors_at_heads,
    flat,
    node,
    wait_until,
    write_both_ways,
)

pytestmark = pytest.mark.anyio

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(
    rf"^({_NAME})(\{{(?:{_LABEL}(?:,{_LABEL})*)?\}})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)$"
)


def prometheus_problems(text: str) -> list[str]:
    """Everything that makes ``text`` invalid Prometheus text (format 0.0.4)."""
    problems: list[str] = []
    types: dict[str, str] = {}
    helps: set[str] = set()
    series: set[tuple[str, str]] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                problems.append(f"second HELP for {name}")
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            if name in types:
                problems.append(f"second TYPE for {name}")
            if kind not in ("counter", "gauge", "summary", "histogram", "untyped"):
                problems.append(f"unknown type {kind} of {name}")
            types[name] = kind
        elif line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            if match is None:
                problems.append(f"not a sample: {line!r}")
                continue
            name, labels = match.group(1), match.group(2) or ""
            family = re.sub(r"_(sum|count|bucket)$", "", name)
            if name not in types and family not in types:
                problems.append(f"sample before its TYPE: {name}")
            if (name, labels) in series:
                problems.append(f"duplicate series {name}{labels}")
            series.add((name, labels))
    return problems


def _concat() -> object:
    """``out = a + b`` (text) through a ``concat`` gadget group ``joiner``."""
    return parse_spec(
        {
            "id": "concat",
            "groups": [{"id": "joiner", "gadget": "concat"}],
            "contacts": [
                {"id": "a"},
                {"id": "b"},
                {"id": "out"},
                {"id": "joiner.a", "group": "joiner", "name": "a", "boundary": "input"},
                {"id": "joiner.b", "group": "joiner", "name": "b", "boundary": "input"},
                {"id": "joiner.result", "group": "joiner", "name": "result", "boundary": "output"},
            ],
            "wires": [
                {"from": "a", "to": "joiner.a"},
                {"from": "b", "to": "joiner.b"},
                {"from": "joiner.result", "to": "out"},
            ],
        }
    )


async def test_contents_too_large_to_gossip_are_counted_once_and_cleared_when_they_shrink(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two derived contents too large for a frame, two peers: health says 2, not 2 per
    peer, each is logged once by name, and health is ok again once the contents fit."""
    settings = attrs.evolve(ONE_SESSION, max_frame_bytes=10_000)  # counts for one session
    spec = _concat()
    half = "x" * 5800  # each input fits; their concatenation (out, joiner.result) does not
    async with node("hub", spec, settings=settings) as (hub, sh):  # type: ignore[arg-type]
        assert sh.url is not None
        async with (
            node("p1", spec, groups=[], peers=[sh.url.ws], settings=settings) as (p1, _),  # type: ignore[arg-type]
            node("p2", spec, groups=[], peers=[sh.url.ws], settings=settings) as (p2, _),  # type: ignore[arg-type]
        ):
            await wait_until(lambda: len(hub.peers()) == 2, what="both links")
            await hub.update_contact("a", half)
            await hub.update_contact("b", half)
            await wait_until(
                lambda: p1.value("b", None) == half and p2.value("b", None) == half,
                what="the inputs on both peers",
            )
            await wait_until(
                lambda: not hub.health().ok, what="the oversized contents to be noticed"
            )
            await wait_until(
                lambda: all(p.behind == 0 for p in hub.peers()), what="both peers passed them"
            )
            assert hub.health().reasons == ("2 contents too large to gossip",)
            assert hub.metrics.oversized_values == 2
            assert p1.value("out", None) is None and p2.value("out", None) is None
            logged = sorted(
                r.getMessage().split(" is too large to gossip (")
                for r in caplog.records
                if r.name == "bassline.net" and "too large to gossip" in r.getMessage()
            )
            assert [(m[0], m[1].rpartition(",")[2]) for m in logged] == [
                ("content of 'joiner.result'", " limit 10000)"),
                ("content of 'out'", " limit 10000)"),
            ]

            await hub.update_contact("b", "short")
            await wait_until(lambda: converged([hub, p1, p2]), what="the shorter result everywhere")
            assert p1.value("out") == half + "short"
            assert hub.health().ok, hub.health().reasons
            assert hub.metrics.oversized_values == 2  # the counter counts, it never shrinks


async def test_delta_counters_agree_with_the_delta_frames_written() -> None:
    """Empty deltas (announcing changes taken from the peer) are delta frames too."""
    spec = flat(3)
    async with node("a", spec, settings=ONE_SESSION) as (a, sa):
        assert sa.url is not None
        async with node("b", spec, peers=[sa.url.ws], settings=ONE_SESSION) as (b, _):
            await write_both_ways(a, b)
            await wait_until(lambda: cursors_at_heads([a, b]), what="both cursors at the heads")
            # whether a's first delta carried a's write alone (and an empty delta then passed
            # over b's) or both at once is timing; what follows is not. b writes again and a
            # does not: a's log now ends in a change it never sends back to b, so it tells b
            # its cursor may pass it with exactly one empty delta
            sent = a.metrics.messages_out["delta"]
            await b.update_contact("c2", "from b again")
            await wait_until(lambda: cursors_at_heads([a, b]), what="both cursors at the heads")
            assert a.metrics.messages_out["delta"] == sent + 1
            assert (a.metrics.items_out, b.metrics.items_out) == (1, 2)
            for n, peer in ((a, b), (b, a)):
                m = n.metrics
                assert m.deltas_out == m.messages_out["delta"], n.node_id
                assert m.deltas_in == m.messages_in["delta"], n.node_id
                assert m.messages_in["delta"] == peer.metrics.messages_out["delta"], n.node_id
                assert not m.disconnects, n.node_id  # one session: the counts are its own


async def test_bytes_and_frames_counted_on_a_link_match_what_crossed_it() -> None:
    """Handshake frames count their WebSocket header, and goodbyes and refusals are sent
    frames: what a node reports sending and receiving is what the other end saw."""
    quiet = attrs.evolve(
        FAST, heartbeat_interval=5.0, heartbeat_timeout=15.0, anti_entropy_interval=5.0
    )
    spec = flat(2)
    async with (
        node("target", spec, settings=quiet) as (target, server),
        BasslineNetwork("visitor", spec, settings=quiet) as visitor,
    ):
        assert server.url is not None
        m = target.metrics
        async with dial(server.url, max_bytes=1 << 20) as link:
            await handshake(visitor, link, dialer=True)
            sent_by_visitor = visitor.metrics.bytes_out
            seen: list[bytes | str] = []
            with anyio.fail_after(10):
                while len(seen) < 2:  # the target's digest and peers
                    seen.append(await link.receive())
            target.disconnect_peer("visitor")
            with anyio.fail_after(10):
                try:
                    while True:
                        seen.append(await link.receive())
                except ConnectionClosed:
                    pass
        await wait_until(lambda: not target.peers(), what="the link to end")
        assert m.messages_out["bye"] == 1
        received_by_visitor = (
            sum(len(f) + frame_overhead(len(f), masked=False) for f in seen)
            + visitor.metrics.bytes_in
        )  # the target's hello, counted by the handshake
        assert m.bytes_in == sent_by_visitor
        assert m.bytes_out == received_by_visitor

        before_in, before_out = m.bytes_in, m.bytes_out
        wrong = dump(
            {
                "t": "hello",
                "v": PROTOCOL_VERSION,
                "node": "stranger",
                "bassline": "0" * 64,
                "nonce": secrets.token_hex(16),
                "epoch": "0" * 16,
                "auth": "none",
                "url": None,
                "groups": [],
            }
        )
        async with dial(server.url, max_bytes=1 << 20) as link:
            await link.send(wrong)
            refusal = await link.receive()
            assert b"bassline-hash" in (refusal if isinstance(refusal, bytes) else b"")
        assert m.bytes_in - before_in == len(wrong) + frame_overhead(len(wrong), masked=True)
        assert m.bytes_out - before_out == len(refusal) + frame_overhead(len(refusal), masked=False)
        assert m.messages_out["refuse"] == 1


async def test_anti_entropy_runs_and_cursors_settle_with_a_one_frame_send_queue() -> None:
    settings = attrs.evolve(FAST, send_queue_frames=1)
    spec = flat(3)
    async with node("a", spec, settings=settings) as (a, sa):
        assert sa.url is not None
        async with node("b", spec, peers=[sa.url.ws], settings=settings) as (b, _):
            await wait_until(lambda: len(a.peers()) == len(b.peers()) == 1, what="the link")
            await a.update_contact("c0", "from a")
            await b.update_contact("c1", "from b")
            await wait_until(lambda: converged([a, b]), what="convergence")
            await wait_until(
                lambda: a.metrics.anti_entropy_rounds >= 3 and b.metrics.anti_entropy_rounds >= 3,
                what="digests every round",
            )
            await wait_until(
                lambda: all(p.behind == 0 and p.lagging == 0 for n in (a, b) for p in n.peers()),
                what="nothing behind or lagging",
            )


async def test_metrics_stay_valid_prometheus_text_whatever_a_peer_calls_its_refusal() -> None:
    spec = flat(2)
    async with node("n", spec) as (net, server):
        assert server.url is not None
        async with BasslineNetwork("mallory", spec, settings=FAST) as mallory:
            async with dial(server.url, max_bytes=1 << 20) as link:
                await handshake(mallory, link, dialer=True)
                code = 'x"} 1\\ # y'
                await link.send(dump({"t": "refuse", "code": code, "reason": "no"}))
                await wait_until(
                    lambda: net.metrics.refused_by_peer[code] == 1, what="the refusal counted"
                )
        await net.update_contact("c0", 1)
        async with httpx.AsyncClient(base_url=server.url.http) as http:
            text = (await http.get("/metrics")).text
        assert prometheus_problems(text) == []
        assert 'bassline_net_refused_by_peer_total{reason="x\\"} 1\\\\ # y"} 1' in text


async def test_a_fresh_node_exposes_valid_prometheus_text() -> None:
    async with node("fresh", flat(1), settings=GossipSettings(discover=False)) as (net, _):
        assert prometheus_problems(net.prometheus()) == []
