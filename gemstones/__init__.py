"""gemstones: reproducible scaling-law analysis of the Gemstones checkpoint suite.

The curated public API, grouped by role in ``__all__`` below; each name is imported from the module
that defines it on first use, so that ``import gemstones`` (and the CLI) does not pay for JAX or
matplotlib until a name that needs them is used::

    import gemstones

    catalog = gemstones.load_catalog()
    result = gemstones.fit_design(gemstones.load_design("hot"))

Everything else is reachable through the topic subpackages (``gemstones.scaling``, ``gemstones.snr``,
``gemstones.ttc``, ``gemstones.evaluate``, ``gemstones.execute``, ``gemstones.models``,
``gemstones.runs``) and the ``registry`` and ``fitting`` packages. No exported name is also the name
of a subpackage or module of ``gemstones``.
"""

from __future__ import annotations

import importlib
from typing import Any

from gemstones.compile_cache import enable_compilation_cache as _enable_compilation_cache

__version__ = "0.1.0"

# Compiled fitting programs persist in the user cache folder (GEMSTONES_JAX_CACHE=0 turns it off);
# this only sets JAX's environment variables, it does not import JAX.
_enable_compilation_cache()

__all__ = [  # noqa: RUF022 (grouped by role, not sorted)
    "__version__",
    # the checkpoint catalog, and downloads of a subset
    "Catalog",
    "load_catalog",
    "download_subset",
    # suites of checkpoints and the metrics measured on them
    "Suite",
    "get_suite",
    "Metric",
    "get_metric",
    # architecture arithmetic
    "parameter_count",
    "non_embedding_parameter_count",
    "flops_per_token",
    # designs: a declarative fit, its result and result files
    "Design",
    "DesignFit",
    "list_designs",
    "load_design",
    "design_table",
    "fit_design",
    "write_result",
    "read_result",
    # scaling-law fits on arrays (fitting/)
    "Approach1Fit",
    "Approach3Fit",
    "fit_approach1",
    "fit_approach3",
    "StartGrid",
    "LawFamily",
    "register_family",
    # uncertainty, frontiers and prescriptions
    "bootstrap_design",
    "design_frontier",
    "compute_frontier",
    "optima_at_budgets",
    "prescription_table",
    "TimeModel",
    "fit_time_model",
    "time_model_from_catalog",
    "write_design_plots",
    # SlimAdam: second-moment SNR rules and the optax transform
    "derive_rules",
    "compression_summary",
    "convert_rules",
    "slimadam",
    "scale_by_slim_adam",
    "run_sweep",
    # evaluating checkpoints; running work units locally or on Ray
    "MetricSet",
    "ResultStore",
    "EvalSettings",
    "evaluate_folder",
    "Executor",
    "Resources",
    "get_executor",
    "available_executors",
    "run_units",
    # test-time compute of recurrent-depth models
    "read_ttc_results",
    "fit_ttc",
    "fit_ttc_curve",
    "fit_ttc_table",
    "TTCResult",
    "CurveFit",
    "plot_ttc_curves",
    "RecurrentDepthArchitecture",
    "HUGINN_0125",
    "forward_flops_per_token",
    # errors: ``exit_code`` 2 for a user mistake, 1 for a runtime failure
    "GemstonesError",
    "GemstonesInputError",
    "RuntimeFailure",
]

#: Where each exported name is defined: ``name: "module"`` or ``name: "module:attribute"`` when the
#: public name differs from the module's (``fit_ttc_table`` is ``fitting.ttc.fit_table``).
_WHERE: dict[str, str] = {
    "Catalog": "registry.catalog",
    "load_catalog": "registry.catalog",
    "download_subset": "gemstones.downloads",
    "Suite": "registry.suites",
    "get_suite": "registry.suites",
    "Metric": "registry.metrics",
    "get_metric": "registry.metrics",
    "parameter_count": "registry.suites.gemstones.architecture",
    "non_embedding_parameter_count": "registry.suites.gemstones.architecture",
    "flops_per_token": "registry.suites.gemstones.architecture",
    "Design": "gemstones.scaling.designs",
    "DesignFit": "gemstones.scaling.designs",
    "list_designs": "gemstones.scaling.designs",
    "load_design": "gemstones.scaling.designs",
    "design_table": "gemstones.scaling.designs",
    "fit_design": "gemstones.scaling.designs",
    "write_result": "gemstones.scaling.results",
    "read_result": "gemstones.scaling.results",
    "Approach1Fit": "fitting.approach1",
    "Approach3Fit": "fitting.approach3",
    "fit_approach1": "fitting.approach1",
    "fit_approach3": "fitting.approach3",
    "StartGrid": "fitting.starts",
    "LawFamily": "fitting.laws.base",
    "register_family": "fitting.laws.base",
    "bootstrap_design": "gemstones.scaling.prescribe",
    "design_frontier": "gemstones.scaling.prescribe",
    "compute_frontier": "fitting.frontier",
    "optima_at_budgets": "fitting.frontier",
    "prescription_table": "gemstones.scaling.prescribe",
    "TimeModel": "gemstones.scaling.prescribe",
    "fit_time_model": "gemstones.scaling.prescribe",
    "time_model_from_catalog": "gemstones.scaling.prescribe",
    "write_design_plots": "gemstones.scaling.plots",
    "derive_rules": "fitting.snr",
    "compression_summary": "fitting.snr",
    "convert_rules": "fitting.snr",
    "slimadam": "gemstones.snr.slimadam",
    "scale_by_slim_adam": "gemstones.snr.slimadam",
    "run_sweep": "gemstones.snr.sweep",
    "MetricSet": "gemstones.evaluate.results",
    "ResultStore": "gemstones.evaluate.results",
    "EvalSettings": "gemstones.evaluate.sweep",
    "evaluate_folder": "gemstones.evaluate.sweep",
    "Executor": "gemstones.execute",
    "Resources": "gemstones.execute",
    "get_executor": "gemstones.execute",
    "available_executors": "gemstones.execute",
    "run_units": "gemstones.execute",
    "read_ttc_results": "gemstones.ttc.ingest:read_results",
    "fit_ttc": "fitting.ttc",
    "fit_ttc_curve": "fitting.ttc:fit_curve",
    "fit_ttc_table": "fitting.ttc:fit_table",
    "TTCResult": "fitting.ttc",
    "CurveFit": "fitting.ttc",
    "plot_ttc_curves": "gemstones.ttc.plots:plot_curves",
    "RecurrentDepthArchitecture": "fitting.recurrent_compute",
    "HUGINN_0125": "fitting.recurrent_compute",
    "forward_flops_per_token": "fitting.recurrent_compute",
    "GemstonesError": "gemstones.errors",
    "GemstonesInputError": "gemstones.errors",
    "RuntimeFailure": "gemstones.errors",
}


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'gemstones' has no attribute {name!r}")
    module, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    if module.startswith("fitting."):
        # the fitting functions exported here honour GEMSTONES_FIT_ENGINE, as design fits do
        from gemstones.compile_cache import apply_fit_engine

        apply_fit_engine()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (``__all__``), as tab completion in a notebook shows them."""
    return sorted(__all__)
