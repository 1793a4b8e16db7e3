"""gemstones: reproducible scaling-law analysis of the Gemstones checkpoint suite.

The public API is re-exported here and loaded lazily, so that ``import gemstones`` (and the CLI)
does not pay for JAX or matplotlib until a name that needs them is used::

    import gemstones

    catalog = gemstones.load_catalog()
    result = gemstones.fit_design(gemstones.load_design("hot"))
"""

from __future__ import annotations

import importlib
from typing import Any

from gemstones.compile_cache import enable_compilation_cache as _enable_compilation_cache

__version__ = "0.1.0"

# Compiled fitting programs persist in the user cache folder (GEMSTONES_JAX_CACHE=0 turns it off);
# this only sets JAX's environment variables, it does not import JAX.
_enable_compilation_cache()

_EXPORTS: dict[str, tuple[str, ...]] = {
    # the checkpoint catalog (registry/)
    "registry.catalog": ("Catalog", "load_catalog"),
    "registry.suites.gemstones.architecture": ("parameter_count", "non_embedding_parameter_count", "flops_per_token"),
    "gemstones.downloads": ("download_subset",),
    # designs, fits, result files
    "gemstones.scaling.designs": ("Design", "DesignFit", "load_design", "list_designs", "select_rows", "design_table", "fit_design"),
    "gemstones.scaling.results": ("write_result", "read_result"),
    "fitting.approach3": ("Approach3Fit", "StartsSolution", "fit_approach3", "solve_from_starts"),
    "fitting.approach1": ("Approach1Fit", "fit_approach1"),
    "fitting.starts": ("StartGrid", "PAPER_GRID"),
    "fitting.laws": ("NAMED_LAWS",),
    # uncertainty and prescriptions
    "fitting.bootstrap": ("bootstrap_approach3",),
    "fitting.frontier": ("compute_frontier", "optima_at_budgets", "paper_shape_grid"),
    "fitting.prescriptions": ("closed_form_allocation", "approach1_prescription"),
    "gemstones.scaling.prescribe": (
        "prescription_table", "print_prescriptions", "design_frontier", "bootstrap_design",
        "TimeModel", "fit_time_model", "time_model_from_catalog",
    ),
    "gemstones.scaling.plots": ("write_design_plots",),
    # SlimAdam
    "fitting.snr": ("snr", "derive_rules", "compression_summary", "convert_rules"),
    "gemstones.snr.slimadam": ("slimadam", "scale_by_slim_adam", "ScaleBySlimAdamState", "state_size", "StateSize"),
    "gemstones.snr.sweep": ("RunSpec", "run_sweep", "sweep_specs"),
    # evaluating checkpoints, and running work units locally or on Ray
    "gemstones.evaluate.results": ("MetricSet", "ResultStore", "with_results"),
    "gemstones.evaluate.sweep": ("EvalSettings", "plan_units", "evaluate_folder"),
    "gemstones.execute": ("Executor", "Resources", "get_executor", "run_units", "available_executors"),
    # test-time compute
    "fitting.ttc": ("fit_ttc", "fit_curve", "fit_table", "TTCResult", "CurveFit", "chance_level"),
    "fitting.recurrent_compute": ("RecurrentDepthArchitecture", "HUGINN_0125", "materialised_parameters", "forward_flops_per_token"),
    "gemstones.ttc.ingest": ("read_results",),
    "gemstones.ttc.plots": ("plot_curves",),
    "gemstones.runs.recurrent": ("RecurrentRunConfig", "accuracy_by_r", "adaptive_exit"),
}  # fmt: skip
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gemstones' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
