"""Evidence integrity: Merkle trees, signing, verification."""
