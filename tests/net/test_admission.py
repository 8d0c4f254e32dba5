"""The pool of pending connections: who is evicted when it is full, and what counts as
one address."""

from __future__ import annotations

import anyio
import pytest

from bassline.net.admission import PendingLinks, address_key

pytestmark = pytest.mark.anyio


def test_addresses_are_counted_by_ipv4_address_and_ipv6_slash_64() -> None:
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key(None) == address_key("") == "unknown"


async def test_a_full_address_evicts_its_own_oldest_and_no_one_else() -> None:
    pool = PendingLinks(total=10, per_address=2)
    other = pool.admit("192.0.2.1")
    first, second = pool.admit("192.0.2.9"), pool.admit("192.0.2.9")
    third = pool.admit("192.0.2.9")
    assert first.evicted and not second.evicted and not third.evicted and not other.evicted
    assert pool.from_address("192.0.2.9") == 2 and len(pool) == 3 and pool.evictions == 1
    with first.stage() as scope:  # an evicted link's next stage is cancelled at once
        await anyio.sleep(10)
    assert scope.cancelled_caught


async def test_a_full_pool_evicts_the_oldest_of_all_and_a_release_frees_a_place() -> None:
    pool = PendingLinks(total=3, per_address=3)
    links = [pool.admit(f"192.0.2.{i}") for i in range(3)]
    links[1].release()
    newer = pool.admit("192.0.2.50")  # there was room: nobody is evicted
    assert not any(link.evicted for link in links) and len(pool) == 3
    newest = pool.admit("192.0.2.51")
    assert links[0].evicted and not links[2].evicted and not newer.evicted
    assert not newest.evicted and len(pool) == 3
    links[0].release()  # releasing an evicted link again changes nothing
    assert len(pool) == 3


def test_caps_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PendingLinks(total=0, per_address=1)
