"""``bassline explain``: why a contact holds its value, from a spec file or a running node."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bassline.cli.console import UsageError, UserError, out
from bassline.cli.explain_tree import draw
from bassline.cli.node_options import CaOpt, SecretOpt, connect
from bassline.cli.paths import MAX_SPEC_BYTES, MaxSpecBytesOpt, spec_argument
from bassline.cli.render import print_json, show
from bassline.cli.run_commands import parse_set
from bassline.engine import Explanation, Network

__all__ = ["commands"]

commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""

NODE_SCHEMES = ("http://", "https://", "ws://", "wss://")
"""How a SPEC_OR_NODE_URL that names a node begins (anything with ``://`` is read as a URL)."""


def parse_depth(text: str | None) -> int | None:
    """``--depth``: None (no limit) or a whole number >= 1; a UsageError otherwise."""
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 4000 or int(text) < 1:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise UsageError(
            f"--depth must be a whole number >= 1 (how many contacts deep to explain), "
            f"not {shown!r}"
        )
    return int(text)


def _from_spec(
    path: Path, contact: str, depth: int | None, sets: list[str], max_bytes: int
) -> Explanation:
    """Run the spec in memory (writing each ``--set``, via ``cli``) and explain ``contact``."""
    network = Network(spec_argument(path, max_bytes))
    result = network.initial_result
    for contact_id, value in (parse_set(item) for item in sets):
        result = network.update_contact(contact_id, value, via="cli")
        if not result.settled:
            break
    if not result.settled:
        raise UserError(
            f"the network did not settle within {network.step_budget} steps; "
            f"still changing: {', '.join(result.unsettled[:10])}"
        )
    return network.explain(contact, depth)


def _not_empty(source: str) -> str:
    if not source:
        raise typer.BadParameter("empty: give a spec file or a node's URL")
    return source


@commands.command()
def explain(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SPEC_OR_NODE_URL",
            callback=_not_empty,
            help="A spec file (run in memory, like `bassline run`; - reads standard input), or a node's URL "
            "(http://, https://, ws://, wss://) to ask.",
        ),
    ],
    contact: Annotated[str, typer.Argument(help="The contact whose value to explain.")],
    depth: Annotated[
        str | None,
        typer.Option(
            "--depth",
            metavar="N",
            help="Explain N contacts deep, this one included (default: no limit).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the explanation's JSON form.")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="With a spec: CONTACT=JSON to write first (explained as come in via cli); "
            "repeatable, applied in order.",
        ),
    ] = None,
    secret_file: SecretOpt = None,
    ca_file: CaOpt = None,
    max_spec_bytes: MaxSpecBytesOpt = MAX_SPEC_BYTES,
) -> None:
    """Explain why a contact holds its value: the tree of wires, gadget runs and merges
    back to the writes it rests on, and both sides of a contradiction.

    On a spec file the network runs in memory first (with any --set); on a node's URL the
    node is asked (GET /api/contacts/{id}/explain). A gadget's inputs say whether each
    still holds the value the gadget used.
    """
    limit = parse_depth(depth)
    if "://" in source:
        if set_:
            raise UsageError("--set runs a spec file; to write to a node use `bassline set`")
        with connect(source, secret_file, ca_file) as node:
            why = node.explain(contact, limit)
    else:
        given = [o for o, v in (("--secret-file", secret_file), ("--ca-file", ca_file)) if v]
        if given:
            raise UsageError(f"{given[0]} is for a node's URL, not a spec file")
        why = _from_spec(Path(source), contact, limit, set_ or [], max_spec_bytes)
    if not why.present:
        problem = ""
        if why.failure is not None:
            problem = f" (its gadget {why.failure.gadget} failed: {why.failure.error})"
        elif why.contradiction is not None:
            problem = f" (it refused {show(why.contradiction.value)}: {why.contradiction.reason})"
        raise UserError(f"contact {contact!r} has no value yet, so nothing to explain{problem}")
    if as_json:
        print_json(why.to_json())
        return
    for line in draw(why):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    sys.stdout.flush()
