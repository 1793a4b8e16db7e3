"""Law families: the interface, the registry and the built-in members.

``fitting.laws`` is the one place to import law math from:

- :class:`LawFamily` (the extension point), :class:`FamilyFit` (a family's result),
  :data:`REGISTRY` (name -> family; the built-ins register on first use) and
  :func:`register_family`;
- ``power_sum``: ``L = E + sum_i A_i x_i^-alpha_i`` (Chinchilla approach 3). :data:`POWER_SUM`
  answers its parameter layout for any variables (:class:`PowerSumLayout`), and
  :data:`NAMED_LAWS` holds its named configurations (``params-tokens``, ...); with the
  objective, log prediction and Jacobian the batched fitter uses (:mod:`fitting.laws.power_sum`);
- ``isoflop``: approach 2 (:mod:`fitting.laws.isoflop`);
- ``loss_to_loss``: a shifted power law between two losses (:mod:`fitting.laws.loss_to_loss`);
- ``sigmoid_accuracy``: accuracy against a loss with a chance floor (:mod:`fitting.laws.sigmoid`);
- profile and prediction intervals, and a bootstrap of any family (:mod:`fitting.laws.intervals`).

A new family is one module with a :class:`LawFamily` subclass plus one
``register_family(MyFamily())`` call (built-ins: :mod:`fitting.laws._builtins`).

Names are loaded on first access, so ``from fitting.laws import NAMED_LAWS`` (the CLI's help)
does not import numpy or scipy.

Example:
    >>> from fitting.laws import REGISTRY
    >>> REGISTRY.names()
    ('power_sum', 'isoflop', 'loss_to_loss', 'sigmoid_accuracy')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fitting.laws.base import (
        DEFAULT_DELTA,
        REGISTRY,
        FamilyFit,
        LawFamily,
        asymmetric_huber,
        describe_families,
        register_family,
        relative_errors,
    )
    from fitting.laws.intervals import (
        FamilyBootstrap,
        Profile,
        bootstrap_family,
        prediction_interval,
        profile_power_sum,
    )
    from fitting.laws.isoflop import (
        Isoflop,
        IsoflopBootstrap,
        IsoflopFit,
        bootstrap_isoflop,
        fit_isoflop,
        interpolate_at_budgets,
    )
    from fitting.laws.loss_to_loss import (
        LossToLoss,
    )
    from fitting.laws.named import (
        NAMED_LAWS,
        LawForm,
        law_form,
        register_law,
    )
    from fitting.laws.power_sum import (
        POWER_SUM,
        PowerSum,
        PowerSumLayout,
        chunked_objective,
        huber,
        log_prediction,
        log_prediction_jacobian,
        objective,
        parameter_count,
        require_enough_data,
        split_theta,
        validate_delta,
        validate_inputs,
    )
    from fitting.laws.sigmoid import (
        SigmoidAccuracy,
    )
    from fitting.named_registry import (
        Registry,
    )

_EXPORTS: dict[str, str] = {
    "DEFAULT_DELTA": "fitting.laws.base",
    "REGISTRY": "fitting.laws.base",
    "FamilyFit": "fitting.laws.base",
    "LawFamily": "fitting.laws.base",
    "asymmetric_huber": "fitting.laws.base",
    "describe_families": "fitting.laws.base",
    "register_family": "fitting.laws.base",
    "relative_errors": "fitting.laws.base",
    "FamilyBootstrap": "fitting.laws.intervals",
    "Profile": "fitting.laws.intervals",
    "bootstrap_family": "fitting.laws.intervals",
    "prediction_interval": "fitting.laws.intervals",
    "profile_power_sum": "fitting.laws.intervals",
    "Isoflop": "fitting.laws.isoflop",
    "IsoflopBootstrap": "fitting.laws.isoflop",
    "IsoflopFit": "fitting.laws.isoflop",
    "bootstrap_isoflop": "fitting.laws.isoflop",
    "fit_isoflop": "fitting.laws.isoflop",
    "interpolate_at_budgets": "fitting.laws.isoflop",
    "LossToLoss": "fitting.laws.loss_to_loss",
    "NAMED_LAWS": "fitting.laws.named",
    "LawForm": "fitting.laws.named",
    "law_form": "fitting.laws.named",
    "register_law": "fitting.laws.named",
    "POWER_SUM": "fitting.laws.power_sum",
    "PowerSum": "fitting.laws.power_sum",
    "PowerSumLayout": "fitting.laws.power_sum",
    "chunked_objective": "fitting.laws.power_sum",
    "huber": "fitting.laws.power_sum",
    "log_prediction": "fitting.laws.power_sum",
    "log_prediction_jacobian": "fitting.laws.power_sum",
    "objective": "fitting.laws.power_sum",
    "parameter_count": "fitting.laws.power_sum",
    "require_enough_data": "fitting.laws.power_sum",
    "split_theta": "fitting.laws.power_sum",
    "validate_delta": "fitting.laws.power_sum",
    "validate_inputs": "fitting.laws.power_sum",
    "SigmoidAccuracy": "fitting.laws.sigmoid",
    "Registry": "fitting.named_registry",
}

__all__ = [
    "DEFAULT_DELTA",
    "NAMED_LAWS",
    "POWER_SUM",
    "REGISTRY",
    "FamilyBootstrap",
    "FamilyFit",
    "Isoflop",
    "IsoflopBootstrap",
    "IsoflopFit",
    "LawFamily",
    "LawForm",
    "LossToLoss",
    "PowerSum",
    "PowerSumLayout",
    "Profile",
    "Registry",
    "SigmoidAccuracy",
    "asymmetric_huber",
    "bootstrap_family",
    "bootstrap_isoflop",
    "chunked_objective",
    "describe_families",
    "fit_isoflop",
    "huber",
    "interpolate_at_budgets",
    "law_form",
    "log_prediction",
    "log_prediction_jacobian",
    "objective",
    "parameter_count",
    "prediction_interval",
    "profile_power_sum",
    "register_family",
    "register_law",
    "relative_errors",
    "require_enough_data",
    "split_theta",
    "validate_delta",
    "validate_inputs",
]


def __getattr__(name: str) -> Any:
    """Load an exported name from its module on first access."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'fitting.laws' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
