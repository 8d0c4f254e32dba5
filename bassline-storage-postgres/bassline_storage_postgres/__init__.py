"""PostgreSQL storage for Bassline: ``postgresql://user@host/db?options``.

``open_storage("postgresql://...")`` finds this backend through the ``bassline.storage``
entry point. The schema is managed by Alembic migrations shipped in this package: run
:func:`migrate` (or ``bassline storage migrate URL``), or open with ``migrate=True``.
See ``docs/postgres.md`` for URL options, tuning and durability.
"""

from __future__ import annotations

from typing import Any

from bassline_storage_postgres.backend import PostgresStorage
from bassline_storage_postgres.migrate import (
    MigrationError,
    downgrade,
    head_revision,
    migrate,
    revisions,
    stamp,
)
from bassline_storage_postgres.url import OPTION_NAMES, PostgresConfig, parse_postgres_url

__all__ = [
    "OPTION_NAMES",
    "MigrationError",
    "PostgresConfig",
    "PostgresStorage",
    "downgrade",
    "head_revision",
    "migrate",
    "open_postgres_storage",
    "parse_postgres_url",
    "revisions",
    "stamp",
]


def open_postgres_storage(url: str, *, migrate: bool = False, **options: Any) -> PostgresStorage:
    """A new, unopened PostgreSQL storage for ``url`` (the ``bassline.storage`` entry point).

    Raises :class:`ValueError` for a malformed URL or a bad option value.
    """
    return PostgresStorage(url, migrate=migrate, **options)
