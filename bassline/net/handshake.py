"""The hello / auth exchange that opens every gossip link."""

from __future__ import annotations

import contextlib

import anyio

from bassline.errors import PeerError
from bassline.net import auth
from bassline.net.gossip_metrics import NetMetrics, frame_overhead
from bassline.net.host import HandshakeHost
from bassline.net.protocol import (
    PROTOCOL_VERSION,
    Auth,
    Hello,
    Message,
    ProtocolViolation,
    Refuse,
    dump,
    kind_of,
    parse_frame,
)
from bassline.net.transport import ConnectionClosed, Transport

__all__ = ["Refusal", "RefusedByPeer", "handshake"]

_CLOSE_CODES = {"oversized": 1009, "malformed": 1007}


class Refusal(PeerError):
    """This node refuses a peer; ``code`` names why (for metrics), the message says it all."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class RefusedByPeer(PeerError):
    """The peer refused this node (its ``refuse`` frame's code and reason)."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"refused by peer ({code}): {reason}")


def close_code(code: str) -> int:
    """The WebSocket close code for a refusal or violation code."""
    return _CLOSE_CODES.get(code, 1008)


async def send_refusal(
    transport: Transport, code: str, reason: str, metrics: NetMetrics | None = None
) -> None:
    """Tell the peer why it is refused (counted in ``metrics``), then close the link.

    Never raises.
    """
    with anyio.CancelScope(shield=True), anyio.move_on_after(1):
        with contextlib.suppress(ConnectionClosed):
            sent = await transport.send(dump({"t": "refuse", "code": code, "reason": reason[:500]}))
            if metrics is not None:
                metrics.bytes_out += sent
                metrics.messages_out["refuse"] += 1
    await transport.close(close_code(code), f"{code}: {reason}"[:120])


def own_hello(node: HandshakeHost, nonce: str) -> bytes:
    """This node's hello frame (``store`` only when the node follows a store's feed, so
    a node without one sends what nodes before it sent)."""
    hello = {
        "t": "hello",
        "v": PROTOCOL_VERSION,
        "node": node.node_id,
        "bassline": node.spec_hash,
        "nonce": nonce,
        "epoch": node.log.epoch,
        "auth": "hmac-sha256" if node.secret else "none",
        "url": node.advertise_url,
        "groups": sorted(node.groups),
    }
    if (store := node.feed_identity) is not None:
        hello["store"] = store
    return dump(hello)


async def _receive(node: HandshakeHost, transport: Transport, dialer: bool) -> Message:
    try:
        data = await transport.receive()
    except ProtocolViolation as violation:
        if violation.code != "oversized":
            raise
        limit = node.settings.handshake_frame_limit
        raise ProtocolViolation(
            "oversized",
            f"frame of more than {limit} bytes before the handshake completed "
            "(max_handshake_frame_bytes)",
        ) from None
    # frames from a dialler are masked; the header counts as in PeerSession._reader
    node.metrics.bytes_in += len(data) + frame_overhead(len(data), masked=not dialer)
    message = parse_frame(data, node.settings.handshake_frame_limit)
    node.metrics.messages_in[kind_of(message)] += 1
    if isinstance(message, Refuse):
        raise RefusedByPeer(message.code, message.reason)
    return message


async def _expect_hello(node: HandshakeHost, transport: Transport, dialer: bool) -> Hello:
    message = await _receive(node, transport, dialer)
    if not isinstance(message, Hello):
        raise ProtocolViolation("unexpected", f"expected hello, got {type(message).__name__}")
    return message


async def _expect_auth(node: HandshakeHost, transport: Transport, dialer: bool) -> Auth:
    message = await _receive(node, transport, dialer)
    if not isinstance(message, Auth):
        raise ProtocolViolation("unexpected", f"expected auth, got {type(message).__name__}")
    return message


async def _send(node: HandshakeHost, transport: Transport, kind: str, frame: bytes) -> None:
    sent = await transport.send(frame)  # not `+= await`: other links add meanwhile
    node.metrics.bytes_out += sent
    node.metrics.messages_out[kind] += 1


def _check_proof(node: HandshakeHost, role: str, expected: str, got: Auth, peer: str) -> None:
    if not auth.verify(expected, got.proof):
        raise Refusal(
            "auth",
            f"peer {peer!r} failed authentication as {role}: it does not hold this cluster's "
            "secret (wrong or missing --secret-file?)",
        )


async def handshake(
    node: HandshakeHost, transport: Transport, *, dialer: bool, opened: float | None = None
) -> Hello:
    """Run the opening exchange; returns the peer's hello once both sides are authenticated.

    ``opened`` is when the link began (default: now); the listener refuses a peer it
    already has a live link to (``duplicate``) once the peer has proved the secret, before
    proving its own. Raises :class:`Refusal` (this side refused; the peer was told why),
    :class:`RefusedByPeer`, :class:`ProtocolViolation` or ``ConnectionClosed``.
    """
    nonce = auth.new_nonce()
    if opened is None:
        opened = anyio.current_time()
    # nobody is authenticated yet: a hello or an auth frame is small
    transport.max_bytes = node.settings.handshake_frame_limit
    try:
        with anyio.fail_after(node.settings.handshake_timeout):
            if dialer:
                await _send(node, transport, "hello", own_hello(node, nonce))
                peer = await _expect_hello(node, transport, dialer)
                node.check_hello(peer)
                if node.secret:
                    dialer_id, listener_id = (node.node_id, nonce), (peer.node, peer.nonce)
                    mine = auth.proof(node.secret, "dialer", dialer_id, listener_id, node.spec_hash)
                    await _send(node, transport, "auth", dump({"t": "auth", "proof": mine}))
                    theirs = await _expect_auth(node, transport, dialer)
                    expected = auth.proof(
                        node.secret, "listener", dialer_id, listener_id, node.spec_hash
                    )
                    _check_proof(node, "listener", expected, theirs, peer.node)
            else:
                peer = await _expect_hello(node, transport, dialer)
                node.check_hello(peer)
                if not node.secret:
                    node.check_link(peer, dialer=False, opened=opened)
                await _send(node, transport, "hello", own_hello(node, nonce))
                if node.secret:
                    dialer_id, listener_id = (peer.node, peer.nonce), (node.node_id, nonce)
                    theirs = await _expect_auth(node, transport, dialer)
                    expected = auth.proof(
                        node.secret, "dialer", dialer_id, listener_id, node.spec_hash
                    )
                    _check_proof(node, "dialer", expected, theirs, peer.node)
                    node.check_link(peer, dialer=False, opened=opened)
                    mine = auth.proof(
                        node.secret, "listener", dialer_id, listener_id, node.spec_hash
                    )
                    await _send(node, transport, "auth", dump({"t": "auth", "proof": mine}))
    except TimeoutError:
        node.metrics.refused["handshake-timeout"] += 1
        await send_refusal(
            transport, "handshake-timeout", "the handshake took too long", node.metrics
        )
        raise Refusal(
            "handshake-timeout",
            f"handshake with {transport.remote} did not finish within "
            f"{node.settings.handshake_timeout}s",
        ) from None
    except Refusal as refusal:
        node.metrics.refused[refusal.code] += 1
        await send_refusal(transport, refusal.code, str(refusal), node.metrics)
        raise
    except ProtocolViolation as violation:
        node.metrics.rejected[violation.code] += 1
        await send_refusal(transport, violation.code, str(violation), node.metrics)
        raise
    except RefusedByPeer as refused:
        node.metrics.refused_by_peer[refused.code] += 1
        await transport.close(1000, "refused")
        raise
    transport.max_bytes = node.settings.max_frame_bytes
    return peer
