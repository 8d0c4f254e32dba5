"""Node URLs: what users and peers write (``ws://host:port``) and what we dial."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import attrs
import httpx

from bassline.spec.checker import MAX_URL_LENGTH, host_problem

__all__ = ["MAX_URL_LENGTH", "NodeURL", "is_loopback", "parse_node_url"]

_SCHEMES = {"ws": False, "http": False, "wss": True, "https": True}


@attrs.frozen
class NodeURL:
    """A node's address: TLS or not, host, port and the path the app is mounted at."""

    secure: bool
    host: str
    port: int
    path: str = ""

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def ws(self) -> str:
        """The base URL in ``ws://`` / ``wss://`` form (what peers advertise)."""
        return f"{'wss' if self.secure else 'ws'}://{self._netloc}{self.path}"

    @property
    def http(self) -> str:
        """The base URL in ``http://`` / ``https://`` form (the JSON API)."""
        return f"{'https' if self.secure else 'http'}://{self._netloc}{self.path}"

    def __str__(self) -> str:
        """The ``http://`` / ``https://`` form, as ``bassline start`` prints it."""
        return self.http

    @property
    def gossip_path(self) -> str:
        """The path of the gossip WebSocket endpoint."""
        return f"{self.path}/gossip"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PASSWORD = re.compile(r"(//[^/?#@:]*:)[^/?#@]*@")


def _shown(url: str) -> str:
    """``url`` quoted for an error, a password in it masked (``ws://u:***@host``)."""
    return repr(_PASSWORD.sub(r"\1***@", url, count=1))


def parse_node_url(url: str) -> NodeURL:
    """Parse ``ws://``, ``wss://``, ``http://`` or ``https://`` URLs; ValueError with the reason."""
    if not isinstance(url, str):
        raise ValueError(f"a node URL is a string, not {url!r:.80}")
    if not url:
        raise ValueError("empty node URL")
    shown = _shown(url)
    control = _CONTROL.search(url)
    if control is not None:  # which no request can carry
        raise ValueError(f"node URL {shown} contains the control character {control[0]!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed node URL {shown}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"node URL {shown} must start with ws://, wss://, http:// or https:// "
            "(e.g. ws://127.0.0.1:8455)"
        )
    if not parts.hostname:
        raise ValueError(f"node URL {shown} has no host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"node URL {shown} must not have a query, fragment or credentials")
    _check_host(parts.hostname, shown)
    secure = _SCHEMES[scheme]
    path = parts.path.rstrip("/")
    if path.endswith("/gossip"):
        path = path[: -len("/gossip")]
    parsed = NodeURL(secure, parts.hostname, port or (443 if secure else 80), path)
    if len(parsed.ws) > MAX_URL_LENGTH:
        raise ValueError(
            f"node URL {_shown(url[:60] + '...')} is {len(parsed.ws)} characters long; a node "
            f"URL is at most {MAX_URL_LENGTH} (in its ws:// form, as a gossip hello carries it)"
        )
    return parsed


def _check_host(host: str, shown: str) -> None:
    """Refuse a host no connection can be made to whatever the network says: an empty
    or over-long label, a space, a malformed international name."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    problem = host_problem(host)
    if problem is None:
        try:  # the IDNA rules the client's requests apply
            httpx.URL(f"http://{host}/").host  # noqa: B018
        except (UnicodeError, httpx.InvalidURL) as exc:
            problem = f"is malformed: {exc}"
    if problem is not None:
        raise ValueError(f"node URL {shown} has the host {host!r}, which {problem}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
