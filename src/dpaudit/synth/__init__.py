"""Synthetic councils with planted ground truth (``council.generate``), the bundled sample data
(``sample``) and the benchmark (``bench``).  Not used by an audit run."""
