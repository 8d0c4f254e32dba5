"""JSON text from users, parsed exactly: :func:`parse_json` and :class:`DuplicateKey`
(both re-exported by :mod:`bassline.codec`, where they are documented).

A document with an object is parsed once, by Python's parser with a hook that refuses a
key said twice as each object is built, and that parser is trusted only where it agrees
with orjson (what ``orjson.loads`` refuses stays refused, with orjson's words). Text that
is not UTF-8, any surrogate escape (``\\ud83d``: orjson refuses a lone one; pairs go the
same way), ``NaN`` or ``Infinity``, a float that overflows a double, a run of 309 digits
or more (an integer that may), nesting deeper than orjson's 1,024 levels, and a key said
twice each send the text the way it always went (orjson, then Python's parser again for
exact integers and keys), which is also how every error is reported. Anything else is
parsed once. Before all that, bytes that start compact (no ``": "`` or ``", "`` in their
first 64 bytes: JSON as HTTP clients send a body) are parsed by orjson alone when orjson
writes the value back as exactly those bytes, which rules out all of the above.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, NoReturn

import orjson

__all__ = ["DuplicateKey", "parse_json"]

_DIGITS = bytes(b"0"[0] if 48 <= i <= 57 else b" "[0] for i in range(256))
"""Bytes to themselves as ``0`` (digits) or a space (anything else)."""
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_HUGE_INT = 309
"""Digits from which an integer is too large for a double: orjson refuses it."""
_ORJSON_DEPTH = 1024
"""orjson's nesting limit."""


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text from outside — a file, a command line, a request body — exactly.

    Like ``orjson.loads`` (bad JSON raises ``orjson.JSONDecodeError``, a ValueError),
    except that an integer too big for 64 bits keeps its exact value instead of becoming a
    rounded float, so whoever checks the value refuses it by name rather than storing a
    different number than the one written. Text that is not UTF-8 (a Latin-1 or UTF-16
    file, a command-line argument in another encoding) is refused naming the first byte
    that is not, and where it is. An object that names a key twice is refused
    (:class:`DuplicateKey`, naming the key and the object's JSON path), where a JSON parser
    would silently keep the last. A document holding an object is parsed once (Python's
    parser, checking keys as it builds each object); one without is parsed by orjson
    (and once more only when it has an integer of 19 digits or more, to keep it exact:
    orjson reads one below -2**63 as a float).
    """
    if isinstance(data, bytes) and b": " not in data[:64] and b", " not in data[:64]:
        value = _canonical(data)  # compact, by its start
        if value is not _UNSURE:
            return value
    objects = (b"{" if isinstance(data, bytes) else "{") in data  # type: ignore[operator]
    if objects:
        value = _parse_once(data)
        if value is not _UNSURE:
            return value
    return _parse_checked(data, objects)


_UNSURE = object()
"""What :func:`_parse_once` returns when it cannot vouch for its parse."""


class _NotOrjsons(Exception):
    """A number or constant orjson refuses (NaN, Infinity, one that overflows a double)."""


def _finite(text: str) -> float:
    number = float(text)
    if number - number != 0:  # inf: orjson refuses it
        raise _NotOrjsons
    return number


def _constant(text: str) -> NoReturn:
    raise _NotOrjsons


def _canonical(data: bytes) -> Any:
    """``data`` parsed by orjson when orjson writes the value back as exactly ``data``
    (compact JSON as orjson, httpx and Bassline's client write it), else
    :data:`_UNSURE`. Written back byte for byte, the text had no key twice (the value
    keeps one), no integer that lost precision (it would come back as a float), no
    surrogate escape, number spelling or whitespace that Python's parser could read
    otherwise: orjson's value is the one the checked parse gives."""
    try:
        value = orjson.loads(data)
        return value if orjson.dumps(value) == data else _UNSURE
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # its own depth limit: 254
        return _UNSURE


def _parse_once(data: bytes | str) -> Any:
    """``data`` parsed by Python's parser with every key checked, or :data:`_UNSURE` when
    orjson might refuse it, it has a key twice, or it is no JSON at all (the caller then
    parses it as before, to report exactly that)."""
    try:
        text = data if isinstance(data, str) else str(data, "utf-8")
        if not text.isascii():
            text.encode("utf-8")  # a lone surrogate: orjson refuses the text
    except UnicodeError:
        return _UNSURE
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        return _UNSURE  # orjson refuses a lone one; pairs are rare enough to go the old way
    try:
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_float=_finite, parse_constant=_constant
        )
    except (ValueError, RecursionError, _Repeated, _NotOrjsons):
        return _UNSURE
    if _digit_run(text, _HUGE_INT) or _too_deep(text, value):
        return _UNSURE
    return value


def _digit_run(data: bytes | str, length: int) -> bool:
    """Whether ``data`` has ``length`` digits in a row (at C speed: a regular expression
    took ten times as long on text full of numbers)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    return b"0" * length in raw.translate(_DIGITS)


def _too_deep(text: str, value: Any) -> bool:
    """Whether ``value`` nests deeper than orjson's limit. Python's parser stops below it
    under the default recursion limit before Python 3.12, so only more than 1,024 opening
    brackets with a parser that may go deeper need the walk."""
    if text.count("[") + text.count("{") <= _ORJSON_DEPTH:
        return False
    if sys.version_info < (3, 12) and sys.getrecursionlimit() <= _ORJSON_DEPTH:
        return False
    level: list[Any] = [value] if type(value) is dict or type(value) is list else []
    for _ in range(_ORJSON_DEPTH):
        level = [
            item
            for container in level
            for item in (container.values() if type(container) is dict else container)
            if type(item) is dict or type(item) is list
        ]
        if not level:
            return False
    return True


def _parse_checked(data: bytes | str, objects: bool) -> Any:
    """Parse with orjson (its errors, its limits), then with Python's parser when an
    integer may have lost precision or an object may repeat a key."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        _refuse_non_utf8(data)
        raise
    exact = _digit_run(data, 19)  # -9223372036854775809 has 19: orjson reads a float
    if not exact and not objects:
        return value  # no literal long enough to lose precision, no key to repeat
    try:
        # exact integers, and each object's keys seen (orjson keeps the last of a
        # repeated key); orjson already refused anything else
        again = json.loads(data, object_pairs_hook=_unique_keys if objects else None)
    except RecursionError:  # nested too deep for Python's parser: far too deep as content
        return value
    except _Repeated:
        raise DuplicateKey(data) from None
    return again if exact else value


class DuplicateKey(orjson.JSONDecodeError):
    """JSON text with an object that names a key twice: which key, and where (a JSON
    path, ``$.contacts[2]``). An ``orjson.JSONDecodeError``, so whatever reports bad JSON
    reports it too."""

    def __init__(self, data: bytes | str) -> None:
        key, path = _first_repeat(json.loads(data, object_pairs_hook=_Pairs), "$")
        self.key, self.path = key or "", path or "$"
        message = f"the object at {path} has the key {key!r} twice (say each key once)"
        super().__init__(message, data if isinstance(data, str) else "", 0)
        self.args = (message,)

    def __str__(self) -> str:
        return self.msg


class _Repeated(Exception):
    """An object of the text has a key twice (found by :func:`_unique_keys`)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Repeated
    return obj


class _Pairs(list):  # type: ignore[type-arg]
    """An object's pairs as written, kept to find a repeated key and where it is."""


def _first_repeat(value: Any, path: str) -> tuple[str, str] | tuple[None, None]:
    """The first repeated key (in document order) in ``value`` parsed with :class:`_Pairs`
    objects, and the JSON path of its object."""
    if type(value) is list:
        for n, item in enumerate(value):
            found = _first_repeat(item, f"{path}[{n}]")
            if found[0] is not None:
                return found
    elif type(value) is _Pairs:
        seen: set[str] = set()
        for key, item in value:
            if key in seen:
                return key, path
            seen.add(key)
            found = _first_repeat(
                item, f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{key!r}]"
            )
            if found[0] is not None:
                return found
    return None, None


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _refuse_non_utf8(data: bytes | str) -> None:
    """Raise a JSONDecodeError naming the first byte of ``data`` that is not UTF-8, if any
    (orjson says "str is not valid UTF-8: surrogates not allowed" at char 0, whatever the
    byte and wherever it is). In text, an undecodable byte is a surrogate escape."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
            return
        except UnicodeEncodeError as exc:
            start, char = exc.start, ord(data[exc.start])
            prefix = data[:start]
        what = (
            f"byte 0x{char - 0xDC00:02x} is not UTF-8 text"
            if 0xDC80 <= char <= 0xDCFF  # how Python keeps a byte it could not decode
            else f"the lone surrogate U+{char:04X} is not valid Unicode text"
        )
    else:
        raw = bytes(data)
        try:
            raw.decode("utf-8")
            return
        except UnicodeDecodeError as exc:
            start = exc.start
            prefix = raw[:start].decode("utf-8")
        what = f"byte 0x{raw[start]:02x} at byte offset {start} is not UTF-8 text"
    raise orjson.JSONDecodeError(f"{what}, which JSON text must be", prefix, len(prefix))
