"""The entries of a delta to a second peer come from the cache in C loops only when every
cached change is still the contact's current log entry."""

from __future__ import annotations

from typing import Any

import pytest

from bassline import Network
from bassline.net import delta_entries
from bassline.net.carry import CarryCodec
from bassline.net.changelog import ChangeLog
from bassline.net.delta_entries import entries
from bassline.net.wire_whys import WhyRef
from bassline.runtime.view import EngineView
from bassline.spec import parse_spec

SPEC = {"id": "e", "contacts": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}


class View(EngineView):
    """An engine read as a runtime reads it."""

    def __init__(self, network: Network) -> None:
        self.network = network


def _setup() -> tuple[View, CarryCodec, dict[str, Any], ChangeLog]:
    net = Network(parse_spec(SPEC))
    net.update_many({"a": "a value", "b": [1, 2]}, via="http")
    log = ChangeLog("e" * 16)
    log.record_all(["a", "b"])
    return View(net), CarryCodec(net.spec), {}, log


def test_a_second_build_takes_the_cached_entries_and_gives_what_the_first_gave() -> None:
    view, codec, cache, log = _setup()
    first = entries(view, codec, cache, frozenset(), log, ["a", "b"], ())
    assert [item[0] for item in first[0]] == ["a", "b"] and first[1][0] == WhyRef("w", via="http")
    with pytest.MonkeyPatch.context() as monkeypatch:
        taken: list[object] = []
        cached = delta_entries._all_cached

        def spy(*args: Any) -> object:
            taken.append(result := cached(*args))
            return result

        monkeypatch.setattr(delta_entries, "_all_cached", spy)
        assert entries(view, codec, cache, frozenset(), log, ["a", "b"], ()) == first
        assert taken[0] is not None  # from the cache


@pytest.mark.parametrize("stale", ["justification", "value", "stamp"])
def test_a_cached_entry_of_an_older_change_is_not_sent(stale: str) -> None:
    """A cache entry is served for the log entry it was made for, and only for it: every
    change of a contact is logged as it is made (a new value, a new stamp, a justification
    that changed), so an entry of an older change is one of an older log position."""
    view, codec, cache, log = _setup()
    entries(view, codec, cache, frozenset(), log, ["a", "b"], ())
    value, stamp, plain, seq, _ = cache["a"]
    if stale == "justification":  # logged again since, the engine's content the same
        cache["a"] = (value, stamp, plain, seq, WhyRef("w", via="cli"))
    elif stale == "value":
        view.network.update_many({"a": "".join(["a ", "value"])}, via="http")  # equal
    else:
        view.network.update_many({"a": "another value"}, via="cli")
    log.record("a")  # as the replicator logs every change the engine makes
    again = entries(view, codec, cache, frozenset(), log, ["a", "b"], ())
    current, now = view.network.stamped("a")
    assert again[0][0] == ("a", current, now) and cache["a"][3] == log.seq_of("a")
    assert again[1][0] == codec.to_wire("a", view.carried_justification("a"))


def test_an_origin_the_peer_pruned_is_announced_not_taken_from_the_cache() -> None:
    view, codec, cache, log = _setup()
    entries(view, codec, cache, frozenset(), log, ["a", "b"], ())
    items, _, have, order = entries(view, codec, cache, frozenset(), log, ["a", "b"], {"local"})
    assert items == [] and [cid for cid, _ in have] == ["a", "b"] and order == [True, True]
