"""The hostile-input corpus: generated (never hand-edited) bad files that every import
must refuse with an InputError naming file, row and column, leaving the workspace as
it was.  ``generate.cases()`` builds them; ``tests/test_ingest_hostile.py`` runs them."""
