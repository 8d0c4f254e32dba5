"""Test helpers that ship with Bassline, for its own tests and for third-party plug-ins.

- :mod:`bassline.testing.strategies`: hypothesis strategies for content and specs.
- :mod:`bassline.testing.laws`: the lattice law tests third-party lattices run.
- :mod:`bassline.testing.storage`: the conformance suite every storage backend runs.
- :mod:`bassline.testing.faults`: a storage wrapper injecting failures and latency.
"""

from __future__ import annotations

try:  # let pytest rewrite the suite's asserts, so a failing check shows its values
    import pytest as _pytest
except ImportError:  # pragma: no cover - pytest is only needed to run the suites
    pass
else:
    _pytest.register_assert_rewrite("bassline.testing.storage", "bassline.testing.laws")
