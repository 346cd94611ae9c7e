"""RFC 6962 (Certificate Transparency) Merkle tree hash.

leaf hash = SHA-256(0x00 || d), node hash = SHA-256(0x01 || left || right); for n > 1
leaves the tree splits at k, the largest power of two smaller than n.  The hash of an
empty tree is SHA-256 of the empty string.  ``evidence_root`` (DESIGN section 7) is
this hash over the 32-byte SHA-256 digests of the evidence source files, in the order
they were first imported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["leaf_hash", "node_hash", "merkle_root", "evidence_root"]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash (MTH) of ``leaves`` (the raw leaf data, not yet hashed)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    level = [leaf_hash(d) for d in leaves]
    return _mth(level, 0, n)


def _mth(hashes: list[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 1:
        return hashes[lo]
    k = _split(n)
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def evidence_root(sha256_hex_digests: Sequence[str]) -> str:
    """Lower-hex RFC 6962 root over the 32-byte digests given as hex strings."""
    return merkle_root([bytes.fromhex(h) for h in sha256_hex_digests]).hex()
