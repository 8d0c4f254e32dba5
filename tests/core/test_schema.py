"""The published JSON Schema matches the code and accepts the examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bassline.spec.schema import spec_json_schema

ROOT = Path(__file__).parents[2]


def test_published_schema_is_up_to_date() -> None:
    published = json.loads((ROOT / "docs" / "bassline-spec.schema.json").read_text())
    assert published == spec_json_schema(), "regenerate docs/bassline-spec.schema.json"


@pytest.mark.parametrize("example", ["temperature.json", "meeting.json"])
def test_native_examples_validate_against_the_schema(example: str) -> None:
    jsonschema.validate(json.loads((ROOT / "examples" / example).read_text()), spec_json_schema())
