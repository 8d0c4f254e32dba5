"""The one canonical JSON codec for contents, specs and messages.

Canonical means sorted keys, compact separators and UTF-8, so equal values always
encode to equal bytes (that is what :func:`bassline.spec.Bassline.hash` relies on).

Plain JSON values (``None``, ``bool``, ``int``, ``float``, ``str``, lists and dicts with
string keys) encode as themselves. Lattice values are objects registered with
:func:`register_tagged` and encode as ``{"$type": TAG, "value": ...}``. A user dict that
itself has a ``"$type"`` key is escaped as ``{"$type": "object", "value": {...}}`` so it
can never be mistaken for a tagged value. No pickle anywhere.

What does not encode (NaN and infinities, integers outside 64 bits, non-string keys,
strings with lone surrogates, nesting deeper than :data:`MAX_DEPTH` levels, a tagged value
whose ``to_json`` raises ValueError — an empty interval — and arbitrary objects) raises
:class:`~bassline.errors.ContentError`. Decoding still rebuilds an empty interval, so what
an earlier version stored can be read (and reported by ``bassline storage check``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from math import isfinite
from typing import Any, ClassVar, Protocol, runtime_checkable

import orjson

from bassline._user_json import DuplicateKey, parse_json
from bassline.errors import ContentError

__all__ = [
    "MAX_DEPTH",
    "TAG_KEY",
    "DuplicateKey",
    "Tagged",
    "decode",
    "decode_many",
    "dumps",
    "encode",
    "encode_many",
    "encode_plain",
    "from_json",
    "is_text",
    "loads",
    "parse_json",
    "register_tagged",
    "tagged_types",
    "to_json",
]

TAG_KEY = "$type"
_ESCAPE_TAG = "object"
_TAG_BYTES = b'"$type"'
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_SCALARS = (bool, type(None))
MAX_DEPTH = 254
"""The deepest nesting of lists, objects and tagged values that content may have (what
orjson, and so canonical JSON, can write)."""


@runtime_checkable
class Tagged(Protocol):
    """A value type with its own JSON form: lattice values implement this."""

    tag: ClassVar[str]

    def to_json(self) -> Any:
        """The payload stored under ``"value"``; may contain other tagged values."""

    @classmethod
    def from_json(cls, payload: Any) -> Any:
        """Rebuild the value from its payload (already decoded); ValueError if malformed."""


_TAGGED: dict[str, type[Any]] = {}


def register_tagged(cls: type[Any]) -> type[Any]:
    """Register a :class:`Tagged` class so the codec can decode it; usable as a decorator."""
    tag = getattr(cls, "tag", None)
    if not isinstance(tag, str) or not tag or tag == _ESCAPE_TAG:
        raise ValueError(f"{cls.__name__}.tag must be a non-empty string other than 'object'")
    existing = _TAGGED.get(tag)
    if existing is not None and existing is not cls:
        raise ValueError(f"tag {tag!r} is already used by {existing.__qualname__}")
    _TAGGED[tag] = cls
    return cls


def tagged_types() -> dict[str, type[Any]]:
    """The registered tagged value types by tag."""
    return dict(_TAGGED)


def _where(path: str) -> str:
    return f" at {path}" if path else ""


def to_json(value: Any, path: str = "") -> Any:
    """Convert content to plain JSON data (tagging lattice values, escaping ``$type`` keys).

    Raises :class:`ContentError` naming the offending position for anything that cannot
    be encoded faithfully, including nesting deeper than :data:`MAX_DEPTH` levels.
    """
    return _to_json(value, path, 0)


def _to_json(value: Any, path: str, depth: int) -> Any:
    t = type(value)
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ContentError(f"integer {value} does not fit in 64 bits{_where(path)}")
        return value
    if t is str:
        if not value.isascii():
            _check_text(value, path)
        return value
    if t in _SCALARS:
        return value
    if t is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ContentError(f"{value} is not valid JSON (only finite numbers){_where(path)}")
        return value
    if depth >= MAX_DEPTH and (t in (list, tuple, dict) or hasattr(value, "tag")):
        raise _too_deep(path)
    inner = depth + 1
    if t is list or t is tuple:
        return [_to_json(v, f"{path}[{i}]", inner) for i, v in enumerate(value)]
    if t is dict:
        out: dict[str, Any] = {}
        # an object with a "$type" key is escaped: wrapped in one more level, so its
        # values sit one level deeper than they would otherwise
        below = inner + 1 if TAG_KEY in value else inner
        for k, v in value.items():
            if type(k) is not str:
                raise ContentError(f"object key {k!r} is not a string{_where(path)}")
            if not k.isascii():
                _check_text(k, path)
            out[k] = _to_json(v, f"{path}.{k}", below)
        if TAG_KEY in out:
            if depth + 1 >= MAX_DEPTH:  # escaping wraps the object in one more level
                raise _too_deep(path)
            return {TAG_KEY: _ESCAPE_TAG, "value": out}
        return out
    tag = getattr(value, "tag", None)
    if isinstance(tag, str) and _TAGGED.get(tag) is t:
        try:
            payload = value.to_json()
        except ValueError as exc:  # a value its own type says is no content (an empty interval)
            raise ContentError(f"{exc}{_where(path)}") from None
        return {TAG_KEY: tag, "value": _to_json(payload, f"{path}<{tag}>", inner)}
    if isinstance(value, bool | int | float | str):  # subclasses such as enums
        return _to_json(_plain(value), path, depth)
    raise ContentError(f"cannot encode {t.__name__} value {value!r}{_where(path)}")


def is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode text (no lone surrogate, which JSON cannot hold)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(value: str, path: str) -> None:
    """ContentError for a string UTF-8 cannot encode (a lone surrogate such as ``"\\ud800"``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise ContentError(
            f"string contains the lone surrogate {bad!r}, which is not valid Unicode text"
            f"{_where(path)}"
        ) from None


def _plain(value: Any) -> Any:
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    return value  # pragma: no cover - guarded by the caller


def from_json(data: Any, path: str = "") -> Any:
    """Rebuild content from plain JSON data produced by :func:`to_json`.

    Raises :class:`ContentError` for malformed tagged values and for nesting deeper than
    :data:`MAX_DEPTH` levels.
    """
    return _from_json(data, path, 0)


def _too_deep(path: str) -> ContentError:
    where = path if len(path) <= 100 else f"{path[:60]}…{path[-30:]}"
    return ContentError(f"content is nested more than {MAX_DEPTH} levels deep{_where(where)}")


def _from_json(data: Any, path: str, depth: int) -> Any:
    t = type(data)
    if t is not list and t is not dict:
        return data
    if depth >= MAX_DEPTH:
        raise _too_deep(path)
    inner = depth + 1
    if t is list:
        return [_from_json(v, f"{path}[{i}]", inner) for i, v in enumerate(data)]
    if TAG_KEY in data:
        tag = data[TAG_KEY]
        if set(data) != {TAG_KEY, "value"}:
            raise ContentError(f"tagged value must have exactly '$type' and 'value'{_where(path)}")
        if tag == _ESCAPE_TAG:
            wrapped = data["value"]
            if type(wrapped) is not dict:
                raise ContentError(f"escaped object must wrap an object{_where(path)}")
            if inner >= MAX_DEPTH:
                raise _too_deep(path)
            return {k: _from_json(v, f"{path}.{k}", inner + 1) for k, v in wrapped.items()}
        cls = _TAGGED.get(tag) if isinstance(tag, str) else None
        if cls is None:
            raise ContentError(
                f"unknown tagged type {tag!r}{_where(path)} (known: {', '.join(sorted(_TAGGED))})"
            )
        try:
            return cls.from_json(_from_json(data["value"], f"{path}<{tag}>", inner))
        except (ValueError, TypeError) as exc:
            raise ContentError(f"malformed {tag} value{_where(path)}: {exc}") from exc
    return {k: _from_json(v, f"{path}.{k}", inner) for k, v in data.items()}


def encode(value: Any) -> bytes:
    """Canonical JSON bytes of ``value`` (sorted keys, compact)."""
    try:
        out = orjson.dumps(to_json(value), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # pragma: no cover - to_json rejects first
        raise ContentError(str(exc)) from exc
    # orjson hands back bytes with its whole working buffer (4 KiB for a tiny value); an
    # exact-size copy keeps stored and queued encodings from costing 30x their size.
    return bytes(memoryview(out)) if len(out) < 2048 else out


# encode_plain: types the codec encodes as themselves, checked exactly (subclasses such as enums,
# bool-like or str-like classes take the general path). orjson would also serialise
# UUID, Enum and Fragment objects natively, which the codec refuses: the exact type
# check is what keeps them out.
_LEAVES = frozenset({str, int, float, bool, type(None)})
_PLAIN = _LEAVES | {dict, list, tuple}
# orjson never writes a raw newline outside its indented mode (strings escape it), so
# a Fragment holding one is a separator that cannot occur inside any encoded value.
_SEPARATOR = orjson.Fragment(b"\n")
_SPLIT = b",\n,"
_NULL = b"null"


_is_dict = dict.__instancecheck__
_is_list = list.__instancecheck__
_is_tuple = tuple.__instancecheck__
_is_float = float.__instancecheck__


def _children(level: list[Any], types: set[type]) -> list[Any]:
    """The values held directly by the containers in ``level`` (all of plain types)."""
    out: list[Any] = []
    if dict in types:
        dicts = level if len(types) == 1 else filter(_is_dict, level)
        out.extend(chain.from_iterable(map(dict.values, dicts)))
    if list in types:
        out.extend(chain.from_iterable(filter(_is_list, level)))
    if tuple in types:
        out.extend(chain.from_iterable(filter(_is_tuple, level)))
    return out


def _all_finite(levels: list[list[Any]]) -> bool:
    """Whether every float in ``levels`` is finite."""
    return all(map(isfinite, filter(_is_float, chain.from_iterable(levels))))


def encode_plain(values: list[Any]) -> list[bytes] | None:
    """Canonical JSON of each value, if all are plain JSON; None if any needs the codec.

    The result is exactly ``[bassline.codec.encode(v) for v in values]``: canonical JSON
    is ``orjson.dumps(to_json(v), sorted keys)`` and ``to_json`` is the identity on plain
    JSON without a ``"$type"`` key. What could make the two differ is ruled out:
    non-plain types by an exact type check of every nested value, level by level;
    non-string keys, integers beyond 64 bits and lone surrogates because orjson refuses
    them; a ``"$type"`` key (which the codec escapes) by finding none in the output; NaN
    and infinities (which orjson writes as ``null``) by checking the floats whenever the
    output holds a ``null``.
    """
    if not values:
        return []
    floats = False
    levels: list[list[Any]] = []
    level = values
    while level:
        if len(levels) > MAX_DEPTH:  # too deep to encode, or a value that contains itself
            return None
        types = set(map(type, level))
        if not types <= _PLAIN:
            return None
        levels.append(level)
        floats = floats or float in types
        if types <= _LEAVES:
            break
        level = _children(level, types)
    spaced: list[Any] = [_SEPARATOR] * (2 * len(values) - 1)
    spaced[::2] = values
    try:
        out = orjson.dumps(spaced, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: the codec will say exactly what is wrong
        return None
    if _TAG_BYTES in out:
        return None
    if floats and _NULL in out and not _all_finite(levels):
        return None
    parts = out[1:-1].split(_SPLIT)
    return parts if len(parts) == len(values) else None


def encode_many(values: Sequence[Any]) -> list[bytes]:
    """``[encode(v) for v in values]``; plain JSON values all in one call into orjson.

    Raises :class:`ContentError` for the first value that does not encode, like
    :func:`encode`.
    """
    fast = encode_plain(list(values))
    return fast if fast is not None else [encode(v) for v in values]


def decode(data: bytes | str) -> Any:
    """Parse canonical (or any) JSON back into content; ContentError if it is not JSON."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ContentError(f"not valid JSON: {exc}") from exc
    needle = _TAG_BYTES if isinstance(data, bytes | bytearray | memoryview) else '"$type"'
    if needle not in data:  # type: ignore[operator]
        return raw
    return from_json(raw)


def decode_many(encoded: Sequence[bytes]) -> list[Any]:
    """``[decode(e) for e in encoded]``, parsed as one JSON array (one call into orjson).

    Meant for canonical encodings this codec produced (what storage holds). If the joined
    array does not parse into exactly one item per encoding, each is decoded on its own,
    so a bad one raises :class:`ContentError` just as :func:`decode` would.
    """
    if not encoded:
        return []
    joined = b"".join((b"[", b",".join(encoded), b"]"))
    try:
        values = orjson.loads(joined)
    except orjson.JSONDecodeError:
        values = None
    if type(values) is not list or len(values) != len(encoded):
        return [decode(e) for e in encoded]
    if _TAG_BYTES in joined:
        return [from_json(v) for v in values]
    return values


def dumps(value: Any) -> str:
    """Canonical JSON text of ``value``."""
    return encode(value).decode()


def loads(text: str | bytes) -> Any:
    """Alias of :func:`decode` for text."""
    return decode(text)
