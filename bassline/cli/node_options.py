"""What the commands that talk to a node share: their options, how they read them, and a
:class:`~bassline.net.client.NodeClient` made from them whose errors read as the CLI's."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from bassline.cli.console import UserError
from bassline.cli.paths import PATH, given_path
from bassline.net import load_secret, parse_node_url
from bassline.net.client import NodeClient
from bassline.net.client_errors import NodeAuthError, NodeClientError
from bassline.net.node_server import tls_file_problem
from bassline.net.urls import NodeURL

__all__ = [
    "CaOpt",
    "JsonOpt",
    "SecretOpt",
    "connect",
    "node_url",
    "read_secret",
    "ssl_context",
]

SecretOpt = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        parser=given_path,
        metavar=PATH,
        help="File holding the cluster secret (at least 16 bytes).",
    ),
]
CaOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        parser=given_path,
        metavar=PATH,
        help="CA certificates to trust for https/wss nodes.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def read_secret(path: Path | None) -> bytes | None:
    """The cluster secret in ``path`` (``--secret-file``), or None without one."""
    if path is None:
        return None
    try:
        return load_secret(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None


MAX_CA_FILE_BYTES = 16 << 20
"""The largest ``--ca-file`` taken (a bundle of every public CA is about 200 KiB)."""


def ssl_context(ca_file: Path | None) -> ssl.SSLContext | None:
    """A TLS context trusting ``ca_file`` (``--ca-file``), or None to use the defaults."""
    if ca_file is None:
        return None
    problem = tls_file_problem(ca_file, MAX_CA_FILE_BYTES)  # OpenSSL waited on a pipe for ever
    if problem is not None:
        raise UserError(f"--ca-file {ca_file}: {problem}")
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except ssl.SSLError as exc:  # before OSError: it is one
        raise UserError(
            f"--ca-file {ca_file}: holds no PEM CA certificate ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise UserError(f"--ca-file {ca_file}: cannot read it: {exc.strerror or exc}") from None


def node_url(text: str, what: str) -> NodeURL:
    """``text`` parsed as a node URL; ``what`` names it in the error (``--peer``: the
    message quotes the URL, its password masked)."""
    try:
        return parse_node_url(text)
    except ValueError as exc:
        raise UserError(f"{what}: {exc}") from None


@contextlib.contextmanager
def connect(url: str, secret_file: Path | None, ca_file: Path | None) -> Iterator[NodeClient]:
    """A client for the node at ``url``; a call that fails is one :class:`UserError`.

    The client's message says what was asked, of which node and why; a refused token
    names the option that gives the secret (``--secret-file``).
    """
    base = node_url(url, "URL")
    secret = read_secret(secret_file)
    with NodeClient(base, secret=secret, ssl_context=ssl_context(ca_file)) as client:
        try:
            yield client
        except NodeAuthError as exc:
            raise UserError(
                f"node at {exc.node} refused {exc.request}: wrong or missing --secret-file"
            ) from None
        except NodeClientError as exc:
            raise UserError(str(exc)) from None
