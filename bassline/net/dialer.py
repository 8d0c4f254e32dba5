"""Dialling: the URLs a node keeps dialling, each with a loop that redials with backoff.

A :class:`Dialer` runs one loop per :class:`Target`: dial, run the handshake, serve the
link until it ends, wait (exponential backoff with jitter, ``reconnect_min`` to
``reconnect_max``), dial again. It sees the node's links only through :class:`DialHost`
(what :class:`~bassline.net.membership.Membership` offers it), so it does not import the
membership that owns it.
"""

from __future__ import annotations

import logging
import random
import ssl
from collections.abc import Mapping
from typing import Protocol

import anyio
import attrs
from anyio.abc import TaskGroup

from bassline.errors import PeerError
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.handshake import Refusal, RefusedByPeer, handshake
from bassline.net.host import HandshakeHost
from bassline.net.log_once import LogOnce
from bassline.net.peer import PeerSession
from bassline.net.protocol import Hello, ProtocolViolation
from bassline.net.settings import GossipSettings
from bassline.net.transport import ConnectionClosed, DialError, Transport, dial
from bassline.net.urls import NodeURL, parse_node_url

__all__ = ["DialHost", "Dialer", "Target"]

log = logging.getLogger("bassline.net")


class DialHost(HandshakeHost, Protocol):
    """The node's links, as the dial loops see them."""

    @property
    def sessions(self) -> Mapping[str, PeerSession]:
        """The live links, by peer node id."""
        ...

    @property
    def closing(self) -> bool:
        """True once the node is shutting down (dial loops end)."""
        ...

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings for dialling ``wss://`` peers (None: the system's defaults)."""
        ...

    def signal_sessions(self) -> None:
        """Wake every task waiting in :meth:`sessions_changed`."""
        ...

    async def sessions_changed(self) -> None:
        """Return at the next change of the live links (or of a target's state)."""
        ...

    async def run_session(
        self, transport: Transport, hello: Hello, *, dialer: bool, opened: float
    ) -> None:
        """Register an authenticated link and serve it until it ends."""
        ...


@attrs.define
class Target:
    """A URL this node keeps dialling, and how the dialling goes."""

    url: NodeURL
    learned: bool
    """Learned from a peer (forgotten after ``max_learned_failures``), not configured."""
    node: str | None = None
    """The node id that answered at this URL, once one has."""
    failures: int = 0
    last_error: str = ""
    refused: str = ""
    """Why the last attempt was refused (wrong secret, Bassline, ...), if it was."""
    scope: anyio.CancelScope | None = None


class Dialer:
    """The dial targets of one node, by ``ws://`` URL, each with its dial loop."""

    def __init__(self, host: DialHost, settings: GossipSettings, metrics: NetMetrics) -> None:
        self.host = host
        self.settings = settings
        self.metrics = metrics
        self.targets: dict[str, Target] = {}
        """The URLs this node keeps dialling, by ``ws://`` URL."""
        self.warned = LogOnce()
        """Refusals already logged, by URL and reason."""
        self._tg: TaskGroup | None = None

    def start(self, tg: TaskGroup) -> None:
        """Run dial loops in ``tg`` from now on."""
        self._tg = tg

    def stop(self) -> None:
        """End every dial loop."""
        for target in list(self.targets.values()):
            if target.scope is not None:
                target.scope.cancel()

    def add_target(self, url: str, *, learned: bool) -> Target:
        """Keep dialling ``url`` (ValueError if it is not a node URL); its :class:`Target`."""
        parsed = parse_node_url(url)
        key = parsed.ws
        target = self.targets.get(key)
        if target is None:
            target = self.targets[key] = Target(parsed, learned)
            assert self._tg is not None
            self._tg.start_soon(self._dial_loop, key, target)
        elif not learned:
            target.learned = False
        return target

    async def connect_to_peer(self, url: str, *, wait: bool = False, within: float = 10.0) -> None:
        """Dial ``url`` and keep the link up; with ``wait``, until the link is established."""
        target = self.add_target(url, learned=False)
        if not wait:
            return
        sessions = self.host.sessions
        with anyio.move_on_after(within):
            while target.node is None or target.node not in sessions:
                if target.refused:
                    raise PeerError(f"{target.url.ws} refused the link: {target.refused}")
                await self.host.sessions_changed()
            return
        raise PeerError(
            f"could not connect to {target.url.ws} within {within}s"
            + (f": {target.last_error}" if target.last_error else "")
        )

    def disconnect_peer(self, url_or_node: str) -> bool:
        """Stop dialling a URL (or every URL of a node) and close the link; True if found."""
        sessions = self.host.sessions
        found = False
        for key, target in list(self.targets.items()):
            if url_or_node in (target.node, target.url.ws, key) or _same_url(
                url_or_node, target.url
            ):
                del self.targets[key]
                if target.scope is not None:
                    target.scope.cancel()
                found = True
                linked = sessions.get(target.node) if target.node is not None else None
                if linked is not None:
                    linked.stop("disconnected by request")
        session = sessions.get(url_or_node)
        if session is not None:
            session.stop("disconnected by request")
            found = True
        return found

    async def _dial_loop(self, key: str, target: Target) -> None:
        host = self.host
        settings = self.settings
        delay = settings.reconnect_min
        rng = random.Random()
        with anyio.CancelScope() as scope:
            target.scope = scope
            while not host.closing and self.targets.get(key) is target:
                if target.node is not None and target.node in host.sessions:
                    await host.sessions_changed()
                    continue
                established = False
                opened = anyio.current_time()
                try:
                    async with dial(
                        target.url,
                        max_bytes=settings.max_frame_bytes,
                        ssl_context=host.ssl_context,
                    ) as transport:
                        hello = await handshake(host, transport, dialer=True, opened=opened)
                        target.node = hello.node
                        host.signal_sessions()
                        established = True
                        target.failures = 0
                        target.last_error = target.refused = ""
                        await host.run_session(transport, hello, dialer=True, opened=opened)
                except DialError as exc:
                    self.metrics.dial_failures += 1
                    target.failures += 1
                    target.last_error = str(exc)
                    log.debug("%s", exc)
                except (RefusedByPeer, Refusal) as exc:
                    target.failures += 1
                    target.last_error = str(exc)
                    if exc.code == "busy":  # transient: redial with the usual backoff
                        log.warning("%s", exc)
                    elif exc.code != "duplicate":
                        delay = settings.reconnect_max
                        target.refused = str(exc)
                        host.signal_sessions()
                        if self.warned.first((target.url.ws, str(exc))):
                            log.error("%s", exc)
                    if exc.code == "self":
                        break  # that URL is this node, or a node with this node's id
                except (ProtocolViolation, ConnectionClosed) as exc:
                    target.failures += 1
                    target.last_error = str(exc)
                    log.warning("link to %s failed: %s", target.url.ws, exc)
                if target.learned and target.failures >= settings.max_learned_failures:
                    log.info("forgetting learned peer %s: %s", target.url.ws, target.last_error)
                    break
                if established:
                    delay = settings.reconnect_min
                await anyio.sleep(delay * (0.5 + rng.random()))
                if not established:
                    delay = min(settings.reconnect_max, delay * 2)
        if self.targets.get(key) is target:
            del self.targets[key]


def _same_url(text: str, url: NodeURL) -> bool:
    try:
        return parse_node_url(text) == url
    except ValueError:
        return False
