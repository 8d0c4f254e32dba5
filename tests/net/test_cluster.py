"""Nodes on real loopback sockets: split gadgets, relay, concurrent writes, partitions."""

from __future__ import annotations

import anyio
import pytest

from bassline.errors import PeerError
from bassline.lattices import GrowSet
from bassline.net import BasslineNetwork, GossipSettings, NodeServer

from .conftest import (
    FAST,
    ONE_SESSION,
    calculator,
    converged,
    cursors_at_heads,
    flat,
    line,
    node,
    wait_until,
    write_both_ways,
)
from .proxy import TcpProxy

pytestmark = pytest.mark.anyio


async def test_calculator_split_over_three_nodes_sums_on_the_third() -> None:
    spec = calculator()
    async with node("inputs", spec, groups=[]) as (n1, s1):
        assert s1.url is not None
        async with node("adder", spec, groups=["adder"], peers=[s1.url.ws]) as (n2, s2):
            assert s2.url is not None
            async with node("results", spec, groups=[], peers=[s2.url.ws]) as (n3, _):
                await n1.update_contact("input-a", 5)
                await n1.update_contact("input-b", 7)
                await wait_until(lambda: n3.value("result", None) == 12, what="the sum on n3")
                await n1.update_contact("input-a", 30)
                await wait_until(lambda: n3.value("result", None) == 37, what="the new sum")
                # only the adder node ran the gadget; the others received its output
                assert n1.runtime is not None and n1.runtime.network.run_groups == frozenset()
                await wait_until(lambda: converged([n1, n2, n3]), what="identical contents")


async def test_five_nodes_in_a_line_relay_every_update_to_all() -> None:
    async with line(flat(50), 5) as nets:
        await wait_until(
            lambda: [len(n.peers()) for n in nets] == [1, 2, 2, 2, 1], what="the line's links"
        )
        for i, net in enumerate(nets):
            await net.update_contact(f"c{i}", f"from n{i}")
        await net.update_many({f"c{10 + k}": k for k in range(20)})
        for i in range(5):
            await wait_until(
                lambda i=i: all(n.value(f"c{i}", None) == f"from n{i}" for n in nets),
                what=f"c{i} everywhere",
            )
        await wait_until(lambda: converged(nets), what="identical contents on all five")
        assert all(n.value("c29") == 19 for n in nets)


async def test_concurrent_writes_converge_to_one_value_and_to_the_union() -> None:
    spec = flat(3, sets=2)
    async with line(spec, 4) as nets:
        async with anyio.create_task_group() as tg:
            for i, net in enumerate(nets):
                tg.start_soon(net.update_contact, "c0", f"writer {i}")
                tg.start_soon(net.update_contact, "s0", [i, f"x{i}"])
                tg.start_soon(net.update_contact, "s1", [i])
        await wait_until(lambda: converged(nets), what="convergence")
        winner = nets[0].value("c0")
        assert all(n.value("c0") == winner for n in nets)
        stamps = {n.contact("c0").stamp for n in nets}
        assert len(stamps) == 1
        expected = GrowSet([0, 1, 2, 3, "x0", "x1", "x2", "x3"])
        assert all(n.value("s0") == expected for n in nets)
        assert all(n.value("s1") == GrowSet([0, 1, 2, 3]) for n in nets)


async def test_a_join_that_adds_older_information_still_reaches_nodes_two_hops_away() -> None:
    """The merge pitfall: b joins information older than its own into a value nobody
    wrote; its stamp is derived (just past b's own), and the join must still reach c."""
    spec = flat(1, sets=1)
    async with node("a", spec) as (a, _), node("b", spec) as (b, sb), node("c", spec) as (c, _):
        assert sb.url is not None
        await a.update_contact("s0", ["old"])  # older stamp, written while a is isolated
        await b.update_contact("s0", ["new"])
        await c.connect_to_peer(sb.url.ws, wait=True)
        await wait_until(lambda: c.value("s0", None) == GrowSet(["new"]), what="c has b's set")
        stamp_before = b.contact("s0").stamp
        await a.connect_to_peer(sb.url.ws, wait=True)
        await wait_until(lambda: b.value("s0") == GrowSet(["old", "new"]), what="b joins a's set")
        # a derived stamp, just past b's own: b's accept-last neighbours take the join too
        assert b.contact("s0").stamp.hlc == stamp_before.hlc + 1
        await wait_until(
            lambda: c.value("s0") == GrowSet(["old", "new"]), what="the join reaches c"
        )
        await wait_until(lambda: converged([a, b, c]), what="convergence")


async def test_a_cut_link_is_restored_and_both_sides_converge() -> None:
    spec = flat(40, sets=1)
    async with node("left", spec) as (left, _), node("right", spec) as (right, sr):
        assert sr.url is not None
        async with TcpProxy(sr.url.port) as proxy:
            await left.connect_to_peer(proxy.url, wait=True)
            await left.update_contact("c0", "before")
            await wait_until(lambda: right.value("c0", None) == "before", what="first value")
            proxy.cut()
            await wait_until(lambda: not left.peers() and not right.peers(), what="the cut")
            for i in range(1, 20):
                await left.update_contact(f"c{i}", f"left {i}")
                await right.update_contact(f"c{i + 20}", f"right {i}")
            await left.update_contact("s0", ["l"])
            await right.update_contact("s0", ["r"])
            await left.update_contact("c0", "left wins")
            assert not converged([left, right])
            proxy.restore()
            await wait_until(lambda: converged([left, right]), what="convergence after the cut")
            assert right.value("c0") == "left wins"
            assert right.value("s0") == GrowSet(["l", "r"])
            assert proxy.connections >= 2  # the dialler reconnected on its own
            assert left.metrics.disconnects and right.metrics.disconnects


async def test_a_stalled_peer_costs_bounded_memory_and_catches_up_from_the_log() -> None:
    slow = GossipSettings(
        heartbeat_interval=5,
        heartbeat_timeout=15,
        anti_entropy_interval=0.2,
        reconnect_min=0.02,
        reconnect_max=0.3,
        send_queue_frames=4,
        max_delta_items=100,
        discover=False,
    )
    spec = flat(500)
    async with node("writer", spec, settings=slow) as (writer, _):
        async with node("reader", spec, settings=slow) as (reader, sr):
            assert sr.url is not None
            async with TcpProxy(sr.url.port) as proxy:
                await writer.connect_to_peer(proxy.url, wait=True)
                proxy.freeze()
                for round_ in range(40):  # 20,000 updates to 500 contacts
                    await writer.update_many({f"c{i}": round_ * 1000 + i for i in range(500)})
                    (info,) = writer.peers()
                    assert info.queue_depth <= 4
                assert len(writer.log) == 500  # one entry per contact, not per update
                proxy.thaw()
                await wait_until(lambda: converged([writer, reader]), what="catching up")
                assert reader.value("c499") == 39 * 1000 + 499


async def test_duplicate_links_between_two_nodes_collapse_to_one() -> None:
    spec = flat(3)
    async with node("p", spec) as (p, sp), node("q", spec) as (q, sq):
        assert sp.url is not None and sq.url is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: p.connect_to_peer(sq.url.ws, wait=True))  # type: ignore[union-attr]
            tg.start_soon(lambda: q.connect_to_peer(sp.url.ws, wait=True))  # type: ignore[union-attr]
        await wait_until(lambda: len(p.peers()) == 1 and len(q.peers()) == 1, what="one link each")
        await p.update_contact("c1", 1)
        await q.update_contact("c2", 2)
        await wait_until(lambda: converged([p, q]), what="convergence over the kept link")


async def test_peers_learned_from_a_peer_are_dialled_when_discovery_is_on() -> None:
    spec = flat(2)
    discovering = GossipSettings(
        heartbeat_interval=0.2,
        heartbeat_timeout=0.8,
        anti_entropy_interval=0.2,
        peer_exchange_interval=0.2,
        reconnect_min=0.02,
        reconnect_max=0.3,
        discover=True,
        target_peers=3,
    )
    async with node("hub", spec, settings=discovering) as (_hub, sh):
        assert sh.url is not None
        async with (
            node("b", spec, peers=[sh.url.ws], settings=discovering) as (b, _),
            node("c", spec, peers=[sh.url.ws], settings=discovering) as (c, _),
        ):
            # each side registers the link when its own handshake ends: wait for both
            await wait_until(
                lambda: (
                    {p.node for p in b.peers()} == {"hub", "c"}
                    and {p.node for p in c.peers()} == {"hub", "b"}
                ),
                what="b and c linked, as each of them sees it",
            )


async def test_a_peer_that_goes_silent_is_dropped_after_the_heartbeat_timeout() -> None:
    spec = flat(2)
    async with node("x", spec) as (x, _), node("y", spec) as (y, sy):
        assert sy.url is not None
        async with TcpProxy(sy.url.port) as proxy:
            await x.connect_to_peer(proxy.url, wait=True)
            proxy.freeze()
            await wait_until(
                lambda: (
                    x.metrics.disconnects["heartbeat-timeout"] >= 1
                    and y.metrics.disconnects["heartbeat-timeout"] >= 1
                ),
                what="heartbeat timeouts on both sides",
            )
            proxy.thaw()
            await wait_until(lambda: len(x.peers()) == 1, what="reconnection")
            await x.update_contact("c1", "after")
            await wait_until(lambda: y.value("c1", None) == "after", what="traffic again")


async def test_a_restarted_node_recovers_from_storage_and_catches_up(tmp_path: object) -> None:
    from bassline.storage import open_storage

    spec = flat(30)
    url = f"file://{tmp_path}"
    async with node("steady", spec) as (steady, ss):
        assert ss.url is not None
        async with open_storage(url) as storage:
            async with BasslineNetwork(
                "flaky", spec, storage=storage, peers=[ss.url.ws], settings=FAST
            ) as flaky:
                await flaky.update_contact("c0", "written by flaky")
                await wait_until(lambda: steady.value("c0", None) == "written by flaky")
        for i in range(1, 30):
            await steady.update_contact(f"c{i}", i)
        async with open_storage(url) as storage:
            async with BasslineNetwork(
                "flaky", spec, storage=storage, peers=[ss.url.ws], settings=FAST
            ) as flaky:
                assert flaky.runtime is not None and flaky.runtime.recovered == 1
                assert flaky.value("c0") == "written by flaky"
                await wait_until(lambda: converged([steady, flaky]), what="catch-up")


async def test_shutdown_says_goodbye_and_the_peer_records_it() -> None:
    spec = flat(2)
    async with node("stay", spec, settings=ONE_SESSION) as (stay, ss):
        assert ss.url is not None
        async with BasslineNetwork("leave", spec, peers=[ss.url.ws], settings=ONE_SESSION) as leave:
            await wait_until(lambda: len(leave.peers()) == 1, what="link")
        await wait_until(lambda: not stay.peers(), what="the link to end")
        assert stay.metrics.disconnects == {"peer-left": 1}


async def test_a_node_can_be_mounted_inside_another_asgi_app() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bassline.net import create_app

    spec = flat(2)
    async with BasslineNetwork("mounted", spec, settings=FAST) as mounted:
        outer = Starlette(routes=[Mount("/bassline", app=create_app(mounted))])
        async with NodeServer(mounted, "127.0.0.1", 0, app=outer) as server:
            assert server.url is not None
            base = f"ws://127.0.0.1:{server.url.port}/bassline"
            async with node("visitor", spec, peers=[base]) as (visitor, _):
                await visitor.update_contact("c1", "through the mount")
                await wait_until(lambda: mounted.value("c1", None) == "through the mount")


async def test_status_of_a_mounted_node_names_the_url_it_was_reached_at(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from bassline.cli.app import main
    from bassline.net import create_app

    async with BasslineNetwork("m1", flat(2), settings=FAST) as mounted:
        outer = Starlette(routes=[Mount("/bassline", app=create_app(mounted))])
        async with NodeServer(mounted, "127.0.0.1", 0, app=outer) as server:
            assert server.url is not None
            assert str(server.url) == f"http://127.0.0.1:{server.url.port}"  # not a repr
            base = f"{server.url}/bassline"
            mounted.advertise_url = None  # as when another server serves the mounting app
            code = await anyio.to_thread.run_sync(main, ["status", base])
            shown = capsys.readouterr()
            assert code == 0, shown.err
            assert f"node m1 at {base} (it advertises no URL to peers)" in shown.out
            assert "None" not in shown.out
            mounted.advertise_url = f"ws://127.0.0.1:{server.url.port}/bassline"
            code = await anyio.to_thread.run_sync(main, ["status", base])
            assert code == 0 and f"node m1 at {base}\n" in capsys.readouterr().out


async def test_the_example_calculator_gossips_values_derived_from_spec_contents() -> None:
    from pathlib import Path

    from bassline.spec import load_spec

    spec = load_spec(Path(__file__).parents[2] / "examples" / "calculator.json")
    async with node("plain", spec, groups=[]) as (plain, sp):
        assert sp.url is not None and plain.value("result", None) is None
        async with node("adder", spec, groups=["add-gadget"], peers=[sp.url.ws]) as (adder, _):
            await wait_until(lambda: plain.value("result", None) == 30, what="30 from the spec")
            assert plain.metrics.rejected == {} and adder.metrics.rejected == {}


async def test_gossip_over_tls_with_a_configured_certificate(tmp_path: object) -> None:
    import ssl
    import subprocess
    from pathlib import Path

    folder = Path(str(tmp_path))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: ASYNC221 - a one-off certificate before any node starts
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    spec = flat(2)
    trust = ssl.create_default_context(cafile=str(cert))
    async with BasslineNetwork("secure", spec, settings=FAST) as secure:
        async with NodeServer(secure, "127.0.0.1", 0, certfile=str(cert), keyfile=str(key)) as s:
            assert s.url is not None and s.url.ws.startswith("wss://")
            async with BasslineNetwork("client", spec, settings=FAST, ssl_context=trust) as client:
                await client.connect_to_peer(s.url.ws, wait=True)
                await client.update_contact("c1", "over TLS")
                await wait_until(lambda: secure.value("c1", None) == "over TLS")
            async with BasslineNetwork("untrusting", spec, settings=FAST) as untrusting:
                with pytest.raises(PeerError, match=r"could not connect"):
                    await untrusting.connect_to_peer(s.url.ws, wait=True, within=0.5)


@pytest.mark.parametrize("broken", ["missing", "garbage"])
async def test_a_server_refuses_unusable_tls_files_before_it_listens(
    tmp_path: object, broken: str
) -> None:
    from pathlib import Path

    from bassline.net import TLSFilesError

    folder = Path(str(tmp_path))
    cert, key = folder / "cert.pem", folder / "key.pem"
    if broken == "garbage":
        cert.write_text("not a certificate")
        key.write_text("not a key")
    async with BasslineNetwork("tls", flat(1), settings=FAST) as net:
        server = NodeServer(net, "127.0.0.1", 0, certfile=str(cert), keyfile=str(key))
        with pytest.raises(TLSFilesError, match=r"cannot use TLS certificate .*cert\.pem"):
            await server.__aenter__()
        assert server.url is None and net.advertise_url is None  # it never listened


async def test_converged_peers_report_nothing_behind_and_nothing_lagging() -> None:
    """Changes a node took from a peer are never sent back, so a log that ends in them
    must still let the peer's cursor reach the head (or status shows a converged pair as
    lagging forever)."""
    spec = flat(3)
    async with node("a", spec) as (a, sa):
        assert sa.url is not None
        async with node("b", spec, peers=[sa.url.ws]) as (b, _):
            await write_both_ways(a, b)
            assert a.log.head > 0 and b.log.head > 0
            await wait_until(
                lambda: cursors_at_heads([a, b]), what="no change behind or lagging on either side"
            )
