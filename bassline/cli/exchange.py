"""The export format: one network's spec and every stored content, as one JSON document.

Version 1 of the format is one canonical JSON object (sorted keys, compact, UTF-8, as
written by :func:`bassline.codec.encode`) followed by a newline::

    {
      "format": "bassline-export",          # always this string
      "format_version": 1,                  # bumped on any incompatible change
      "network": "calculator",              # the spec's id
      "spec_hash": "9bf14e7a...",           # sha256 of the canonical spec (Bassline.hash)
      "spec": {"format": "bassline/1", ...},# the native spec, every default written out
      "snapshot": null,                     # or {"id", "label", "created_at"} if exported
                                            # from a snapshot
      "contents": [                         # sorted by contact id, at most one per contact
        {"contact": "input-a", "group": "root", "stamp": [hlc, "node"], "value": 5},
        ...
      ]
    }

Values use the codec's tagged form for lattice values (``{"$type": "grow-set", ...}``).
The same state always exports to the same bytes. A reader refuses a document of another
``format_version`` instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs
import orjson

from bassline.cli.progress import Reporter, phase
from bassline.clock import HybridLogicalClock, Stamp, is_stamp_node
from bassline.codec import encode, from_json, parse_json, to_json
from bassline.errors import BasslineError, ContentError
from bassline.spec import Bassline, parse_spec
from bassline.storage import ContentRecord, SnapshotInfo
from bassline.storage.validation import check_id, check_label

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ExportDocument",
    "ExportFormatError",
    "dump_export",
    "parse_export",
]

FORMAT = "bassline-export"
"""The value of the ``format`` field of every export document."""
FORMAT_VERSION = 1
"""The ``format_version`` this Bassline writes and reads."""

_TOP_KEYS = {"format", "format_version", "network", "spec_hash", "spec", "snapshot", "contents"}
_CONTENT_KEYS = {"contact", "group", "stamp", "value"}
_SNAPSHOT_KEYS = {"id", "label", "created_at"}


class ExportFormatError(BasslineError, ValueError):
    """A file that is not a readable Bassline export of this format version."""


@attrs.frozen
class ExportDocument:
    """A parsed export: the spec, its contents (sorted by contact) and where it came from."""

    spec: Bassline
    contents: tuple[ContentRecord, ...]
    snapshot: dict[str, Any] | None = None


def _snapshot_json(info: SnapshotInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"id": info.id, "label": info.label, "created_at": info.created_at.isoformat()}


def dump_export(
    spec: Bassline,
    contents: Iterable[ContentRecord],
    snapshot: SnapshotInfo | None = None,
    progress: Reporter | None = None,
) -> bytes:
    """The export document for ``spec`` and its stored ``contents``, newline-terminated.

    The result is byte for byte ``encode(document)``: ``"contents"`` sorts first among the
    keys. With ``progress``, encoding the spec and encoding the contents (one by one) show
    as two phases.
    """
    with phase(progress, f"encoding the spec of {spec.id}"):
        header = encode(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "network": spec.id,
                "spec_hash": spec.hash,
                "spec": spec.to_dict(),
                "snapshot": _snapshot_json(snapshot),
            }
        )
    records = list(contents)
    with phase(progress, f"encoding the contents of {spec.id}", len(records)) as bar:
        records.sort(key=lambda r: r.contact)
        parts = [b'{"contents":[']
        for n, r in enumerate(records):
            entry = {
                "contact": r.contact,
                "group": r.group,
                "stamp": r.stamp.to_json(),
                "value": r.value,
            }
            try:
                encoded = encode(entry)
            except ContentError as exc:  # stored by an earlier version (an empty interval)
                raise ContentError(
                    f"{exc}: stored content this version cannot hold (`bassline storage "
                    "check` lists every such content)",
                    r.contact,
                ) from None
            parts.append(b"," + encoded if n else encoded)
            bar.advance()
        parts.append(b"]," + header[1:] + b"\n")
        return b"".join(parts)


def _fail(source: str, message: str) -> ExportFormatError:
    return ExportFormatError(f"{source}: {message}")


def _check_header(data: Any, source: str) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _fail(
            source,
            f'not a Bassline export (expected "format": "{FORMAT}"); '
            "make one with `bassline export STORAGE_URL NETWORK -o FILE`",
        )
    version = data.get("format_version")
    if type(version) is not int:
        raise _fail(source, f"format_version must be an integer, got {version!r}")
    if version != FORMAT_VERSION:
        raise _fail(
            source,
            f"export format version {version} is not supported (this bassline reads version "
            f"{FORMAT_VERSION}); use the bassline version that wrote it, or export it again",
        )
    unknown = sorted(set(data) - _TOP_KEYS)
    missing = sorted(_TOP_KEYS - set(data))
    if unknown or missing:
        parts = [
            f"unknown fields {unknown}" if unknown else "",
            f"missing {missing}" if missing else "",
        ]
        raise _fail(source, f"malformed export: {', '.join(p for p in parts if p)}")


def _check_snapshot(snapshot: Any, source: str) -> dict[str, Any] | None:
    """The ``snapshot`` field, checked: null, or the snapshot an export was taken from."""
    if snapshot is None:
        return None
    if not isinstance(snapshot, dict) or set(snapshot) != _SNAPSHOT_KEYS:
        raise _fail(
            source,
            f"snapshot must be null or an object with exactly {sorted(_SNAPSHOT_KEYS)}, "
            f"got {snapshot!r:.100}",
        )
    for field, problem in (
        ("id", check_id("snapshot", snapshot["id"])),
        ("label", check_label(snapshot["label"])),
    ):
        if problem is not None:
            raise _fail(source, f"snapshot.{field}: {problem.message}")
    created = snapshot["created_at"]
    try:
        if not isinstance(created, str):
            raise ValueError
        dt.datetime.fromisoformat(created)
    except ValueError:
        raise _fail(
            source, f"snapshot.created_at must be an ISO 8601 time, got {created!r:.100}"
        ) from None
    return snapshot


_IMPORTED = '{"kind":"write","via":"import","local":false}'
"""The stored justification of every imported content: a write that came in via
``import`` with its original stamp (``Network.stored_justification``'s form)."""


_DRIFT = HybridLogicalClock("import")
"""Checks that no imported stamp is further ahead of this machine's clock than a node allows."""


def _parse_entry(spec: Bassline, entry: Any, path: str, source: str) -> ContentRecord:
    if not isinstance(entry, dict) or set(entry) != _CONTENT_KEYS:
        raise _fail(source, f"{path} must be an object with exactly {sorted(_CONTENT_KEYS)}")
    contact, group = entry["contact"], entry["group"]
    if not isinstance(contact, str) or contact not in spec.contact_by_id:
        raise _fail(source, f"{path}.contact {contact!r} is not a contact of the spec")
    expected = spec.contact(contact).group
    if group != expected:
        raise _fail(
            source, f"{path}.group is {group!r}, but contact {contact!r} is in {expected!r}"
        )
    try:
        stamp = Stamp.from_json(entry["stamp"])
        if not is_stamp_node(stamp.node):  # a node could never gossip it
            raise ValueError(
                f"stamp node {stamp.node!r:.80} is no node id (at most 200 characters, no "
                "control characters)"
            )
        _DRIFT.observe(stamp)  # a runtime opened on the store would refuse to restore it
        value = from_json(entry["value"], f"{path}.value")
        to_json(value, f"{path}.value")  # storable (64-bit integers ...), checked before writing
    except (ValueError, ContentError) as exc:
        raise _fail(source, f"{path}: {exc}") from None
    return ContentRecord(spec.id, group, contact, value, stamp, _IMPORTED)


def parse_export(data: bytes, source: str, progress: Reporter | None = None) -> ExportDocument:
    """Read and check an export document; :class:`ExportFormatError` says what is wrong.

    Spec problems raise :class:`~bassline.errors.SpecError` listing each one. With
    ``progress``, the parsing and the checking of the contents show as two phases.
    """
    with phase(progress, f"parsing {source}"):
        try:
            raw = parse_json(data)
        except orjson.JSONDecodeError as exc:
            raise _fail(source, f"not valid JSON ({exc})") from None
        _check_header(raw, source)
        spec = parse_spec(raw["spec"], f"{source} ($.spec)")
        if raw["spec_hash"] != spec.hash:
            raise _fail(source, "spec_hash does not match the spec: the file was edited or damaged")
        if raw["network"] != spec.id:
            raise _fail(
                source, f"network {raw['network']!r} differs from the spec's id {spec.id!r}"
            )
        snapshot = _check_snapshot(raw["snapshot"], source)
    entries = raw["contents"]
    if not isinstance(entries, list):
        raise _fail(source, "contents must be an array")
    records: list[ContentRecord] = []
    seen: set[str] = set()
    with phase(progress, f"checking the contents of {spec.id}", len(entries)) as bar:
        for n, entry in enumerate(entries):
            record = _parse_entry(spec, entry, f"contents[{n}]", source)
            if record.contact in seen:
                raise _fail(source, f"contents[{n}]: contact {record.contact!r} appears twice")
            seen.add(record.contact)
            records.append(record)
            bar.advance()
        contents = tuple(sorted(records, key=lambda r: r.contact))
        del raw, entries, records  # freeing the parsed document takes a while too
    return ExportDocument(spec, contents, snapshot)
