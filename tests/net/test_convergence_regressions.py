"""Deterministic regressions found by the randomized schedules (test_convergence_random.py)."""

from __future__ import annotations

import anyio
import anyio.abc
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Request

from bassline.net.transport import ClientTransport, ConnectionClosed

from .conftest import calculator, converged, flat, node, wait_until

pytestmark = pytest.mark.anyio


async def test_a_value_that_wins_a_stamp_tie_flows_on_along_wires_on_every_node() -> None:
    """Two writes with the same stamp are ordered by their canonical JSON on every replica;
    the winner must also reach what is wired to the contact. It used to stop there: the
    wire saw an equal stamp, not a newer one, so ``adder.a`` kept the losing 5 and every
    node agreed on ``result`` = 5 + 7 while ``input-a`` was 9 (seed 368 and ten others)."""
    spec = calculator()
    async with node("writer", spec, groups=[]) as (writer, sw):
        assert sw.url is not None
        async with node("adder", spec, groups=["adder"], peers=[sw.url.ws]) as (adder, _):
            await writer.update_contact("input-b", 7)
            await writer.update_contact("input-a", 5)
            await wait_until(lambda: adder.value("result", None) == 12, what="the first sum")
            stamp = writer.contact("input-a").stamp
            assert writer.runtime is not None
            # another write carrying the very same stamp ("9" sorts after "5": it wins)
            await writer.runtime.apply([("input-a", 9, stamp)])
            assert writer.value("input-a") == 9
            assert writer.value("adder.a") == 9  # the wire carries the winner on this node
            await wait_until(lambda: converged([writer, adder]), what="convergence")
            for net in (writer, adder):
                assert net.value("input-a") == net.value("adder.a") == 9, net.node_id
                assert net.value("result") == 16, net.node_id


class _GatedStream(anyio.abc.ByteStream):
    """A byte stream whose reads replay ``incoming`` and whose writes wait for ``gate``."""

    def __init__(self, incoming: bytes) -> None:
        self.incoming = incoming
        self.gate = anyio.Event()
        self.writing = anyio.Event()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self.incoming:
            await anyio.sleep_forever()
        data, self.incoming = self.incoming, b""
        return data

    async def send(self, item: bytes) -> None:
        self.writing.set()
        await self.gate.wait()

    async def send_eof(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def _upgraded() -> tuple[WSConnection, WSConnection]:
    """A dialling and an accepting wsproto connection past the upgrade."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="peer", target="/gossip")))
    assert [type(e) for e in server.events()] == [Request]
    client.receive_data(server.send(AcceptConnection()))
    assert [type(e) for e in client.events()] == [AcceptConnection]
    return client, server


async def test_a_delta_sent_while_the_peers_close_is_answered_ends_the_link_not_the_node() -> None:
    """Seen as a crash of a dialling node when a peer restarted (seed 368, one run in
    six): the reader answered the peer's close frame (wsproto is then CLOSED) and, while
    that reply waited for the socket, the pusher's delta reached ``ws.send``. wsproto
    raised LocalProtocolError, which no one expects: it escaped the session and the
    dial loop and took the whole node down. It must be the ConnectionClosed that ends
    the link (and is redialled)."""
    client, server = _upgraded()
    stream = _GatedStream(server.send(CloseConnection(1001, "restarting")))
    transport = ClientTransport(stream, client, 1 << 20, "ws://peer")

    async def read() -> None:
        with pytest.raises(ConnectionClosed, match="restarting"):
            await transport.receive()  # reads the close, then waits to write the reply

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await stream.writing.wait()
        with pytest.raises(ConnectionClosed):
            await transport.send(b'{"t":"hb"}')
        stream.gate.set()


async def test_a_sender_fails_only_once_the_reader_took_what_the_peer_said_before_closing() -> None:
    """A goodbye and the close after it arrive in one read: the reader queues the bye and
    waits to write its answer to the close. A sender that ran then saw the link closed
    and ended the session as ``connection-lost`` before the reader had the bye (seen as a
    goodbye lost in 2 of 10 runs of test_goodbye.py). The sender fails after the reader
    has taken it, so the session ends as the peer said."""
    client, server = _upgraded()
    bye = b'{"t":"bye","reason":"maintenance"}'
    said = server.send(BytesMessage(bye)) + server.send(CloseConnection(1000, "stopped"))
    stream = _GatedStream(said)
    transport = ClientTransport(stream, client, 1 << 20, "ws://peer")
    seen: list[object] = []

    async def read() -> None:
        seen.append(await transport.receive())

    async def send() -> None:
        with pytest.raises(ConnectionClosed):
            await transport.send(b'{"t":"hb"}')
        seen.append("send failed")

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        await stream.writing.wait()  # the reader answers the close, the bye still queued
        tg.start_soon(send)
        await anyio.wait_all_tasks_blocked()
        stream.gate.set()
    assert seen == [bye, "send failed"]
    with pytest.raises(ConnectionClosed, match="stopped"):
        await transport.receive()


async def test_a_peer_that_restarts_empty_gets_back_the_values_it_had_sent() -> None:
    """A node restarted without its contents (a fresh in-memory store, a replaced disk, or
    changes not yet stored when it crashed) announces a new epoch, and its peers resend
    what they hold. Entries a peer took *from* that node were marked "the sender has it"
    and were never resent, so the two stayed apart for good: the marks describe the
    previous incarnation and must not outlive it."""
    spec = flat(5)
    async with node("keeper", spec) as (keeper, sk):
        assert sk.url is not None
        async with node("writer", spec, peers=[sk.url.ws]) as (writer, _):
            for i in range(5):
                await writer.update_contact(f"c{i}", f"from writer {i}")
            await wait_until(lambda: converged([writer, keeper]), what="the first copy")
        async with node("writer", spec, peers=[sk.url.ws]) as (writer, _):  # empty again
            assert writer.values() == {}
            await wait_until(lambda: converged([writer, keeper]), what="catch-up")
            assert writer.value("c4") == "from writer 4"


async def test_a_node_that_restarts_empty_and_writes_before_reconnecting_delivers_the_write() -> (
    None
):
    """A digest names the incarnation (epoch) of the log its position is in. The keeper's
    cursor on the writer still says "seq 5" of the writer's previous incarnation; the
    restarted writer has one change (seq 1) in its new log. Read without its epoch, that
    digest says the keeper already has seq 1, and the write is never sent."""
    spec = flat(6)
    async with node("keeper", spec) as (keeper, sk):
        assert sk.url is not None
        async with node("writer", spec, peers=[sk.url.ws]) as (writer, _):
            for i in range(5):
                await writer.update_contact(f"c{i}", f"first life {i}")
            first_epoch = writer.log.epoch
            await wait_until(
                lambda: keeper.cursor("writer") == (first_epoch, 5), what="the first copy"
            )
        async with node("writer", spec) as (writer, _):  # empty again, and not linked
            assert writer.values() == {} and writer.log.epoch != first_epoch
            await writer.update_contact("c5", "written while apart")
            assert writer.log.head == 1
            await writer.connect_to_peer(sk.url.ws, wait=True)
            await wait_until(
                lambda: keeper.value("c5", None) == "written while apart",
                what="the write made while apart, on the keeper",
            )
            await wait_until(lambda: converged([writer, keeper]), what="convergence")
            # the cursor moves once the delta is stored, after its values show: wait for it
            await wait_until(
                lambda: keeper.cursor("writer") == (writer.log.epoch, writer.log.head),
                what="the keeper's cursor on the writer's new log",
            )
