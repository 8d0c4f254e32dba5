"""A line's hash is BLAKE2b with a 32-byte digest, however it is computed (D83:
a copy of an empty hasher made once, fed the line, instead of a new hasher per line)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.net import content_digest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=400), max_size=6))
def test_each_line_hash_is_blake2b_of_that_line_alone(lines: list[bytes]) -> None:
    # several in a row: nothing of one line's hashing carries over into the next
    for line in lines:
        assert content_digest.line_hash(line) == hashlib.blake2b(line, digest_size=32).digest()


def test_a_line_hashed_twice_hashes_the_same() -> None:
    line = b'["c0","x",[1,"n"]]'
    first = content_digest.line_hash(line)
    assert content_digest.line_hash(b"other") != first
    assert content_digest.line_hash(line) == first
