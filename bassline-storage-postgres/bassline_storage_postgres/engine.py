"""The SQLAlchemy engine: psycopg 3, a bounded pool, and per-connection session settings.

Every connection starts with ``search_path`` (only the configured schema),
``statement_timeout`` and ``synchronous_commit`` set through libpq's ``options``, so
they hold from the first statement (SQLAlchemy's own first-connect queries included).
JSON parameters given as bytes (canonical JSON encoded by the caller) pass through the
serializer untouched.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.engine import Engine, create_engine

from bassline_storage_postgres.url import PostgresConfig

__all__ = ["make_engine", "raw_json", "session_options"]


def raw_json(value: Any) -> bytes:
    """The JSON serializer: bytes are already-encoded JSON and pass through untouched."""
    if isinstance(value, bytes):
        return value
    return orjson.dumps(value)


def _option_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def session_options(config: PostgresConfig, extra: str | None = None) -> str:
    """The libpq ``options`` string that sets our session parameters at connection start."""
    schema = '"' + config.schema.replace('"', '""') + '"'
    parts = [
        f"-c search_path={_option_value(schema)}",
        f"-c statement_timeout={config.statement_timeout}",
        f"-c synchronous_commit={config.synchronous_commit}",
    ]
    if extra:
        parts.insert(0, extra)
    return " ".join(parts)


def make_engine(config: PostgresConfig, *, pool_size: int | None = None) -> Engine:
    """A new engine for ``config`` (``pool_size`` overrides the configured size)."""
    size = config.pool_size if pool_size is None else pool_size
    overflow = config.max_overflow if pool_size is None else 0
    engine = create_engine(
        config.url,
        pool_size=size,
        max_overflow=overflow,
        pool_pre_ping=True,
        pool_timeout=max(30, config.connect_timeout),
        connect_args={
            "connect_timeout": config.connect_timeout,
            "options": session_options(config, config.url.query.get("options")),  # type: ignore[arg-type]
        },
        json_serializer=raw_json,
    )
    return engine
