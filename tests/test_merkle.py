"""RFC 6962 Merkle tree hash against the published Certificate Transparency vectors."""

from __future__ import annotations

import hashlib

import pytest

from workbench.audit.merkle import evidence_root, merkle_root

# The 8 test leaves of the CT reference implementation (merkle_tree_test.cc) and the
# roots of the trees over their first n leaves.
LEAVES = [bytes.fromhex(x) for x in
          ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
           "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("n", range(1, 9))
def test_ct_vectors(n):
    assert merkle_root(LEAVES[:n]).hex() == ROOTS[n - 1]


def test_empty_tree_is_hash_of_nothing():
    assert merkle_root([]).hex() == hashlib.sha256(b"").hexdigest()


def test_evidence_root_is_over_digests_in_order():
    a, b = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    manual = hashlib.sha256(b"\x01" + hashlib.sha256(b"\x00" + bytes.fromhex(a)).digest()
                            + hashlib.sha256(b"\x00" + bytes.fromhex(b)).digest()).hexdigest()
    assert evidence_root([a, b]) == manual
    assert evidence_root([b, a]) != manual


# Audit paths and consistency proofs of the Certificate Transparency reference tests
# (transparency-dev/merkle, RFC 6962 test vectors) over the same 8 leaves.
H = bytes.fromhex
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def _leaf_hashes():
    from workbench.audit.merkle import leaf_hash

    return [leaf_hash(d) for d in LEAVES]


@pytest.mark.parametrize("index, size, path", INCLUSION)
def test_inclusion_vectors(index, size, path):
    from workbench.audit.merkle import inclusion_proof, verify_inclusion

    hs = _leaf_hashes()[:size]
    assert [p.hex() for p in inclusion_proof(hs, index)] == path
    proof = [H(p) for p in path]
    assert verify_inclusion(hs[index], index, size, proof, H(ROOTS[size - 1]))
    # the reference suite's corruptions must all fail
    bad = [
        (index + 1, size, proof), (index, size * 2, proof), (index, size, proof + [H(ROOTS[0])]),
        (index, size, [H(ROOTS[0])] + proof),
    ] + [(index, size, proof[:i] + [bytes([proof[i][0] ^ 8]) + proof[i][1:]] + proof[i + 1:])
         for i in range(len(proof))]
    if proof:
        bad.append((index, size, proof[:-1]))
    for i, n, p in bad:
        assert not verify_inclusion(hs[index], i, n, p, H(ROOTS[size - 1])), (i, n, len(p))


@pytest.mark.parametrize("m, n, path", CONSISTENCY)
def test_consistency_vectors(m, n, path):
    from workbench.audit.merkle import consistency_proof, verify_consistency

    hs = _leaf_hashes()[:n]
    assert [p.hex() for p in consistency_proof(hs, m)] == path
    proof = [H(p) for p in path]
    r1, r2 = H(ROOTS[m - 1]), H(ROOTS[n - 1])
    assert verify_consistency(m, n, r1, r2, proof)
    if proof:
        assert not verify_consistency(m, n, r2, r1, proof)
        assert not verify_consistency(m, n, r1, r2, proof[:-1])
        assert not verify_consistency(m, n, r1, r2, proof + [r1])
        assert not verify_consistency(m + 1, n, r1, r2, proof)
        assert not verify_consistency(m, n, r1, r2, [bytes([proof[0][0] ^ 16]) + proof[0][1:]] + proof[1:])


def test_every_proof_of_small_trees_verifies():
    import hashlib as _h

    from workbench.audit.merkle import (consistency_proof, inclusion_proof, leaf_hash,
                                        root_from_hashes, verify_consistency, verify_inclusion)

    hs = [leaf_hash(_h.sha256(bytes([i])).digest()) for i in range(33)]
    for n in range(1, 34):
        root = root_from_hashes(hs[:n])
        for i in range(n):
            assert verify_inclusion(hs[i], i, n, inclusion_proof(hs[:n], i), root)
        for m in range(1, n + 1):
            assert verify_consistency(m, n, root_from_hashes(hs[:m]), root,
                                      consistency_proof(hs[:n], m))
