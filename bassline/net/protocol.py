"""Gossip protocol version 5: message models, validation and frame encoding.

Every frame is one JSON object (UTF-8, in a binary or text WebSocket message) with a
``"t"`` key naming its type. :func:`parse_frame` validates a frame completely — size,
JSON, shape, types, ranges — and raises :class:`ProtocolViolation` with a reason code
and a specific message; nothing half-validated ever reaches the node. See
``docs/protocol.md`` for the full description.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs
import orjson

from bassline.clock import Stamp
from bassline.codec import from_json
from bassline.errors import ContentError, PeerError
from bassline.net.delta_encode import encode_delta
from bassline.net.delta_rows import MAX_HLC as _MAX_HLC
from bassline.net.delta_rows import MAX_ID, new_stamp, plain_have, plain_rows
from bassline.net.wire_whys import WhyProblem, WhyRef, parse_whys

__all__ = [
    "PROTOCOL_VERSION",
    "Auth",
    "Bye",
    "Delta",
    "Digest",
    "Graft",
    "Heartbeat",
    "Hello",
    "Links",
    "Message",
    "Peers",
    "ProtocolViolation",
    "Prune",
    "Refuse",
    "dump",
    "encode_delta",
    "kind_of",
    "parse_frame",
    "parse_message",
]

PROTOCOL_VERSION = 5
MAX_URL = 2048
MAX_STORE = 200
"""Longest feed identity in a hello."""
MAX_REASON = 500
MAX_PEERS = 1000
MAX_ORIGINS = 1000
"""Most node ids in one ``prune`` or ``graft``."""
MAX_GRAFT = 2000
"""Most contacts one ``graft`` asks for."""
MAX_TABLE = 10_000
"""Most rows in one ``links`` frame (and in a node's link-state table)."""
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_EPOCH = re.compile(r"[0-9a-f]{16}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ProtocolViolation(PeerError):
    """A frame that breaks the protocol. ``code`` names the kind (for metrics)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@attrs.frozen
class Hello:
    """First frame on a link, both ways: who I am, what I run, and a fresh nonce."""

    version: int
    node: str
    bassline: str
    nonce: str
    epoch: str
    auth: str
    url: str | None
    groups: tuple[str, ...]
    store: str | None = None
    """The feed identity of the store the node's runtime follows (a shared database), if
    any: peers announcing the same one see each other's stored writes without gossip."""


@attrs.frozen
class Auth:
    """Proof of the cluster secret: HMAC-SHA256 over both hellos' nonces (``auth.py``)."""

    proof: str


@attrs.frozen
class Refuse:
    """The sender refuses the link; ``code`` is machine-readable, ``reason`` is for people."""

    code: str
    reason: str


@attrs.frozen
class Bye:
    """The sender is closing the link on purpose (shutdown, duplicate link)."""

    reason: str


@attrs.frozen
class Heartbeat:
    """I am alive (sent on idle links)."""


@attrs.frozen
class Digest:
    """How far I have applied your change log, and where mine stands.

    ``rewind`` asks the receiver to resend from ``seq`` (I could not apply something).
    """

    epoch: str | None
    seq: int
    head_epoch: str
    head: int
    rewind: bool


@attrs.frozen
class Delta:
    """Current contents of the contacts that changed in my log in ``(start, end]``."""

    epoch: str
    start: int
    end: int
    items: tuple[tuple[str, Any, Stamp], ...]
    whys: tuple[WhyRef | None, ...] = ()
    """Each item's justification (aligned with ``items``), or empty when none has one."""
    have: tuple[tuple[str, Stamp], ...] = ()
    """Contacts whose change in ``(start, end]`` is only announced: their stamps, without
    the values (their origins were pruned by the receiver; it grafts one it lacks)."""


@attrs.frozen
class Prune:
    """Stop sending me the values of changes stamped by ``origins``; announce them, or
    (``quiet``) leave them out: I take them from another link, and should one of the
    origins come to need this link again, I ask you to resend from where I stood."""

    origins: tuple[str, ...]
    quiet: bool = False


@attrs.frozen
class Graft:
    """Send me the values of changes stamped by ``origins`` again, and now the current
    contents of ``contacts`` (you announced changes of them that I lack; none when the
    graft only makes the origins eager again, after a pre-prune)."""

    origins: tuple[str, ...]
    contacts: tuple[str, ...]


@attrs.frozen
class Links:
    """Rows of my link-state table: (node, version, the node ids it lists as linked)."""

    rows: tuple[tuple[str, int, tuple[str, ...]], ...]


@attrs.frozen
class Peers:
    """Nodes I know, with the URL each advertises."""

    peers: tuple[tuple[str, str], ...]


Message = Hello | Auth | Refuse | Bye | Heartbeat | Digest | Delta | Peers | Prune | Graft | Links


def dump(message: dict[str, Any]) -> bytes:
    """Encode a message whose values are already plain JSON (sorted keys, compact)."""
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)


# ---------------------------------------------------------------- validation


def _bad(message: str) -> ProtocolViolation:
    return ProtocolViolation("invalid-message", message)


def _int(data: dict[str, Any], key: str, where: str, low: int = 0, high: int = _MAX_HLC) -> int:
    value = data.get(key)
    if type(value) is not int or not low <= value <= high:
        raise _bad(f"{where}.{key} must be an integer in [{low}, {high}], got {value!r:.80}")
    return value


def _str(
    data: dict[str, Any], key: str, where: str, limit: int, pattern: re.Pattern[str] | None = None
) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _bad(f"{where}.{key} must be a non-empty string of at most {limit} characters")
    if _CONTROL.search(value):
        raise _bad(f"{where}.{key} must not contain control characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise _bad(f"{where}.{key} is malformed: {value!r:.80}")
    return value


def _keys(data: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = set(data) - allowed
    if extra:
        raise _bad(f"{where} has unknown fields: {', '.join(sorted(extra))[:200]}")


def _node_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID or _CONTROL.search(value):
        raise _bad(f"{where} must be a node id (1-{MAX_ID} characters, no control characters)")
    return value


def _stamp_node(value: Any) -> str:
    # a stamp's node may be empty: spec contents carry the stamp (1, "")
    if not isinstance(value, str) or len(value) > MAX_ID or _CONTROL.search(value):
        raise _bad(f"delta.nodes[] must be node ids (at most {MAX_ID} characters)")
    return value


def _hello(d: dict[str, Any]) -> Hello:
    _keys(
        d,
        frozenset(
            {"t", "v", "node", "bassline", "nonce", "epoch", "auth", "url", "groups", "store"}
        ),
        "hello",
    )
    version = _int(d, "v", "hello", 1, 1_000_000)
    url = d.get("url")
    if url is not None:
        url = _str(d, "url", "hello", MAX_URL)
    store = d.get("store")
    if store is not None:
        store = _str(d, "store", "hello", MAX_STORE)
    groups = d.get("groups")
    if not isinstance(groups, list) or len(groups) > 100_000:
        raise _bad("hello.groups must be a list of group ids")
    auth = d.get("auth")
    if auth not in ("hmac-sha256", "none"):
        raise _bad(f"hello.auth must be 'hmac-sha256' or 'none', got {auth!r:.40}")
    return Hello(
        version=version,
        node=_node_id(d.get("node"), "hello.node"),
        bassline=_str(d, "bassline", "hello", 64, _HEX64),
        nonce=_str(d, "nonce", "hello", 32, _HEX32),
        epoch=_str(d, "epoch", "hello", 16, _EPOCH),
        auth=auth,
        url=url,
        groups=tuple(_node_id(g, "hello.groups[]") for g in groups),
        store=store,
    )


def _auth(d: dict[str, Any]) -> Auth:
    _keys(d, frozenset({"t", "proof"}), "auth")
    return Auth(_str(d, "proof", "auth", 64, _HEX64))


def _refuse(d: dict[str, Any]) -> Refuse:
    _keys(d, frozenset({"t", "code", "reason"}), "refuse")
    return Refuse(_str(d, "code", "refuse", 40), _str(d, "reason", "refuse", MAX_REASON))


def _bye(d: dict[str, Any]) -> Bye:
    _keys(d, frozenset({"t", "reason"}), "bye")
    return Bye(_str(d, "reason", "bye", MAX_REASON))


def _heartbeat(d: dict[str, Any]) -> Heartbeat:
    _keys(d, frozenset({"t"}), "hb")
    return Heartbeat()


def _digest(d: dict[str, Any]) -> Digest:
    _keys(d, frozenset({"t", "epoch", "seq", "head_epoch", "head", "rewind"}), "digest")
    epoch = d.get("epoch")
    if epoch is not None:
        epoch = _str(d, "epoch", "digest", 16, _EPOCH)
    rewind = d.get("rewind")
    if type(rewind) is not bool:
        raise _bad("digest.rewind must be true or false")
    return Digest(
        epoch=epoch,
        seq=_int(d, "seq", "digest"),
        head_epoch=_str(d, "head_epoch", "digest", 16, _EPOCH),
        head=_int(d, "head", "digest"),
        rewind=rewind,
    )


def _delta(d: dict[str, Any]) -> Delta:
    _keys(
        d,
        frozenset({"t", "epoch", "from", "to", "base", "nodes", "items", "whys", "have"}),
        "delta",
    )
    start = _int(d, "from", "delta")
    end = _int(d, "to", "delta")
    if end < start:
        raise _bad(f"delta.to ({end}) is before delta.from ({start})")
    base = _int(d, "base", "delta")
    nodes = d.get("nodes")
    if not isinstance(nodes, list) or len(nodes) > 100_000:
        raise _bad("delta.nodes must be a list of node ids")
    node_ids = [_stamp_node(n) for n in nodes]
    rows = d.get("items")
    if not isinstance(rows, list):
        raise _bad("delta.items must be a list")
    fast = plain_rows(rows, base, node_ids)
    items, indexes = fast if fast is not None else _rows(rows, base, node_ids)
    try:
        whys = parse_whys(d.get("whys"), indexes, base, node_ids)
    except WhyProblem as exc:
        raise ProtocolViolation("bad-justification", str(exc)) from None
    have = _have(d.get("have", []), base, node_ids)
    return Delta(_str(d, "epoch", "delta", 16, _EPOCH), start, end, tuple(items), whys, have)


def _rows(
    rows: list[Any], base: int, node_ids: list[str]
) -> tuple[list[tuple[str, Any, Stamp]], list[int | None]]:
    """The items of ``rows`` checked one by one (ProtocolViolation naming the first bad one)."""
    items = []
    indexes: list[int | None] = []
    for k, row in enumerate(rows):
        if not isinstance(row, list) or len(row) not in (4, 5):
            raise _bad(
                f"delta.items[{k}] must be [contact, value, clock offset, node index] "
                "and optionally a whys index"
            )
        cid, value, offset, ni = row[:4]
        indexes.append(row[4] if len(row) == 5 else None)
        if not isinstance(cid, str) or not cid or len(cid) > MAX_ID:
            raise _bad(f"delta.items[{k}][0] must be a contact id")
        if type(offset) is not int or not 0 <= offset <= _MAX_HLC - base:
            raise _bad(f"delta.items[{k}][2] must be a clock offset in [0, {_MAX_HLC - base}]")
        if type(ni) is not int or not 0 <= ni < len(node_ids):
            raise _bad(f"delta.items[{k}][3] must index delta.nodes (0-{len(node_ids) - 1})")
        try:
            content = from_json(value) if type(value) in (dict, list) else value
        except ContentError as exc:
            raise _bad(f"delta.items[{k}][1]: {exc}") from None
        items.append((cid, content, new_stamp(Stamp, (base + offset, node_ids[ni]))))
    return items, indexes


def _have(rows: Any, base: int, node_ids: list[str]) -> tuple[tuple[str, Stamp], ...]:
    if not isinstance(rows, list):
        raise _bad("delta.have must be a list")
    if not rows:
        return ()
    fast = plain_have(rows, base, node_ids)
    if fast is not None:
        return fast
    out = []
    for k, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 3:
            raise _bad(f"delta.have[{k}] must be [contact, clock offset, node index]")
        cid, offset, ni = row
        if not isinstance(cid, str) or not cid or len(cid) > MAX_ID:
            raise _bad(f"delta.have[{k}][0] must be a contact id")
        if type(offset) is not int or not 0 <= offset <= _MAX_HLC - base:
            raise _bad(f"delta.have[{k}][1] must be a clock offset in [0, {_MAX_HLC - base}]")
        if type(ni) is not int or not 0 <= ni < len(node_ids):
            raise _bad(f"delta.have[{k}][2] must index delta.nodes (0-{len(node_ids) - 1})")
        out.append((cid, new_stamp(Stamp, (base + offset, node_ids[ni]))))
    return tuple(out)


def _origins(d: dict[str, Any], where: str) -> tuple[str, ...]:
    rows = d.get("origins")
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ORIGINS:
        raise _bad(f"{where}.origins must be a list of 1-{MAX_ORIGINS} node ids")
    for k, n in enumerate(rows):  # an origin is a stamp's node: it may be empty
        if not isinstance(n, str) or len(n) > MAX_ID or _CONTROL.search(n):
            raise _bad(f"{where}.origins[{k}] must be a node id (at most {MAX_ID} characters)")
    return tuple(rows)


def _prune(d: dict[str, Any]) -> Prune:
    _keys(d, frozenset({"t", "origins", "quiet"}), "prune")
    quiet = d.get("quiet", False)
    if type(quiet) is not bool:
        raise _bad("prune.quiet must be true or false")
    return Prune(_origins(d, "prune"), quiet)


def _graft(d: dict[str, Any]) -> Graft:
    _keys(d, frozenset({"t", "origins", "contacts"}), "graft")
    rows = d.get("contacts")
    if not isinstance(rows, list) or len(rows) > MAX_GRAFT:
        raise _bad(f"graft.contacts must be a list of 0-{MAX_GRAFT} contact ids")
    for k, cid in enumerate(rows):
        if not isinstance(cid, str) or not cid or len(cid) > MAX_ID:
            raise _bad(f"graft.contacts[{k}] must be a contact id")
    return Graft(_origins(d, "graft"), tuple(rows))


def _links(d: dict[str, Any]) -> Links:
    _keys(d, frozenset({"t", "rows"}), "links")
    rows = d.get("rows")
    if not isinstance(rows, list) or not rows or len(rows) > MAX_TABLE:
        raise _bad(f"links.rows must be a list of 1-{MAX_TABLE} [node, version, peers] rows")
    out = []
    seen: set[str] = set()
    for k, row in enumerate(rows):
        where = f"links.rows[{k}]"
        if not isinstance(row, list) or len(row) != 3:
            raise _bad(f"{where} must be [node, version, peers]")
        node = _node_id(row[0], f"{where}[0]")
        if node in seen:
            raise _bad(f"{where}[0] repeats node {node!r:.80}")
        seen.add(node)
        version, peers = row[1], row[2]
        if type(version) is not int or not 0 <= version <= _MAX_HLC:
            raise _bad(f"{where}[1] must be a version, an integer in [0, {_MAX_HLC}]")
        if not isinstance(peers, list) or len(peers) > MAX_PEERS:
            raise _bad(f"{where}[2] must be a list of at most {MAX_PEERS} node ids")
        listed = tuple(_node_id(p, f"{where}[2][{j}]") for j, p in enumerate(peers))
        if node in listed or len(set(listed)) != len(listed):
            raise _bad(f"{where}[2] must name distinct nodes other than {node!r:.80}")
        out.append((node, version, listed))
    return Links(tuple(out))


def _peers(d: dict[str, Any]) -> Peers:
    _keys(d, frozenset({"t", "peers"}), "peers")
    rows = d.get("peers")
    if not isinstance(rows, list) or len(rows) > MAX_PEERS:
        raise _bad(f"peers.peers must be a list of at most {MAX_PEERS} [node, url] pairs")
    out = []
    for k, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[1], str)):
            raise _bad(f"peers.peers[{k}] must be [node, url]")
        if not row[1] or len(row[1]) > MAX_URL or _CONTROL.search(row[1]):
            raise _bad(f"peers.peers[{k}][1] must be a URL of at most {MAX_URL} characters")
        out.append((_node_id(row[0], f"peers.peers[{k}][0]"), row[1]))
    return Peers(tuple(out))


_PARSERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "hello": _hello,
    "auth": _auth,
    "refuse": _refuse,
    "bye": _bye,
    "hb": _heartbeat,
    "digest": _digest,
    "delta": _delta,
    "peers": _peers,
    "prune": _prune,
    "graft": _graft,
    "links": _links,
}


_KINDS: dict[type, str] = {
    Hello: "hello",
    Auth: "auth",
    Refuse: "refuse",
    Bye: "bye",
    Heartbeat: "hb",
    Digest: "digest",
    Delta: "delta",
    Peers: "peers",
    Prune: "prune",
    Graft: "graft",
    Links: "links",
}


def kind_of(message: Message) -> str:
    """The wire name of a message's type (``"delta"``, ``"hb"``, ...)."""
    return _KINDS[type(message)]


def parse_message(data: Any) -> Message:
    """Validate an already-decoded message object; ProtocolViolation if it is not one."""
    if not isinstance(data, dict):
        raise _bad(f"a frame must be a JSON object, got {type(data).__name__}")
    kind = data.get("t")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolViolation("unknown-type", f"unknown message type {kind!r:.40}")
    return parser(data)


def parse_frame(frame: bytes | str, max_bytes: int) -> Message:
    """Check size, decode JSON and validate one frame."""
    size = len(frame)
    if size > max_bytes:
        raise ProtocolViolation("oversized", f"frame of {size} bytes exceeds {max_bytes}")
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ProtocolViolation("malformed", f"frame is not valid JSON: {exc}") from None
    return parse_message(data)
