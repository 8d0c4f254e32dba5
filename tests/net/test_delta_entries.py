"""The entries of a delta to a second peer come from the cache in C loops only when every
cached change is still the contact's current log entry, value and stamp."""

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


@pytest.mark.parametrize("stale", ["position", "value", "stamp"])
def test_a_cached_entry_of_an_older_change_is_not_sent(stale: str) -> None:
    view, codec, cache, log = _setup()
    first = entries(view, codec, cache, frozenset(), log, ["a", "b"], ())
    value, stamp, plain, seq, _ = cache["a"]
    other = WhyRef("w", via="cli")  # what the contact's justification was then
    if stale == "position":  # logged again since (a justification that changed)
        cache["a"] = (value, stamp, plain, seq, other)
        log.record("a")
    elif stale == "value":
        cache["a"] = ("".join(["a ", "value"]), stamp, "old", seq, other)  # equal, not held
    else:
        cache["a"] = (value, stamp._replace(hlc=stamp.hlc - 1), "old", seq, other)
    again = entries(view, codec, cache, frozenset(), log, ["a", "b"], ())
    assert again == first  # rebuilt from the engine: the current justification and value


def test_an_origin_the_peer_pruned_is_announced_not_taken_from_the_cache() -> None:
    view, codec, cache, log = _setup()
    entries(view, codec, cache, frozenset(), log, ["a", "b"], ())
    items, _, have, order = entries(view, codec, cache, frozenset(), log, ["a", "b"], {"local"})
    assert items == [] and [cid for cid, _ in have] == ["a", "b"] and order == [True, True]
