"""The Bassline spec: models, loading with validation, and the prototype format."""

from bassline.spec.load import MAX_ID_LENGTH, load_spec, parse_spec, validate_spec
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

__all__ = [
    "MAX_ID_LENGTH",
    "ROOT_GROUP",
    "Bassline",
    "BlendMode",
    "Boundary",
    "ContactSpec",
    "Endpoint",
    "GroupSpec",
    "WireSpec",
    "WireType",
    "load_spec",
    "parse_spec",
    "validate_spec",
]
