"""Evaluating checkpoints: metrics (loss, bits per byte, multiple choice), sweeps, results.

- :mod:`gemstones.evaluate.metrics`: the measurements on a loaded model;
- :mod:`gemstones.evaluate.sweep`: checkpoints x a metric set as pinned, resumable work units;
- :mod:`gemstones.evaluate.results`: one result file per unit, and their catalog columns.
"""
