"""``Content``: the type alias for what a contact can hold, which mypy checks callers against."""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api as mypy_api

import bassline
from bassline.content import Content

CALLER = """\
from bassline import ABSENT, Absent, Content
from bassline.gadgets import Outputs
from bassline.lattices import GrowSet, Interval
from bassline.spec import ContactSpec, SpecBuilder


def take(value: Content) -> None: ...


numbers: list[int] = [1, 2]
take(numbers)
take({"a": [1, 2.5, None, "x"], "b": {"c": True}})
take((1, "two"))
take(Interval(1, 2))
take(GrowSet([1]))
take(None)
take({1, 2})  # BAD: a set is not content
take(object())  # BAD: nor is an arbitrary object
take({1: "one"})  # BAD: object keys are strings
SpecBuilder().contact("c", content={3})  # BAD: the builder's content is Content


def initial(spec: ContactSpec) -> Content:
    if spec.content is ABSENT:
        return None
    return spec.content


def maybe(spec: ContactSpec) -> Content:
    return spec.content  # BAD: it may be ABSENT


def body() -> Outputs:
    return {"out": object()}  # BAD: a gadget emits content
"""


def test_content_is_exported_from_bassline() -> None:
    assert bassline.Content is Content
    assert "Content" in bassline.__all__


def test_mypy_checks_content_against_the_alias(tmp_path: Path) -> None:
    source = tmp_path / "caller.py"
    source.write_text(CALLER, encoding="utf-8")
    out, err, status = mypy_api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    assert err == ""
    flagged = {int(n) for n in re.findall(r"^[^:\n]*caller\.py:(\d+): error", out, re.MULTILINE)}
    expected = {i for i, line in enumerate(CALLER.splitlines(), 1) if "# BAD" in line}
    assert flagged == expected, out
    assert status == 1
