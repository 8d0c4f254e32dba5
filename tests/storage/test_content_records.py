"""``content_records``: the batch builder the runtime's queue uses instead of calling
``ContentRecord(...)`` once per record."""

from __future__ import annotations

import attrs
import pytest

from bassline.clock import Stamp
from bassline.storage import ContentRecord
from bassline.storage.records import _content_record_slots, content_records


def test_records_built_from_columns_equal_the_constructors() -> None:
    groups = ["g", "h", "g"]
    contacts = ["a", "b", "c"]
    values = [1, [2, "x"], {"k": None}]
    stamps = [Stamp(1, "n"), Stamp(2, "m"), Stamp(3, "n")]
    whys = ['{"kind":"write"}', None, '{"kind":"wire","from":"a"}']
    built = content_records("net", groups, contacts, values, stamps, whys)
    expected = [
        ContentRecord("net", g, c, v, s, j)
        for g, c, v, s, j in zip(groups, contacts, values, stamps, whys, strict=True)
    ]
    assert built == expected
    assert [type(r) for r in built] == [ContentRecord] * 3
    assert [repr(r) for r in built] == [repr(r) for r in expected]
    assert hash(built[0]) == hash(expected[0])
    assert built[1].value is values[1]  # the values themselves, as the constructor keeps them
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built[0].value = 5  # type: ignore[misc]
    assert content_records("net", [], [], [], [], []) == []


def test_a_record_class_with_other_fields_or_checks_is_refused() -> None:
    """The builder sets slots itself, so it must not stand for a constructor that would
    do more: a changed field list, a validator or a converter stops the import."""

    @attrs.frozen
    class Renamed:
        network: str
        group: str
        contact: str
        value: object
        stamp: Stamp
        why: str | None = None

    @attrs.frozen
    class Checked:
        network: str
        group: str
        contact: str = attrs.field(validator=attrs.validators.instance_of(str))
        value: object = None
        stamp: Stamp | None = None
        justification: str | None = None

    for cls in (Renamed, Checked):
        with pytest.raises(RuntimeError) as refused:
            _content_record_slots(cls)
        assert str(refused.value) == (
            f"content_records sets {cls.__name__}'s slots itself: update it with the fields"
        )
    assert len(_content_record_slots()) == 6
