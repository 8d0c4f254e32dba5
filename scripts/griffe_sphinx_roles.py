"""A griffe extension for the API reference: Sphinx roles in docstrings become code.

The docstrings are written the Sphinx way: they cite names with roles
(``:class:`Network```, ``:func:`~a.b.c```) and open examples with ``Use as::``, which
Markdown would show as written. mkdocstrings loads this file (mkdocs.yml): each role
becomes a code span of the name it cites (``~`` keeps the last part only, as in Sphinx)
and ``::`` before a literal block becomes ``:``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")
# "Use as::" introduces an indented literal block in reStructuredText and reads "Use as:";
# the indented block itself is already a Markdown code block
LITERAL = re.compile(r"(\S)::$", re.MULTILINE)


def plain(text: str) -> str:
    """``text`` with every Sphinx role replaced by a code span of its target, and every
    ``::`` that opens a literal block by ``:``."""

    def span(match: re.Match[str]) -> str:
        target = match.group(2)
        if match.group(1):
            target = target.rsplit(".", 1)[-1]
        return f"`{target}`"

    return LITERAL.sub(r"\1:", ROLE.sub(span, text))


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring of each package griffe loads."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Called once a whole package is loaded: walk it, aliases left out."""
        todo: list[griffe.Object] = [pkg]
        while todo:
            obj = todo.pop()
            if obj.docstring is not None:
                obj.docstring.value = plain(obj.docstring.value)
            todo.extend(m for m in obj.members.values() if isinstance(m, griffe.Object))
