"""Stage 1, ingest: readers for statements and tabular files, the input schemas, and the loaders
that put reference data, statements and evidence into the store (files read on worker processes)."""
