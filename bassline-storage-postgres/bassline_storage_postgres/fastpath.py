"""The hot path of laying out a batch: content records only, already in columns.

For a simple batch (content records only, each contact once, plain JSON values)
:func:`bassline.storage.toolkit.check_batch` hands over the contents as parallel
columns with every value encoded; this turns them into the columns the SQL takes
(stamp nodes as UTF-8 bytes) without looking at one record at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from bassline.storage.toolkit import CheckedBatch
from bassline_storage_postgres.columns import ContentColumns

__all__ = ["Reference", "column_contents"]

Reference = tuple[str, str | None, str]
"""(network, group or None, what refers to it): something storage must already hold."""


def _references(
    networks: Sequence[str], groups: Sequence[str], contacts: Sequence[str]
) -> list[Reference]:
    """One reference per distinct (network, group), naming a contact that needs it (the
    root group too: a spec saved without one has none)."""
    example = dict(zip(zip(networks, groups, strict=True), contacts, strict=True))
    return [
        (network, group, f"contact {contact!r}") for (network, group), contact in example.items()
    ]


def column_contents(batch: CheckedBatch) -> tuple[ContentColumns, list[Reference]] | None:
    """Columns and references when the checked batch came with columns (and every stamp
    node is valid UTF-8); None for the per-record path."""
    cols = batch.columns
    if cols is None:
        return None
    try:
        node_bytes = {node: node.encode() for node in set(cols.nodes)}
    except UnicodeEncodeError:
        return None
    columns = ContentColumns(
        networks=list(cols.networks),
        contacts=list(cols.contacts),
        groups=list(cols.groups),
        contents=list(cols.encoded),
        hlcs=list(cols.hlcs),
        nodes=[node_bytes[n] for n in cols.nodes],
        justifications=list(cols.justifications or (None,) * len(cols.contacts)),
    )
    return columns, _references(cols.networks, cols.groups, cols.contacts)
