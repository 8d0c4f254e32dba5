"""``bassline.net.client`` against real nodes on ephemeral ports, and against real sockets
that answer as no Bassline node does (a silent server, HTML, oversized replies)."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.abc import SocketStream
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.cli.app import main
from bassline.clock import Stamp
from bassline.content import ABSENT
from bassline.lattices import GrowSet
from bassline.net import BasslineNetwork, NodeServer, parse_node_url, protocol, routes
from bassline.net.asgi_app import create_app
from bassline.net.client import AsyncNodeClient, NodeClient
from bassline.net.client_errors import (
    BadReply,
    NodeAuthError,
    NodeRefused,
    NodeTimeout,
    NodeUnreachable,
    WatchOverflow,
)
from bassline.net.openapi import openapi_document
from bassline.net.replies import EventReader
from bassline.net.urls import MAX_URL_LENGTH
from bassline.spec import parse_spec
from bassline.spec.checker import url_problem

from .conftest import SECRET, calculator, flat, node

pytestmark = pytest.mark.anyio


async def test_the_async_client_reads_writes_lists_and_watches() -> None:
    async with node("n1", calculator(), secret=SECRET) as (net, server):
        assert server.url is not None
        async with AsyncNodeClient(server.url, secret=SECRET) as client:
            written = await client.write("input-a", 2)
            assert written.changed == {"input-a": 2, "adder.a": 2} and written.settled
            assert written.contact is not None and written.contact.value == 2
            many = await client.write_many({"input-b": 3})
            assert many.changed["result"] == 5 and many.contact is None
            result = await client.contact("result")
            assert result.present and result.value == 5
            assert isinstance(result.stamp, Stamp) and result.stamp.node == "n1"
            contents = await client.contents()
            assert contents.values["result"] == 5 and contents.digest == net.digest()
            assert (await client.health()).ok
            assert (await client.status())["node"] == "n1"
            assert (await client.spec())["hash"] == net.spec_hash
            async with client.changes(["result"]) as events:
                first = await events.__anext__()
                assert first.kind == "snapshot"
                assert [row["value"] for row in first.data] == [5]
                await client.write("input-a", 10)  # the stream is open: this is seen
                change = await events.__anext__()
                assert (change.kind, change.contact, change.value) == ("change", "result", 13)


async def test_the_blocking_client_gives_the_same_answers() -> None:
    async with node("n2", flat(2, sets=1)) as (_, server):
        assert server.url is not None
        url = server.url.ws  # any form a peer takes

        def calls() -> None:
            with NodeClient(url) as client:
                client.write("s0", GrowSet(["a"]))
                client.write_many({"c0": {"x": [1, 2]}, "s0": GrowSet(["b"])})
                assert client.contact("s0").value == GrowSet(["a", "b"])
                empty = client.contact("c1")
                assert not empty.present and empty.value is ABSENT and empty.stamp is None
                assert client.contents().values == {"c0": {"x": [1, 2]}, "s0": GrowSet(["a", "b"])}
                assert client.health().node == "n2"
                with client.changes(["c1"]) as events:
                    assert next(events).data == []  # c1 has no content yet
                    client.write("c1", "now")
                    change = next(events)
                    assert (change.contact, change.value) == ("c1", "now")

        await anyio.to_thread.run_sync(calls)


async def test_contacts_named_like_dot_segments_are_read_and_written() -> None:
    """An id ``.`` or ``..`` is one encoded segment: sent as is, an HTTP client removed it
    (``GET /api/contacts/..`` asked for ``/api/`` and got a 404 that named no contact)."""
    ids = [".", "..", "...", "a/.."]
    spec = parse_spec({"id": "dots", "contacts": [{"id": cid} for cid in ids]})
    async with node("n4", spec) as (net, server):
        assert server.url is not None
        async with AsyncNodeClient(server.url) as client:
            for n, cid in enumerate(ids):
                written = await client.write(cid, n)
                assert written.contact is not None and written.contact.value == n
                assert (await client.contact(cid)).value == n
                assert (await client.explain(cid)).value == n
        assert net.values() == {".": 0, "..": 1, "...": 2, "a/..": 3}


async def test_refusals_name_the_node_the_request_and_the_reason() -> None:
    async with node("n3", flat(1, sets=1), secret=SECRET) as (_, server):
        assert server.url is not None
        where = server.url.http
        async with AsyncNodeClient(server.url, secret=SECRET) as client:
            with pytest.raises(NodeRefused) as unknown:
                await client.contact("nope")
            assert unknown.value.status == 404 and unknown.value.code == "unknown-contact"
            assert str(unknown.value) == (
                f"node at {where} refused GET /api/contacts/nope: unknown contact 'nope' "
                "(HTTP 404 unknown-contact)"
            )
            with pytest.raises(NodeRefused) as wrong_kind:
                await client.write("s0", 5)
            assert wrong_kind.value.status == 422 and "grow-set" in str(wrong_kind.value)
            with pytest.raises(NodeRefused) as slash:
                await client.contact("a/b")  # encoded: one path segment, not two
            assert slash.value.request == "GET /api/contacts/a%2Fb"
            assert slash.value.reason is not None and "'a/b'" in slash.value.reason
        async with AsyncNodeClient(server.url) as anonymous:
            with pytest.raises(NodeAuthError, match="the client gave none"):
                await anonymous.contact("c0")
            assert (await anonymous.health()).ok  # /healthz is open
        async with AsyncNodeClient(server.url, secret=b"another-secret-of-16+") as other:
            with pytest.raises(NodeAuthError, match="the client's secret is not the node's"):
                await other.status()
    with pytest.raises(ValueError, match="must start with ws://"):
        NodeClient("ftp://127.0.0.1:1")


@asynccontextmanager
async def answering(
    handle: Callable[[SocketStream], object],
) -> AsyncIterator[str]:
    """A real TCP server on an ephemeral port; each connection is given to ``handle``
    once its request head has arrived. Yields its URL."""

    async def serve(stream: SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive()
            await handle(stream)  # type: ignore[misc]

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        yield f"http://127.0.0.1:{port}"
        tg.cancel_scope.cancel()


def reply(status: str, content_type: str, body: bytes, *, length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\nconnection: close\r\n"
    if length:
        head += f"content-length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def canned(data: bytes) -> Callable[[SocketStream], object]:
    async def handle(stream: SocketStream) -> None:
        await stream.send(data)

    return handle


async def test_a_refused_connection_and_a_silent_server() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now: connections are refused
    async with AsyncNodeClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(NodeUnreachable) as refused:
            await client.status()
    assert str(refused.value) == (
        f"cannot reach node at http://127.0.0.1:{port} (GET /api/status): connection refused"
    )

    async def silent(stream: SocketStream) -> None:
        await anyio.sleep_forever()  # holds the connection open without a word

    async with answering(silent) as url, AsyncNodeClient(url, timeout=0.5) as client:
        with pytest.raises(NodeTimeout, match=r"did not answer GET /api/contacts/x within 0.5s"):
            await client.contact("x")


async def test_replies_that_are_not_a_bassline_nodes() -> None:
    html = reply("200 OK", "text/html", b"<html>hello</html>")
    async with answering(canned(html)) as url, AsyncNodeClient(url) as client:
        with pytest.raises(BadReply, match=r"HTTP 200 but not JSON \(text/html\)"):
            await client.status()
    missing = reply("404 Not Found", "text/plain", b"no such page")
    async with answering(canned(missing)) as url, AsyncNodeClient(url) as client:
        with pytest.raises(NodeRefused, match="HTTP 404, without a Bassline error message"):
            await client.contact("x")
    shape = reply("200 OK", "application/json", b'{"id": 5}')
    async with answering(canned(shape)) as url, AsyncNodeClient(url) as client:
        with pytest.raises(BadReply, match="an unexpected reply: the contact's 'id' is not"):
            await client.contact("x")
    big = reply("200 OK", "application/json", b'{"x": "' + b"a" * 5000 + b'"}', length=False)
    async with answering(canned(big)) as url:
        async with AsyncNodeClient(url, max_reply_bytes=1000) as client:
            with pytest.raises(BadReply, match="more than 1000 bytes"):
                await client.status()
    declared = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 99999\r\n\r\n"
    async with answering(canned(declared)) as url:
        async with AsyncNodeClient(url, max_reply_bytes=1000) as client:
            with pytest.raises(BadReply, match="more than 1000 bytes"):
                await client.status()


async def test_a_change_stream_cut_off_or_too_large() -> None:
    stream = reply(
        "200 OK",
        "text/event-stream",
        b'event: snapshot\r\ndata: []\r\n\r\n: a comment\n\nevent: overflow\ndata: {"error": '
        b'"fell behind", "limit": 10}\n\n',
        length=False,
    )
    async with answering(canned(stream)) as url, AsyncNodeClient(url) as client:
        async with client.changes() as events:
            assert (await events.__anext__()).kind == "snapshot"
            with pytest.raises(WatchOverflow) as cut:
                await events.__anext__()
    assert (cut.value.limit, cut.value.reason) == (10, "fell behind")
    assert str(cut.value) == f"node at {url} cut GET /api/changes off: fell behind"
    async with node("n4", flat(30)) as (net, server):
        assert server.url is not None
        await net.update_many({f"c{i}": "x" * 100 for i in range(30)})
        async with AsyncNodeClient(server.url, max_reply_bytes=1000) as client:
            async with client.changes() as events:
                with pytest.raises(BadReply, match="more than 1000 bytes"):
                    await events.__anext__()


def test_the_event_reader_takes_any_line_ending_split_anywhere() -> None:
    text = b'event: change\r\ndata: {"a":\r\ndata: 1}\r\n\r\n:c\rdata: 2\r\r'
    for cut in range(len(text) + 1):
        reader = EventReader(limit=100)
        events = reader.feed(text[:cut]) + reader.feed(text[cut:])
        assert events == [("change", '{"a":\n1}'), ("message", "2")], cut
    reader = EventReader(limit=10)
    with pytest.raises(ValueError, match="more than 10 bytes"):
        reader.feed(b"data: 0123456789ab")  # not even ended: refused before it is whole


def test_the_routes_are_those_the_server_serves_and_the_openapi_document_lists() -> None:
    documented = set(openapi_document("t", "1")["paths"])
    assert documented == set(routes.ALL) - {routes.OPENAPI}
    app = create_app(BasslineNetwork("n5", flat(1)))  # routes exist before it is entered
    # the last route answers what no other does under /api/ (JSON 404 and 405), no path
    *paths, fallback = app.routes
    assert getattr(fallback, "name", "") == "other"
    served = {getattr(r, "path", "").replace(":path}", "}") for r in paths}
    assert served == set(routes.ALL)


async def test_an_https_node_is_trusted_through_ssl_context_and_refused_without(
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: ASYNC221 - a one-off certificate before any node starts
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    async with BasslineNetwork("tls", flat(1)) as net:
        async with NodeServer(net, "127.0.0.1", 0, certfile=str(cert), keyfile=str(key)) as s:
            assert s.url is not None and s.url.http.startswith("https://")
            trust = ssl.create_default_context(cafile=str(cert))
            async with AsyncNodeClient(s.url, ssl_context=trust) as client:
                await client.write("c0", "over TLS")
                assert (await client.contact("c0")).value == "over TLS"
            async with AsyncNodeClient(s.url) as untrusting:
                with pytest.raises(NodeUnreachable) as refused:
                    await untrusting.contact("c0")
            assert str(refused.value).startswith(
                f"cannot reach node at {s.url.http} (GET /api/contacts/c0): TLS failed: "
            )
            assert "certificate" in str(refused.value)


async def test_bassline_status_of_a_status_it_cannot_read_prints_one_error_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = b'{"node": "x", "peers": [], "health": {"status": "ok", "reasons": []}}'
    async with answering(canned(reply("200 OK", "application/json", body))) as url:
        code = await anyio.to_thread.run_sync(main, ["status", url])
    shown = capsys.readouterr()
    assert code == 1 and shown.out == ""  # not the first lines, then a traceback
    assert shown.err == (
        f"error: node at {url} answered GET /api/status with a status the CLI cannot read "
        "(it has no 'bassline'): is it a node of another version?\n"
    )


async def test_bassline_status_draws_the_spec_id_version_and_groups_as_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A spec id, version or gadget group holding ``[/x]`` made ``bassline status`` an
    internal error (Rich's ``MarkupError``, exit status 70): the line naming the Bassline
    was printed as markup."""
    spec = parse_spec(
        {
            "id": "m[/x]",
            "version": "[/v]",
            "groups": [{"id": "ad[/g]", "gadget": "add"}],
            "contacts": [
                {"id": f"ad[/g].{port}", "group": "ad[/g]", "name": port, "boundary": side}
                for port, side in (("a", "input"), ("b", "input"), ("sum", "output"))
            ],
        }
    )
    async with node("n[/x]", spec) as (_, server):
        assert server.url is not None
        code = await anyio.to_thread.run_sync(main, ["status", str(server.url)])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    assert "bassline m[/x] v[/v] hash " in shown.out and "groups: ad[/g]" in shown.out
    assert "node n[/x] at" in shown.out


def test_arguments_of_the_wrong_type_are_refused_before_any_request() -> None:
    """``changes("result")`` once watched the contacts r, e, s, u, l and t; a contact id
    that is not a string failed inside ``quote``; ``write_many`` of a list failed on
    ``.items``. Port 9 answers nothing: a request would be NodeUnreachable instead."""
    with NodeClient("http://127.0.0.1:9", timeout=1) as client:
        with pytest.raises(TypeError, match="not the string 'result'"):
            with client.changes("result"):
                pass
        with pytest.raises(TypeError, match="a contact id is a string, not 5"):
            with client.changes(["a", 5]):  # type: ignore[list-item]
                pass
        with pytest.raises(TypeError, match="a contact id is a string, not 5"):
            client.contact(5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="a contact id is a string, not None"):
            client.explain(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"values must be a mapping \{contact: content\}"):
            client.write_many([("a", 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"timeout": float("inf")}, ValueError, "timeout must be positive and finite, got inf"),
        ({"timeout": float("nan")}, ValueError, "timeout must be positive and finite, got nan"),
        ({"timeout": 0}, ValueError, "timeout must be positive and finite, got 0"),
        ({"timeout": "5"}, TypeError, "timeout must be a number of seconds, got '5'"),
        ({"timeout": True}, TypeError, "timeout must be a number of seconds, got True"),
        (
            {"max_reply_bytes": "5"},
            ValueError,
            "max_reply_bytes must be a whole number >= 1, got '5'",
        ),
        (
            {"max_reply_bytes": True},
            ValueError,
            "max_reply_bytes must be a whole number >= 1, got True",
        ),
        ({"max_reply_bytes": 0}, ValueError, "max_reply_bytes must be a whole number >= 1, got 0"),
        (
            {"max_reply_bytes": 1.5},
            ValueError,
            "max_reply_bytes must be a whole number >= 1, got 1.5",
        ),
    ],
)
def test_a_timeout_or_reply_limit_that_makes_no_sense_is_refused_naming_it(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    """A NaN or infinite timeout was accepted (one message named both options for 0)."""
    for client in (NodeClient, AsyncNodeClient):
        with pytest.raises(error, match=f"^{re.escape(message)}$"):
            client("http://127.0.0.1:9", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/\x1b[31m", "contains the control character '\\x1b'"),
        ("http://127.0.0.1:9/\x7f", "contains the control character '\\x7f'"),
        ("ws://xn--.example", "has the host 'xn--.example', which is malformed: Malformed A-label"),
        ("ws://a..b:1", "has the host 'a..b', which is malformed: label empty or too long"),
        ("ws://.:1", "has the host '.', which is malformed: label empty or too long"),
        (f"http://{'a' * 64}.com", "label empty or too long"),
        ("http://a b:1", "has the host 'a b', which holds a space"),
    ],
)
def test_a_url_no_request_can_carry_is_refused_when_the_client_is_made(
    url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """These passed the URL check and failed inside the request instead: httpx's
    InvalidURL, idna's IDNAError and the resolver's UnicodeError, which `bassline get`
    reported as an internal error (exit 70, a traceback)."""
    for client in (NodeClient, AsyncNodeClient):
        with pytest.raises(ValueError, match=re.escape(message)):
            client(url)
    assert main(["get", url, "x"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "internal error" not in err


def test_urls_of_every_valid_kind_still_parse() -> None:
    for url, base in [
        ("ws://a.example.:8455", "ws://a.example.:8455"),
        ("http://[::1]:9/base", "ws://[::1]:9/base"),
        ("ws://例え.jp", "ws://例え.jp:80"),
        ("ws://under_score:1", "ws://under_score:1"),
        ("http://127.0.0.1:9/a b", "ws://127.0.0.1:9/a b"),
    ]:
        assert parse_node_url(url).ws == base


def test_an_unknown_host_is_named_as_such() -> None:
    """The resolver's error number (-2) went through os.strerror: 'unknown error -2'."""
    calls = NodeClient("http://nowhere.invalid:1")._calls
    lookup = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    failure = httpx.ConnectError("[Errno -2] Name or service not known")
    failure.__cause__ = lookup
    error = calls.failed("GET /api/status", failure)
    assert isinstance(error, NodeUnreachable)
    assert str(error) == (
        "cannot reach node at http://nowhere.invalid:1 (GET /api/status): "
        "unknown host (name or service not known)"
    )


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["ws", "wss", "http", "https"]),
    host=st.sampled_from(["h", "[::1]", "10.0.0.2", "例え.jp", "node.example."]),
    port=st.sampled_from(["", ":1", ":80", ":443", ":65535"]),
    length=st.integers(2000, 2060),
    tail=st.sampled_from(["", "/", "/gossip", "/gossip/", "//"]),
)
def test_the_spec_checker_and_the_node_agree_on_endpoint_urls(
    scheme: str, host: str, port: str, length: int, tail: str
) -> None:
    """A spec's endpoint URL passes ``validate`` exactly when the node can dial it: one of
    2045 to 2048 characters passed, and the node, writing out the default port, found it
    longer than a hello carries."""
    head = f"{scheme}://{host}{port}/"
    url = head + "a" * max(0, length - len(head) - len(tail)) + tail
    try:
        parse_node_url(url)
        dialled = True
    except ValueError:
        dialled = False
    assert (url_problem(url) is None) == dialled, url_problem(url)


def test_a_node_url_longer_than_a_hello_carries_is_refused() -> None:
    """A node started with such an --advertise URL listened, and every peer refused its
    hello ("hello.url must be ... at most 2048 characters") at every dial, for ever."""
    assert MAX_URL_LENGTH == protocol.MAX_URL
    longest = "ws://h:1/" + "a" * (MAX_URL_LENGTH - len("ws://h:1/"))
    assert parse_node_url(longest).ws == longest
    with pytest.raises(ValueError, match=r"is 2049 characters long; a node URL is at most 2048"):
        parse_node_url(longest + "b")
    with pytest.raises(ValueError, match="at most 2048"):
        BasslineNetwork("n1", flat(1), groups=[], advertise_url=longest + "b")
