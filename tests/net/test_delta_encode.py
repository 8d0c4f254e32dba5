"""A delta whose items all share one write's or wire's reference object (the frame a
node's own writes make) is encoded on a path of its own: it must give exactly the
message the general path gives for the same justifications as separate objects."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.net.delta_encode import encode_delta
from bassline.net.protocol import dump, parse_frame
from bassline.net.wire_whys import WhyInput, WhyRef

EPOCH = "0123456789abcdef"
refs = st.sampled_from(
    [
        WhyRef("w", via="http"),
        WhyRef("w", via="cli", kept=Stamp(70, "k")),  # a kept stamp: a node of its own
        WhyRef("w", via="cli", kept=Stamp(95, "x")),
        WhyRef("c", wire=3),
        WhyRef("g", inputs=(None, WhyInput(Stamp(90, "z"), contact="q"))),
    ]
)
item = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.one_of(st.integers(-3, 3), st.text("xy", max_size=2), st.none()),
    st.builds(Stamp, st.integers(80, 120), st.sampled_from(["x", "y"])),
)
have = st.lists(
    st.tuples(st.sampled_from(["e", "f"]), st.builds(Stamp, st.integers(60, 120), st.just("w"))),
    max_size=2,
)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(item, max_size=6), ref=refs, have=have, shared=st.booleans())
def test_items_sharing_one_reference_encode_as_the_same_references_apart(
    items: list[tuple[str, object, Stamp]], ref: WhyRef, have: list[tuple[str, Stamp]], shared: bool
) -> None:
    whys: list[WhyRef | None] = [ref] * len(items)
    if not shared and items:  # another reference, or none, for the last item
        whys[-1] = None if ref.kind != "w" else WhyRef("c", wire=1)
    apart: list[WhyRef | None] = [copy.copy(why) for why in whys]  # no object shared
    message = encode_delta(EPOCH, 2, 7, items, whys, have)
    assert message == encode_delta(EPOCH, 2, 7, items, apart, have)
    parsed = parse_frame(dump(message), 1 << 20)
    assert [*parsed.items] == items  # type: ignore[union-attr]
