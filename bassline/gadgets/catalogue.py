"""The built-in primitive gadgets: math, constraint, string, logic, control and array, in that order.

Ids, port names and categories of the prototype's 42 are kept; the semantics are Python's
where JavaScript's differ (see ``docs/gadgets.md``). A body returns only the outputs it
emits: a gadget never clears a contact, so "no result" means "emit nothing". Math and
comparison gadgets compute on intervals too (:mod:`bassline.gadgets.numeric`); the
``constraint`` category holds the two-way constraints (:mod:`bassline.gadgets.constraints`).
"""

from __future__ import annotations

from bassline.gadgets.arithmetic import MATH
from bassline.gadgets.arrays import ARRAY
from bassline.gadgets.base import Gadget
from bassline.gadgets.builtin import LIST, NUMBER, PARTIAL_NUMBER
from bassline.gadgets.constraints import CONSTRAINTS
from bassline.gadgets.control import CONTROL
from bassline.gadgets.logic import LOGIC
from bassline.gadgets.strings import STRING

__all__ = ["BUILTIN_GADGETS", "CATEGORIES", "LIST", "NUMBER", "PARTIAL_NUMBER"]

CATEGORIES = ("math", "constraint", "string", "logic", "control", "array")
"""The built-in categories, in catalogue order."""


BUILTIN_GADGETS: tuple[Gadget, ...] = MATH + CONSTRAINTS + STRING + LOGIC + CONTROL + ARRAY
"""Every built-in gadget, in catalogue order (math, constraint, string, logic, control, array)."""
