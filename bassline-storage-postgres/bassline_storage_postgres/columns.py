"""Content rows as parallel columns, ready for ``unnest``; values encoded eagerly or lazily.

The general validation path hands over canonical JSON it already has. The fast path
(:mod:`bassline_storage_postgres.fastpath`) leaves values unencoded, so the write path
can encode chunk *n + 1* while the server is still inserting chunk *n* (pipeline mode).
"""

from __future__ import annotations

from typing import Any

import attrs

from bassline.codec import encode

__all__ = ["ContentColumns", "encode_or_none", "fast_encode"]

import orjson

from bassline.codec import TAG_KEY

_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_TAG = f'"{TAG_KEY}"'.encode()


def fast_encode(value: Any) -> bytes | None:
    """``bassline.codec.encode(value)`` when ``value`` is plain JSON; None when unsure.

    Canonical JSON is ``orjson.dumps(to_json(v), sorted keys)`` and ``to_json`` is the
    identity on plain JSON, so ``v`` is dumped directly and the bytes are accepted only
    if they cannot differ: orjson refused every non-JSON type (subclasses, dataclasses
    and datetimes are passed through to an error), no ``"$type"`` key needs escaping,
    and the bytes decode to a value equal to ``v`` (ruling out NaN and infinities,
    which orjson writes as ``null``, and the UUID, Enum and Fragment objects it would
    serialise natively).
    """
    try:
        out = orjson.dumps(value, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    if _TAG in out or orjson.loads(out) != value:
        return None
    return out


def encode_or_none(value: Any) -> bytes | None:
    """Canonical JSON of ``value`` (fast when it is plain JSON), or None if it does not encode."""
    out = fast_encode(value)
    if out is not None:
        return out
    try:
        return encode(value)
    except Exception:  # whoever validates in full reports the error with its message
        return None


@attrs.define
class ContentColumns:
    """Content records as parallel columns, one entry per distinct (network, contact).

    ``contents[i]`` is None until :meth:`chunk` encodes ``values[i]``; ``superseded``
    holds values of records a later duplicate replaced, which must still encode.
    """

    networks: list[str] = attrs.field(factory=list)
    contacts: list[str] = attrs.field(factory=list)
    groups: list[str] = attrs.field(factory=list)
    contents: list[bytes | None] = attrs.field(factory=list)
    hlcs: list[int] = attrs.field(factory=list)
    nodes: list[bytes] = attrs.field(factory=list)
    values: list[Any] = attrs.field(factory=list)
    superseded: list[Any] = attrs.field(factory=list)

    def __len__(self) -> int:
        return len(self.contacts)

    def chunk(self, start: int, stop: int) -> list[list[Any]] | None:
        """Rows ``start:stop`` as six column lists in table order; None if a value won't encode."""
        contents = self.contents
        for i in range(start, min(stop, len(contents))):
            if contents[i] is None:
                encoded = encode_or_none(self.values[i])
                if encoded is None:
                    return None
                contents[i] = encoded
        return [
            self.networks[start:stop],
            self.contacts[start:stop],
            self.groups[start:stop],
            contents[start:stop],
            self.hlcs[start:stop],
            self.nodes[start:stop],
        ]

    def superseded_encode(self) -> bool:
        """Whether every value a later duplicate replaced encodes too (as validation demands)."""
        return all(encode_or_none(value) is not None for value in self.superseded)
