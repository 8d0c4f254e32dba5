"""Loading and validating specs: every problem is reported at once, with its JSON path.

:func:`load_spec` reads a file (or takes parsed data) and :func:`parse_spec` builds the
:class:`~bassline.spec.Bassline`; the work is done by :mod:`bassline.spec.checker` (field
rules), :mod:`bassline.spec.items` (groups, contacts, wires, endpoints) and
:mod:`bassline.spec.expand` (parts and their uses).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from bassline.codec import parse_json
from bassline.errors import SpecError, SpecProblem
from bassline.spec.checker import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    MAX_WIRE_ID_LENGTH,
    URL_PATTERN,
    Checker,
    type_name,
)
from bassline.spec.expand import MAX_EXPANDED, parse_parts, parse_scope
from bassline.spec.items import gadget_port_boundaries, parse_endpoints
from bassline.spec.model import Bassline
from bassline.spec.prototype import (
    is_prototype_format,
    prototype_message,
    prototype_path,
    prototype_to_native,
)

__all__ = [
    "ID_PATTERN",
    "MAX_EXPANDED",
    "MAX_ID_LENGTH",
    "MAX_WIRE_ID_LENGTH",
    "URL_PATTERN",
    "gadget_port_boundaries",
    "load_spec",
    "parse_spec",
    "validate_spec",
]

_TOP_KEYS = {
    "format",
    "id",
    "version",
    "metadata",
    "groups",
    "contacts",
    "wires",
    "endpoints",
    "parts",
    "uses",
}


def _check_prototype_keys(ck: Checker, original: Mapping[str, Any]) -> None:
    """In the prototype's format an item's ``id`` is its key; a different id is a mistake."""
    for section in ("groups", "contacts", "wires"):
        items = original.get(section)
        if not isinstance(items, dict):
            continue
        for index, (key, item) in enumerate(items.items()):
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] != key:
                ck.add(
                    f"$.{section}[{index}].id",
                    f"id {item['id']!r} does not match its key {key!r}",
                )


def parse_spec(data: Any, source: str | None = None, *, default_id: str = "network") -> Bassline:
    """Validate spec data (native or prototype format) and build the :class:`Bassline`.

    Raises :class:`~bassline.errors.SpecError` listing every problem with its JSON path.
    """
    ck = Checker()
    if not isinstance(data, dict):
        raise SpecError([SpecProblem("$", f"expected an object, got {type_name(data)}")], source)
    original = data
    prototype = is_prototype_format(data)
    if prototype:
        _check_prototype_keys(ck, data)
        data = prototype_to_native(data, default_id=default_id)
        for key in ("parts", "uses"):
            if key in data:
                ck.add(
                    f"$.{key}",
                    "parts need the native format (groups, contacts and wires as arrays, "
                    '"format": "bassline/1")',
                )
                del data[key]
    ck.unknown_keys(data, _TOP_KEYS, "$")
    fmt = data.get("format")
    if fmt is not None and fmt != "bassline/1":
        ck.add("$.format", f"unsupported format {fmt!r} (this version reads 'bassline/1')")
    # without an "id" the network takes the file's name: say so when that name is no id
    id_path = (
        "$.id" if "id" in original else f"$.id (none given, so the file's name {default_id!r})"
    )
    spec_id = ck.ident(data.get("id", default_id), id_path) or default_id
    version = data.get("version", "1")
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # JSON Schema's "integer" includes 2.0
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    version = ck.string(version, "$.version", "1")
    if not version:  # "" was taken as the default: a version the author never wrote
        ck.add(
            "$.version", 'must not be empty (leave it out, or null, for the default version "1")'
        )
        version = "1"
    metadata = ck.json_object(data.get("metadata"), "$.metadata")
    parts = parse_parts(ck, data)
    scope = parse_scope(ck, data, "$", parts, in_part=False)
    groups, contacts, wires = scope.groups, scope.contacts, scope.wires
    endpoints = parse_endpoints(ck, data, groups)
    if ck.problems:
        if prototype:
            ck.problems = [
                SpecProblem(prototype_path(p.path, original), prototype_message(p.path, p.message))
                for p in ck.problems
            ]
        raise SpecError(ck.problems, source)
    return Bassline(
        id=spec_id,
        version=version,
        groups=tuple(sorted((g for _, g in groups.values()), key=lambda g: g.id)),
        contacts=tuple(sorted((c for _, c in contacts.values()), key=lambda c: c.id)),
        wires=tuple(sorted((w for _, w in wires.values()), key=lambda w: w.id)),
        endpoints=endpoints,
        metadata=metadata,
    )


MAX_SPEC_FILE_BYTES = 1 << 30
"""The most :func:`load_spec` reads of a spec file (1 GiB, as the CLI reads of standard
input): a device such as ``/dev/zero`` given by mistake is refused, not read for ever."""


def _read(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SPEC_FILE_BYTES + 1)
        if len(raw) > MAX_SPEC_FILE_BYTES:
            problem = f"more than {MAX_SPEC_FILE_BYTES:,} bytes, the most read of a spec file"
            raise SpecError([SpecProblem("$", problem)], str(path))
    except FileNotFoundError:
        raise SpecError([SpecProblem("$", "file not found")], str(path)) from None
    except OSError as exc:
        raise SpecError(
            [SpecProblem("$", f"cannot read file: {exc.strerror}")], str(path)
        ) from None
    return _parsed(raw, str(path))


def _parsed(raw: bytes, source: str) -> Any:
    try:
        return parse_json(raw)
    except orjson.JSONDecodeError as exc:
        raise SpecError([SpecProblem("$", f"not valid JSON: {exc}")], source) from None


def load_spec_text(raw: bytes, source: str, *, default_id: str = "network") -> Bassline:
    """Load and validate a spec from JSON text (UTF-8 bytes) read from ``source`` (what
    problems name: standard input, say); :class:`~bassline.errors.SpecError` as
    :func:`load_spec` raises it."""
    return parse_spec(_parsed(raw, source), source, default_id=default_id)


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any] | Bassline) -> Bassline:
    """Load and validate a spec from a JSON file path or from already-parsed data.

    Both the native format and the prototype's network JSON format are accepted.
    Raises :class:`~bassline.errors.SpecError` with every problem found.
    """
    if isinstance(source, Bassline):
        return source
    if isinstance(source, Mapping):
        return parse_spec(dict(source))
    if not isinstance(source, str | os.PathLike):
        return parse_spec(source)  # not a path: reported as data that is not an object
    path = Path(source)
    return parse_spec(_read(path), str(path), default_id=path.stem or "network")


def validate_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[SpecProblem]:
    """Every problem in a spec (an empty list when it is valid)."""
    try:
        load_spec(source)
    except SpecError as exc:
        return list(exc.problems)
    return []
