"""``bassline start``: run a node until a signal stops it."""

from __future__ import annotations

import enum
import importlib
import logging
import math
import re
import signal
import ssl
import sys
from pathlib import Path
from typing import Annotated

import anyio
import typer

from bassline.cli.console import UsageError, UserError, quiet_stdout, ungrouped
from bassline.cli.heap import settle_heap
from bassline.cli.node_options import node_url, read_secret, ssl_context
from bassline.cli.paths import (
    MAX_SPEC_BYTES,
    PATH,
    MaxSpecBytesOpt,
    given_path,
    spec_argument,
    write_file,
)
from bassline.cli.storage_access import open_unopened
from bassline.clock import is_node_id
from bassline.errors import SpecError
from bassline.net import (
    DEFAULT_PORT,
    BasslineNetwork,
    GossipSettings,
    InsecureListen,
    NodeServer,
)
from bassline.net.node_server import tls_file_problem
from bassline.net.urls import is_loopback
from bassline.runtime import SpecMismatch
from bassline.spec import Bassline
from bassline.storage import NetworkStorage, mask_url

log = logging.getLogger("bassline.node")


commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""


class LogLevel(enum.Enum):
    """``bassline start --log-level``."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class AsyncBackend(enum.Enum):
    """``bassline start --backend``."""

    ASYNCIO = "asyncio"
    TRIO = "trio"


_PORT = re.compile(r"[0-9]{1,5}")


def _require_trio() -> None:
    """Refuse ``--backend trio`` at once, with the install command, when trio is missing."""
    try:
        importlib.import_module("trio")
    except ImportError:
        raise UserError(
            '--backend trio: trio is not installed; install it with: pip install "bassline[trio]"'
        ) from None


def _parse_listen(text: str) -> tuple[str, int]:
    """``--listen``: HOST:PORT or HOST alone (port 8455); an IPv6 host bare (``::1``, then
    alone) or in brackets (``[::1]``, ``[::1]:8455``). The port is ASCII digits: ``isdigit``
    took ``٣`` as 3 and ``²``, which int() refuses, made it an internal error."""
    if text.startswith("[") and "]" in text:
        close = text.index("]")
        host, rest = text[1:close], text[close + 1 :]
        port = str(DEFAULT_PORT) if rest == "" else rest[1:] if rest[:1] == ":" else "bad"
    elif text.count(":") > 1:  # a bare IPv6 address: the host alone
        host, port = text, str(DEFAULT_PORT)
    else:
        host, sep, port = text.partition(":")
        if not sep:
            port = str(DEFAULT_PORT)
    bad_host = not host or "[" in host or "]" in host
    if bad_host or not _PORT.fullmatch(port) or int(port) > 65535:
        raise UserError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT}")
    if host == text and host.isascii() and host.isdigit():  # "8461": inet_aton's 0.0.33.13
        port = text if _PORT.fullmatch(text) and int(text) <= 65535 else str(DEFAULT_PORT)
        raise UserError(
            f"--listen {text!r}: a port alone is no host; expected HOST:PORT, e.g. 127.0.0.1:{port}"
        )
    return host, int(port)


def _write_ready(path: Path, url: str) -> None:
    try:
        write_file(path, (url + "\n").encode())
    except OSError as exc:
        raise UserError(f"--ready-file {path}: cannot write it: {exc.strerror or exc}") from None


def _check_tls(cert_file: Path, key_file: Path) -> tuple[str, str]:
    """The certificate and key as paths, once they load: the server reads them only later."""
    for option, path in (("--cert-file", cert_file), ("--key-file", key_file)):
        problem = tls_file_problem(path)  # a device or a pipe was read (or waited on) for ever
        if problem is not None:
            raise UserError(f"{option} {path}: {problem}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        raise UserError(
            f"--cert-file {cert_file} / --key-file {key_file}: not a PEM certificate and its "
            f"matching private key ({exc.reason or exc})"
        ) from None
    return str(cert_file), str(key_file)


QUIET_LOGGERS = ("alembic",)
"""Libraries whose INFO lines are their business, not the operator's (Alembic prints nine
on every PostgreSQL open): below ``--log-level debug`` they show warnings and errors only."""


def configure_logging(level: int) -> None:
    """Log to stderr at ``level``; :data:`QUIET_LOGGERS` at WARNING unless ``level`` is DEBUG."""
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(
            level if level <= logging.DEBUG else max(level, logging.WARNING)
        )


async def _run_node(
    spec: Bassline,
    node_id: str,
    groups: list[str] | None,
    host: str,
    port: int,
    peers: list[str],
    storage: NetworkStorage,
    secret: bytes | None,
    settings: GossipSettings,
    advertise: str | None,
    tls: tuple[str, str] | None,
    ssl_context: ssl.SSLContext | None,
    ready_file: Path | None,
    shutdown_timeout: float,
) -> None:
    with (
        anyio.CancelScope() as deadline,
        anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
    ):
        async with (
            storage,
            BasslineNetwork(
                node_id,
                spec,
                groups,
                storage=storage,
                secret=secret,
                settings=settings,
                peers=peers,
                advertise_url=advertise,
                ssl_context=ssl_context,
            ) as network,
            NodeServer(
                network,
                host,
                port,
                certfile=tls[0] if tls else None,
                keyfile=tls[1] if tls else None,
            ) as server,
        ):
            assert server.url is not None
            s = network.settings  # what the node runs, as the flags made it
            frozen = settle_heap()  # before the URL is shown: a reader may write at once
            log.info("serving; %d startup objects frozen out of garbage collection", frozen)
            log.info(
                "gossip: lazy push %s, link state %s, discovery %s",
                *("on" if on else "off" for on in (s.lazy_push, s.link_state, s.discover)),
            )
            try:
                print(server.url.http, flush=True)
            except BrokenPipeError:  # nobody reads stdout (any more): keep serving
                quiet_stdout()
            if ready_file is not None:
                _write_ready(ready_file, server.url.http)
            async for signum in signals:
                log.info(
                    "received %s: shutting down (deadline %.0fs)",
                    signal.Signals(signum).name,
                    shutdown_timeout,
                )
                deadline.deadline = anyio.current_time() + shutdown_timeout
                break
    if deadline.cancelled_caught:
        raise UserError(f"shutdown did not finish within {shutdown_timeout}s")
    log.info("node %s stopped", node_id)


@commands.command()
def start(
    spec: Annotated[
        Path,
        typer.Argument(
            envvar="BASSLINE_SPEC",
            parser=given_path,
            help="The Bassline spec every node loads (- reads standard input).",
        ),
    ],
    node_id: Annotated[
        str, typer.Option("--node-id", envvar="BASSLINE_NODE_ID", help="This node's id (unique).")
    ],
    groups: Annotated[
        str | None,
        typer.Option(
            "--groups",
            envvar="BASSLINE_GROUPS",
            help="Comma-separated groups whose gadgets this node runs; '' runs none "
            "(default: those the spec's endpoints give it, plus those they give no node).",
        ),
    ] = None,
    listen: Annotated[
        str,
        typer.Option(
            "--listen",
            envvar="BASSLINE_LISTEN",
            help="HOST:PORT to listen on (port 0: any free port; HOST alone: port 8455; an "
            "IPv6 host in brackets, [::1]:8455, or bare, ::1, alone).",
        ),
    ] = f"127.0.0.1:{DEFAULT_PORT}",
    peer: Annotated[
        list[str] | None,
        typer.Option(
            "--peer", envvar="BASSLINE_PEER", help="A peer's URL (ws://host:port); repeatable."
        ),
    ] = None,
    storage: Annotated[
        str,
        typer.Option(
            "--storage",
            envvar="BASSLINE_STORAGE",
            help="Storage URL (memory://, file:///dir, postgresql://...).",
        ),
    ] = "memory://",
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            parser=given_path,
            metavar=PATH,
            envvar="BASSLINE_SECRET_FILE",
            help="File holding the cluster secret (at least 16 bytes).",
        ),
    ] = None,
    advertise: Annotated[
        str | None,
        typer.Option(
            "--advertise",
            envvar="BASSLINE_ADVERTISE",
            help="The URL peers should dial (default: the bound one).",
        ),
    ] = None,
    cert_file: Annotated[
        Path | None,
        typer.Option(
            "--cert-file",
            parser=given_path,
            metavar=PATH,
            envvar="BASSLINE_CERT_FILE",
            help="TLS certificate (PEM); needs --key-file.",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            parser=given_path,
            metavar=PATH,
            envvar="BASSLINE_KEY_FILE",
            help="TLS private key (PEM).",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            parser=given_path,
            metavar=PATH,
            envvar="BASSLINE_CA_FILE",
            help="CA certificates to trust for https/wss nodes.",
        ),
    ] = None,
    ready_file: Annotated[
        Path | None,
        typer.Option(
            "--ready-file",
            parser=given_path,
            metavar=PATH,
            envvar="BASSLINE_READY_FILE",
            help="Write the bound URL to this file once listening.",
        ),
    ] = None,
    heartbeat: Annotated[
        float,
        typer.Option(
            "--heartbeat",
            envvar="BASSLINE_HEARTBEAT",
            help="Heartbeat interval in seconds (timeout: 3x).",
        ),
    ] = 2.0,
    anti_entropy: Annotated[
        float,
        typer.Option(
            "--anti-entropy",
            envvar="BASSLINE_ANTI_ENTROPY",
            help="Seconds between digests on every link.",
        ),
    ] = 1.0,
    reconnect_max: Annotated[
        float,
        typer.Option(
            "--reconnect-max",
            envvar="BASSLINE_RECONNECT_MAX",
            help="Largest redial delay in seconds.",
        ),
    ] = 5.0,
    no_discover: Annotated[
        bool,
        typer.Option(
            "--no-discover",
            envvar="BASSLINE_NO_DISCOVER",
            help="Dial only configured peers, never learned ones.",
        ),
    ] = False,
    no_lazy_push: Annotated[
        bool,
        typer.Option(
            "--no-lazy-push",
            envvar="BASSLINE_NO_LAZY_PUSH",
            help="Send every value on every link: never ask a peer to only announce (prune).",
        ),
    ] = False,
    no_link_state: Annotated[
        bool,
        typer.Option(
            "--no-link-state",
            envvar="BASSLINE_NO_LINK_STATE",
            help="Prune only after a value came twice, never ahead from the link-state table.",
        ),
    ] = False,
    shutdown_timeout: Annotated[
        float,
        typer.Option(
            "--shutdown-timeout",
            envvar="BASSLINE_SHUTDOWN_TIMEOUT",
            help="Seconds a graceful shutdown may take.",
        ),
    ] = 10.0,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            "--log-level",
            envvar="BASSLINE_LOG_LEVEL",
            case_sensitive=False,
            help="What to log on stderr.",
        ),
    ] = LogLevel.INFO,
    backend: Annotated[
        AsyncBackend,
        typer.Option(
            "--backend",
            envvar="BASSLINE_BACKEND",
            case_sensitive=False,  # as --log-level: BASSLINE_BACKEND=TRIO was refused
            help="The async library to run on.",
        ),
    ] = AsyncBackend.ASYNCIO,
    max_spec_bytes: MaxSpecBytesOpt = MAX_SPEC_BYTES,
) -> None:
    """Run a node: serve gossip and the JSON API, dial peers, persist contents.

    Prints the bound URL on stdout once listening. SIGINT/SIGTERM shut down gracefully:
    peers are told goodbye, storage is flushed and closed.

    Every option (and SPEC) can come from an environment variable instead, named as shown
    (BASSLINE_ and the option's name: --node-id is BASSLINE_NODE_ID); a flag given on the
    command line wins. BASSLINE_PEER holds several URLs separated by spaces;
    BASSLINE_NO_DISCOVER, BASSLINE_NO_LAZY_PUSH and BASSLINE_NO_LINK_STATE are true/false
    (1/0, yes/no).
    """
    if (cert_file is None) != (key_file is None):
        raise UsageError("TLS needs both --cert-file and --key-file")
    if backend is AsyncBackend.TRIO:
        _require_trio()
    configure_logging(getattr(logging, log_level.name))
    loaded = spec_argument(spec, max_spec_bytes)
    host, port = _parse_listen(listen)
    secret = read_secret(secret_file)
    if secret is None and not is_loopback(host):
        raise UserError(
            f"refusing to listen on {host} without a cluster secret: pass --secret-file, "
            "or listen on 127.0.0.1"
        )
    peers = [node_url(p, "--peer").ws for p in peer or []]
    if advertise is not None:
        node_url(advertise, "--advertise")
    if not is_node_id(node_id):
        raise UserError(
            f"--node-id {node_id!r:.80}: give a non-empty id of at most 200 characters "
            "without control characters"
        )
    for flag, seconds in (
        ("--shutdown-timeout", shutdown_timeout),
        ("--reconnect-max", reconnect_max),
        ("--heartbeat", heartbeat),
        ("--anti-entropy", anti_entropy),
    ):
        if not 0 < seconds < math.inf:
            # out of range: a usage error (status 2), as Click's own range checks are
            raise UsageError(f"{flag} {seconds}: give a positive, finite number of seconds")
    if 3 * heartbeat == math.inf:  # the heartbeat timeout
        raise UsageError(
            f"--heartbeat {heartbeat}: too large (links time out after 3 heartbeats, "
            "which must be a finite number of seconds)"
        )
    if "://" not in storage:
        raise UserError(f"--storage {storage!r}: expected a URL such as memory:// or file:///dir")
    store = open_unopened(storage)  # a bad URL or scheme is one clear error, before any work
    tls = _check_tls(cert_file, key_file) if cert_file and key_file else None
    if ready_file is not None and not ready_file.parent.is_dir():
        raise UserError(f"--ready-file {ready_file}: directory {ready_file.parent} does not exist")
    if ready_file is not None and ready_file.is_dir():  # found only once it served
        raise UserError(f"--ready-file {ready_file}: is a directory; give a file name")
    try:
        settings = GossipSettings(
            heartbeat_interval=heartbeat,
            heartbeat_timeout=3 * heartbeat,
            anti_entropy_interval=anti_entropy,
            reconnect_max=max(reconnect_max, 0.1),
            discover=not no_discover,
            lazy_push=not no_lazy_push,
            link_state=not no_link_state,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # given empty (--groups ''), it runs no gadget group, as groups=[] does in Python
    group_list = None if groups is None else [g.strip() for g in groups.split(",") if g.strip()]
    unknown = [g for g in group_list or [] if g not in loaded.group_by_id]
    if unknown:
        known = ", ".join(g.id for g in loaded.groups if g.gadget) or "none"
        raise UserError(
            f"--groups: no group {', '.join(map(repr, unknown))} in network {loaded.id!r} "
            f"(its gadget groups: {known})"
        )
    try:
        with ungrouped():
            anyio.run(
                _run_node,
                loaded,
                node_id,
                group_list,
                host,
                port,
                peers,
                store,
                secret,
                settings,
                advertise,
                tls,
                ssl_context(ca_file),
                ready_file,
                shutdown_timeout,
                backend=backend.value,
            )
    except InsecureListen as exc:
        raise UserError(str(exc)) from None
    except SpecMismatch as exc:  # its advice is Python's (replace_spec=True): say the CLI's
        raise UserError(
            f"{mask_url(storage)} holds network {loaded.id!r} with another spec (hash "
            f"{exc.stored_hash[:12]}, this file has {exc.given_hash[:12]}); to store this "
            f"spec there, run `bassline run SPEC --storage URL --replace-spec` first "
            "(contents of contacts it still has are kept), then start the node"
        ) from None
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise UserError(why if why.startswith("cannot listen") else f"{listen}: {why}") from None
    except SpecError:
        raise
