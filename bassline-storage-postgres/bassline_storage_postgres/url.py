"""Reading ``postgresql://`` URLs and their options into a :class:`PostgresConfig`.

Our own options (``pool_size``, ``max_overflow``, ``connect_timeout``,
``statement_timeout``, ``synchronous_commit``, ``schema``, ``loop_writes``) come from the URL's query
string or from keyword arguments (which win). Every other query key must be a libpq
connection parameter (``sslmode``, ``application_name``, ...) and is passed through.
A bad value is a :class:`ValueError` that names the option, the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import attrs
from psycopg import pq
from sqlalchemy.engine import URL, make_url

from bassline.plugins import closest
from bassline.storage import mask_url

__all__ = ["OPTION_NAMES", "SCHEMES", "PostgresConfig", "parse_postgres_url"]

SCHEMES = ("postgresql", "postgresql+psycopg")
"""The URL schemes this backend opens."""

SYNCHRONOUS_COMMIT = ("on", "off", "local", "remote_write", "remote_apply")
_BOOLEAN_ALIASES = {"true": "on", "yes": "on", "1": "on", "false": "off", "no": "off", "0": "off"}
_MAX_IDENTIFIER_BYTES = 63
# where SQLAlchemy's make_url finds the query (a password may hold "?"; it ends at "@")
_QUERY = re.compile(
    r"[\w+]+://(?:[^:/]*(?::[^@]*)?@)?(?:(?:\[[^/?]+\]|[^/:?]+)?(?::[^/?]*)?)?"
    r"(?:/[^?]*)?(?:\?(?P<query>.*))?",
    re.S,
)


@attrs.frozen
class PostgresConfig:
    """Everything needed to connect: the driver URL, pool sizing, timeouts and schema."""

    url: URL
    """The SQLAlchemy URL (driver ``postgresql+psycopg``, our options removed)."""
    masked: str
    """The URL as given, with any password replaced by ``***`` (for messages)."""
    pool_size: int = 5
    max_overflow: int = 0
    connect_timeout: int = 10
    """Seconds to wait for a new connection (libpq ``connect_timeout``)."""
    statement_timeout: int = 0
    """Milliseconds a statement may run before the server cancels it; 0 means no limit."""
    synchronous_commit: str = "on"
    schema: str = "public"
    loop_writes: bool = True
    """Whether a one-row write goes out from the event loop on the storage's own connection
    (:mod:`~bassline_storage_postgres.loopwrite`); off: every write through the pool."""

    @property
    def capacity(self) -> int:
        """How many connections the pool may hold at once (pool_size + max_overflow)."""
        return self.pool_size + self.max_overflow

    @property
    def password(self) -> str | None:
        """The password in the URL, if any (only to scrub it from driver messages)."""
        return self.url.password if isinstance(self.url.password, str) else None

    def replace(self, **changes: Any) -> PostgresConfig:
        """A copy with some fields changed."""
        return attrs.evolve(self, **changes)


def _libpq_keywords() -> frozenset[str]:
    return frozenset(d.keyword.decode() for d in pq.Conninfo.get_defaults())


_LIBPQ = _libpq_keywords()
_RESERVED = frozenset({"user", "password", "host", "port", "dbname", "connect_timeout"})


def _int(name: str, raw: Any, low: int, high: int, masked: str, unit: str = "") -> int:
    if isinstance(raw, bool):
        value: int | None = None
    elif isinstance(raw, int):
        value = raw
    else:
        try:
            value = int(str(raw).strip())
        except ValueError:
            value = None
    if value is None or not low <= value <= high:
        raise ValueError(
            f"invalid option {name}={raw!r} in PostgreSQL storage URL {masked}: "
            f"expected a whole number{unit} from {low} to {high}"
        )
    return value


def _sync_commit(raw: Any, masked: str) -> str:
    if isinstance(raw, bool):
        return "on" if raw else "off"
    text = str(raw).strip().lower()
    text = _BOOLEAN_ALIASES.get(text, text)
    if text not in SYNCHRONOUS_COMMIT:
        raise ValueError(
            f"invalid option synchronous_commit={raw!r} in PostgreSQL storage URL {masked}: "
            f"expected one of {', '.join(SYNCHRONOUS_COMMIT)}"
        )
    return text


def _switch(name: str, raw: Any, masked: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _BOOLEAN_ALIASES.get(str(raw).strip().lower(), str(raw).strip().lower())
    if text not in ("on", "off"):
        raise ValueError(
            f"invalid option {name}={raw!r} in PostgreSQL storage URL {masked}: "
            "expected on or off (true/false, yes/no, 1/0)"
        )
    return text == "on"


def _schema(raw: Any, masked: str) -> str:
    where = f"invalid option schema={raw!r} in PostgreSQL storage URL {masked}"
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"{where}: expected a non-empty schema name")
    if "\x00" in raw:
        raise ValueError(f"{where}: a schema name cannot contain NUL")
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > _MAX_IDENTIFIER_BYTES:
        raise ValueError(
            f"{where}: PostgreSQL names are at most {_MAX_IDENTIFIER_BYTES} bytes ({size} given)"
        )
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where}: not valid Unicode text") from None
    return raw


_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "pool_size": lambda raw, m: _int("pool_size", raw, 1, 1000, m),
    "max_overflow": lambda raw, m: _int("max_overflow", raw, 0, 1000, m),
    "connect_timeout": lambda raw, m: _int("connect_timeout", raw, 1, 3600, m, " of seconds"),
    "statement_timeout": lambda raw, m: _int(
        "statement_timeout", raw, 0, 2**31 - 1, m, " of milliseconds (0: no limit)"
    ),
    "synchronous_commit": _sync_commit,
    "schema": _schema,
    "loop_writes": lambda raw, m: _switch("loop_writes", raw, m),
}
OPTION_NAMES = tuple(_PARSERS)
"""The options this backend reads from the URL query or from keyword arguments."""


def _unknown(name: str, masked: str, where: str) -> ValueError:
    known = sorted(OPTION_NAMES) + sorted(_LIBPQ - _RESERVED)
    hint = closest(name, known)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    return ValueError(
        f"unknown option {name!r} {where} {masked}{suggestion} (options: "
        f"{', '.join(OPTION_NAMES)}, or any libpq connection parameter such as sslmode)"
    )


def _refuse_blank_options(url: str, masked: str) -> None:
    """A query option with no value (``?schema=``, ``?sslmode``) is an error: make_url drops
    it unseen, so ``?schema=$SCHEMA`` with the variable unset would mean ``public``."""
    match = _QUERY.match(url)
    query = match.group("query") if match else None
    for key, value in parse_qsl(query or "", keep_blank_values=True):
        if value == "":
            raise ValueError(
                f"option {key!r} has no value in PostgreSQL storage URL {masked}: give "
                f"one ({key}=...), or leave the option out for its default"
            )


def _socket_host(parsed: URL, masked: str) -> URL:
    """``parsed`` with a percent-encoded host decoded, as libpq decodes it; a host that
    decodes to a directory (``%2Fvar%2Frun%2Fpostgresql``) moves to the query's ``host``,
    the form every connection this backend opens reads a Unix-domain socket from."""
    host = parsed.host
    if not host or "%" not in host:
        return parsed
    decoded = unquote(host, errors="strict")
    if not decoded.startswith("/"):
        return parsed.set(host=decoded)
    if "host" in parsed.query:
        raise ValueError(
            f"PostgreSQL storage URL {masked} names a socket directory twice, in its host "
            f"({decoded}) and in its query's host: give one"
        )
    return parsed._replace(host=None).update_query_dict({"host": decoded})  # set() keeps a None


def parse_postgres_url(url: str, options: Mapping[str, Any] | None = None) -> PostgresConfig:
    """Parse ``url`` and ``options`` (which override the query); ValueError on anything bad."""
    if not isinstance(url, str):
        raise ValueError(f"PostgreSQL storage URL must be a string, got {type(url).__name__}")
    masked = mask_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError / ValueError for junk
        raise ValueError(f"malformed PostgreSQL storage URL {masked}: {exc}") from None
    if parsed.drivername not in SCHEMES:
        raise ValueError(
            f"PostgreSQL storage URL {masked} has scheme {parsed.drivername!r}; this backend "
            f"uses psycopg 3 and opens {' and '.join(s + '://' for s in SCHEMES)} URLs"
        )
    _refuse_blank_options(url, masked)
    try:
        parsed = _socket_host(parsed, masked)
    except UnicodeDecodeError:
        raise ValueError(
            f"malformed PostgreSQL storage URL {masked}: its host is not percent-encoded UTF-8"
        ) from None
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ValueError(f"PostgreSQL storage URL {masked} has an invalid port {parsed.port}")
    values: dict[str, Any] = {}
    passthrough: dict[str, str] = {}
    for key, raw in parsed.query.items():
        if not isinstance(raw, str):
            raise ValueError(f"option {key!r} is given more than once in {masked}")
        if key in _PARSERS:
            values[key] = raw
        elif (key in _LIBPQ and key not in _RESERVED) or (key == "host" and not parsed.host):
            passthrough[key] = raw  # (a host in the query: libpq's way to a Unix socket)
        elif key in _RESERVED:  # libpq knows it, so "unknown option" sent users astray
            socket = (
                "; a Unix-domain socket's directory goes in the query of a URL without a "
                "host: postgresql://user@/dbname?host=/var/run/postgresql"
                if key == "host"
                else ""
            )
            raise ValueError(
                f"option {key!r} in PostgreSQL storage URL {masked}: the URL itself gives "
                f"it (postgresql://user:password@host:port/dbname), not its query{socket}"
            )
        else:
            raise _unknown(key, masked, "in PostgreSQL storage URL")
    for key, raw in (options or {}).items():
        if key not in _PARSERS:
            raise _unknown(key, masked, "given to open PostgreSQL storage")
        values[key] = raw
    parsed_values: dict[str, Any] = {key: _PARSERS[key](raw, masked) for key, raw in values.items()}
    driver_url = parsed.set(drivername="postgresql+psycopg", query=passthrough)
    return PostgresConfig(url=driver_url, masked=masked, **parsed_values)
