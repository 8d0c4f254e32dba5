"""A PostgreSQL storage reached over a Unix-domain socket, libpq's ways: a URL without a
host, the socket's directory in the query (``postgresql://user@/dbname?host=/dir``), or the
directory percent-encoded as the host (``postgresql://user@%2Fdir/dbname``). Every
connection it opens — the pool's, the change feed's listener, the one-row writer's — goes
through the socket (no client address in ``pg_stat_activity``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import open_storage

pytestmark = pytest.mark.anyio

SOCKET_DIR = Path("/var/run/postgresql")


def _socket_url(postgres_url: str, schema: str, form: str) -> str:
    tcp = make_url(postgres_url)
    port = tcp.port or 5432
    if not (SOCKET_DIR / f".s.PGSQL.{port}").exists():
        pytest.skip(f"no PostgreSQL socket in {SOCKET_DIR} for port {port} on this machine")
    user = tcp.username or "postgres"
    at = "" if port == 5432 else f":{port}"
    if form == "encoded host":
        host = quote(str(SOCKET_DIR), safe="")
        return f"postgresql://{user}@{host}{at}/{tcp.database}?schema={schema}"
    return f"postgresql://{user}@{at}/{tcp.database}?host={SOCKET_DIR}&schema={schema}"


def test_an_encoded_socket_directory_is_read_as_the_query_form() -> None:
    from bassline_storage_postgres import parse_postgres_url

    encoded = parse_postgres_url("postgresql://u@%2Fvar%2Frun%2Fpostgresql:5433/db")
    query = parse_postgres_url("postgresql://u@:5433/db?host=/var/run/postgresql")
    assert encoded.url == query.url
    assert encoded.masked == "postgresql://u@%2Fvar%2Frun%2Fpostgresql:5433/db"
    # a percent-encoded host name is decoded too, as libpq decodes it
    assert parse_postgres_url("postgresql://u@db%2Dhost/db").url.host == "db-host"
    with pytest.raises(ValueError, match="names a socket directory twice"):
        parse_postgres_url("postgresql://u@%2Fvar%2Frun/db?host=/tmp")
    with pytest.raises(ValueError, match="host is not percent-encoded UTF-8"):
        parse_postgres_url("postgresql://u@%ff/db")


@pytest.mark.parametrize("form", ["query host", "encoded host"])
async def test_a_storage_url_naming_a_socket_directory_connects_through_the_socket(
    form: str,
    postgres_url: str,
    schema: str,
    admin: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # libpq's default (PGHOST) leads nowhere: a connection that dropped the URL's
    # directory fails rather than find the server's socket there by luck
    monkeypatch.setenv("PGHOST", str(tmp_path / "nowhere"))
    spec = parse_spec({"id": "sock", "contacts": [{"id": "a"}, {"id": "b"}]})
    async with (
        open_storage(_socket_url(postgres_url, schema, form), migrate=True) as storage,
        StorageBackedRuntime(spec, storage, node_id="n1", durability="durable") as runtime,
    ):
        await runtime.update_contact("a", 1)  # through the pool; opens the one-row writer
        await runtime.update_contact("b", 2)  # through the one-row writer
        await runtime.update_contact("a", 3)
        rows = admin.execute(
            "SELECT application_name, client_addr IS NULL FROM pg_stat_activity "
            "WHERE application_name = 'bassline-write' OR application_name LIKE 'bassline-feed:%'"
        ).fetchall()
        over_socket = {name.split(":")[0] for name, local in rows if local}
        assert {"bassline-write", "bassline-feed"} <= over_socket, rows
        loaded = (await storage.load_contents("sock")).unwrap()
    assert {(r.contact, r.value) for r in loaded} == {("a", 3), ("b", 2)}
