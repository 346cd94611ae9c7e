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
