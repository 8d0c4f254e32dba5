"""Cluster-secret authentication: fresh nonces, HMAC proofs, the API token.

Both sides of a link send a fresh random nonce in their ``hello``. Each then proves it
knows the cluster secret with ``HMAC-SHA256(secret, transcript)``, where the transcript
binds the protocol version, the prover's role (``dialer`` or ``listener``), both node
ids, both nonces and the Bassline hash. A recorded proof is useless on another link (the
other side's nonce differs) and cannot be reflected back (the role differs).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from bassline.codec import encode

__all__ = [
    "MAX_SECRET_FILE_BYTES",
    "MIN_SECRET_BYTES",
    "api_token",
    "cluster_secret",
    "load_secret",
    "new_nonce",
    "proof",
    "verify",
]

MIN_SECRET_BYTES = 16

MAX_SECRET_FILE_BYTES = 65536
"""The most :func:`load_secret` reads of a secret file: a device such as ``/dev/zero``
given by mistake is refused, not read until memory runs out."""


def new_nonce() -> str:
    """128 random bits, hex."""
    return secrets.token_hex(16)


def proof(
    secret: bytes,
    role: str,
    dialer: tuple[str, str],
    listener: tuple[str, str],
    bassline_hash: str,
) -> str:
    """The proof ``role`` sends: HMAC over (role, dialer's (node, nonce), listener's, hash)."""
    transcript = encode(["bassline-gossip/1", role, list(dialer), list(listener), bassline_hash])
    return hmac.new(secret, transcript, hashlib.sha256).hexdigest()


def verify(expected: str, received: str) -> bool:
    """Constant-time comparison of two proofs."""
    return hmac.compare_digest(expected.encode(), received.encode())


def api_token(secret: bytes) -> str:
    """The bearer token of the HTTP API, derived from the cluster secret."""
    return hmac.new(secret, b"bassline-api-token/1", hashlib.sha256).hexdigest()


def cluster_secret(secret: bytes | str | None) -> bytes | None:
    """``secret`` as bytes (text is UTF-8 encoded), None for none; a :class:`ValueError`
    when it is shorter than :data:`MIN_SECRET_BYTES`, which no node accepts, so a node
    (``BasslineNetwork``) and a client (``NodeClient``) refuse it alike."""
    if secret is None:
        return None
    if isinstance(secret, str):
        data = secret.encode()
    elif isinstance(secret, bytes | bytearray | memoryview):
        data = bytes(secret)
    else:
        raise TypeError(f"the cluster secret is bytes or text, not {secret!r}")
    if len(data) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the cluster secret must be at least {MIN_SECRET_BYTES} bytes, got {len(data)}"
        )
    return data


def load_secret(path: str | Path) -> bytes:
    """Read a secret file (surrounding whitespace stripped); ValueError if unusable."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read secret file {p}: {exc.strerror or exc}") from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise ValueError(
            f"secret file {p} holds more than {MAX_SECRET_FILE_BYTES:,} bytes, the most read: "
            "is it the secret file? (e.g. 32 random bytes as hex)"
        )
    data = data.strip()
    if len(data) < MIN_SECRET_BYTES:
        raise ValueError(
            f"secret file {p} holds {len(data)} bytes; use at least {MIN_SECRET_BYTES}, e.g. "
            "python -c 'import secrets; print(secrets.token_hex(32))' > " + str(p)
        )
    return data
