"""The export format (``bassline.cli.exchange``): canonical bytes and exact round trips."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.cli.exchange import (
    FORMAT,
    FORMAT_VERSION,
    ExportFormatError,
    dump_export,
    parse_export,
)
from bassline.cli.progress import PhaseEvent, add_listener, reporting
from bassline.clock import Stamp
from bassline.codec import encode
from bassline.spec import Bassline, parse_spec
from bassline.storage import ContentRecord
from bassline.testing import strategies as bst

# readings up to 2**56 (a wall clock in 2004): import refuses stamps beyond the clock drift
# and stamps whose node is no node id (a control character, a lone surrogate): no peer
# would take them
nodes = st.text(st.characters(blacklist_categories=["Cc", "Cs"]), max_size=6)
stamps = st.builds(Stamp, st.integers(0, 2**56), nodes)


@st.composite
def exports(draw: st.DrawFn) -> tuple[Bassline, list[ContentRecord]]:
    spec = draw(bst.specs())
    chosen = draw(st.lists(st.sampled_from(spec.contacts), unique_by=lambda c: c.id))
    records = [
        ContentRecord(spec.id, c.group, c.id, draw(bst.contents()), draw(stamps)) for c in chosen
    ]
    return spec, records


def _document(spec: Bassline, records: list[ContentRecord]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "network": spec.id,
        "spec_hash": spec.hash,
        "spec": spec.to_dict(),
        "snapshot": None,
        "contents": [
            {"contact": r.contact, "group": r.group, "stamp": r.stamp.to_json(), "value": r.value}
            for r in sorted(records, key=lambda r: r.contact)
        ],
    }


@given(exports())
def test_streamed_export_is_the_canonical_encoding_and_round_trips(
    case: tuple[Bassline, list[ContentRecord]],
) -> None:
    spec, records = case
    events: list[PhaseEvent] = []
    stop = add_listener(events.append)
    try:
        with reporting() as progress:
            data = dump_export(spec, reversed(records), progress=progress)
    finally:
        stop()
    assert data == encode(_document(spec, records)) + b"\n"
    n = len(records)
    assert events[-1] == PhaseEvent("end", f"encoding the contents of {spec.id}", n, n)
    parsed = parse_export(data, "x.json")
    assert parsed.spec.hash == spec.hash and parsed.snapshot is None
    got = [(r.contact, r.group, r.stamp, encode(r.value)) for r in parsed.contents]
    want = sorted((r.contact, r.group, r.stamp, encode(r.value)) for r in records)
    assert got == want


def test_duplicate_and_misplaced_contents_are_refused() -> None:
    calc = parse_spec(
        {
            "id": "n",
            "groups": [{"id": "g"}],
            "contacts": [{"id": "a"}, {"id": "p", "group": "g", "boundary": "input"}],
        }
    )
    good = ContentRecord("n", "root", "a", 1, Stamp(5, "x"))
    data = dump_export(calc, [good])
    doubled = data.replace(
        b'"contents":[', b'"contents":[{"contact":"a","group":"root","stamp":[1,"x"],"value":2},'
    )
    with pytest.raises(ExportFormatError, match="appears twice"):
        parse_export(doubled, "f")
    moved = dump_export(calc, [ContentRecord("n", "g", "a", 1, Stamp(5, "x"))])
    with pytest.raises(
        ExportFormatError, match=r"contents\[0\]\.group is 'g', but contact 'a' is in 'root'"
    ):
        parse_export(moved, "f")
    bad_stamp = data.replace(b'"stamp":[5,"x"]', b'"stamp":[-1,"x"]')
    with pytest.raises(ExportFormatError, match="not a stamp"):
        parse_export(bad_stamp, "f")
    with pytest.raises(ExportFormatError, match="not valid JSON"):
        parse_export(b"{", "f")
    extra = data.replace(b'"format":', b'"extra":1,"format":')
    with pytest.raises(ExportFormatError, match="unknown fields"):
        parse_export(extra, "f")
