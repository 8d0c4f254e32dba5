"""Preparing content batches: the shared column path and the per-record path agree.

Pure preparation, no server: these run without PostgreSQL.
"""

from __future__ import annotations

from bassline_storage_postgres.columns import encode_or_none
from bassline_storage_postgres.fastpath import column_contents, fast_contents

from bassline.clock import Stamp
from bassline.storage import ContentRecord


def _records(n: int = 20) -> list[ContentRecord]:
    return [
        ContentRecord("net", "root" if i % 3 else "g", f"c{i}", {"i": i, "f": i / 7}, Stamp(i, "é"))
        for i in range(n)
    ]


def test_column_contents_matches_the_per_record_path() -> None:
    records = _records()
    quick = column_contents(records)
    slow = fast_contents(records)
    assert quick is not None and slow is not None
    columns, references = quick
    expected, expected_references = slow
    expected.contents = [encode_or_none(v) for v in expected.values]
    assert columns.chunk(0, len(records)) == expected.chunk(0, len(records))
    assert references == expected_references


def test_a_batch_the_columns_cannot_take_goes_to_the_per_record_path() -> None:
    records = _records()
    records.append(records[0])  # a duplicate contact
    assert column_contents(records) is None
    assert fast_contents(records) is not None
