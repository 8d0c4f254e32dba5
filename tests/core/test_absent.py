"""``ABSENT``: one falsy object that no encoder writes and that mypy narrows on."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import orjson
import pytest
from mypy import api as mypy_api

from bassline import ABSENT, Absent
from bassline.codec import encode
from bassline.errors import ContentError


def test_absent_is_one_falsy_object_that_prints_as_its_name() -> None:
    assert not ABSENT
    assert repr(ABSENT) == str(ABSENT) == f"{ABSENT}" == "ABSENT"
    assert list(Absent) == [ABSENT]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(ABSENT, protocol=protocol)) is ABSENT
    assert copy.copy(ABSENT) is ABSENT and copy.deepcopy([ABSENT])[0] is ABSENT


def test_no_encoder_writes_absent() -> None:
    with pytest.raises(ContentError, match=r"cannot encode Absent value ABSENT at \.a"):
        encode({"a": ABSENT})
    with pytest.raises(TypeError):  # orjson would write an ordinary enum member's value
        orjson.dumps([ABSENT])


def test_mypy_narrows_a_value_compared_with_absent(tmp_path: Path) -> None:
    source = tmp_path / "caller.py"
    source.write_text(
        "from bassline import ABSENT, Absent\n\n\n"
        "def plus_one(value: int | Absent) -> int:\n"
        "    if value is ABSENT:\n"
        "        return 0\n"
        "    return value + 1\n",
        encoding="utf-8",
    )
    out, err, status = mypy_api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    assert (status, err) == (0, ""), out
