"""The law-family interface: one base class for every kind of law the package fits, its result
type and the registry of families.

A *family* is a parametric law ``y = f(x; theta)`` with named, constrained parameters, a start
grid, a fit on ``(x, y, weights, options)`` that returns a frozen :class:`FamilyFit`, derived
quantities and plot labels. The built-in members live one per module next to this one
(``power_sum``, ``isoflop``, ``loss_to_loss``, ``sigmoid``) and register themselves on import;
``fitting.laws`` imports them all.

Pure math: no file I/O, no ``gemstones`` imports; float64 throughout.

Example:
    >>> from fitting.laws import REGISTRY
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

from fitting.errors import FitInputError
from fitting.named_registry import Registry
from fitting.result import ResultMixin

DEFAULT_DELTA = 1e-4

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FamilyFit(ResultMixin):
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
        """Parameter bounds for this data (default: the static ``bounds``; none: unbounded)."""
        if not self.bounds:
            p = len(self.parameter_names)
            return np.full(p, -np.inf), np.full(p, np.inf)
        low = np.array([b[0] for b in self.bounds], dtype=np.float64)
        high = np.array([b[1] for b in self.bounds], dtype=np.float64)
        return low, high

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        """Derived quantities of a fit (default: none)."""
        return {}

    def parameter_names_for(self, inputs: Sequence[str]) -> tuple[str, ...]:
        """Parameter names when fitted on ``inputs`` (default: the fixed ``parameter_names``;
        families whose parameters follow their variables, like ``power_sum``, override it)."""
        return self.parameter_names

    def parameter_labels(self, inputs: Sequence[str]) -> tuple[str, ...]:
        """Plot labels of the parameters (default: their names)."""
        return self.parameter_names_for(inputs)

    def constraints(self, inputs: Sequence[str] | None = None) -> dict[str, str]:
        """Parameter name -> its constraint, as text (default: from the static ``bounds``)."""
        out = {}
        for name, (low, high) in zip(self.parameter_names, self.bounds, strict=False):
            out[name] = f"[{low:g}, {high:g}]"
        for name in self.parameter_names[len(out) :]:
            custom = type(self).data_bounds is not LawFamily.data_bounds
            out[name] = "bounded by the data" if custom else "real"
        return out

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
            from scipy.optimize import least_squares

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


def _register_builtins() -> None:
    import fitting.laws._builtins  # noqa: F401 - registers power_sum, isoflop, loss_to_loss, sigmoid


REGISTRY: Registry[LawFamily] = Registry("law family", FitInputError, _register_builtins)
"""Every law family by name; the built-ins register themselves on first use."""


def register_family(family: LawFamily) -> LawFamily:
    """Register a family instance under its ``name`` (usable from a user's own module)."""
    return REGISTRY.register(family.name, family)


def describe_families() -> list[dict[str, Any]]:
    """One record per registered family: name, description, inputs, parameters, constraints."""
    records = []
    for name, family in REGISTRY.items():
        records.append(
            {
                "name": name,
                "description": family.description,
                "inputs": list(family.inputs),
                "parameters": list(family.parameter_names_for(family.inputs)),
                "constraints": family.constraints(family.inputs),
            }
        )
    return records


def relative_errors(predicted: npt.ArrayLike, observed: npt.ArrayLike) -> np.ndarray:
    """``|predicted - observed| / observed`` elementwise."""
    p = np.asarray(predicted, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    return np.abs(p - o) / np.abs(o)
