"""The arguments and options the storage commands share (export, import, snapshot and
``storage ...``)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["BatchOpt", "JsonOpt", "NetworkArg", "OverwriteOpt", "UrlArg"]

UrlArg = Annotated[
    str,
    typer.Argument(
        metavar="STORAGE_URL",
        help="Storage URL: memory://, file:///path/to/dir or postgresql://user@host/db.",
    ),
]
NetworkArg = Annotated[str, typer.Argument(metavar="NETWORK", help="The network's id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
BatchOpt = Annotated[
    int, typer.Option("--batch-size", min=1, help="Content records per atomic batch.")
]
OverwriteOpt = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace a network that already exists at the destination."),
]
