"""The shipped strategies and law mixin, used the way an application would use them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Network
from bassline.lattices import UNCHANGED, Changed, Contradiction, MergeOutcome
from bassline.spec import Bassline
from bassline.testing import strategies as bst
from bassline.testing.laws import LatticeLaws


class _Max:
    """``max`` over integers; subclasses break one thing each."""

    name = "broken-max"
    description = "a deliberately broken lattice"

    def coerce(self, value: Any) -> Any:
        return value

    def join(self, current: Any, incoming: Any) -> MergeOutcome:
        return Changed(incoming) if incoming > current else UNCHANGED


class _NotAbsorbing(_Max):
    """Numbers more than 10 apart contradict: 0 ⊔ 15 contradicts, but (0 ⊔ 8) ⊔ 15 does not."""

    def join(self, current: Any, incoming: Any) -> MergeOutcome:
        if abs(current - incoming) > 10:
            return Contradiction("too far apart", current, incoming)
        return super().join(current, incoming)


class _ChangedForNoNews(_Max):
    """``join(5, 3)`` is ``Changed(5)``: the current value, reported as a change."""

    def join(self, current: Any, incoming: Any) -> MergeOutcome:
        return UNCHANGED if incoming == current else Changed(max(current, incoming))


class _UnchangedForNews(_Max):
    """``join(2, 3)`` is ``Unchanged``: a rise by one is lost."""

    def join(self, current: Any, incoming: Any) -> MergeOutcome:
        return UNCHANGED if incoming == current + 1 else super().join(current, incoming)


def _laws(broken: _Max, values: st.SearchStrategy[int]) -> LatticeLaws:
    class Laws(LatticeLaws):
        lattice = broken

        def elements(self) -> st.SearchStrategy[Any]:
            return values

    return Laws()


# Each broken lattice is given elements that expose its bug in a large share of examples
# (a third or more), so a run of 100 examples that misses it is vanishingly unlikely.


def test_the_absorbing_law_catches_a_contradiction_more_information_undoes() -> None:
    laws = _laws(_NotAbsorbing(), st.sampled_from([0, 8, 15]))
    with pytest.raises(AssertionError, match="contradict, but"):
        laws.test_contradiction_absorbs()


def test_the_kit_rejects_a_lattice_that_reports_changed_for_no_news() -> None:
    laws = _laws(_ChangedForNoNews(), st.integers(0, 3))
    # the value laws cannot see it: the joined values are those of max
    laws.test_commutative()
    laws.test_associative()
    laws.test_idempotent()
    laws.test_contradiction_absorbs()
    with pytest.raises(AssertionError, match="expected Unchanged"):
        laws.test_outcome_tells_the_truth()


def test_the_kit_rejects_a_lattice_that_reports_unchanged_for_news() -> None:
    laws = _laws(_UnchangedForNews(), st.integers(0, 3))
    with pytest.raises(AssertionError, match=r"gave Unchanged, but .* is news to"):
        laws.test_outcome_tells_the_truth()
    with pytest.raises(AssertionError):
        laws.test_commutative()


def test_the_kit_passes_a_correct_lattice() -> None:
    laws = _laws(_Max(), st.integers(0, 3))
    laws.test_commutative()
    laws.test_associative()
    laws.test_idempotent()
    laws.test_contradiction_absorbs()
    laws.test_outcome_tells_the_truth()


@settings(max_examples=50)
@given(bst.specs())
def test_every_generated_spec_runs_to_a_fixpoint(spec: Bassline) -> None:
    # a gadget wired into its own inputs (concat, say) grew until the step budget ran out
    assert Network(spec).initial_result.settled


def test_lattice_network_of_defined_contacts_mostly_agrees() -> None:
    """``defined`` holds one value: its updates agree when they are that value. They were
    drawn independently, so nearly every example contradicted (73% of 200; now 39%)."""
    from hypothesis import HealthCheck, seed

    counts = {"examples": 0, "contradicting": 0}

    @seed(1)
    @settings(max_examples=200, database=None, suppress_health_check=list(HealthCheck))
    @given(bst.lattice_network("defined"))
    def draw(case: tuple[Bassline, list[tuple[str, Any]]]) -> None:
        spec, updates = case
        net = Network(spec)
        counts["examples"] += 1
        counts["contradicting"] += any(
            net.update_contact(cid, value).contradictions for cid, value in updates
        )

    draw()
    assert counts["contradicting"] < counts["examples"] / 2


def test_a_lattice_no_strategy_knows_is_refused_when_the_strategy_is_made() -> None:
    """``lattice_network("nope")`` was a strategy that raised, at its first draw,
    "invalid Bassline spec (2 problems)"; and ``lattice_values``'s list of the lattices it
    knows left out ``defined``, which it takes."""
    known = "defined, grow-map, grow-set, interval, max, min, shrink-set"
    for wrong in ("nope", "", 5):
        with pytest.raises(ValueError, match=re.escape(f"lattice {wrong!r}; known: {known}")):
            bst.lattice_network(wrong)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=re.escape(f"lattice {wrong!r}; known: {known}")):
            bst.lattice_values(wrong)  # type: ignore[arg-type]
    for name in (None, *known.split(", ")):
        assert bst.lattice_network(name) is not None
