"""Approach 1: compute-efficient envelopes and power-law prescriptions.

Chinchilla's approach 1 (Hoffmann et al. 2022), as run by the Gemstones paper (arXiv 2502.06857):
place every checkpoint at (log resource, log loss), where the resource is training FLOPs (or GPU
hours); keep the efficient ones, those on the lower convex hull (or, alternatively, the minimiser of
each log-spaced resource bucket); and regress log params, log tokens and log tokens-per-parameter on
log resource by least squares. The paper's published lines use natural logs and its own FLOPs
accounting (``registry.suites.gemstones.architecture.flops_per_token(width, depth) * tokens``); that accounting is
passed in here as numbers: this package never computes FLOPs itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitting.errors import FitInputError
from fitting.result import ResultMixin


@dataclass(frozen=True)
class PowerLawLine(ResultMixin):
    """Least-squares line ``log y = slope * log resource + intercept`` (natural logs).

    Attributes:
        label: what y is (``"params"``, ``"tokens"``, ``"tokens_per_param"``).
        slope: fitted exponent.
        intercept: fitted log-scale intercept.
        slope_stderr: standard error of the slope (nan with fewer than 3 points).
        intercept_stderr: standard error of the intercept.
        slope_ci: 95% confidence interval of the slope (Student t).
        intercept_ci: 95% confidence interval of the intercept.
        n_points: points regressed.
    """

    label: str
    slope: float
    intercept: float
    slope_stderr: float
    intercept_stderr: float
    slope_ci: tuple[float, float]
    intercept_ci: tuple[float, float]
    n_points: int

    def predict(self, resource: np.ndarray | float) -> np.ndarray:
        """y at a resource value: exp(intercept) * resource^slope."""
        return np.exp(self.intercept) * np.asarray(resource, dtype=np.float64) ** self.slope

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "label": self.label,
            "slope": self.slope,
            "intercept": self.intercept,
            "slope_stderr": self.slope_stderr,
            "intercept_stderr": self.intercept_stderr,
            "slope_ci": list(self.slope_ci),
            "intercept_ci": list(self.intercept_ci),
            "n_points": self.n_points,
        }


@dataclass(frozen=True)
class Approach1Fit(ResultMixin):
    """The efficient checkpoints and the prescription lines fitted through them.

    Attributes:
        resource_name: ``"flops"`` or ``"gpu_hours"`` (or any user label).
        method: ``"hull"`` or ``"buckets"``.
        efficient: indices (into the input arrays) of the efficient checkpoints, by resource.
        params: log params against log resource.
        tokens: log tokens against log resource.
        tokens_per_param: log(tokens / params) against log resource.
        n_points: checkpoints considered.
    """

    resource_name: str
    method: str
    efficient: np.ndarray
    params: PowerLawLine
    tokens: PowerLawLine
    tokens_per_param: PowerLawLine
    n_points: int

    def as_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "resource": self.resource_name,
            "method": self.method,
            "n_points": self.n_points,
            "n_efficient": int(self.efficient.size),
            "efficient": self.efficient.tolist(),
            "params": self.params.as_dict(),
            "tokens": self.tokens.as_dict(),
            "tokens_per_param": self.tokens_per_param.as_dict(),
        }


def lower_convex_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points on the lower convex hull of (x, y), ordered by x (monotone chain).

    Collinear points are dropped; among equal x only the lowest y can be on the hull.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.lexsort((y, x))
    hull: list[int] = []
    for i in order:
        while len(hull) >= 2:
            i1, i2 = hull[-2], hull[-1]
            cross = (x[i2] - x[i1]) * (y[i] - y[i1]) - (y[i2] - y[i1]) * (x[i] - x[i1])
            if cross <= 0:
                hull.pop()
            else:
                break
        if hull and x[hull[-1]] == x[i]:
            continue  # same x, higher (or equal) y: not on the lower hull
        hull.append(int(i))
    return np.asarray(hull, dtype=np.int64)


def bucket_minimisers(resource: np.ndarray, loss: np.ndarray, n_buckets: int = 20) -> np.ndarray:
    """Indices of the lowest-loss point in each of ``n_buckets`` log-spaced resource buckets.

    Empty buckets are skipped; the result is ordered by resource.
    """
    resource = np.asarray(resource, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if n_buckets < 1:
        raise FitInputError(f"n_buckets must be >= 1; got {n_buckets}")
    log_r = np.log(resource)
    edges = np.linspace(log_r.min(), log_r.max(), n_buckets + 1)
    which = np.clip(np.searchsorted(edges, log_r, side="right") - 1, 0, n_buckets - 1)
    chosen = []
    for b in range(n_buckets):
        members = np.flatnonzero(which == b)
        if members.size:
            chosen.append(int(members[np.lexsort((members, loss[members]))[0]]))
    chosen_arr = np.asarray(chosen, dtype=np.int64)
    return chosen_arr[np.argsort(resource[chosen_arr], kind="stable")]


def fit_line(log_resource: np.ndarray, log_y: np.ndarray, label: str) -> PowerLawLine:
    """Ordinary least squares of ``log_y`` on ``log_resource`` with standard errors and 95% CIs
    (``fitting.stats.fit_log_linear``, Student-t intervals; NaN errors from 2 points)."""
    from fitting.stats import fit_log_linear

    x = np.asarray(log_resource, dtype=np.float64)
    y = np.asarray(log_y, dtype=np.float64)
    n = x.size
    if n < 2 or np.ptp(x) == 0:
        raise FitInputError(
            f"a power-law line needs at least 2 points with distinct resource; got {n}"
        )
    line = fit_log_linear(x, y)
    slope, intercept = line.slope, line.intercept
    slope_se, intercept_se = float(line.stderr[1]), float(line.stderr[0])
    return PowerLawLine(
        label=label,
        slope=slope,
        intercept=intercept,
        slope_stderr=slope_se,
        intercept_stderr=intercept_se,
        slope_ci=line.t_interval(1, 0.95),
        intercept_ci=line.t_interval(0, 0.95),
        n_points=int(n),
    )


def _check_positive(name: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
    if bad.size:
        rows = ", ".join(str(int(i)) for i in bad[:10])
        raise FitInputError(f"{name} must be positive and finite; bad value(s) at row(s) {rows}")
    return arr


def fit_approach1(
    resource: np.ndarray,
    loss: np.ndarray,
    params: np.ndarray,
    tokens: np.ndarray,
    *,
    method: str = "hull",
    n_buckets: int = 20,
    resource_name: str = "flops",
) -> Approach1Fit:
    """Approach 1: efficient checkpoints by resource, then power-law lines through them.

    Args:
        resource: training FLOPs (or GPU hours) of each checkpoint, positive.
        loss: its loss.
        params: its parameter count (with or without embeddings, the caller's accounting).
        tokens: tokens seen.
        method: ``"hull"`` (lower convex hull of log resource vs log loss) or ``"buckets"``.
        n_buckets: buckets for ``method="buckets"``.
        resource_name: label stored in the result.

    Returns:
        ``Approach1Fit``.

    Raises:
        FitInputError: empty or mismatched inputs, non-positive or non-finite values.
    """
    arrays = {
        "resource": resource,
        "loss": loss,
        "params": params,
        "tokens": tokens,
    }
    checked = {name: _check_positive(name, values) for name, values in arrays.items()}
    sizes = {arr.size for arr in checked.values()}
    if len(sizes) != 1:
        raise FitInputError(
            f"resource, loss, params and tokens must have equal lengths; got {sizes}"
        )
    if not sizes.pop():
        raise FitInputError("no data points to fit (the selection is empty)")
    r, lo, n_p, n_t = (checked[k] for k in ("resource", "loss", "params", "tokens"))
    if method == "hull":
        efficient = lower_convex_hull(np.log(r), np.log(lo))
    elif method == "buckets":
        efficient = bucket_minimisers(r, lo, n_buckets)
    else:
        raise FitInputError(f"unknown approach-1 method {method!r}; valid: 'hull', 'buckets'")
    log_r = np.log(r[efficient])
    return Approach1Fit(
        resource_name=resource_name,
        method=method,
        efficient=efficient,
        params=fit_line(log_r, np.log(n_p[efficient]), "params"),
        tokens=fit_line(log_r, np.log(n_t[efficient]), "tokens"),
        tokens_per_param=fit_line(
            log_r, np.log(n_t[efficient]) - np.log(n_p[efficient]), "tokens_per_param"
        ),
        n_points=int(r.size),
    )
