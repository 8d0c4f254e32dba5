"""What goes wrong when calling a node (:mod:`bassline.net.client`), as exceptions.

Every one is a :class:`NodeClientError`, whose message says what was asked (``GET
/api/contacts/result``), of which node (its base URL) and why it failed, and whose
attributes hold the same for programs. A bad node URL is a :class:`ValueError` from the
client's constructor, before any connection.
"""

from __future__ import annotations

from bassline.errors import BasslineError

__all__ = [
    "BadReply",
    "NodeAuthError",
    "NodeClientError",
    "NodeRefused",
    "NodeTimeout",
    "NodeUnreachable",
    "WatchOverflow",
]


class NodeClientError(BasslineError):
    """A call to a node failed; the message says what, where and why."""

    def __init__(self, message: str, *, node: str, request: str) -> None:
        super().__init__(message)
        self.node = node
        """The node's base URL (``http://127.0.0.1:8455``)."""
        self.request = request
        """What was asked: the method and path (``GET /api/status``)."""


class NodeUnreachable(NodeClientError):
    """No answer could be had: the connection was refused or lost, the host is unknown, or
    TLS failed (an untrusted certificate, say)."""


class NodeTimeout(NodeClientError):
    """The node did not answer within the client's ``timeout``."""


class BadReply(NodeClientError):
    """The node answered, but not as a Bassline node does: not JSON, not the expected
    shape, or larger than the client's ``max_reply_bytes``."""


class NodeRefused(NodeClientError):
    """The node answered with an HTTP error; ``reason`` is the node's own message."""

    def __init__(
        self,
        message: str,
        *,
        node: str,
        request: str,
        status: int,
        code: str | None,
        reason: str | None,
    ) -> None:
        super().__init__(message, node=node, request=request)
        self.status = status
        """The HTTP status (400, 404, 413, 422, 503, ...)."""
        self.code = code
        """The node's error code (``unknown-contact``, ``bad-content``, ...), if it gave one."""
        self.reason = reason
        """The node's message (``unknown contact 'x'``), if it gave one."""


class NodeAuthError(NodeRefused):
    """HTTP 401: the node has a cluster secret, and the client sent none or another one."""


class WatchOverflow(NodeClientError):
    """The node cut a change stream off because its reader fell too far behind.

    Events after the last one received were dropped; open a new stream for a new snapshot.
    """

    def __init__(
        self, message: str, *, node: str, request: str, reason: str, limit: int | None
    ) -> None:
        super().__init__(message, node=node, request=request)
        self.reason = reason
        """The node's message."""
        self.limit = limit
        """The node's ``watch_buffer_bytes``, as it reported it."""
