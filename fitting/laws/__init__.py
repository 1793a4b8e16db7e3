"""Law families: the interface, the registry and the built-in members.

``fitting.laws`` is the one place to import law math from:

- :class:`LawFamily` (the extension point), :class:`FamilyFit` (a family's result),
  :data:`REGISTRY` (name -> family) and :func:`register_family`;
- ``power_sum``: ``L = E + sum_i A_i x_i^-alpha_i`` (Chinchilla approach 3) and its named
  configurations :data:`NAMED_LAWS`, with the objective, log prediction and Jacobian the batched
  fitter uses (:mod:`fitting.laws.power_sum`);
- ``isoflop``: approach 2 (:mod:`fitting.laws.isoflop`);
- ``loss_to_loss``: a shifted power law between two losses (:mod:`fitting.laws.loss_to_loss`);
- ``sigmoid_accuracy``: accuracy against a loss with a chance floor (:mod:`fitting.laws.sigmoid`);
- profile and prediction intervals, and a bootstrap of any family (:mod:`fitting.laws.intervals`).

A new family is one module with a :class:`LawFamily` subclass plus one
``register_family(MyFamily())`` call.

Example:
    >>> from fitting.laws import REGISTRY
    >>> REGISTRY.names()
    ('power_sum', 'isoflop', 'loss_to_loss', 'sigmoid_accuracy')
"""

from __future__ import annotations

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
from fitting.laws.loss_to_loss import LossToLoss
from fitting.laws.power_sum import (
    NAMED_LAWS,
    LawForm,
    PowerSum,
    PowerSumLayout,
    chunked_objective,
    huber,
    law_form,
    log_prediction,
    log_prediction_jacobian,
    objective,
    parameter_count,
    register_law,
    require_enough_data,
    split_theta,
    validate_delta,
    validate_inputs,
)
from fitting.laws.sigmoid import CHANCE, SigmoidAccuracy
from fitting.named_registry import Registry

POWER_SUM = PowerSum()
"""The registered ``power_sum`` family: the approach-3 fitter, start grid, bootstrap, frontier,
prescriptions and plots ask it for the parameter layout (``POWER_SUM.layout(variables)``)."""

for _family in (POWER_SUM, Isoflop(), LossToLoss(), SigmoidAccuracy()):
    register_family(_family)
del _family

__all__ = [
    "CHANCE",
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
