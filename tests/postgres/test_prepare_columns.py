"""Laying out content batches: the column path and the per-record path agree.

Pure preparation, no server: these run without PostgreSQL.
"""

from __future__ import annotations

import attrs
from bassline_storage_postgres.fastpath import column_contents
from bassline_storage_postgres.prepare import prepare_batch

from bassline.clock import Stamp
from bassline.storage import ContentRecord, StorageError
from bassline.storage.toolkit import check_batch


def _records(n: int = 20) -> list[ContentRecord]:
    return [
        ContentRecord("net", "root" if i % 3 else "g", f"c{i}", {"i": i, "f": i / 7}, Stamp(i, "é"))
        for i in range(n)
    ]


def test_column_contents_matches_the_per_record_path() -> None:
    checked = check_batch(_records())
    assert not isinstance(checked, StorageError) and checked.columns is not None
    quick = column_contents(checked)
    slow = prepare_batch(attrs.evolve(checked, columns=None))
    assert quick is not None and not isinstance(slow, StorageError)
    columns, references = quick
    assert columns.chunk(0, len(columns)) == slow.contents.chunk(0, len(slow.contents))
    assert sorted(r[:2] for r in references) == sorted(r[:2] for r in slow.references)


def test_a_batch_the_columns_cannot_take_goes_to_the_per_record_path() -> None:
    records = _records()
    records.append(records[0])  # a duplicate contact
    checked = check_batch(records)
    assert not isinstance(checked, StorageError)
    assert column_contents(checked) is None
    assert not isinstance(prepare_batch(checked), StorageError)
