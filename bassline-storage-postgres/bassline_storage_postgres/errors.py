"""Turning driver exceptions into :class:`StorageError` values, by SQLSTATE.

Errors raised by the server carry a SQLSTATE and are classified by it. Errors raised
while *connecting* do not (libpq reports only a message), so those are classified by
the server's message text; an unrecognised connection failure is a transient
CONNECTION error. Every message names the URL with its password masked, says what
failed and what to do, and never contains the password itself.
"""

from __future__ import annotations

import re

import attrs
import psycopg
import sqlalchemy.exc

from bassline.storage import ErrorCode, StorageError
from bassline_storage_postgres.url import PostgresConfig

__all__ = ["MIGRATE_HINT", "ErrorContext", "map_exception", "sqlstate_of"]

MIGRATE_HINT = (
    "run `bassline storage migrate {url}`, or in Python "
    "`bassline_storage_postgres.migrate(url)`, or open with `open_storage(url, migrate=True)`"
)
"""What to do when the schema is missing or out of date (``{url}`` is the masked URL)."""

_NETWORK_FKS = frozenset(
    {
        "bassline_groups_network_fkey",
        "bassline_wires_network_fkey",
        "bassline_contacts_network_fkey",
        "bassline_snapshots_network_fkey",
    }
)


@attrs.frozen
class ErrorContext:
    """What a message needs: the masked URL, the secret to scrub, and the target names."""

    masked: str
    password: str | None
    schema: str
    database: str
    user: str
    host: str

    @classmethod
    def of(cls, config: PostgresConfig) -> ErrorContext:
        """The context for a parsed configuration."""
        url = config.url
        port = f":{url.port}" if url.port else ""
        socket = url.query.get("host")  # a URL without a host: the socket's directory
        local = f"the socket in {socket}" if isinstance(socket, str) else "the local socket"
        return cls(
            masked=config.masked,
            password=config.password,
            schema=config.schema,
            database=url.database or url.username or "(default)",
            user=url.username or "(default)",
            host=f"{url.host or local}{port}",
        )

    def scrub(self, text: str) -> str:
        """``text`` without the password, first line only."""
        line = text.strip().splitlines()[0] if text.strip() else "no detail"
        if self.password:
            line = line.replace(self.password, "***")
        return line


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a (possibly SQLAlchemy-wrapped) driver error, if the server sent one."""
    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    if isinstance(orig, psycopg.Error):
        return orig.sqlstate
    return None


def _error(code: ErrorCode, message: str, transient: bool, cause: BaseException) -> StorageError:
    return StorageError(code, message, transient=transient, cause=cause)


_CONNECT_MESSAGES: tuple[tuple[str, str], ...] = (
    ("does not exist", "3D000"),
    ("password authentication failed", "28P01"),
    ("no pg_hba.conf entry", "28000"),
    ("is not permitted to log in", "28000"),
    ("too many clients", "53300"),
    ("too many connections", "53300"),
    ("remaining connection slots are reserved", "53300"),
    ("the database system is starting up", "57P03"),
    ("the database system is shutting down", "57P03"),
    ("the database system is in recovery mode", "57P03"),
    ("permission denied for database", "42501"),
)


def _connect_sqlstate(text: str) -> str | None:
    lowered = text.lower()
    if 'role "' in lowered and "does not exist" in lowered:
        return "28000"
    for needle, state in _CONNECT_MESSAGES:
        if needle in lowered:
            return state
    return None


_BAD_PARAMETER = re.compile(
    r'invalid (?:\w+ value "[^"]*" for connection option "(\w+)"|(\w+) value)'
)
"""libpq refusing a connection parameter's value (``invalid sslmode value: "x"``,
``invalid integer value "x" for connection option "keepalives"``) before it connects."""


_STARTUP_REFUSED = re.compile(
    r"FATAL:\s+(.*(?:invalid value for parameter|unrecognized configuration parameter"
    r"|requires a value|outside the valid range for parameter|cannot be changed"
    r"|invalid command-line argument|permission denied to set parameter).*)"
)
"""The server ending a new connection over its startup ``options`` (``-c nosuch=1``,
``-c statement_timeout=abc``): a FATAL without a SQLSTATE that no retry can cure."""


def _bad_parameter(
    exc: BaseException, ctx: ErrorContext, action: str, text: str
) -> StorageError | None:
    """A permanent INVALID error for a libpq parameter value libpq refused, or startup
    options the server refused, else None."""
    refused = _STARTUP_REFUSED.search(text)
    if refused is not None:
        return _error(
            ErrorCode.INVALID,
            f"{action} failed at {ctx.masked}: the server refused the connection's startup "
            f"options: {ctx.scrub(refused.group(1))}; fix the libpq connection parameter "
            "'options' in the URL",
            False,
            exc,
        )
    found = _BAD_PARAMETER.search(text)
    if found is None:
        return None
    option = found.group(1) or found.group(2)
    detail = ctx.scrub(text[found.start() :])
    return _error(
        ErrorCode.INVALID,
        f"{action} failed at {ctx.masked}: {detail}; fix the libpq connection parameter "
        f"{option!r} in the URL",
        False,
        exc,
    )


def _connect_failure(exc: BaseException, ctx: ErrorContext, text: str) -> StorageError:
    state = _connect_sqlstate(text)
    detail = ctx.scrub(text.replace("connection failed: ", "", 1))
    where = f"cannot connect to PostgreSQL at {ctx.masked}"
    if state == "3D000":
        return _error(
            ErrorCode.CONNECTION,
            f"{where}: database {ctx.database!r} does not exist ({detail}); create it "
            f"(`createdb {ctx.database}` or CREATE DATABASE) or fix the database name in the URL",
            False,
            exc,
        )
    if state == "28P01":
        return _error(
            ErrorCode.PERMISSION,
            f"{where}: authentication failed for user {ctx.user!r} ({detail}); check the "
            "password in the URL (or PGPASSWORD / ~/.pgpass)",
            False,
            exc,
        )
    if state == "28000":
        return _error(
            ErrorCode.PERMISSION,
            f"{where}: the server refused user {ctx.user!r} ({detail}); check the user name, "
            "that the role may log in, and the server's pg_hba.conf",
            False,
            exc,
        )
    if state == "42501":
        return _error(
            ErrorCode.PERMISSION,
            f"{where}: {detail}; GRANT CONNECT ON DATABASE to user {ctx.user!r}",
            False,
            exc,
        )
    if state == "53300":
        return _error(
            ErrorCode.CONNECTION,
            f"{where}: the server has no free connection slots ({detail}); retry later, lower "
            "pool_size, or raise max_connections",
            True,
            exc,
        )
    if "timeout expired" in text.lower():
        return _error(
            ErrorCode.CONNECTION,
            f"{where}: no answer from {ctx.host} within connect_timeout ({detail}); check "
            "the host, port and network, or raise connect_timeout",
            True,
            exc,
        )
    return _error(
        ErrorCode.CONNECTION,
        f"{where}: {detail}; check that the server is running and reachable at {ctx.host}",
        True,
        exc,
    )


def _by_sqlstate(
    state: str, exc: BaseException, ctx: ErrorContext, action: str, text: str
) -> StorageError:
    detail = f"{ctx.scrub(text)} [SQLSTATE {state}]"
    at = f"{action} failed at {ctx.masked}: {detail}"
    cls = state[:2]
    if cls == "08" or state in ("57P01", "57P02", "57P03"):
        return _error(ErrorCode.CONNECTION, f"{at}; the connection was lost, retry", True, exc)
    if state == "53300":
        return _error(
            ErrorCode.CONNECTION, f"{at}; the server has no free connection slots", True, exc
        )
    if state in ("40001", "40P01"):
        return _error(
            ErrorCode.SERIALIZATION, f"{at}; a concurrent transaction conflicted, retry", True, exc
        )
    if state == "57014":
        return _error(
            ErrorCode.TIMEOUT,
            f"{at}; the statement ran longer than statement_timeout (or was cancelled)",
            True,
            exc,
        )
    if state == "55P03":
        return _error(ErrorCode.TIMEOUT, f"{at}; a lock was not granted in time", True, exc)
    if state == "42501":
        return _error(
            ErrorCode.PERMISSION,
            f"{at}; user {ctx.user!r} lacks a privilege: GRANT it (to use the storage: "
            f"USAGE on schema {ctx.schema!r} and SELECT, INSERT, UPDATE, DELETE on its "
            "bassline_* tables; to migrate: CREATE on the database or the schema) or "
            "connect as another role",
            False,
            exc,
        )
    if state == "25006":
        return _error(
            ErrorCode.PERMISSION,
            f"{at}; the session is read-only (a standby, or default_transaction_read_only); "
            "connect to the primary or a writable role",
            False,
            exc,
        )
    if state in ("28P01", "28000"):
        return _error(
            ErrorCode.PERMISSION, f"{at}; check the user and password in the URL", False, exc
        )
    if state == "3D000":
        return _error(
            ErrorCode.CONNECTION, f"{at}; database {ctx.database!r} does not exist", False, exc
        )
    if state in ("42P01", "3F000", "42703"):
        return _error(
            ErrorCode.UNSUPPORTED,
            f"{at}; schema {ctx.schema!r} is missing or not migrated: "
            + MIGRATE_HINT.format(url=ctx.masked),
            False,
            exc,
        )
    if state == "23503":
        constraint = _constraint(exc)
        if constraint in _NETWORK_FKS:
            return _error(
                ErrorCode.NETWORK_NOT_FOUND,
                f"{at}; the network was deleted while this write ran",
                False,
                exc,
            )
    if cls == "23":
        return _error(ErrorCode.CONFLICT, f"{at}; a constraint was violated", False, exc)
    if cls == "22":
        return _error(ErrorCode.INVALID, f"{at}; the server rejected a value", False, exc)
    if state == "53200":
        return _error(ErrorCode.LIMIT_EXCEEDED, f"{at}; the server ran out of memory", True, exc)
    if cls in ("53", "54"):
        return _error(ErrorCode.LIMIT_EXCEEDED, f"{at}; a server limit was reached", False, exc)
    if cls == "XX":
        return _error(
            ErrorCode.CORRUPTION, f"{at}; the server reported an internal error", False, exc
        )
    if state == "0A000":
        return _error(ErrorCode.UNSUPPORTED, f"{at}; not supported by this server", False, exc)
    return _error(ErrorCode.CONNECTION, at, False, exc)


def _constraint(exc: BaseException) -> str | None:
    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    if isinstance(orig, psycopg.Error):
        return orig.diag.constraint_name
    return None


def map_exception(exc: BaseException, ctx: ErrorContext, action: str) -> StorageError | None:
    """The StorageError for a driver failure during ``action``; None if ``exc`` is not one."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return _error(
            ErrorCode.TIMEOUT,
            f"{action} failed at {ctx.masked}: no pooled connection became free in time; "
            "raise pool_size or max_overflow",
            True,
            exc,
        )
    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    text = str(orig)
    if isinstance(orig, psycopg.Error):
        state = orig.sqlstate
        if state:
            return _by_sqlstate(state, exc, ctx, action, text)
        if isinstance(orig, psycopg.DataError):
            return _error(
                ErrorCode.INVALID, f"{action} failed at {ctx.masked}: {ctx.scrub(text)}", False, exc
            )
        if isinstance(orig, psycopg.OperationalError):
            refused = _bad_parameter(exc, ctx, action, text)
            if refused is not None:
                return refused
        if isinstance(orig, psycopg.OperationalError) and text.startswith("connection failed"):
            return _connect_failure(exc, ctx, text)
        if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
            return _error(
                ErrorCode.CONNECTION,
                f"{action} failed at {ctx.masked}: {ctx.scrub(text)}; the connection was lost, "
                "retry",
                True,
                exc,
            )
        return _error(
            ErrorCode.CONNECTION,
            f"{action} failed at {ctx.masked}: {ctx.scrub(text)}",
            False,
            exc,
        )
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return _error(
            ErrorCode.CONNECTION, f"{action} failed at {ctx.masked}: {ctx.scrub(text)}", True, exc
        )
    if isinstance(exc, UnicodeEncodeError):
        return _error(
            ErrorCode.INVALID,
            f"{action} failed at {ctx.masked}: a string is not valid Unicode ({exc.reason}: "
            f"{exc.object[exc.start : exc.end]!r}) and cannot be sent to PostgreSQL",
            False,
            exc,
        )
    return None
