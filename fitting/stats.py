"""Shared statistics: one percentile interval and one log-log least-squares fit.

Every bootstrap in the package (approach-3 refits, frontier bands, IsoFLOP, law families,
test-time-compute and repeated-sampling curves) summarises its replicates with
:func:`percentile_bounds` (Efron's percentile interval: the ``(1 - level) / 2`` and
``(1 + level) / 2`` quantiles, numpy's default linear interpolation), and every power-law line or
plane (approach 1, approach-1 prescriptions, IsoFLOP exponents, the GPU time model, SNR trends) is
fitted by :func:`fit_log_linear`: ordinary least squares of log y on an intercept and log
variables, with the coefficients' covariance from the residual variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fitting.errors import FitInputError

NonFinite = Literal["drop", "rank"]
"""How :func:`percentile_bounds` treats non-finite replicate values.

``"drop"`` leaves them out (a failed refit says nothing); ``"rank"`` keeps them as the most
extreme values (a target a replicate never reaches is "beyond every finite value"), so an interval
end that falls among them is infinite.
"""

_HUGE = 1e300


def check_level(level: float, name: str = "level") -> float:
    """``level`` if it lies strictly between 0 and 1.

    Raises:
        FitInputError: otherwise (the message names ``name`` and the valid range).
    """
    if isinstance(level, bool) or not 0.0 < float(level) < 1.0:
        raise FitInputError(f"{name}={level} must lie strictly between 0 and 1")
    return float(level)


def percentile_bounds(
    values: ArrayLike,
    level: float,
    *,
    axis: int | None = 0,
    nonfinite: NonFinite = "drop",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The central percentile interval of replicate values: ``(lower, upper)``.

    Args:
        values: replicate values; replicates run along ``axis`` (``None``: all values, one interval).
        level: central coverage in (0, 1), e.g. 0.95 for the 2.5% and 97.5% quantiles.
        axis: the replicate axis.
        nonfinite: ``"drop"`` (1-D only, or ``axis=None``) or ``"rank"`` (see ``NonFinite``).

    Returns:
        Arrays (0-d for one interval) of the lower and upper quantiles.

    Raises:
        FitInputError: a level outside (0, 1), or no finite value to drop down to.

    Example:
        >>> lo, hi = percentile_bounds([1.0, 2.0, 3.0], 0.5)
        >>> float(lo), float(hi)
        (1.5, 2.5)
    """
    check_level(level)
    tail = (1.0 - level) / 2.0
    arr = np.asarray(values, dtype=np.float64)
    if nonfinite == "drop":
        if axis is not None and arr.ndim > 1:
            raise FitInputError("nonfinite='drop' needs one quantity (1-D values or axis=None)")
        arr = arr.reshape(-1)
        arr = arr[np.isfinite(arr)]
        if arr.size == 0:
            raise FitInputError("no finite replicate values")
        lower, upper = np.quantile(arr, [tail, 1.0 - tail])
        return np.asarray(lower), np.asarray(upper)
    if nonfinite != "rank":
        raise FitInputError(f"nonfinite={nonfinite!r}; valid: drop, rank")
    clipped = np.clip(arr, -_HUGE, _HUGE)
    lower, upper = np.quantile(clipped, [tail, 1.0 - tail], axis=axis)
    lower, upper = (np.where(np.abs(v) >= _HUGE, np.sign(v) * np.inf, v) for v in (lower, upper))
    return np.asarray(lower), np.asarray(upper)


def percentile_table(
    draws: ArrayLike, names: tuple[str, ...] | list[str], level: float
) -> dict[str, tuple[float, float]]:
    """Central percentile intervals of each column of ``draws`` (one row per replicate), by name.

    Infinite values are ranked (``nonfinite="rank"``); no rows give an empty dict.

    Example:
        >>> percentile_table([(1.0,), (2.0,), (3.0,)], ("x",), 0.5)
        {'x': (1.5, 2.5)}
    """
    table = np.asarray(draws, dtype=np.float64)
    if table.size == 0:
        return {}
    lower, upper = percentile_bounds(table.reshape(table.shape[0], -1), level, nonfinite="rank")
    return {name: (float(lower[i]), float(upper[i])) for i, name in enumerate(names)}


@dataclass(frozen=True)
class LogLinearFit:
    """Least squares of log y on an intercept and log variables: ``log y = c0 + sum_j c_j log x_j``.

    Attributes:
        coefficients: ``(c0, c1, ..., ck)``, the intercept first.
        covariance: (k+1, k+1) covariance of the coefficients, ``s^2 (X^T X)^+`` with the residual
            variance ``s^2 = RSS / dof``; all NaN when ``dof`` is 0.
        residuals: log y minus the fitted log y, shape (n,).
        dof: residual degrees of freedom n - (k+1).
        n: number of points.
    """

    coefficients: NDArray[np.float64]
    covariance: NDArray[np.float64]
    residuals: NDArray[np.float64]
    dof: int
    n: int

    @property
    def intercept(self) -> float:
        """c0."""
        return float(self.coefficients[0])

    @property
    def slope(self) -> float:
        """c1, the exponent of the first (for a line, the only) variable."""
        return float(self.coefficients[1])

    @property
    def stderr(self) -> NDArray[np.float64]:
        """Standard errors of the coefficients (NaN when ``dof`` is 0)."""
        return np.sqrt(np.maximum(np.diag(self.covariance), 0.0))

    def t_interval(self, index: int, level: float = 0.95) -> tuple[float, float]:
        """Two-sided Student-t interval of one coefficient (NaN ends when ``dof`` is 0)."""
        from scipy import stats

        check_level(level)
        centre = float(self.coefficients[index])
        if self.dof < 1:
            return (float("nan"), float("nan"))
        half = float(stats.t.ppf(0.5 + level / 2, self.dof)) * float(self.stderr[index])
        return (centre - half, centre + half)


def fit_log_linear(log_x: ArrayLike, log_y: ArrayLike) -> LogLinearFit:
    """Ordinary least squares of ``log_y`` on an intercept and the columns of ``log_x``.

    Args:
        log_x: natural logs of the variables, shape (n,) for a line or (n, k).
        log_y: natural logs of the response, shape (n,).

    Returns:
        ``LogLinearFit``.

    Raises:
        FitInputError: mismatched shapes, or fewer points than coefficients.

    Example:
        >>> fit = fit_log_linear(np.log([1.0, 10.0, 100.0]), np.log([2.0, 20.0, 200.0]))
        >>> round(fit.slope, 12), round(fit.intercept - np.log(2.0), 12)
        (1.0, 0.0)
    """
    lx = np.asarray(log_x, dtype=np.float64)
    ly = np.asarray(log_y, dtype=np.float64).reshape(-1)
    columns = lx.reshape(-1, 1) if lx.ndim == 1 else lx
    if columns.ndim != 2 or columns.shape[0] != ly.size:
        raise FitInputError(
            f"log_x must have shape ({ly.size},) or ({ly.size}, k); got {np.shape(log_x)}"
        )
    design = np.column_stack([np.ones(ly.size), columns])
    if ly.size < design.shape[1]:
        raise FitInputError(
            f"a log-linear fit of {design.shape[1]} coefficients needs at least as many points; "
            f"got {ly.size}"
        )
    coefficients, *_ = np.linalg.lstsq(design, ly, rcond=None)
    residuals = ly - design @ coefficients
    dof = int(ly.size - design.shape[1])
    if dof > 0:
        sigma2 = float(residuals @ residuals) / dof
        covariance = sigma2 * np.linalg.pinv(design.T @ design)
    else:
        covariance = np.full((design.shape[1],) * 2, np.nan)
    return LogLinearFit(
        coefficients=np.asarray(coefficients, dtype=np.float64),
        covariance=covariance,
        residuals=residuals,
        dof=dof,
        n=int(ly.size),
    )
