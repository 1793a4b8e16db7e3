"""Law families: one interface for every kind of law the package fits, and a registry of them.

A *family* is a parametric law ``y = f(x; theta)`` with named, constrained parameters, a start
grid, a fit on ``(x, y, weights, options)`` that returns a frozen :class:`FamilyFit`, derived
quantities and plot labels. The registered families are:

- ``power_sum``: ``L = E + sum_i A_i x_i^-alpha_i`` (Chinchilla approach 3), wrapping
  :func:`fitting.approach3.fit_approach3`; option ``overestimate_penalty`` (> 1) re-polishes it on
  an asymmetric Huber objective that penalises predictions above the data (the lower-envelope fit
  of OLMo-core's model-ladder code, for sets that mix under-tuned runs);
- ``isoflop``: Chinchilla approach 2, ``N*(C) = G C^a`` from parabolas of log loss in log N at
  fixed FLOP budgets (see :func:`fit_isoflop`);
- ``loss_to_loss``: ``L_y = E_y + K (L_x - E_x)^kappa`` (Brandfonbrener et al., arXiv 2411.12925);
- ``sigmoid_accuracy``: ``acc = chance + (top - chance) / (1 + exp(k (L - L0)))``, the second step
  of the two-step task law of Bhagia et al. (arXiv 2412.04403) with a chance floor.

Pure math: no file I/O, no ``gemstones`` imports; float64 throughout.

Example:
    >>> from fitting.law_families import REGISTRY
    >>> REGISTRY.names()
    ('power_sum', 'isoflop', 'loss_to_loss', 'sigmoid_accuracy')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares, minimize

from fitting.errors import FitInputError
from fitting.named_registry import Registry

DEFAULT_DELTA = 1e-4

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FamilyFit:
    """The fit of a law family to data.

    Attributes:
        family: the family's registered name.
        inputs: names of the input columns of ``x``, in order.
        parameter_names: names of ``params``, in order.
        params: fitted parameters (natural scale).
        objective: the minimised objective (family-specific, see ``objective_name``).
        objective_name: what ``objective`` measures.
        n_points: points fitted.
        flags: warnings (parameters at a bound, no convergence, ...).
        extra: family-specific results (JSON-friendly).
    """

    family: str
    inputs: tuple[str, ...]
    parameter_names: tuple[str, ...]
    params: tuple[float, ...]
    objective: float
    objective_name: str
    n_points: int
    flags: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> float:
        """The fitted value of parameter ``name``."""
        if name not in self.parameter_names:
            raise FitInputError(
                f"unknown parameter {name!r}; available: {', '.join(self.parameter_names)}"
            )
        return self.params[self.parameter_names.index(name)]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The family's prediction at ``x`` (n, k) (see ``LawFamily.predict``)."""
        return REGISTRY.get(self.family).predict(np.asarray(self.params), x)

    def as_dict(self) -> dict[str, Any]:
        """Strict-JSON-friendly summary."""
        return {
            "family": self.family,
            "inputs": list(self.inputs),
            "params": {
                n: _finite(v) for n, v in zip(self.parameter_names, self.params, strict=True)
            },
            "objective": _finite(self.objective),
            "objective_name": self.objective_name,
            "n_points": self.n_points,
            "flags": list(self.flags),
            "derived": {k: _finite(v) for k, v in REGISTRY.get(self.family).derived(self).items()},
            **{k: v for k, v in self.extra.items()},
        }


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


# --------------------------------------------------------------------------- objectives


def asymmetric_huber(
    residual: np.ndarray, delta: float, overestimate_penalty: float = 1.0
) -> np.ndarray:
    """Huber loss of residuals (prediction - data), scaled by ``overestimate_penalty`` where the
    prediction is above the data (residual > 0).

    With a penalty above 1 the fit hugs the lower envelope of the data: points above the curve
    (under-tuned runs) cost less than points below it.

    Example:
        >>> float(asymmetric_huber(np.array([0.1]), 1.0, 3.0)[0])
        0.015
    """
    r = np.asarray(residual, dtype=np.float64)
    a = np.abs(r)
    base = np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))
    return np.where(r > 0, overestimate_penalty * base, base)


def _check_xy(x: Any, y: Any, k: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    x_arr = np.asarray(x, dtype=np.float64)
    if x_arr.ndim == 1:
        x_arr = x_arr[:, None]
    y_arr = np.asarray(y, dtype=np.float64).reshape(-1)
    if x_arr.ndim != 2 or x_arr.shape[1] != k:
        raise FitInputError(f"{name} needs x with {k} column(s); got shape {x_arr.shape}")
    if x_arr.shape[0] != y_arr.shape[0]:
        raise FitInputError(f"{name}: x has {x_arr.shape[0]} rows but y has {y_arr.shape[0]}")
    if y_arr.size == 0:
        raise FitInputError(f"{name}: no data to fit")
    bad = ~(np.all(np.isfinite(x_arr), axis=1) & np.isfinite(y_arr))
    if np.any(bad):
        raise FitInputError(f"{name}: non-finite values in rows {np.flatnonzero(bad)[:5].tolist()}")
    return x_arr, y_arr


def _weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w < 0):
        raise FitInputError(f"weights must be {n} finite non-negative values")
    return w


# --------------------------------------------------------------------------- the base


class LawFamily(ABC):
    """A family of laws: the extension point of the registry.

    Subclasses set ``name``, ``description``, ``inputs`` (names of the columns of x),
    ``parameter_names``, ``bounds`` (lower, upper per parameter), ``labels`` (axis labels for
    plots) and implement :meth:`predict`, :meth:`start_grid` and (optionally) :meth:`derived`.
    The default :meth:`fit` runs scipy's bounded trust-region least squares from every start on
    the family's residuals (``residuals``: log residuals unless ``log_space`` is false) with a
    Huber loss of threshold ``delta`` and keeps the best.
    """

    name: str = ""
    description: str = ""
    inputs: tuple[str, ...] = ()
    parameter_names: tuple[str, ...] = ()
    bounds: tuple[tuple[float, float], ...] = ()
    labels: ClassVar[Mapping[str, str]] = {}
    log_space: bool = True

    @abstractmethod
    def predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """y at x (n, k) for parameters ``params``."""

    def log_predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """log y at x."""
        return np.log(self.predict(params, x))

    @abstractmethod
    def start_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Starts (m, p) for the local solver, inside ``data_bounds``."""

    def data_bounds(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Parameter bounds for this data (default: the static ``bounds``)."""
        low = np.array([b[0] for b in self.bounds], dtype=np.float64)
        high = np.array([b[1] for b in self.bounds], dtype=np.float64)
        return low, high

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        """Derived quantities of a fit (default: none)."""
        return {}

    def residuals(self, params: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Residuals (prediction - data), on the log scale when ``log_space``."""
        pred = self.predict(params, x)
        if self.log_space:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.log(np.maximum(pred, 1e-300)) - np.log(y)
        return pred - y

    def fit(
        self,
        x: Any,
        y: Any,
        weights: Any = None,
        options: Mapping[str, Any] | None = None,
    ) -> FamilyFit:
        """Fit the family to data.

        Args:
            x: inputs, shape (n, k) with columns ``inputs`` (or (n,) for one input).
            y: outputs, shape (n,).
            weights: optional non-negative weights (n,).
            options: ``delta`` (Huber threshold, default 1e-4 for log-space families, 1e-2
                otherwise), ``max_nfev``, ``start`` (one start or an (m, p) array, instead of
                the family's grid: warm starts for bootstrap refits).

        Returns:
            The best :class:`FamilyFit` over the start grid.

        Raises:
            FitInputError: bad shapes, non-finite values, too few points.
        """
        opts = dict(options or {})
        x_arr, y_arr = _check_xy(x, y, len(self.inputs), self.name)
        if self.log_space and np.any(y_arr <= 0):
            raise FitInputError(f"{self.name}: y must be positive (log residuals)")
        p = len(self.parameter_names)
        if y_arr.size < p:
            raise FitInputError(f"{self.name} has {p} parameters; got only {y_arr.size} points")
        w = _weights(weights, y_arr.size)
        delta = float(opts.get("delta", DEFAULT_DELTA if self.log_space else 1e-2))
        low, high = self.data_bounds(x_arr, y_arr)
        sqrt_w = np.sqrt(w)
        best: tuple[float, np.ndarray, bool] | None = None
        starts = (
            np.atleast_2d(np.asarray(opts["start"], dtype=np.float64))
            if opts.get("start") is not None
            else self.start_grid(x_arr, y_arr)
        )
        for start in starts:
            start = np.clip(
                start, low + 1e-12 * (1 + np.abs(low)), high - 1e-12 * (1 + np.abs(high))
            )
            result = least_squares(
                lambda th: sqrt_w * self.residuals(th, x_arr, y_arr),
                start,
                bounds=(low, high),
                loss="huber",
                f_scale=delta,
                max_nfev=int(opts.get("max_nfev", 400)),
                x_scale="jac",
            )
            value = float(
                np.sum(w * asymmetric_huber(self.residuals(result.x, x_arr, y_arr), delta))
            )
            if np.isfinite(value) and (best is None or value < best[0]):
                best = (value, result.x, bool(result.success))
        if best is None:
            raise FitInputError(f"{self.name}: no start reached a finite objective")
        value, params, success = best
        flags = []
        span = high - low
        near = (np.abs(params - low) < 1e-6 * (1 + np.abs(span))) | (
            np.abs(params - high) < 1e-6 * (1 + np.abs(span))
        )
        for name, at in zip(self.parameter_names, near, strict=True):
            if at:
                flags.append(f"{name}_at_bound")
        if not success:
            flags.append("not_converged")
        return FamilyFit(
            family=self.name,
            inputs=self.inputs,
            parameter_names=self.parameter_names,
            params=tuple(float(v) for v in params),
            objective=value,
            objective_name=f"huber(delta={delta:g}) of {'log ' if self.log_space else ''}residuals",
            n_points=int(y_arr.size),
            flags=tuple(flags),
        )


REGISTRY: Registry[LawFamily] = Registry("law family", FitInputError)


def register_family(family: LawFamily) -> LawFamily:
    """Register a family instance under its ``name`` (usable from a user's own module)."""
    return REGISTRY.register(family.name, family)


# --------------------------------------------------------------------------- power_sum


class PowerSum(LawFamily):
    """``L = E + sum_i A_i x_i^-alpha_i`` over any positive variables (Chinchilla approach 3).

    Parameters are in the paper layout ``[a_1..a_k, alpha_1..alpha_k, e]`` (a = log A, e = log E).
    The inputs default to ``("params", "tokens")``; pass ``options["variables"]`` to fit others.
    """

    name = "power_sum"
    description = "L = E + sum_i A_i x_i^-alpha_i (approach 3, Huber on log loss)"
    inputs = ("params", "tokens")
    parameter_names = ("a_params", "a_tokens", "alpha_params", "alpha_tokens", "e")
    labels: ClassVar[Mapping[str, str]] = {"x": "params, tokens", "y": "loss"}

    def predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        from fitting.laws import log_prediction

        return np.exp(log_prediction(np.asarray(params, dtype=np.float64), np.log(x)))

    def start_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.zeros((1, 2 * x.shape[1] + 1))  # fit() screens the approach-3 grid instead

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        k = len(fit.inputs)
        alpha = fit.params[k : 2 * k]
        out = {f"A_{v}": float(np.exp(min(fit.params[i], 700.0))) for i, v in enumerate(fit.inputs)}
        out.update({f"alpha_{v}": float(a) for v, a in zip(fit.inputs, alpha, strict=True)})
        out["E"] = float(np.exp(fit.params[-1]))
        if fit.inputs == ("params", "tokens") and alpha[0] + alpha[1] > 0:
            # compute-optimal allocation with C = 6 N D: N* ~ C^(beta/(alpha+beta))
            out["params_exponent"] = float(alpha[1] / (alpha[0] + alpha[1]))
            out["tokens_exponent"] = float(alpha[0] / (alpha[0] + alpha[1]))
        return out

    def fit(
        self,
        x: Any,
        y: Any,
        weights: Any = None,
        options: Mapping[str, Any] | None = None,
    ) -> FamilyFit:
        """Fit by :func:`fitting.approach3.fit_approach3` (options: ``variables``, ``delta``,
        ``seed``, ``n_polish``, ``overestimate_penalty``).

        With ``overestimate_penalty`` p > 1 the approach-3 optimum is re-polished (scipy L-BFGS-B)
        on ``sum w * asymmetric_huber(log pred - log y, delta, p)``.
        """
        from fitting.approach3 import fit_approach3

        opts = dict(options or {})
        variables = tuple(opts.get("variables", self.inputs))
        delta = float(opts.get("delta", DEFAULT_DELTA))
        penalty = float(opts.get("overestimate_penalty", 1.0))
        if not np.isfinite(penalty) or penalty < 1.0:
            raise FitInputError(f"overestimate_penalty must be >= 1; got {penalty}")
        x_arr = np.asarray(x, dtype=np.float64)
        base = fit_approach3(
            x_arr,
            np.asarray(y, dtype=np.float64),
            variables=variables,
            delta=delta,
            seed=int(opts.get("seed", 0)),
            weights=None if weights is None else np.asarray(weights, dtype=np.float64),
            n_polish=int(opts.get("n_polish", 256)),
            start_grid=(
                None
                if opts.get("start") is None
                else np.atleast_2d(np.asarray(opts["start"], dtype=np.float64))
            ),
        )
        theta = np.asarray(base.theta, dtype=np.float64)
        value = float(base.objective)
        flags = list(base.flags)
        if penalty > 1.0:
            log_x = np.log(x_arr)
            log_y = np.log(np.asarray(y, dtype=np.float64))
            w = _weights(weights, log_y.size)

            def obj(th: np.ndarray) -> float:
                from fitting.laws import log_prediction

                r = log_prediction(th, log_x) - log_y
                return float(np.sum(w * asymmetric_huber(r, delta, penalty)))

            result = minimize(
                obj,
                theta,
                method="Nelder-Mead",
                options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-14},
            )
            result = minimize(obj, result.x, method="L-BFGS-B")
            theta, value = np.asarray(result.x), float(result.fun)
        k = len(variables)
        names = tuple(f"a_{v}" for v in variables) + tuple(f"alpha_{v}" for v in variables) + ("e",)
        return FamilyFit(
            family=self.name,
            inputs=variables,
            parameter_names=names,
            params=tuple(float(v) for v in theta),
            objective=value,
            objective_name=(
                f"huber(delta={delta:g}) of log residuals"
                + (f", overestimates x{penalty:g}" if penalty > 1 else "")
            ),
            n_points=int(x_arr.shape[0]),
            flags=tuple(flags),
            extra={"n_variables": k, "overestimate_penalty": penalty},
        )


# --------------------------------------------------------------------------- loss_to_loss


class LossToLoss(LawFamily):
    """``L_y = E_y + K (L_x - E_x)^kappa`` (Brandfonbrener et al., arXiv 2411.12925).

    Constraints: ``0 <= E_x < min L_x``, ``0 <= E_y < min L_y``, ``K > 0``, ``kappa > 0``.
    """

    name = "loss_to_loss"
    description = "L_y = E_y + K (L_x - E_x)^kappa between two losses"
    inputs = ("loss_x",)
    parameter_names = ("E_x", "E_y", "K", "kappa")
    labels: ClassVar[Mapping[str, str]] = {"x": "loss x", "y": "loss y"}

    def predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        e_x, e_y, k, kappa = np.asarray(params, dtype=np.float64)
        lx = np.asarray(x, dtype=np.float64).reshape(-1)
        with np.errstate(invalid="ignore"):
            return e_y + k * np.power(np.maximum(lx - e_x, 1e-300), kappa)

    def data_bounds(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        eps = 1e-6
        low = np.array([0.0, 0.0, 1e-8, 0.05])
        high = np.array([float(np.min(x)) - eps, float(np.min(y)) - eps, 1e4, 10.0])
        return low, high

    def start_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        min_x, min_y = float(np.min(x)), float(np.min(y))
        starts = []
        for fx in (0.0, 0.5, 0.8, 0.95):
            for fy in (0.0, 0.5, 0.8, 0.95):
                for kappa in (0.5, 1.0, 2.0):
                    e_x, e_y = fx * min_x, fy * min_y
                    dx = np.maximum(x[:, 0] - e_x, 1e-9)
                    k = float(
                        np.exp(np.median(np.log(np.maximum(y - e_y, 1e-9)) - kappa * np.log(dx)))
                    )
                    starts.append([e_x, e_y, min(max(k, 1e-6), 1e3), kappa])
        return np.array(starts)

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        return {"kappa": fit.param("kappa"), "E_y_minus_E_x": fit.param("E_y") - fit.param("E_x")}


# --------------------------------------------------------------------------- sigmoid_accuracy

#: Chance accuracy of the catalog's lighteval multiple-choice benchmarks (1 / number of choices).
CHANCE = {
    "arc_challenge": 0.25,
    "arc_easy": 0.25,
    "commonsense_qa": 0.2,
    "hellaswag": 0.25,
    "mmlu": 0.25,
    "openbookqa": 0.25,
    "piqa": 0.5,
    "siqa": 1.0 / 3.0,
    "winogrande": 0.5,
}


class SigmoidAccuracy(LawFamily):
    """``acc = chance + (top - chance) / (1 + exp(k (L - L0)))``: accuracy falls from ``top`` to
    ``chance`` as the loss L grows (step 2 of Bhagia et al., arXiv 2412.04403, with the floor
    fixed at chance: pass ``options["chance"]``).
    """

    name = "sigmoid_accuracy"
    description = "acc = chance + (top - chance) * sigmoid(-k (L - L0)) of a loss"
    inputs = ("loss",)
    parameter_names = ("top", "k", "L0")
    labels: ClassVar[Mapping[str, str]] = {"x": "loss", "y": "accuracy"}
    log_space = False

    def __init__(self) -> None:
        self._chance = 0.25

    def predict(self, params: np.ndarray, x: np.ndarray, chance: float | None = None) -> np.ndarray:
        top, k, l0 = np.asarray(params, dtype=np.float64)[:3]
        c = self._chance if chance is None else chance
        if len(params) > 3:
            c = float(params[3])
        lx = np.asarray(x, dtype=np.float64).reshape(-1)
        return c + (top - c) / (1.0 + np.exp(np.clip(k * (lx - l0), -700, 700)))

    def data_bounds(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = float(np.min(x)), float(np.max(x))
        return (
            np.array([self._chance + 1e-6, 1e-3, lo - 5 * (hi - lo) - 1.0]),
            np.array([1.0, 1e3, hi + 5 * (hi - lo) + 1.0]),
        )

    def start_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lo, hi = float(np.min(x)), float(np.max(x))
        starts = []
        for top in (min(float(np.max(y)) + 0.05, 0.99), 0.9, 0.99):
            for k in (1.0, 3.0, 10.0):
                for l0 in np.linspace(lo - (hi - lo), hi + (hi - lo), 5):
                    starts.append([max(top, self._chance + 0.01), k, l0])
        return np.array(starts)

    def fit(
        self, x: Any, y: Any, weights: Any = None, options: Mapping[str, Any] | None = None
    ) -> FamilyFit:
        """As :meth:`LawFamily.fit`; ``options["chance"]`` is the floor (default 0.25)."""
        opts = dict(options or {})
        chance = float(opts.get("chance", 0.25))
        if not 0.0 <= chance < 1.0:
            raise FitInputError(f"chance must be in [0, 1); got {chance}")
        self._chance = chance
        try:
            base = super().fit(x, y, weights, opts)
        finally:
            self._chance = 0.25
        return FamilyFit(
            family=base.family,
            inputs=base.inputs,
            parameter_names=(*base.parameter_names, "chance"),
            params=(*base.params, chance),
            objective=base.objective,
            objective_name=base.objective_name,
            n_points=base.n_points,
            flags=base.flags,
        )

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        return {"accuracy_at_L0": (fit.param("top") + fit.param("chance")) / 2}


# --------------------------------------------------------------------------- isoflop


@dataclass(frozen=True)
class IsoflopFit:
    """Approach 2: ``N*(C) = G * C^a`` from per-budget parabolas.

    Attributes:
        budgets: FLOP budgets with an interior parabola minimum, shape (b,).
        optimal_params: N* at each budget, shape (b,).
        optimal_loss: the parabola's minimum loss at each budget, shape (b,).
        params_exponent: a (slope of log N* on log C).
        params_intercept: log G.
        tokens_exponent: slope of log D* = log(C / (6 N*)) on log C, i.e. 1 - a.
        n_budgets_tried: budgets with enough runs to fit a parabola.
        n_runs: runs (distinct N) in the data.
    """

    budgets: np.ndarray
    optimal_params: np.ndarray
    optimal_loss: np.ndarray
    params_exponent: float
    params_intercept: float
    tokens_exponent: float
    n_budgets_tried: int
    n_runs: int

    def optimal_params_at(self, flops: np.ndarray | float) -> np.ndarray:
        """N*(C) from the fitted line."""
        return (
            np.exp(self.params_intercept)
            * np.asarray(flops, dtype=np.float64) ** self.params_exponent
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "params_exponent": self.params_exponent,
            "params_intercept": self.params_intercept,
            "tokens_exponent": self.tokens_exponent,
            "n_budgets": int(self.budgets.size),
            "n_budgets_tried": self.n_budgets_tried,
            "n_runs": self.n_runs,
            "budgets": self.budgets.tolist(),
            "optimal_params": self.optimal_params.tolist(),
            "optimal_loss": self.optimal_loss.tolist(),
        }


def interpolate_at_budgets(
    run: np.ndarray, flops: np.ndarray, loss: np.ndarray, budgets: np.ndarray
) -> np.ndarray:
    """Each run's loss at each budget, linear in (log C, log L) between its checkpoints.

    Args:
        run: run id of each point (n,).
        flops: cumulative FLOPs of each point (n,).
        loss: loss of each point (n,).
        budgets: FLOP budgets (b,).

    Returns:
        (r, b) losses, ``nan`` where a budget is outside a run's checkpoints; rows follow
        ``np.unique(run)``.
    """
    runs = np.unique(run)
    out = np.full((runs.size, budgets.size), np.nan)
    log_b = np.log(budgets)
    for i, r in enumerate(runs):
        mask = run == r
        order = np.argsort(flops[mask])
        lc, ll = np.log(flops[mask][order]), np.log(loss[mask][order])
        inside = (log_b >= lc[0]) & (log_b <= lc[-1])
        if lc.size >= 2:
            out[i, inside] = np.exp(np.interp(log_b[inside], lc, ll))
    return out


def fit_isoflop(
    run: Any,
    params: Any,
    flops: Any,
    loss: Any,
    *,
    n_budgets: int = 24,
    min_runs: int = 5,
    weights_by_run: Mapping[Any, float] | None = None,
) -> IsoflopFit:
    """Chinchilla approach 2 (IsoFLOP profiles) along training trajectories.

    For each of ``n_budgets`` log-spaced FLOP budgets inside the range every run can reach, each
    run's loss at the budget is interpolated between its checkpoints (log-log), a parabola
    ``log L = c2 (log N)^2 + c1 log N + c0`` is fitted over the runs that reach it (at least
    ``min_runs``), and its minimum N* is kept when the parabola is convex and the minimum lies
    inside the runs' N range. ``log N*`` is then regressed on ``log C``.

    Args:
        run: run id per point (n,).
        params: parameter count of each point's run (n,).
        flops: cumulative training FLOPs per point (n,).
        loss: loss per point (n,).
        n_budgets: budgets to try.
        min_runs: fewest runs a budget's parabola may use.
        weights_by_run: optional multiplicity of each run (bootstrap by runs).

    Returns:
        :class:`IsoflopFit`.

    Raises:
        FitInputError: bad shapes or fewer than 2 budgets with an interior minimum.

    Example:
        >>> # fit = fit_isoflop(table["run_name"], table["params"], table["flops"], table["loss"])
    """
    run = np.asarray(run)
    n_arr = np.asarray(params, dtype=np.float64)
    c_arr = np.asarray(flops, dtype=np.float64)
    l_arr = np.asarray(loss, dtype=np.float64)
    if not (run.shape == n_arr.shape == c_arr.shape == l_arr.shape) or run.ndim != 1:
        raise FitInputError("isoflop needs run, params, flops and loss of equal length (n,)")
    if np.any(
        ~np.isfinite(c_arr) | (c_arr <= 0) | ~np.isfinite(l_arr) | (l_arr <= 0) | (n_arr <= 0)
    ):
        raise FitInputError("isoflop needs positive, finite params, flops and loss")
    if not 3 <= min_runs <= 10_000 or not 2 <= n_budgets <= 10_000:
        raise FitInputError(f"need 3 <= min_runs and 2 <= n_budgets; got {min_runs}, {n_budgets}")
    runs = np.unique(run)
    run_n = np.array([n_arr[run == r][0] for r in runs])
    mult = (
        np.ones(runs.size)
        if weights_by_run is None
        else np.array([float(weights_by_run.get(r, 0.0)) for r in runs])
    )
    positive = c_arr[c_arr > 0]
    budgets = np.exp(np.linspace(np.log(positive.min()), np.log(positive.max()), n_budgets))
    grid = interpolate_at_budgets(run, c_arr, l_arr, budgets)
    keep_c, keep_n, keep_l = [], [], []
    tried = 0
    for j, c in enumerate(budgets):
        ok = np.isfinite(grid[:, j]) & (mult > 0)
        if np.count_nonzero(ok) < min_runs or np.unique(run_n[ok]).size < 3:
            continue
        tried += 1
        log_n, log_l, w = np.log(run_n[ok]), np.log(grid[ok, j]), mult[ok]
        c2, c1, _ = np.polyfit(log_n, log_l, 2, w=np.sqrt(w))
        if c2 <= 0:
            continue
        vertex = -c1 / (2 * c2)
        if not log_n.min() < vertex < log_n.max():
            continue
        keep_c.append(c)
        keep_n.append(np.exp(vertex))
        keep_l.append(float(np.exp(np.polyval([c2, c1, _], vertex))))
    if len(keep_c) < 2:
        raise FitInputError(
            f"isoflop: only {len(keep_c)} budget(s) of {tried} have an interior minimum; need 2"
        )
    slope, intercept = np.polyfit(np.log(keep_c), np.log(keep_n), 1)
    return IsoflopFit(
        budgets=np.array(keep_c),
        optimal_params=np.array(keep_n),
        optimal_loss=np.array(keep_l),
        params_exponent=float(slope),
        params_intercept=float(intercept),
        tokens_exponent=float(1.0 - slope),
        n_budgets_tried=tried,
        n_runs=int(runs.size),
    )


@dataclass(frozen=True)
class IsoflopBootstrap:
    """Percentile intervals of approach 2's exponents over resamples by runs."""

    fit: IsoflopFit
    params_exponent_ci: tuple[float, float]
    tokens_exponent_ci: tuple[float, float]
    resamples: np.ndarray
    n_failed: int
    ci: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            **self.fit.as_dict(),
            "params_exponent_ci": list(self.params_exponent_ci),
            "tokens_exponent_ci": list(self.tokens_exponent_ci),
            "ci": self.ci,
            "n_resamples": int(self.resamples.size),
            "n_failed": self.n_failed,
        }


def bootstrap_isoflop(
    run: Any,
    params: Any,
    flops: Any,
    loss: Any,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    **kwargs: Any,
) -> IsoflopBootstrap:
    """:func:`fit_isoflop` with a percentile interval from resampling whole runs with replacement.

    Resamples whose fit fails (fewer than 2 interior minima) are counted in ``n_failed``.
    """
    if not 1 <= n_resamples <= 100_000 or not 0 < ci < 1:
        raise FitInputError(
            f"need 1 <= n_resamples <= 100000 and 0 < ci < 1; got {n_resamples}, {ci}"
        )
    point = fit_isoflop(run, params, flops, loss, **kwargs)
    runs = np.unique(np.asarray(run))
    rng = np.random.default_rng(seed)
    values, failed = [], 0
    for _ in range(n_resamples):
        counts = np.bincount(rng.integers(0, runs.size, runs.size), minlength=runs.size)
        try:
            fit = fit_isoflop(
                run,
                params,
                flops,
                loss,
                weights_by_run=dict(zip(runs.tolist(), counts, strict=True)),
                **kwargs,
            )
            values.append(fit.params_exponent)
        except FitInputError:
            failed += 1
    arr = np.array(values)
    if arr.size < 2:
        raise FitInputError("isoflop bootstrap: fewer than 2 resamples could be fitted")
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    lo, hi = np.percentile(arr, q)
    return IsoflopBootstrap(
        fit=point,
        params_exponent_ci=(float(lo), float(hi)),
        tokens_exponent_ci=(float(1 - hi), float(1 - lo)),
        resamples=arr,
        n_failed=failed,
        ci=ci,
    )


class Isoflop(LawFamily):
    """Chinchilla approach 2 as a family: ``N*(C) = exp(log_G) C^a`` (see :func:`fit_isoflop`).

    ``fit(x, y)`` takes x = (run id, params, flops) columns and y = loss.
    """

    name = "isoflop"
    description = "approach 2: parabolas in log N per FLOP budget, N*(C) = G C^a"
    inputs = ("run", "params", "flops")
    parameter_names = ("log_G", "a")
    labels: ClassVar[Mapping[str, str]] = {"x": "FLOPs", "y": "N*"}

    def predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        log_g, a = np.asarray(params, dtype=np.float64)
        c = np.asarray(x, dtype=np.float64)
        c = c[:, -1] if c.ndim == 2 else c
        return np.exp(log_g) * c**a

    def start_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.zeros((1, 2))  # the fit is closed-form

    def fit(
        self, x: Any, y: Any, weights: Any = None, options: Mapping[str, Any] | None = None
    ) -> FamilyFit:
        """Fit with :func:`fit_isoflop` (options ``n_budgets``, ``min_runs``)."""
        opts = dict(options or {})
        x_arr = np.asarray(x, dtype=np.float64)
        if x_arr.ndim != 2 or x_arr.shape[1] != 3:
            raise FitInputError(
                f"isoflop needs x with columns run, params, flops; got {x_arr.shape}"
            )
        result = fit_isoflop(
            x_arr[:, 0],
            x_arr[:, 1],
            x_arr[:, 2],
            np.asarray(y, dtype=np.float64),
            n_budgets=int(opts.get("n_budgets", 24)),
            min_runs=int(opts.get("min_runs", 5)),
        )
        resid = np.log(result.optimal_params) - (
            result.params_intercept + result.params_exponent * np.log(result.budgets)
        )
        return FamilyFit(
            family=self.name,
            inputs=self.inputs,
            parameter_names=self.parameter_names,
            params=(result.params_intercept, result.params_exponent),
            objective=float(np.sum(resid**2)),
            objective_name="least squares of log N* on log C",
            n_points=int(np.asarray(y).size),
            extra={"isoflop": result.as_dict()},
        )

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        return {"params_exponent": fit.param("a"), "tokens_exponent": 1.0 - fit.param("a")}


for _family in (PowerSum(), Isoflop(), LossToLoss(), SigmoidAccuracy()):
    register_family(_family)


def describe_families() -> list[dict[str, Any]]:
    """One record per registered family: name, description, inputs, parameters."""
    return [
        {
            "name": REGISTRY.get(n).name,
            "description": REGISTRY.get(n).description,
            "inputs": list(REGISTRY.get(n).inputs),
            "parameters": list(REGISTRY.get(n).parameter_names),
        }
        for n in REGISTRY.names()
    ]


def _interval(values: npt.ArrayLike, q: Sequence[float]) -> tuple[float, float]:
    """The (low, high) percentiles ``q`` of ``values``."""
    low, high = np.percentile(np.asarray(values, dtype=np.float64), q)
    return float(low), float(high)


def relative_errors(predicted: npt.ArrayLike, observed: npt.ArrayLike) -> np.ndarray:
    """``|predicted - observed| / observed`` elementwise."""
    p = np.asarray(predicted, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    return np.abs(p - o) / np.abs(o)


# --------------------------------------------------------------------------- honest intervals


@dataclass(frozen=True)
class Profile:
    """The profile of the approach-3 objective along one parameter.

    With a Huber threshold far below the residuals (δ = 1e-4), the objective is δ·Σ|r| up to a
    constant, the negative log-likelihood of Laplace errors with scale b = Σ|r|/n; the profile
    likelihood-ratio interval at ``level`` keeps the values whose objective is within a factor
    ``threshold_ratio = 1 + q/(2n)`` of the best (q the chi-square(1) quantile).

    Attributes:
        parameter: the profiled parameter's name.
        values: the fixed values, shape (m,).
        objectives: the objective minimised over the other parameters at each, shape (m,).
        best_objective: the unconstrained optimum's objective.
        best_value: the parameter's value at the optimum.
        threshold_ratio: the interval's objective ratio.
        level: the interval's nominal level.
        interval: the contiguous range of ``values`` around the best under the threshold
            (an end equal to the scanned range's end means the interval reaches past it).
    """

    parameter: str
    values: np.ndarray
    objectives: np.ndarray
    best_objective: float
    best_value: float
    threshold_ratio: float
    level: float
    interval: tuple[float, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "parameter": self.parameter,
            "best_value": self.best_value,
            "best_objective": self.best_objective,
            "interval": list(self.interval),
            "level": self.level,
            "threshold_ratio": self.threshold_ratio,
            "values": self.values.tolist(),
            "objective_ratio": (self.objectives / self.best_objective).tolist(),
        }


def profile_power_sum(
    x: Any,
    y: Any,
    theta_hat: Any,
    *,
    variables: Sequence[str],
    parameter: str,
    values: Any,
    delta: float = DEFAULT_DELTA,
    level: float = 0.95,
) -> Profile:
    """Profile the approach-3 objective along one parameter (``a_<v>``, ``alpha_<v>`` or ``e``).

    At each fixed value the other parameters are re-optimised (scipy's trust-region least squares
    with a Huber loss of threshold ``delta``, warm-started from the neighbouring value); the
    reported objective is :func:`fitting.laws.objective`.

    Args:
        x: raw variables (n, k); y: losses (n,).
        theta_hat: the unconstrained fit ``[a..., alpha..., e]``.
        variables: the variable names.
        parameter: which parameter to fix.
        values: the values to fix it at (at most 400).
        delta: the Huber threshold.
        level: interval level.

    Example:
        >>> # p = profile_power_sum(x, y, fit.theta, variables=["params", "tokens"],
        >>> #                       parameter="alpha_tokens", values=np.linspace(0.4, 0.9, 26))
    """
    from scipy.stats import chi2

    from fitting.laws import log_prediction, objective

    variables = tuple(variables)
    names = tuple(f"a_{v}" for v in variables) + tuple(f"alpha_{v}" for v in variables) + ("e",)
    if parameter not in names:
        raise FitInputError(f"unknown parameter {parameter!r}; available: {', '.join(names)}")
    grid = np.asarray(values, dtype=np.float64).reshape(-1)
    if not 2 <= grid.size <= 400 or not np.all(np.isfinite(grid)):
        raise FitInputError(f"profile needs 2..400 finite values; got {grid.size}")
    if not 0 < level < 1:
        raise FitInputError(f"level must be in (0, 1); got {level}")
    log_x = np.log(np.asarray(x, dtype=np.float64))
    log_y = np.log(np.asarray(y, dtype=np.float64))
    theta_hat = np.asarray(theta_hat, dtype=np.float64)
    index = names.index(parameter)
    free = [i for i in range(theta_hat.size) if i != index]
    best = float(objective(theta_hat, log_x, log_y, delta))

    def solve(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        def resid(phi: np.ndarray) -> np.ndarray:
            theta = np.insert(phi, index, value)
            return log_prediction(theta, log_x) - log_y

        result = least_squares(resid, start, loss="huber", f_scale=delta, max_nfev=2000)
        theta = np.insert(result.x, index, value)
        return float(objective(theta, log_x, log_y, delta)), result.x

    k = len(variables)

    def shifted(theta: np.ndarray, value: float) -> np.ndarray:
        # moving alpha_j with a_j fixed rescales the term by x^-(change): re-centre a_j so the
        # term keeps its size at the mean log x_j (the change of variables approach 3 uses)
        out = np.array(theta, dtype=np.float64)
        if k <= index < 2 * k:
            j = index - k
            out[j] += (value - out[index]) * float(np.mean(log_x[:, j]))
        out[index] = value
        return out[free]

    objectives = np.empty(grid.size)
    order = np.argsort(np.abs(grid - theta_hat[index]))  # outward from the optimum
    solved: dict[int, np.ndarray] = {}
    for i in order:
        value = float(grid[i])
        candidates = [shifted(theta_hat, value)]
        near = min(solved, key=lambda j: abs(grid[j] - grid[i]), default=None)
        if near is not None:
            candidates.append(shifted(np.insert(solved[near], index, grid[near]), value))
        results = [solve(value, start) for start in candidates]
        objectives[i], solved[i] = min(results, key=lambda r: r[0])
    best = min(best, float(np.min(objectives)))
    ratio = 1.0 + float(chi2.ppf(level, 1)) / (2.0 * log_y.size)
    inside = objectives / best <= ratio
    centre = int(np.argmin(objectives))
    lo = hi = centre
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < grid.size - 1 and inside[hi + 1]:
        hi += 1
    sorted_grid = np.all(np.diff(grid) > 0)
    interval = (float(grid[lo]), float(grid[hi])) if sorted_grid else (float("nan"),) * 2
    return Profile(
        parameter=parameter,
        values=grid,
        objectives=objectives,
        best_objective=best,
        best_value=float(theta_hat[index]),
        threshold_ratio=ratio,
        level=level,
        interval=interval,
    )


def prediction_interval(
    thetas: Any,
    log_x: Any,
    residuals: Any,
    *,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prediction intervals of an approach-3 law: parameter uncertainty plus observation noise.

    Each bootstrap refit's log prediction is perturbed by a log residual of the point fit drawn
    at random; the interval is the percentile range of the results.

    Args:
        thetas: bootstrap refits (m, 2k+1) (``fitting.bootstrap.BootstrapResult.thetas``).
        log_x: natural logs of the points to predict (n, k).
        residuals: the point fit's log residuals (log y - log prediction), shape (r,).
        level: interval level.
        seed: seed of the residual draws.

    Returns:
        ``(low, median, high)`` predicted losses, each (n,); the confidence band alone is the
        percentile range of ``exp(log_prediction(thetas))``.
    """
    from fitting.laws import log_prediction

    thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    log_x = np.atleast_2d(np.asarray(log_x, dtype=np.float64))
    residuals = np.asarray(residuals, dtype=np.float64).reshape(-1)
    if not 0 < level < 1 or residuals.size == 0 or thetas.shape[0] < 2:
        raise FitInputError("prediction_interval needs 0 < level < 1, residuals and >= 2 refits")
    rng = np.random.default_rng(seed)
    preds = np.stack([log_prediction(t, log_x) for t in thetas])  # (m, n)
    noise = rng.choice(residuals, size=preds.shape)
    draws = np.exp(preds + noise)
    q = [(1 - level) / 2 * 100, 50, (1 + level) / 2 * 100]
    low, mid, high = np.percentile(draws, q, axis=0)
    return low, mid, high


@dataclass(frozen=True)
class FamilyBootstrap:
    """Percentile intervals of a family's parameters over resamples by groups (runs).

    Attributes:
        fit: the point fit.
        samples: refitted parameters, shape (m, p) (failed refits dropped).
        intervals: parameter name -> (low, high).
        derived_intervals: derived quantity -> (low, high).
        n_failed: refits that raised ``FitInputError``.
        ci: the interval level.
    """

    fit: FamilyFit
    samples: np.ndarray
    intervals: Mapping[str, tuple[float, float]]
    derived_intervals: Mapping[str, tuple[float, float]]
    n_failed: int
    ci: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            **self.fit.as_dict(),
            "ci": self.ci,
            "n_resamples": int(self.samples.shape[0]),
            "n_failed": self.n_failed,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "derived_intervals": {k: list(v) for k, v in self.derived_intervals.items()},
        }


def bootstrap_family(
    family: str,
    x: Any,
    y: Any,
    groups: Any,
    *,
    n_resamples: int = 100,
    seed: int = 0,
    ci: float = 0.95,
    options: Mapping[str, Any] | None = None,
) -> FamilyBootstrap:
    """Fit a registered family, then refit it on resamples of whole groups (runs), each warm-started
    at the point fit, and report percentile intervals of its parameters and derived quantities.

    Example:
        >>> # boot = bootstrap_family("loss_to_loss", lx, ly, shapes, n_resamples=100)
    """
    if not 2 <= n_resamples <= 100_000 or not 0 < ci < 1:
        raise FitInputError(
            f"need 2 <= n_resamples <= 100000 and 0 < ci < 1; got {n_resamples}, {ci}"
        )
    law = REGISTRY.get(family)
    x_arr = np.asarray(x, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    groups = np.asarray(groups)
    if groups.shape[0] != y_arr.shape[0]:
        raise FitInputError(f"groups must have {y_arr.shape[0]} entries; got {groups.shape[0]}")
    opts = dict(options or {})
    point = law.fit(x_arr, y_arr, options=opts)
    start = np.asarray(
        point.params[: len(point.params) - (1 if family == "sigmoid_accuracy" else 0)]
    )
    labels, index = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    samples, derived, failed = [], [], 0
    for _ in range(n_resamples):
        counts = np.bincount(rng.integers(0, labels.size, labels.size), minlength=labels.size)
        weights = counts[index].astype(np.float64)
        keep = weights > 0
        try:
            refit = law.fit(x_arr[keep], y_arr[keep], weights[keep], {**opts, "start": start})
        except FitInputError:
            failed += 1
            continue
        samples.append(refit.params)
        derived.append(law.derived(refit))
    if len(samples) < 2:
        raise FitInputError(f"{family} bootstrap: fewer than 2 resamples could be fitted")
    arr = np.array(samples)
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    intervals = {name: _interval(arr[:, i], q) for i, name in enumerate(point.parameter_names)}
    derived_intervals = {key: _interval([d[key] for d in derived], q) for key in derived[0]}
    return FamilyBootstrap(
        fit=point,
        samples=arr,
        intervals=intervals,
        derived_intervals=derived_intervals,
        n_failed=failed,
        ci=ci,
    )
