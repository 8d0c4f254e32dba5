"""A spec as a Graphviz DOT graph, and rendering it to SVG/PNG/PDF with the ``dot`` binary.

Groups are clusters (nested like the group tree), gadget groups are labelled with their
gadget and shaded, each instance of a compound part is a dashed cluster labelled with its
part (the contacts inside it show their names in the part), contacts are nodes (boundary ports as ellipses, merge contacts show
their lattice, initial contents are shown), directed wires are arrows and bidirectional
wires have arrowheads at both ends.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from bassline.cli.render import show
from bassline.spec import (
    PART_ATTRIBUTE,
    ROOT_GROUP,
    SEPARATOR,
    Bassline,
    BlendMode,
    ContactSpec,
    GroupSpec,
    WireType,
)

__all__ = ["DOT_INSTALL_HINT", "RENDERED_FORMATS", "DotMissing", "quote", "render_dot", "to_dot"]

RENDERED_FORMATS = ("svg", "png", "pdf")
"""Output suffixes rendered through Graphviz; ``.dot``/``.gv`` are written as DOT text."""
DOT_INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
    "graphviz; others: https://graphviz.org/download/), or write DOT text with -o FILE.dot"
)
_MAX_VALUE_CHARS = 32


class DotMissing(Exception):
    """Graphviz's ``dot`` program is not on the PATH."""


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _escape(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    # only DOT's own line breaks: U+2028, U+0085 ... may be in ids ("a\u2028b" and "a b"
    # are two contacts, and were drawn as one node when they became spaces)
    return _LINE_BREAK.sub(" ", escaped)


def quote(text: str) -> str:
    """``text`` as a double-quoted DOT string (line breaks, CR and LF, become spaces)."""
    return f'"{_escape(text)}"'


def _label(*lines: str) -> str:
    """A DOT label showing ``lines`` one under the other."""
    return '"' + "\\n".join(_escape(line) for line in lines) + '"'


def _contact_node(c: ContactSpec, in_gadget: bool, in_part: bool = False) -> str:
    lines = [c.port if in_gadget or in_part else c.id]
    if not in_gadget and not in_part and c.name and c.name != c.id:
        lines.append(f"({c.name})")
    if c.blend is BlendMode.MERGE:
        lines.append(f"merge: {c.lattice or 'defined'}")
    if c.has_content:
        text = show(c.content)
        if len(text) > _MAX_VALUE_CHARS:
            text = text[: _MAX_VALUE_CHARS - 1] + "…"
        lines.append(f"= {text}")
    shape = "ellipse" if c.boundary is not None else "box"
    style = ', style="rounded"' if shape == "box" else ""
    return f"{quote(c.id)} [label={_label(*lines)}, shape={shape}{style}];"


def _cluster(spec: Bassline, group: GroupSpec, depth: int, *, in_part: bool = False) -> list[str]:
    pad = "  " * depth
    part = group.attributes.get(PART_ATTRIBUTE)
    if group.gadget:
        title = [group.name or group.id, f"gadget: {group.gadget}"]
        style = 'style="rounded,filled", fillcolor="#eef3ff", color="#4a6fb5"'
    elif isinstance(part, str):
        local = group.id.rsplit(SEPARATOR, 1)[-1]
        title = [group.id, f"part: {part}"]
        if group.name not in ("", group.id, local):
            title.insert(0, group.name)
        style = 'style="rounded,dashed", color="#b5794a"'
    else:
        title = [group.name or group.id] if group.name in ("", group.id) else [group.name, group.id]
        style = 'style="rounded", color="#888888"'
    lines = [
        f"{pad}subgraph {quote('cluster_' + group.id)} {{",
        f"{pad}  graph [label={_label(*title)}, {style}];",
    ]
    lines += _body(
        spec,
        group.id,
        depth + 1,
        in_gadget=group.gadget is not None,
        in_part=in_part or isinstance(part, str),
    )
    lines.append(f"{pad}}}")
    return lines


def _body(
    spec: Bassline, group_id: str, depth: int, *, in_gadget: bool, in_part: bool = False
) -> list[str]:
    pad = "  " * depth
    lines = [pad + _contact_node(c, in_gadget, in_part) for c in spec.contacts_of(group_id)]
    for child in spec.children(group_id):
        lines += _cluster(spec, child, depth, in_part=in_part)
    return lines


def to_dot(spec: Bassline) -> str:
    """The spec as a DOT ``digraph`` (deterministic: same spec, same text)."""
    root = spec.group_by_id.get(ROOT_GROUP)
    title = root.name if root is not None and root.name not in ("", ROOT_GROUP) else spec.id
    lines = [
        f"digraph {quote(spec.id)} {{",
        f"  graph [label={quote(f'{title} (v{spec.version})')}, labelloc=t, rankdir=LR, "
        'compound=true, fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    lines += _body(spec, ROOT_GROUP, 1, in_gadget=False)
    orphans = [g for g in spec.groups if g.id != ROOT_GROUP and g.parent is None]
    for group in orphans:
        lines += _cluster(spec, group, 1)
    for w in spec.wires:
        attrs = ' [dir=both, color="#4a6fb5"]' if w.type is WireType.BIDIRECTIONAL else ""
        lines.append(f"  {quote(w.source)} -> {quote(w.target)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(dot_text: str, output: Path, fmt: str) -> None:
    """Run ``dot -T<fmt> -o output``; :class:`DotMissing` if Graphviz is not installed.

    Raises :class:`RuntimeError` with dot's message if it fails.
    """
    program = shutil.which("dot")
    if program is None:
        raise DotMissing()
    done = subprocess.run(
        [program, f"-T{fmt}", "-o", str(output)],
        input=dot_text.encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(message[0] if message else f"dot exited with status {done.returncode}")
