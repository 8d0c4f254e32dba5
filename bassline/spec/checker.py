"""Checking the fields of a spec's items, collecting every problem with its JSON path.

:class:`Checker` gathers :class:`~bassline.errors.SpecProblem` values instead of raising at
the first, so a spec's every mistake is reported at once. The id and URL rules live here;
the JSON Schema (:mod:`bassline.spec.schema`) uses the same patterns.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from bassline.codec import from_json, is_text, to_json
from bassline.errors import ContentError, SpecProblem
from bassline.plugins import closest

__all__ = [
    "ID_PATTERN",
    "MAX_ID_LENGTH",
    "MAX_URL_LENGTH",
    "MAX_WIRE_ID_LENGTH",
    "SUGGESTION_BUDGET",
    "URL_PATTERN",
    "Checker",
    "host_problem",
    "suggest",
    "type_name",
    "url_problem",
    "ws_form",
]

MAX_ID_LENGTH = 200
"""The longest id (of a group, contact, part, instance, node) a spec may use, in characters."""
MAX_WIRE_ID_LENGTH = 2 * MAX_ID_LENGTH + 2
"""A wire id may be as long as the id a wire without one gets (``FROM->TO``), so the
canonical form, which writes every wire's id, always loads again."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_END = "(?![\\s\\S])"  # the end of the text in Python and ECMA-262 ('$' in Python also
# matches before a final newline, so a schema validator in Python would accept "id\n")
ID_PATTERN = "^[^\\u0000-\\u001f\\u007f]+" + _END
"""What an id looks like (used by the JSON Schema; the loader says which rule is broken)."""
URL_PATTERN = (
    "^(wss?|https?)://[^\\u0000-\\u0020\\u007f/?#@]+(/[^\\u0000-\\u0020\\u007f?#]*)?" + _END
)
"""What an endpoint URL looks like (the JSON Schema uses the same pattern): a lower-case
ws, wss, http or https scheme, a host, no credentials, query or fragment, no spaces or
control characters."""
_URL = re.compile(
    "^(wss?|https?)://[^\\u0000-\\u0020\\u007f/?#]+([/?#][^\\u0000-\\u0020\\u007f]*)?" + _END
)


def type_name(value: Any) -> str:
    """What JSON calls the type of ``value`` (``object``, ``array``, ...), for messages."""
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


class Checker:
    """Collects the problems of one spec; each check returns a usable value or a default."""

    def __init__(self) -> None:
        self.problems: list[SpecProblem] = []
        self._suggesting = SUGGESTION_BUDGET
        """Candidates the remaining "did you mean" hints may still compare with."""

    def suggest(self, name: str, known: Mapping[str, Any]) -> str:
        """:func:`suggest`, while this spec's hints have compared fewer than
        :data:`SUGGESTION_BUDGET` candidates in all; then ``""``. Each hint compares with
        every known id, so thousands of unknown ids among thousands of contacts took
        minutes (5,000 of each: 67 s) before the budget; at most about a second now."""
        if self._suggesting < len(known):
            return ""
        self._suggesting -= len(known)
        return suggest(name, known)

    def add(self, path: str, message: str) -> None:
        """Record a problem at JSON path ``path``."""
        self.problems.append(SpecProblem(path, message))

    def unknown_keys(self, obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
        """Report each key of ``obj`` not in ``allowed`` (with the closest allowed one)."""
        for key in obj:
            if key not in allowed:
                hint = closest(str(key), sorted(allowed))
                extra = (
                    f"; did you mean {hint!r}?"
                    if hint
                    else f" (allowed: {', '.join(sorted(allowed))})"
                )
                self.add(f"{path}.{key}", f"unknown field{extra}")

    def ident(self, value: Any, path: str, limit: int = MAX_ID_LENGTH) -> str | None:
        """``value`` if it is a valid id (a non-empty string of text, no control
        characters, at most ``limit`` long); else None, with the rule it breaks reported."""
        if not isinstance(value, str):
            self.add(path, f"expected a string id, got {type_name(value)}")
            return None
        if not value:
            self.add(path, "id must not be empty")
            return None
        if len(value) > limit:
            self.add(path, f"id is {len(value)} characters long (at most {limit})")
            return None
        if _CONTROL.search(value):
            self.add(path, "id must not contain control characters")
            return None
        if not is_text(value):
            self.add(path, "id must be valid Unicode text (it contains a lone surrogate)")
            return None
        return value

    def string(self, value: Any, path: str, default: str = "") -> str:
        """``value`` if it is a string of valid text; ``default`` if it is missing or not."""
        if value is None:
            return default
        if not isinstance(value, str):
            self.add(path, f"expected a string, got {type_name(value)}")
            return default
        if not is_text(value):
            self.add(path, "must be valid Unicode text (it contains a lone surrogate)")
            return default
        return value

    def json_object(self, value: Any, path: str) -> dict[str, Any]:
        """``value`` decoded as an object of content (``attributes``, ``metadata``); ``{}``
        if it is missing or not one."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected an object, got {type_name(value)}")
            return {}
        try:
            decoded: dict[str, Any] = from_json(value)
            to_json(decoded)
        except ContentError as exc:
            self.add(path, str(exc))
            return {}
        return decoded

    def enum(self, cls: Any, value: Any, path: str, default: Any) -> Any:
        """The member of enum ``cls`` with value ``value``; ``default`` if missing or unknown."""
        if value is None:
            return default
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            self.add(path, f"unknown value {value!r} (expected one of: {allowed})")
            return default

    def items(self, data: Mapping[str, Any], key: str, base: str = "$") -> list[tuple[str, Any]]:
        """The objects of array ``data[key]`` with their paths (a missing array is empty)."""
        raw = data.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(f"{base}.{key}", f"expected an array, got {type_name(raw)}")
            return []
        out = []
        for i, item in enumerate(raw):
            path = f"{base}.{key}[{i}]"
            if not isinstance(item, dict):
                self.add(path, f"expected an object, got {type_name(item)}")
                continue
            out.append((path, item))
        return out


SUGGESTION_BUDGET = 20_000
"""How many candidate ids the "did you mean" hints of one spec compare with in all."""


def suggest(name: str, known: Mapping[str, Any]) -> str:
    """``"; did you mean 'x'?"`` for the key of ``known`` closest to ``name``, else ``""``."""
    hint = closest(name, list(known))
    return f"; did you mean {hint!r}?" if hint else ""


MAX_URL_LENGTH = 2048
"""The longest node URL, in its ``ws://`` form (:func:`ws_form`): the most a gossip hello
carries as the URL a node advertises (a longer one was refused by every peer)."""


def ws_form(parts: SplitResult) -> str:
    """The ``ws://`` (``wss://``) form of the node URL ``parts``, as a node dials and
    advertises it: the scheme's port written out when the URL gives none (80, or 443 for
    ``wss``/``https``), an IPv6 host in brackets, the path without trailing slashes or
    a final ``/gossip``."""
    secure = parts.scheme.lower() in ("wss", "https")
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/")
    if path.endswith("/gossip"):
        path = path[: -len("/gossip")]
    return f"{'wss' if secure else 'ws'}://{netloc}:{parts.port or (443 if secure else 80)}{path}"


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable endpoint URL, or None."""
    expected = f"expected a ws://, wss://, http:// or https:// URL, got {url!r}"
    if not _URL.match(url):
        return expected
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not 0-65535)
    except ValueError as exc:
        return f"{expected}: {exc}"
    if not parts.hostname:
        return f"{expected}: no host"
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"{expected}: a node's URL has no query, fragment or credentials"
    problem = host_problem(parts.hostname)
    if problem:
        return f"{expected}: its host {parts.hostname!r} {problem}"
    length = len(ws_form(parts))
    if length > MAX_URL_LENGTH:  # what the node refuses: a gossip hello carries this form
        return (
            f"a node URL is at most {MAX_URL_LENGTH} characters in its ws:// form, with the "
            f"port written out, as a node dials it; this one is {length}"
        )
    return None


def host_problem(host: str) -> str | None:
    """Why no connection can be made to ``host``, whatever the network says, or None: a
    space, or a label (between dots) that is empty or longer than 63 characters, which no
    resolver takes. An IP address is a host; a trailing dot is a fully qualified name."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if any(c.isspace() for c in host):
        return "holds a space"
    name = host[:-1] if host.endswith(".") else host
    try:
        if not name:
            raise UnicodeError("label empty or too long")
        name.encode("idna")
    except UnicodeError as exc:
        return f"is malformed: {exc.__cause__ or exc}"
    return None
