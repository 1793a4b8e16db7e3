"""Scaling laws of a checkpoint suite: designs (what to fit), fits and result files, prescriptions, plots.

Modules: :mod:`~gemstones.scaling.designs` (declarative fit specifications and ``fit_design``),
:mod:`~gemstones.scaling.results` (result files), :mod:`~gemstones.scaling.prescribe` (frontiers,
prescriptions, bootstrap bands), :mod:`~gemstones.scaling.plots` (the paper's figures),
:mod:`~gemstones.scaling.law_analysis` and :mod:`~gemstones.scaling.law_plots` (IsoFLOP, loss-to-loss,
downstream and extrapolation checks).
"""
