"""Test-time compute: accuracy against recurrences or samples, read from lm-eval results and tables.

Modules: :mod:`~gemstones.ttc.ingest` (lm-eval results and tidy tables), :mod:`~gemstones.ttc.sampling`
(per-problem pass@k tables), :mod:`~gemstones.ttc.plots` (curves and fits).
"""
