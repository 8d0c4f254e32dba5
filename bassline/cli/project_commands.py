"""``bassline init``, ``bassline graph`` and ``bassline demo``."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bassline.cli.console import UserError, out
from bassline.cli.demo import (
    DEFAULT_STEPS,
    NODES,
    SHOWN,
    START,
    DemoCluster,
    DemoTimeout,
    Step,
    StepReport,
    Values,
    parse_steps,
)
from bassline.cli.dot import DOT_INSTALL_HINT, RENDERED_FORMATS, DotMissing, render_dot, to_dot
from bassline.cli.paths import (
    MAX_SPEC_BYTES,
    PATH,
    MaxSpecBytesOpt,
    given_path,
    output_parser,
    spec_argument,
)
from bassline.cli.render import print_json, say, show
from bassline.cli.scaffold import network_id_for, plan, write

__all__ = ["commands"]

# the scaffolded tests need pytest and hypothesis: the testing extra brings both
TESTS_HINT = 'pip install "bassline[testing]" && python -m pytest'

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")

commands = typer.Typer()
"""This module's commands (added to the ``bassline`` application by :mod:`bassline.cli.app`)."""


@commands.command()
def init(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", parser=given_path, help="Where to create the project (default: here)."
        ),
    ] = Path("."),
    name: Annotated[
        str | None,
        typer.Option("--name", help="The network's id (default: from the directory name)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that already exist.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="List the files created as JSON.")
    ] = False,
) -> None:
    """Scaffold a project: a spec, a README and a pytest test using hypothesis strategies.

    The generated test passes as generated: run `python -m pytest` in DIR.
    """
    if name is not None and not _NAME.fullmatch(name):
        raise UserError(
            f"--name {name!r}: use letters, digits, '.', '_' and '-', starting with a letter "
            f"or digit{'' if len(name) <= 200 else f'; at most 200 characters, not {len(name)}'}"
        )
    try:  # a directory we may not look into raises, not "does not exist" (Python 3.11)
        if directory.exists() and not directory.is_dir():
            raise UserError(f"{directory} exists and is not a directory; choose another DIR")
        if directory.is_symlink() and not directory.exists():  # dangling, or a loop
            raise UserError(
                f"{directory} is a symbolic link to {os.readlink(directory)}, which does not "
                "lead to a directory; choose another DIR"
            )
        network = name or network_id_for(directory)
        files = plan(directory, network)
        existing = [str(p) for p in files if p.exists()]
    except OSError as exc:
        raise UserError(
            f"cannot create the project in {directory}: {exc.strerror or exc}"
        ) from None
    if existing and not force:
        raise UserError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "pass --force to overwrite, or choose another DIR"
        )
    try:
        write(files)
    except OSError as exc:
        raise UserError(
            f"cannot create the project in {directory}: {exc.strerror or exc}"
        ) from None
    if as_json:
        print_json({"network": network, "files": [str(p) for p in files]})
        return
    say(f"created network {network!r} in {directory}:")
    for path in files:
        say(f"  {path}")
    say(f"next: cd {shlex.quote(str(directory))} && bassline run network.json --set a=40")
    say(f"tests: {TESTS_HINT}")


@commands.command()
def graph(
    spec: Annotated[
        Path,
        typer.Argument(
            metavar="SPEC",
            parser=given_path,
            help="Spec file (native or prototype JSON format); - reads standard input.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            parser=output_parser("-o"),
            metavar=PATH,
            help="Write here: .dot/.gv as DOT text, .svg/.png/.pdf rendered with Graphviz's "
            "dot (default: DOT on standard output).",
        ),
    ] = None,
    max_spec_bytes: MaxSpecBytesOpt = MAX_SPEC_BYTES,
) -> None:
    """Draw the network as a Graphviz DOT graph (or SVG/PNG/PDF when `dot` is installed).

    Groups are clusters, gadgets are labelled and shaded, directed wires are arrows and
    bidirectional wires have arrowheads at both ends.
    """
    text = to_dot(spec_argument(spec, max_spec_bytes))
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    suffix = output.suffix.lower().lstrip(".")
    try:
        if suffix in ("dot", "gv"):
            output.write_text(text, "utf-8")
        elif suffix in RENDERED_FORMATS:
            render_dot(text, output, suffix)
        else:
            raise UserError(
                f"-o {output}: unknown format {output.suffix or '(no suffix)'!r}; use .dot, .gv, "
                f"{', '.join('.' + f for f in RENDERED_FORMATS)}"
            )
    except DotMissing:
        raise UserError(
            f"writing {output} needs Graphviz's `dot` program, which is not installed; "
            + DOT_INSTALL_HINT
        ) from None
    except RuntimeError as exc:
        raise UserError(f"Graphviz could not write {output}: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror or exc}") from None
    say(f"wrote {output}")


def _demo_table(
    cluster: DemoCluster, title: str, before: Values, report: StepReport | None
) -> Table:
    table = Table(title=Text(title), title_justify="left")  # values are text, not markup
    table.add_column("contact", style="bold")
    for name in NODES:
        groups = ", ".join(sorted(cluster.nodes[name].groups)) or "no gadgets"
        table.add_column(f"{name}\n({groups})", justify="right")
    now = cluster.values()
    for cid in SHOWN:
        cells = []
        for name in NODES:
            value = now[name][cid]
            text = "—" if value is None else show(value)
            changed = bool(before) and before[name][cid] != value
            cells.append(Text(text, style="bold green" if changed else ""))
        table.add_row(cid, *cells)
    if report is not None and report.step is not None:
        arrived = [
            f"{report.arrived_ms[n]:.1f} ms" if n in report.arrived_ms else "…" for n in NODES
        ]
        table.add_row("[dim]write arrived[/dim]", *arrived)
    if report is not None and report.converged:
        digest = cluster.nodes[NODES[0]].digest()[:12]
        table.caption = f"all agree after {report.converged_ms:.1f} ms (digest {digest[:8]})"
    elif report is not None:
        table.caption = f"[red]not converged after {report.converged_ms:.0f} ms[/red]"
    return table


async def _show_step(
    cluster: DemoCluster, step: Step | None, title: str, before: Values, pause: float
) -> StepReport:
    """Run one step; on a terminal under a live table that redraws as any node changes."""
    if not out.is_terminal:  # a log or a pipe: just the table once the step is done
        report = await (cluster.start() if step is None else cluster.apply(step))
        out.print(_demo_table(cluster, title, before, report))
        return report
    with Live(_demo_table(cluster, title, before, None), console=out, auto_refresh=False) as live:

        def redraw() -> None:
            live.update(_demo_table(cluster, title, before, None), refresh=True)

        report = await (cluster.start(redraw) if step is None else cluster.apply(step, redraw))
        live.update(_demo_table(cluster, title, before, report), refresh=True)
        if report.converged:
            await anyio.sleep(pause)  # time to read the table, not a synchronisation
    return report


async def _run_demo(
    steps: list[Step], within: float, pause: float, as_json: bool
) -> list[StepReport]:
    reports: list[StepReport] = []
    async with DemoCluster(timeout=within) as cluster:
        if not as_json:
            say("three nodes, one network: result = (a + b) * c - d, one gadget per node")
            for name in NODES:
                say(f"  {name} listening on {cluster.urls[name]}")
        before: Values = {}
        plan: list[Step | None] = [None, *steps]
        for n, step in enumerate(plan):
            if as_json:
                report = await (cluster.start() if step is None else cluster.apply(step))
            else:
                title = (
                    f"node-1 writes {_start_text()}"
                    if step is None
                    else f"step {n}/{len(steps)}: {step.describe()}"
                )
                report = await _show_step(cluster, step, title, before, pause)
            reports.append(report)
            before = report.values
            if not report.converged:
                break
        if as_json:
            print_json(
                {
                    "network": cluster.spec.id,
                    "nodes": [
                        {
                            "node": name,
                            "url": cluster.urls[name],
                            "groups": sorted(cluster.nodes[name].groups),
                        }
                        for name in NODES
                    ],
                    "steps": [r.to_json() for r in reports],
                }
            )
    return reports


def _start_text() -> str:
    return ", ".join(f"{k}={v}" for k, v in START.items())


@commands.command()
def demo(
    step: Annotated[
        list[str] | None,
        typer.Option(
            "--step",
            metavar="NODE:CONTACT=JSON",
            help="A write to make, e.g. node-3:a=10; repeatable (default: node-3:a=10, then "
            "node-1:c=1).",
        ),
    ] = None,
    pause: Annotated[
        float,
        typer.Option("--pause", min=0, help="Seconds each step stays on screen (terminal only)."),
    ] = 1.5,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the nodes to agree.")
    ] = 10.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what each node held after each step as JSON.")
    ] = False,
) -> None:
    """Three nodes gossip in this process on loopback; watch a change arrive everywhere.

    The nodes share a calculator, result = (a + b) * c - d, with one gadget on each node
    (node-1 adds, node-2 multiplies, node-3 subtracts), memory storage, and links in a
    chain node-1 - node-2 - node-3. Each step writes on one node; the live table shows the
    value, and everything computed from it, reaching every node.
    """
    try:
        steps = parse_steps(step) if step else list(DEFAULT_STEPS)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    reports = anyio.run(_run_demo, steps, timeout, pause, as_json)
    if not reports[-1].converged:
        raise UserError(str(DemoTimeout(timeout)))
