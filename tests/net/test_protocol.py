"""The pieces without sockets: change log, frames, proofs, URLs, settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.codec import to_json
from bassline.lattices import GrowSet, Interval
from bassline.net import ChangeLog, GossipSettings, ProtocolViolation, parse_node_url
from bassline.net.auth import (
    MAX_SECRET_FILE_BYTES,
    api_token,
    load_secret,
    new_nonce,
    proof,
    verify,
)
from bassline.net.protocol import PROTOCOL_VERSION, Delta, dump, encode_delta, parse_frame
from bassline.net.urls import is_loopback


@given(
    writes=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.none() | st.sampled_from(["p", "q"])),
        max_size=300,
    ),
    since=st.integers(0, 300),
    limit=st.integers(1, 10),
)
def test_the_log_returns_exactly_the_latest_changes_after_a_position(
    writes: list[tuple[str, str | None]], since: int, limit: int
) -> None:
    log = ChangeLog()
    latest: dict[str, tuple[int, str | None]] = {}
    for seq, (contact, skip) in enumerate(writes, start=1):
        log.record(contact, skip)
        latest[contact] = (seq, skip)
    assert log.head == len(writes) and len(log) == len(latest)
    position, got = since, []
    while position < log.head:  # page through the log as a pusher does
        page, position = log.since(position, limit, "p")
        got += page
    expected = [
        c
        for c, (s, skip) in sorted(latest.items(), key=lambda kv: kv[1][0])
        if s > since and skip != "p"
    ]
    assert got == expected


def test_delta_frames_round_trip_values_and_stamps() -> None:
    items = [
        ("a", to_json(GrowSet([1, "x"])), Stamp(10**17, "n1")),
        ("b", to_json({"$type": "user dict"}), Stamp(10**17 + 5, "n2")),
        ("c", to_json(Interval(1, 5)), Stamp(10**17, "n1")),
        ("d", None, Stamp(1, "")),
    ]
    frame = dump(encode_delta("0123456789abcdef", 3, 9, items))
    message = parse_frame(frame, 1 << 20)
    assert isinstance(message, Delta)
    assert (message.epoch, message.start, message.end) == ("0123456789abcdef", 3, 9)
    assert message.items == (
        ("a", GrowSet([1, "x"]), Stamp(10**17, "n1")),
        ("b", {"$type": "user dict"}, Stamp(10**17 + 5, "n2")),
        ("c", Interval(1, 5), Stamp(10**17, "n1")),
        ("d", None, Stamp(1, "")),
    )


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\xff\xfe", "malformed"),
        (b"[1,2]", "invalid-message"),
        (b'{"t":"nope"}', "unknown-type"),
        (b'{"t":"hb","extra":1}', "invalid-message"),
        (
            b'{"t":"digest","epoch":null,"seq":-1,"head_epoch":"0000000000000000","head":0,"rewind":false}',
            "invalid-message",
        ),
        (
            b'{"t":"delta","epoch":"0000000000000000","from":5,"to":1,"base":0,"nodes":[],"items":[]}',
            "invalid-message",
        ),
        (
            b'{"t":"delta","epoch":"0000000000000000","from":0,"to":1,"base":0,"nodes":[],"items":[["a",1,0,0]]}',
            "invalid-message",
        ),
        (
            b'{"t":"delta","epoch":"0000000000000000","from":0,"to":1,"base":0,"nodes":["n"],"items":[["a",{"$type":"nope","value":1},0,0]]}',
            "invalid-message",
        ),
        (b'{"t":"peers","peers":[["n","\\u0000"]]}', "invalid-message"),
        (b'{"t":"hb"}' + b" " * 5000, "oversized"),
    ],
)
def test_bad_frames_name_what_is_wrong(frame: bytes, code: str) -> None:
    with pytest.raises(ProtocolViolation) as refused:
        parse_frame(frame, 4096)
    assert refused.value.code == code
    assert str(refused.value)


def test_proofs_bind_the_secret_the_role_and_both_nonces() -> None:
    secret = b"s" * 32
    d, listener = ("a", new_nonce()), ("b", new_nonce())
    p = proof(secret, "dialer", d, listener, "h" * 64)
    assert verify(p, proof(secret, "dialer", d, listener, "h" * 64))
    assert not verify(p, proof(secret, "listener", d, listener, "h" * 64))
    assert not verify(p, proof(secret, "dialer", d, ("b", new_nonce()), "h" * 64))
    assert not verify(p, proof(b"t" * 32, "dialer", d, listener, "h" * 64))
    assert not verify(p, proof(secret, "dialer", d, listener, "g" * 64))
    assert api_token(secret) != api_token(b"t" * 32)


def test_node_urls() -> None:
    u = parse_node_url("http://127.0.0.1:8455/")
    assert (u.ws, u.http, u.gossip_path) == (
        "ws://127.0.0.1:8455",
        "http://127.0.0.1:8455",
        "/gossip",
    )
    assert parse_node_url("wss://h/base/gossip").ws == "wss://h:443/base"
    assert parse_node_url("ws://[::1]:9").ws == "ws://[::1]:9"
    for bad in ("", "ftp://x", "ws://", "ws://h:99999", "ws://u:p@h:1", "ws://h:1/?q=1"):
        with pytest.raises(ValueError):
            parse_node_url(bad)
    # a URL that is no string was called "empty", whatever it was
    for wrong in (5, None, b"ws://h:1"):
        with pytest.raises(ValueError, match=re.escape(f"a node URL is a string, not {wrong!r}")):
            parse_node_url(wrong)  # type: ignore[arg-type]
    assert is_loopback("localhost") and is_loopback("127.0.0.9") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


def test_settings_refuse_a_heartbeat_timeout_under_three_intervals() -> None:
    with pytest.raises(ValueError, match="at least 3x"):
        GossipSettings(heartbeat_interval=1, heartbeat_timeout=2.9)
    with pytest.raises(ValueError, match="positive"):
        GossipSettings(anti_entropy_interval=0)


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("max_delta_items", "5", TypeError, "max_delta_items must be a whole number, got '5'"),
        ("max_delta_items", 2.5, TypeError, "max_delta_items must be a whole number, got 2.5"),
        ("send_queue_frames", True, TypeError, "send_queue_frames must be a whole number"),
        ("heartbeat_interval", "2", TypeError, "heartbeat_interval must be a number, got '2'"),
        ("heartbeat_interval", float("inf"), ValueError, "heartbeat_interval must be positive"),
        ("anti_entropy_interval", float("nan"), ValueError, "must be positive, got nan"),
        ("push_delay", float("inf"), ValueError, "push_delay must be a finite number >= 0"),
        ("push_delay", -0.5, ValueError, "push_delay must be a finite number >= 0"),
        ("lazy_push", "no", TypeError, "lazy_push must be True or False, got 'no'"),
        ("lazy_push", 0, TypeError, "lazy_push must be True or False, got 0"),
        ("discover", "false", TypeError, "discover must be True or False, got 'false'"),
        ("gossip_feed_values", 1, TypeError, "gossip_feed_values must be True or False"),
    ],
)
def test_settings_refuse_values_of_the_wrong_type_or_infinite(
    field: str, value: object, error: type[Exception], message: str
) -> None:
    """A string once failed as "'>' not supported between 'str' and 'int'", a fraction of
    an item count was taken, and an infinite interval stopped what it paces."""
    with pytest.raises(error, match=re.escape(message)):
        GossipSettings(**{field: value})  # type: ignore[arg-type]
    GossipSettings(heartbeat_interval=1, push_delay=0)  # a whole number of seconds, no delay
    GossipSettings(lazy_push=False, discover=False, gossip_feed_values=True)


def test_the_protocol_page_gives_the_version_a_hello_carries() -> None:
    """docs/protocol.md's hello table said version 2 under its version-3 title."""
    page = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    assert f"# Gossip protocol (version {PROTOCOL_VERSION})" in page
    assert f"| `v` | protocol version ({PROTOCOL_VERSION}) |" in page
    assert f"`v` is {PROTOCOL_VERSION}." in page


def test_a_secret_file_is_read_up_to_a_limit(tmp_path: Path) -> None:
    """``--secret-file /dev/zero`` (``load_secret``) read until memory ran out."""
    with pytest.raises(ValueError, match="secret file /dev/zero holds more than 65,536 bytes"):
        load_secret("/dev/zero")
    largest = tmp_path / "large.key"
    largest.write_bytes(b"k" * MAX_SECRET_FILE_BYTES)
    assert load_secret(largest) == b"k" * MAX_SECRET_FILE_BYTES
    largest.write_bytes(b"k" * (MAX_SECRET_FILE_BYTES + 1))
    with pytest.raises(ValueError, match="holds more than"):
        load_secret(largest)
