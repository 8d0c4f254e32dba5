"""Alembic environment: runs on the connection :func:`bassline_storage_postgres.migrate` passes.

That connection already has ``search_path`` set to the target schema and holds the
migration advisory lock; the whole upgrade runs in one transaction (PostgreSQL DDL is
transactional), so a failed upgrade leaves the previous revision intact.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bassline_storage_postgres.schema import VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "bassline_storage_postgres migrations run through bassline_storage_postgres.migrate(url), "
        "which supplies the connection; offline (--sql) mode is not supported"
    )
_run(connection)
