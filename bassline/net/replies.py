"""A node's answers as typed values: what :mod:`bassline.net.client` returns.

Each ``read_*`` function takes a reply's JSON as the node sent it and returns the typed
value, decoding contents with the codec (lattice values become their Python types);
anything of another shape raises :class:`ValueError` naming what is wrong. Every typed
value keeps the JSON it was read from in ``raw``. :class:`EventReader` splits a
server-sent-event stream (``/api/changes``) into events, bounded in size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bassline.clock import Stamp
from bassline.codec import from_json, parse_json
from bassline.content import ABSENT, Absent, Content

__all__ = [
    "ContactReading",
    "EventReader",
    "HealthReply",
    "NodeContents",
    "NodeEvent",
    "WriteResult",
    "read_contact",
    "read_contents",
    "read_event",
    "read_health",
    "read_write",
]


def _get(data: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not a JSON object")
    if key not in data:
        raise ValueError(f"{what} has no {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ValueError(f"{what}'s {key!r} is not of the expected type")
    return value


@attrs.frozen
class ContactReading:
    """One contact as a node holds it (``GET /api/contacts/{contact}``)."""

    id: str
    value: Content | Absent
    """The content (lattice values decoded), or :data:`~bassline.content.ABSENT`."""
    stamp: Stamp | None
    """When and where the content was written; None when there is none."""
    contradiction: Mapping[str, Any] | None
    """The standing contradiction (``reason``, ``current``, ``incoming``, ``source``)."""
    failure: Mapping[str, Any] | None
    """The standing gadget failure (``gadget``, ``group``, ``error``, ``port``, ``kind``,
    ``outputs``)."""
    raw: Any = attrs.field(eq=False, repr=False)
    """The reply as the node sent it (plain JSON)."""

    @property
    def present(self) -> bool:
        """Whether the contact has content."""
        return self.value is not ABSENT


def read_contact(data: Any) -> ContactReading:
    """A contact reply; ValueError if it is not one."""
    what = "the contact"
    contact_id = _get(data, "id", str, what)
    present = _get(data, "present", bool, what)
    value: Content | Absent = ABSENT
    stamp = None
    if present:
        value = from_json(_get(data, "value", object, what))
        stamp = Stamp.from_json(_get(data, "stamp", list, what))
    contradiction = data.get("contradiction")
    failure = data.get("failure")
    if not isinstance(contradiction, dict | None) or not isinstance(failure, dict | None):
        raise ValueError(f"{what}'s contradiction or failure is not a JSON object or null")
    return ContactReading(contact_id, value, stamp, contradiction, failure, data)


@attrs.frozen
class WriteResult:
    """What a write did on the node (``PUT`` one contact or ``POST`` several)."""

    changed: Mapping[str, Content]
    """Every contact the write changed, with its new content (decoded)."""
    contradictions: tuple[Mapping[str, Any], ...]
    """Contradictions the run met: ``contact``, ``reason``, ``rejected``."""
    failures: tuple[Mapping[str, Any], ...]
    """Gadget failures the run met: ``gadget``, ``group``, ``error``, ``port``, ``kind``,
    ``outputs``."""
    settled: bool
    """Whether the run reached its fixpoint within its step budget."""
    contact: ContactReading | None
    """The written contact afterwards (a write of one contact), else None."""
    raw: Any = attrs.field(eq=False, repr=False)
    """The reply as the node sent it (plain JSON)."""


def read_write(data: Any) -> WriteResult:
    """A write reply; ValueError if it is not one."""
    what = "the write's result"
    changed = _get(data, "changed", dict, what)
    contradictions = _get(data, "contradictions", list, what)
    failures = _get(data, "failures", list, what)
    settled = _get(data, "settled", bool, what)
    contact = read_contact(data["contact"]) if "contact" in data else None
    return WriteResult(
        {cid: from_json(v) for cid, v in changed.items()},
        tuple(contradictions),
        tuple(failures),
        settled,
        contact,
        data,
    )


@attrs.frozen
class NodeContents:
    """Every contact of a node that has content (``GET /api/contacts``)."""

    values: Mapping[str, Content]
    """Contact id -> content (decoded)."""
    stamps: Mapping[str, Stamp]
    """Contact id -> the content's stamp."""
    digest: str
    """The node's convergence digest: equal on two nodes exactly when their contents are."""
    raw: Any = attrs.field(eq=False, repr=False)
    """The reply as the node sent it (plain JSON)."""


def read_contents(data: Any) -> NodeContents:
    """A contacts listing; ValueError if it is not one."""
    rows = _get(data, "contacts", list, "the contacts listing")
    digest = _get(data, "digest", str, "the contacts listing")
    values: dict[str, Content] = {}
    stamps: dict[str, Stamp] = {}
    for row in rows:
        cid = _get(row, "id", str, "a contact of the listing")
        values[cid] = from_json(_get(row, "value", object, f"contact {cid!r}"))
        stamps[cid] = Stamp.from_json(_get(row, "stamp", list, f"contact {cid!r}"))
    return NodeContents(values, stamps, digest, data)


@attrs.frozen
class HealthReply:
    """A node's health (``GET /healthz``)."""

    status: str
    """``ok`` or ``degraded``."""
    reasons: tuple[str, ...]
    """Why it is degraded (empty when ok)."""
    node: str
    """The node's id."""
    raw: Any = attrs.field(eq=False, repr=False)
    """The reply as the node sent it (plain JSON)."""

    @property
    def ok(self) -> bool:
        """Whether the node is healthy."""
        return self.status == "ok"


def read_health(data: Any) -> HealthReply:
    """A health reply; ValueError if it is not one."""
    what = "the health reply"
    reasons = _get(data, "reasons", list, what)
    return HealthReply(
        _get(data, "status", str, what),
        tuple(map(str, reasons)),
        _get(data, "node", str, what),
        data,
    )


@attrs.frozen
class NodeEvent:
    """One event of a change stream (``GET /api/changes``).

    ``kind`` is ``snapshot`` (``data``: a list of ``{"contact", "value", "stamp"}``, the
    watched contacts that have content, first and once), ``change`` (``{"contact",
    "value", "stamp"}``), ``contradiction`` (``{"contact", "reason", "source"}``) or
    ``failure`` (``{"gadget", "group", "error", "port", "kind", "outputs"}``). Values in
    ``data`` are plain JSON (lattice values tagged); :attr:`value` decodes a change's.
    """

    kind: str
    data: Any
    """The event's data as the node sent it (plain JSON)."""

    @property
    def contact(self) -> str | None:
        """The contact of a ``change`` or ``contradiction``; None for other kinds."""
        if self.kind in ("change", "contradiction"):
            contact: str = self.data["contact"]
            return contact
        return None

    @property
    def value(self) -> Content | Absent:
        """A ``change``'s new content, decoded; :data:`~bassline.content.ABSENT` otherwise."""
        return from_json(self.data["value"]) if self.kind == "change" else ABSENT


_SHAPES: dict[str, tuple[str, ...]] = {
    "change": ("contact", "value", "stamp"),
    "contradiction": ("contact", "reason", "source"),
    "failure": ("gadget", "group", "error", "outputs"),
    "overflow": ("error",),
}


def read_event(kind: str, text: str) -> NodeEvent:
    """An event of kind ``kind`` whose data lines read ``text``; ValueError if malformed."""
    try:
        data = parse_json(text)
    except ValueError:
        raise ValueError(f"the data of a {kind!r} event is not JSON") from None
    if kind == "snapshot":
        if not isinstance(data, list):
            raise ValueError("the snapshot event's data is not a JSON array")
        for row in data:
            _get(row, "contact", str, "a row of the snapshot")
            _get(row, "value", object, "a row of the snapshot")
    for key in _SHAPES.get(kind, ()):
        _get(data, key, object, f"the {kind} event")
    return NodeEvent(kind, data)


class EventReader:
    """Splits a server-sent-event stream into ``(kind, data)`` pairs as bytes arrive.

    ``limit`` bounds one event (its data lines together, and any line not yet ended): more
    raises :class:`ValueError` before it is held. Lines may end in LF, CRLF or CR;
    comment lines (``:``) and unknown fields are skipped, as the SSE standard says.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._partial = bytearray()
        self._kind = ""
        self._data: list[bytes] = []
        self._size = 0
        self._after_cr = False

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        """The events that ``chunk`` completes, in order (data lines joined with LF)."""
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._after_cr = chunk.endswith(b"\r")
        buffer = self._partial + chunk
        lines = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._partial = bytearray(lines.pop())
        events: list[tuple[str, str]] = []
        for line in lines:
            event = self._line(bytes(line))
            if event is not None:
                events.append(event)
        if self._size + len(self._partial) > self.limit:
            raise ValueError(f"an event of more than {self.limit} bytes")
        return events

    def _line(self, line: bytes) -> tuple[str, str] | None:
        if not line:
            event = None
            if self._data:
                event = (self._kind or "message", b"\n".join(self._data).decode())
            self._kind, self._data, self._size = "", [], 0
            return event
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"event":
            self._kind = value.decode()
        elif name == b"data":
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self.limit:
                raise ValueError(f"an event of more than {self.limit} bytes")
        return None
