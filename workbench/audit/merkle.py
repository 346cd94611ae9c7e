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

__all__ = ["leaf_hash", "node_hash", "merkle_root", "evidence_root", "inclusion_proof",
           "consistency_proof", "verify_inclusion", "verify_consistency", "root_from_hashes"]


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


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaves given by their leaf hashes."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    return _mth(list(hashes), 0, len(hashes))


def _mth(hashes: list[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 1:
        return hashes[lo]
    k = _split(n)
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def evidence_root(sha256_hex_digests: Sequence[str]) -> str:
    """Lower-hex RFC 6962 root over the 32-byte digests given as hex strings."""
    return merkle_root([bytes.fromhex(h) for h in sha256_hex_digests]).hex()


# ---- proofs (RFC 6962 section 2.1.1 / 2.1.2; verification as RFC 9162 2.1.3.2 / 2.1.4.2)
def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path PATH(index, D[n]) for the leaf at 0-based ``index``."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of {n} leaves")
    return _path(list(leaf_hashes), index, 0, n)


def _path(h: list[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return _path(h, m, lo, lo + k) + [_mth(h, lo + k, hi)]
    return _path(h, m - k, lo + k, hi) + [_mth(h, lo, lo + k)]


def consistency_proof(leaf_hashes: Sequence[bytes], m: int) -> list[bytes]:
    """PROOF(m, D[n]): that the first ``m`` leaves are a prefix of all ``n``."""
    n = len(leaf_hashes)
    if not 0 < m <= n:
        raise ValueError(f"cannot prove consistency of size {m} with size {n}")
    return _subproof(list(leaf_hashes), m, 0, n, True)


def _subproof(h: list[bytes], m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [_mth(h, lo, hi)]
    k = _split(n)
    if m <= k:
        return _subproof(h, m, lo, lo + k, whole) + [_mth(h, lo + k, hi)]
    return _subproof(h, m - k, lo + k, hi, False) + [_mth(h, lo, lo + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` show the leaf hash ``leaf`` at ``index`` in the
    tree of ``size`` leaves with hash ``root``?"""
    if not 0 <= index < size or len(leaf) != 32 or len(root) != 32:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree (size1, root1) a prefix of (size2, root2)?"""
    if size1 > size2 or len(root1) != 32 or len(root2) != 32:
        return False
    if size1 == size2:
        return root1 == root2 and not proof
    if size1 == 0 or not proof or any(len(p) != 32 for p in proof):
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:          # size1 is a power of two: root1 starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0
