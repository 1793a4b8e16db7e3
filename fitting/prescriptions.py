"""Compute-optimal prescriptions: the closed forms of a params–tokens law, and approach-1 lines.

Params–tokens law (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", eq. 4,
as restated in DESIGN.md): with L(N, D) = E + A N^-alpha + B D^-beta and the budget C = 6 N D,

    a = beta / (alpha + beta),   b = alpha / (alpha + beta),
    G = (alpha A / (beta B))^(1 / (alpha + beta)),
    N_opt(C) = G (C/6)^a,        D_opt(C) = G^-1 (C/6)^b.

The closed forms use the 6ND FLOP approximation (that is what makes them closed); the width–depth
frontier (``fitting.frontier``) uses the architecture's exact FLOPs per token instead.

Approach 1 (envelope): least-squares lines log y = intercept + slope log C through the efficient
checkpoints; the prescription at a budget is the line's value, with a t-interval of the mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fitting.errors import FitInputError
from fitting.laws import POWER_SUM
from fitting.result import ResultMixin

FLOPS_PER_PARAM_TOKEN = 6.0
"""The 6ND approximation: training FLOPs per parameter per token."""


@dataclass(frozen=True)
class ClosedFormAllocation:
    """The compute-optimal allocation of a params–tokens law (arrays broadcast over resamples).

    Attributes:
        a: exponent of N_opt in C (beta / (alpha + beta)).
        b: exponent of D_opt in C (alpha / (alpha + beta)); a + b = 1.
        G: the allocation constant (alpha A / (beta B))^(1/(alpha+beta)).
    """

    a: NDArray[np.float64]
    b: NDArray[np.float64]
    G: NDArray[np.float64]

    def optimal_params(self, budgets: ArrayLike) -> NDArray[np.float64]:
        """N_opt = G (C/6)^a; shape (..., b) for budgets of shape (b,)."""
        c = np.asarray(budgets, dtype=np.float64) / FLOPS_PER_PARAM_TOKEN
        return np.asarray(self.G)[..., None] * c ** np.asarray(self.a)[..., None]

    def optimal_tokens(self, budgets: ArrayLike) -> NDArray[np.float64]:
        """D_opt = G^-1 (C/6)^b; shape (..., b)."""
        c = np.asarray(budgets, dtype=np.float64) / FLOPS_PER_PARAM_TOKEN
        return c ** np.asarray(self.b)[..., None] / np.asarray(self.G)[..., None]

    def tokens_per_param(self, budgets: ArrayLike) -> NDArray[np.float64]:
        """D_opt / N_opt at each budget."""
        return self.optimal_tokens(budgets) / self.optimal_params(budgets)


def closed_form_allocation(
    theta: ArrayLike, variables: Sequence[str] = ("params", "tokens")
) -> ClosedFormAllocation:
    """The closed-form compute-optimal allocation of a fitted params–tokens law.

    Args:
        theta: parameters ``[a_1, a_2, alpha_1, alpha_2, e]`` (log coefficients), shape (5,) or
            (m, 5) for many resamples at once.
        variables: the law's variable order; must be params and tokens in some order.

    Returns:
        ``ClosedFormAllocation`` (scalars, or arrays of shape (m,)).

    Raises:
        FitInputError: a law that is not params–tokens, or non-positive exponents (no optimum).
    """
    log_a, log_b, alpha, beta, _ = POWER_SUM.params_tokens_terms(theta, variables)
    if np.any(alpha <= 0) or np.any(beta <= 0):
        raise FitInputError(
            "compute-optimal allocation needs positive exponents; got "
            f"alpha={np.min(alpha):.4g}, beta={np.min(beta):.4g}"
        )
    total = alpha + beta
    log_g = (np.log(alpha) + log_a - np.log(beta) - log_b) / total
    return ClosedFormAllocation(a=beta / total, b=alpha / total, G=np.exp(log_g))


@dataclass(frozen=True)
class GridOptimum:
    """Least-loss (N, D) on a log grid of N at fixed budgets C = 6 N D (a brute-force check)."""

    budgets: NDArray[np.float64]
    params: NDArray[np.float64]
    tokens: NDArray[np.float64]
    log_step: float


def params_tokens_grid_optimum(
    theta: ArrayLike,
    budgets: ArrayLike,
    variables: Sequence[str] = ("params", "tokens"),
    *,
    log10_params_range: tuple[float, float] = (4.0, 16.0),
    points: int = 12_001,
) -> GridOptimum:
    """Brute force: evaluate L(N, C/(6N)) on a log grid of N and keep the least loss per budget.

    The answer is within ``log_step / 2`` (natural log) of the true optimum in log N, so it checks
    the closed forms to the grid's resolution.
    """
    log_a, log_b, alpha, beta, e = POWER_SUM.params_tokens_terms(
        np.asarray(theta, dtype=np.float64).reshape(-1), variables
    )
    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    log_n = np.log(10.0) * np.linspace(*log10_params_range, points)
    log_d = np.log(budget_arr / FLOPS_PER_PARAM_TOKEN)[:, None] - log_n[None, :]
    loss = np.exp(e) + np.exp(log_a - alpha * log_n)[None, :] + np.exp(log_b - beta * log_d)
    best = np.argmin(loss, axis=1)
    params = np.exp(log_n[best])
    return GridOptimum(
        budgets=budget_arr,
        params=params,
        tokens=budget_arr / (FLOPS_PER_PARAM_TOKEN * params),
        log_step=float(log_n[1] - log_n[0]),
    )


@dataclass(frozen=True)
class PowerLine(ResultMixin):
    """A least-squares line log y = intercept + slope log x, with its parameter covariance.

    Attributes:
        slope, intercept: the fitted line (natural logs).
        covariance: 2x2 covariance of (intercept, slope), from the residual variance.
        dof: residual degrees of freedom (n - 2).
        n: number of points.
    """

    slope: float
    intercept: float
    covariance: NDArray[np.float64]
    dof: int
    n: int

    @property
    def slope_se(self) -> float:
        """Standard error of the slope."""
        return float(np.sqrt(self.covariance[1, 1]))

    @property
    def intercept_se(self) -> float:
        """Standard error of the intercept."""
        return float(np.sqrt(self.covariance[0, 0]))

    def predict(
        self, x: ArrayLike, level: float = 0.95
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The line at ``x`` with a two-sided t-interval of its mean (the regression CI).

        Returns:
            ``(estimate, lower, upper)`` in the original (not log) units.
        """
        from scipy import stats

        log_x = np.log(np.atleast_1d(np.asarray(x, dtype=np.float64)))
        centre = self.intercept + self.slope * log_x
        design = np.stack([np.ones_like(log_x), log_x], axis=-1)
        variance = np.einsum("ni,ij,nj->n", design, self.covariance, design)
        half = stats.t.ppf(0.5 + level / 2, max(self.dof, 1)) * np.sqrt(np.maximum(variance, 0))
        return np.exp(centre), np.exp(centre - half), np.exp(centre + half)


def fit_power_line(x: ArrayLike, y: ArrayLike) -> PowerLine:
    """Ordinary least squares of log y on log x, with the covariance of the two coefficients.

    Raises:
        FitInputError: fewer than 3 points, or non-positive values.
    """
    x_arr = np.asarray(x, dtype=np.float64).reshape(-1)
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    if x_arr.shape != y_arr.shape or x_arr.size < 3:
        raise FitInputError(
            f"a power line needs >= 3 paired points; got {x_arr.size} and {y_arr.size}"
        )
    if np.any(x_arr <= 0) or np.any(y_arr <= 0):
        raise FitInputError("power-line fits need positive x and y")
    from fitting.stats import fit_log_linear

    line = fit_log_linear(np.log(x_arr), np.log(y_arr))
    return PowerLine(
        slope=line.slope,
        intercept=line.intercept,
        covariance=line.covariance,
        dof=line.dof,
        n=line.n,
    )


@dataclass(frozen=True)
class Approach1Prescription(ResultMixin):
    """Approach-1 prescriptions at budgets: params, tokens and tokens/param with regression CIs.

    Each quantity maps to ``(estimate, lower, upper)`` arrays of shape (b,).
    """

    budgets: NDArray[np.float64]
    level: float
    params_line: PowerLine
    tokens_line: PowerLine
    tokens_per_param_line: PowerLine
    params: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
    tokens: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
    tokens_per_param: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def approach1_prescription(
    resource: ArrayLike,
    params: ArrayLike,
    tokens: ArrayLike,
    budgets: ArrayLike,
    level: float = 0.95,
) -> Approach1Prescription:
    """Approach-1 prescriptions from efficient checkpoints (hull points or bucket minimisers).

    Args:
        resource: FLOPs (or GPU hours) of the efficient checkpoints.
        params, tokens: their parameter and token counts.
        budgets: budgets to prescribe at, in the resource's units.
        level: confidence level of the regression intervals.

    Returns:
        ``Approach1Prescription`` with the three lines and their values at the budgets.
    """
    r = np.asarray(resource, dtype=np.float64)
    n = np.asarray(params, dtype=np.float64)
    d = np.asarray(tokens, dtype=np.float64)
    budget_arr = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    lines = fit_power_line(r, n), fit_power_line(r, d), fit_power_line(r, d / n)
    return Approach1Prescription(
        budgets=budget_arr,
        level=level,
        params_line=lines[0],
        tokens_line=lines[1],
        tokens_per_param_line=lines[2],
        params=lines[0].predict(budget_arr, level),
        tokens=lines[1].predict(budget_arr, level),
        tokens_per_param=lines[2].predict(budget_arr, level),
    )
