"""Test helpers that ship with Bassline, for its own tests and for third-party plug-ins.

- :mod:`bassline.testing.strategies`: hypothesis strategies for content and specs.
- :mod:`bassline.testing.laws`: the lattice law tests third-party lattices run.
- :mod:`bassline.testing.storage`: the conformance suite every storage backend runs.
- :mod:`bassline.testing.faults`: a storage wrapper injecting failures and latency.

This package imports nothing. Under pytest (already imported by then) it asks pytest to
rewrite the asserts of the two suites, so a failing check shows the values it compared.
"""

import sys

if "pytest" in sys.modules:  # never import pytest ourselves: faults is usable without it
    sys.modules["pytest"].register_assert_rewrite(
        "bassline.testing.storage", "bassline.testing.laws"
    )
