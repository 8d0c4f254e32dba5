"""The Bassline spec: models, loading with validation, compound parts, a builder, and the
prototype format."""

from bassline.spec.builder import ContactRef, GroupRef, Part, SpecBuilder
from bassline.spec.load import (
    MAX_EXPANDED,
    MAX_ID_LENGTH,
    MAX_SPEC_BYTES,
    load_spec,
    parse_spec,
    validate_spec,
)
from bassline.spec.model import (
    ROOT_GROUP,
    Bassline,
    BlendMode,
    Boundary,
    ContactSpec,
    Endpoint,
    GroupSpec,
    WireSpec,
    WireType,
)
from bassline.spec.parts import PART_ATTRIBUTE, SEPARATOR

__all__ = [
    "MAX_EXPANDED",
    "MAX_ID_LENGTH",
    "MAX_SPEC_BYTES",
    "PART_ATTRIBUTE",
    "ROOT_GROUP",
    "SEPARATOR",
    "Bassline",
    "BlendMode",
    "Boundary",
    "ContactRef",
    "ContactSpec",
    "Endpoint",
    "GroupRef",
    "GroupSpec",
    "Part",
    "SpecBuilder",
    "WireSpec",
    "WireType",
    "load_spec",
    "parse_spec",
    "validate_spec",
]
