"""The shipped strategies and law mixin, used the way an application would use them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Network
from bassline.lattices import UNCHANGED, Changed, Contradiction, MergeOutcome
from bassline.spec import Bassline
from bassline.testing import strategies as bst
from bassline.testing.laws import LatticeLaws


class _NotAbsorbing:
    """Numbers more than 10 apart contradict, otherwise max: 0 ⊔ 15 contradicts, 8 ⊔ 15 not."""

    name = "not-absorbing"
    description = "breaks the absorbing law"

    def coerce(self, value: Any) -> Any:
        return value

    def join(self, current: Any, incoming: Any) -> MergeOutcome:
        if abs(current - incoming) > 10:
            return Contradiction("too far apart", current, incoming)
        return UNCHANGED if incoming <= current else Changed(incoming)


class _NotAbsorbingLaws(LatticeLaws):
    lattice = _NotAbsorbing()

    def elements(self) -> st.SearchStrategy[Any]:
        return st.integers(-30, 30)


def test_the_absorbing_law_catches_a_contradiction_more_information_undoes() -> None:
    caught = 0
    for _ in range(5):  # each run is 100 random examples; one miss in a row is possible
        try:
            _NotAbsorbingLaws().test_contradiction_absorbs()
        except AssertionError:
            caught += 1
    assert caught >= 1


@settings(max_examples=50)
@given(bst.specs())
def test_every_generated_spec_runs_to_a_fixpoint(spec: Bassline) -> None:
    # a gadget wired into its own inputs (concat, say) grew until the step budget ran out
    assert Network(spec).initial_result.settled
