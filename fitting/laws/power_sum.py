"""The ``power_sum`` family: approach-3 law forms and the summed Huber objective in log space.

A law over positive variables x_1..x_k predicts the loss as

    L_hat = exp(e) + sum_i exp(a_i) * x_i^(-alpha_i),

computed in log space as ``logsumexp(a_i - alpha_i log x_i, ..., e)`` so that it never overflows.
The parameter vector follows the layout of the Gemstones paper's code (arXiv 2502.06857):
``theta = [a_1..a_k, alpha_1..alpha_k, e]`` (length 2k + 1), coefficients on the natural-log scale.

The objective is the Chinchilla approach-3 one (Hoffmann et al. 2022, restated in DESIGN.md): the
Huber loss of the log residuals ``log L - log L_hat``, summed over points (not averaged: a mean makes
the objective so small that quasi-Newton stopping rules fire early).

Every function here takes an array namespace ``xp`` (``numpy`` or ``jax.numpy``) so the same formula
serves the JAX fitter and plain-numpy prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from fitting.errors import FitInputError
from fitting.laws.base import (
    DEFAULT_DELTA,
    FamilyFit,
    LawFamily,
    _weights,
    asymmetric_huber,
)


def parameter_count(k: int) -> int:
    """Length of the parameter vector of a k-variable law: 2k + 1."""
    return PowerSumLayout.of(k).size


@dataclass(frozen=True)
class PowerSumLayout:
    """Where each parameter of a sum of power laws over ``variables`` sits in ``theta``.

    The one definition of the paper layout ``theta = [a_1..a_k, alpha_1..alpha_k, e]`` (arXiv
    2502.06857's code): the fitter, start grid, bootstrap, frontier, prescriptions and plots ask
    it instead of slicing by hand. Arrays may carry leading batch axes (``theta[..., 2k+1]``) and
    be numpy or JAX arrays.

    Example:
        >>> layout = PowerSumLayout(("params", "tokens"))
        >>> layout.names
        ('a_params', 'a_tokens', 'alpha_params', 'alpha_tokens', 'e')
        >>> [v.tolist() for v in layout.split(np.arange(5.0))]
        [[0.0, 1.0], [2.0, 3.0], 4.0]
    """

    variables: tuple[str, ...]

    @classmethod
    def of(cls, variables: Sequence[str] | int) -> PowerSumLayout:
        """The layout over named variables, or over ``k`` unnamed ones (``x1..xk``)."""
        if isinstance(variables, int | np.integer):
            return cls(tuple(f"x{i + 1}" for i in range(int(variables))))
        return cls(tuple(str(v) for v in variables))

    @property
    def k(self) -> int:
        """Number of power-law terms."""
        return len(self.variables)

    @property
    def size(self) -> int:
        """Length of theta: 2k + 1."""
        return 2 * self.k + 1

    @property
    def names(self) -> tuple[str, ...]:
        """Names of theta's entries: ``a_<variable>``..., ``alpha_<variable>``..., ``e``."""
        return (*(f"a_{v}" for v in self.variables), *(f"alpha_{v}" for v in self.variables), "e")

    @property
    def labels(self) -> tuple[str, ...]:
        """Plot labels of theta's entries, e.g. ``a params``, ``α tokens``, ``e (log E)``."""
        return (
            *(f"a {v}" for v in self.variables),
            *(f"α {v}" for v in self.variables),
            "e (log E)",
        )

    def coefficient_index(self, variable: str) -> int:
        """Position of ``a_<variable>`` in theta."""
        return self.variables.index(variable)

    def exponent_index(self, variable: str) -> int:
        """Position of ``alpha_<variable>`` in theta."""
        return self.k + self.variables.index(variable)

    @property
    def e_index(self) -> int:
        """Position of ``e`` (log E) in theta."""
        return 2 * self.k

    def split(self, theta: Any) -> tuple[Any, Any, Any]:
        """``theta[..., 2k+1]`` -> ``(a[..., k], alpha[..., k], e[...])``."""
        k = self.k
        return theta[..., :k], theta[..., k : 2 * k], theta[..., 2 * k]

    def join(self, a: Any, alpha: Any, e: Any, xp: ModuleType = np) -> Any:
        """The inverse of :meth:`split`: ``[a..., alpha..., e]`` along the last axis."""
        e_column = xp.broadcast_to(xp.asarray(e)[..., None], (*xp.shape(a)[:-1], 1))
        return xp.concatenate([a, alpha, e_column], axis=-1)

    def to_centred(self, theta: Any, centre: Any) -> np.ndarray:
        """Re-centre the intercepts, ``b_i = a_i - alpha_i * centre_i``: an exact linear change
        of variables (``centre`` = mean log x) that removes most of the a/alpha correlation."""
        theta = np.asarray(theta, dtype=np.float64)
        a, alpha, e = self.split(theta)
        return self.join(a - alpha * centre, alpha, e)

    def from_centred(self, phi: Any, centre: Any) -> np.ndarray:
        """The inverse of :meth:`to_centred`."""
        phi = np.asarray(phi, dtype=np.float64)
        b, alpha, e = self.split(phi)
        return self.join(b + alpha * centre, alpha, e)

    def check(self, theta: Any) -> None:
        """Raise ``FitInputError`` unless theta's last axis has 2k + 1 entries."""
        n = np.shape(theta)[-1] if np.ndim(theta) else 0
        if n != self.size:
            raise FitInputError(
                f"theta has {n} entries but a law over {list(self.variables)} needs {self.size}"
            )


def split_theta(theta: Any, k: int) -> tuple[Any, Any, Any]:
    """Split ``theta[..., 2k+1]`` into ``(a[..., k], alpha[..., k], e[...])`` (the layout's)."""
    return PowerSumLayout.of(k).split(theta)


def log_prediction(theta: Any, log_x: Any, xp: ModuleType = np) -> Any:
    """Log of the predicted loss for every point.

    Args:
        theta: parameters ``[a_1..a_k, alpha_1..alpha_k, e]``, shape (2k+1,).
        log_x: natural logs of the variables, shape (n, k).
        xp: ``numpy`` or ``jax.numpy``.

    Returns:
        ``log L_hat``, shape (n,), a stable logsumexp of the k power-law terms and exp(e).
    """
    a, alpha, e = PowerSumLayout.of(log_x.shape[-1]).split(theta)
    terms = a - alpha * log_x  # (n, k)
    e_column = xp.broadcast_to(e, terms.shape[:-1])[..., None]
    stacked = xp.concatenate([terms, e_column], axis=-1)
    peak = xp.max(stacked, axis=-1)
    return peak + xp.log(xp.sum(xp.exp(stacked - peak[..., None]), axis=-1))


EXP_FLOOR = -700.0
"""Shifted log terms are floored here before ``exp``: far below what a float64 sum can hold, and it
keeps numpy off ``exp``'s slow underflow path."""


def log_prediction_jacobian_rows(
    theta: Any, log_x_t: Any, xp: ModuleType = np, stop_gradient: Callable[[Any], Any] | None = None
) -> tuple[Any, Any]:
    """Log predictions and their analytic Jacobian for a batch of parameter vectors, in ``xp``.

    With z = [a_i - alpha_i log x_i, e] and log L_hat = logsumexp(z), the derivatives are the
    softmax weights s of z: d/da_i = s_i, d/dalpha_i = -s_i log x_i, d/de = s_e (equal to
    ``jax.jacfwd`` of :func:`log_prediction`). Arrays are parameter-major, points last, so every
    reduction over the few terms is an elementwise operation on rows of points; the parameter
    axis follows :class:`PowerSumLayout`.

    Args:
        theta: (m, 2k+1) parameter vectors.
        log_x_t: (k, n) natural logs of the variables, one row per variable.
        xp: ``numpy`` or ``jax.numpy``.
        stop_gradient: ``jax.lax.stop_gradient`` under JAX (the shift by the peak is a constant).

    Returns:
        ``(log_pred (m, n), jacobian (m, 2k+1, n))``.

    Example:
        >>> pred, jac = log_prediction_jacobian_rows(np.array([[0.0, 1.0, 0.0]]), np.log([[1.0]]))
        >>> float(pred[0, 0]), jac[0, :, 0].tolist()  # log(1 + 1), [1/2, 0, 1/2]
        (0.6931471805599453, [0.5, -0.0, 0.5])
    """
    k, n = log_x_t.shape
    layout = PowerSumLayout.of(k)
    a, alpha, e = layout.split(theta)
    terms = a[:, :, None] - alpha[:, :, None] * log_x_t[None]
    e_row = xp.broadcast_to(e[:, None, None], (theta.shape[0], 1, n))
    z = xp.concatenate([terms, e_row], axis=1)  # (m, k+1, n)
    peak = xp.max(z, axis=1, keepdims=True)
    if stop_gradient is not None:
        peak = stop_gradient(peak)
    shifted = xp.exp(xp.maximum(z - peak, EXP_FLOOR))  # one exp per term: value and softmax
    total = xp.sum(shifted, axis=1, keepdims=True)
    log_pred = (peak + xp.log(total))[:, 0, :]
    soft = shifted / total
    # d/da_i = s_i, d/dalpha_i = -s_i log x_i, d/de = s_e, joined in the layout's order
    jacobian = xp.moveaxis(
        layout.join(
            xp.moveaxis(soft[:, :k], 1, -1),
            xp.moveaxis(-soft[:, :k] * log_x_t[None], 1, -1),
            soft[:, k],
            xp,
        ),
        -1,
        1,
    )
    return log_pred, jacobian


def log_prediction_jacobian(theta: Any, log_x: Any) -> tuple[Any, Any]:
    """:func:`log_prediction_jacobian_rows` in JAX with points first: ``log_x`` (n, k).

    Returns:
        ``(log_pred (m, n), jacobian (m, n, 2k+1))``.
    """
    import jax
    import jax.numpy as jnp

    log_pred, jacobian = log_prediction_jacobian_rows(
        jnp.asarray(theta), jnp.asarray(log_x).T, jnp, jax.lax.stop_gradient
    )
    return log_pred, jnp.moveaxis(jacobian, 1, -1)


def huber(residual: Any, delta: float, xp: ModuleType = np) -> Any:
    """Huber function: r^2/2 where |r| <= delta, else delta * (|r| - delta/2). Elementwise."""
    magnitude = xp.abs(residual)
    return xp.where(
        magnitude <= delta, 0.5 * residual * residual, delta * (magnitude - 0.5 * delta)
    )


def objective(
    theta: Any,
    log_x: Any,
    log_loss: Any,
    delta: float = DEFAULT_DELTA,
    weights: Any = None,
    xp: ModuleType = np,
) -> Any:
    """Summed (weighted) Huber loss of ``log L - log L_hat``: the approach-3 objective.

    Args:
        theta: parameters, shape (2k+1,).
        log_x: natural logs of the variables, shape (n, k).
        log_loss: natural logs of the measured losses, shape (n,).
        delta: Huber threshold (the paper uses 1e-4).
        weights: optional non-negative per-point weights, shape (n,), multiplying each Huber term.
        xp: ``numpy`` or ``jax.numpy``.

    Returns:
        The scalar objective.
    """
    terms = huber(log_loss - log_prediction(theta, log_x, xp), delta, xp)
    if weights is not None:
        terms = terms * weights
    return xp.sum(terms)


def chunked_objective(
    theta: np.ndarray,
    log_x: np.ndarray,
    log_loss: np.ndarray,
    delta: float = DEFAULT_DELTA,
    weights: np.ndarray | None = None,
    chunk: int = 1 << 16,
) -> float:
    """``objective`` in numpy, summed over chunks of points so that memory stays O(chunk).

    Up to one chunk it is exactly ``objective``; beyond, the chunk sums are added in order.

    Example:
        >>> theta = np.array([1.0, 0.5, 0.0])  # L = 1 + e * x^-0.5
        >>> chunked_objective(theta, np.log([[10.0]]), np.log([1.0 + np.e / np.sqrt(10.0)]))
        0.0
    """
    n = log_loss.shape[0]
    if n <= chunk:
        return float(objective(theta, log_x, log_loss, delta, weights))
    total = 0.0
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        w = None if weights is None else weights[part]
        total += float(objective(theta, log_x[part], log_loss[part], delta, w))
    return total


def validate_inputs(x: Any, loss: Any, variables: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Check fit inputs and return ``(log_x (n, k), log_loss (n,))`` as float64.

    Raises:
        FitInputError: wrong shapes, no points, or non-positive / non-finite values, naming the
            offending rows (0-based positions) and the variable.
    """
    x_arr = np.asarray(x, dtype=np.float64)
    if x_arr.ndim == 1:
        x_arr = x_arr[:, None]
    loss_arr = np.asarray(loss, dtype=np.float64).reshape(-1)
    if x_arr.ndim != 2 or x_arr.shape[1] != len(variables):
        raise FitInputError(
            f"x must have one column per variable {list(variables)}; got shape {x_arr.shape}"
        )
    if x_arr.shape[0] != loss_arr.shape[0]:
        raise FitInputError(
            f"x has {x_arr.shape[0]} rows but loss has {loss_arr.shape[0]}; they must match"
        )
    if loss_arr.shape[0] == 0:
        raise FitInputError("no data points to fit (the selection is empty)")
    columns = [*zip(variables, x_arr.T, strict=True), ("loss", loss_arr)]
    for name, column in columns:
        bad = np.flatnonzero(~np.isfinite(column) | (column <= 0))
        if bad.size:
            shown = ", ".join(str(int(i)) for i in bad[:10])
            more = f" and {bad.size - 10} more" if bad.size > 10 else ""
            raise FitInputError(
                f"{name} must be positive and finite; bad value(s) {column[bad[:3]].tolist()} "
                f"at row(s) {shown}{more}"
            )
    return np.log(x_arr), np.log(loss_arr)


def validate_delta(delta: Any) -> float:
    """The Huber threshold as a float, or an error: it must be positive and finite.

    Raises:
        FitInputError: a non-number, zero, negative, infinite (e.g. ``1e400``) or NaN delta.

    Example:
        >>> validate_delta(1e-4)
        0.0001
    """
    try:
        value = float(delta)
    except (TypeError, ValueError):
        raise FitInputError(
            f"delta (the Huber threshold) must be a number; got {delta!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise FitInputError(
            f"delta (the Huber threshold) must be positive and finite, e.g. 1e-4 (the paper's); "
            f"got {value!r}"
        )
    return value


def require_enough_data(
    log_x: np.ndarray, variables: Sequence[str], weights: np.ndarray | None = None
) -> int:
    """Refuse data that cannot determine a law: fewer distinct points than free parameters, or a
    variable that never varies.

    Points with zero weight do not count, and repeated rows count once.

    Args:
        log_x: natural logs of the variables, shape (n, k) (from ``validate_inputs``).
        variables: the k variable names, for the messages.
        weights: optional per-point weights (n,).

    Returns:
        The number of distinct points with positive weight.

    Raises:
        FitInputError: naming the counts, or the variable without variation and its value.

    Example:
        >>> require_enough_data(np.log([[1.0], [2.0], [4.0]]), ["n"])
        3
    """
    used = log_x if weights is None else log_x[np.asarray(weights) > 0]
    needed = parameter_count(len(variables))
    distinct = int(np.unique(used, axis=0).shape[0]) if used.size else 0
    if distinct < needed:
        counted = (
            f"{distinct} distinct point(s)"
            if distinct != log_x.shape[0]
            else f"{distinct} point(s)"
        )
        raise FitInputError(
            f"too few points: a law over {list(variables)} has {needed} free parameters but the "
            f"data have {counted}; give at least {needed}, or fit a law with fewer variables"
        )
    for name, column in zip(variables, used.T, strict=True):
        if np.all(column == column[0]):
            raise FitInputError(
                f"{name} does not vary: it is {math.exp(column[0]):.6g} in all {used.shape[0]} "
                f"points, so its exponent cannot be fitted; drop {name} from the law or add "
                f"points where it varies"
            )
    return distinct


class PowerSum(LawFamily):
    """``L = E + sum_i A_i x_i^-alpha_i`` over any positive variables (Chinchilla approach 3).

    Parameters are in the paper layout ``[a_1..a_k, alpha_1..alpha_k, e]`` (a = log A, e = log E),
    described by :meth:`layout`. The inputs default to ``("params", "tokens")``; pass
    ``options["variables"]`` to fit others. Its named configurations are :data:`NAMED_LAWS`.
    """

    name = "power_sum"
    description = "L = E + sum_i A_i x_i^-alpha_i (approach 3, Huber on log loss)"
    inputs = ("params", "tokens")
    parameter_names = ("a_params", "a_tokens", "alpha_params", "alpha_tokens", "e")
    labels: ClassVar[Mapping[str, str]] = {"x": "params, tokens", "y": "loss"}

    # ------------------------------------------------------------------ the layout, for any variables

    @staticmethod
    def layout(variables: Sequence[str] | int) -> PowerSumLayout:
        """The parameter layout of a law over ``variables`` (or ``k`` unnamed variables)."""
        return PowerSumLayout.of(variables)

    def parameter_names_for(self, inputs: Sequence[str]) -> tuple[str, ...]:
        """``a_<v>``..., ``alpha_<v>``..., ``e`` for the given variables."""
        return self.layout(inputs).names

    def parameter_labels(self, inputs: Sequence[str]) -> tuple[str, ...]:
        """Plot labels of the parameters (``a params``, ``α params``, ``e (log E)``)."""
        return self.layout(inputs).labels

    def constraints(self, inputs: Sequence[str] | None = None) -> dict[str, str]:
        """Unconstrained on the log scale; the fit flags exponents <= 0 or a vanishing E."""
        out = {}
        for name in self.parameter_names_for(inputs or self.inputs):
            if name.startswith("alpha_"):
                out[name] = "real; flagged when <= 0 (negative_exponent, exponent_near_zero)"
            elif name == "e":
                out[name] = "real (log E); flagged below -10 (irreducible_error_vanishing)"
            else:
                out[name] = "real (log A)"
        return out

    def start_grid_spec(self) -> Any:
        """The paper's product grid of starts (:class:`fitting.starts.StartGrid`)."""
        from fitting.starts import PAPER_GRID

        return PAPER_GRID

    def log_predict_theta(self, theta: Any, log_x: Any, xp: ModuleType = np) -> Any:
        """log L_hat at ``log_x`` (n, k): :func:`log_prediction`."""
        return log_prediction(theta, log_x, xp)

    def log_prediction_jacobian(self, theta: Any, log_x: Any) -> tuple[Any, Any]:
        """Batched log predictions and analytic Jacobian: :func:`log_prediction_jacobian`."""
        return log_prediction_jacobian(theta, log_x)

    # ------------------------------------------------------------------ derived quantities

    def frontier_parts(
        self, theta: Any, variables: Sequence[str], shape_logs: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, float, float]:
        """Split a law for the width-depth frontier: the part of the predicted loss that depends
        on the shape only (``E`` plus every non-token term, evaluated on ``shape_logs``), and the
        token term's ``(log coefficient, exponent)`` (``(-inf, 0)`` without a tokens term)."""
        a, alpha, e = self.layout(variables).split(np.asarray(theta, dtype=np.float64))
        shape_part = np.full(next(iter(shape_logs.values())).shape, np.exp(e))
        token_a, token_alpha = -np.inf, 0.0
        for i, name in enumerate(variables):
            if name == "tokens":
                token_a, token_alpha = float(a[i]), float(alpha[i])
            else:
                shape_part = shape_part + np.exp(a[i] - alpha[i] * shape_logs[name])
        return shape_part, token_a, token_alpha

    def params_tokens_terms(
        self, theta: Any, variables: Sequence[str] = ("params", "tokens")
    ) -> tuple[Any, Any, Any, Any, Any]:
        """``(log A, log B, alpha, beta, e)`` of a params-tokens law, in any variable order
        (arrays broadcast over leading resample axes): what the closed-form allocation reads.

        Raises:
            FitInputError: a law that is not over exactly params and tokens.
        """
        variables = tuple(variables)
        if set(variables) != {"params", "tokens"} or len(variables) != 2:
            raise FitInputError(
                "closed-form prescriptions need a params–tokens law; got variables "
                f"{list(variables)}"
            )
        layout = self.layout(variables)
        th = np.asarray(theta, dtype=np.float64)
        if th.shape[-1] != layout.size:
            raise FitInputError(
                f"a params–tokens theta has {layout.size} entries; got shape {th.shape}"
            )
        return (
            th[..., layout.coefficient_index("params")],
            th[..., layout.coefficient_index("tokens")],
            th[..., layout.exponent_index("params")],
            th[..., layout.exponent_index("tokens")],
            th[..., layout.e_index],
        )

    def predict(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.exp(log_prediction(np.asarray(params, dtype=np.float64), np.log(x)))

    def start_grid(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.zeros((1, self.layout(x.shape[1]).size))  # fit() screens start_grid_spec()

    def derived(self, fit: FamilyFit) -> dict[str, float]:
        a, alpha, e = self.layout(fit.inputs).split(np.asarray(fit.params, dtype=np.float64))
        out = {f"A_{v}": float(np.exp(min(a[i], 700.0))) for i, v in enumerate(fit.inputs)}
        out.update({f"alpha_{v}": float(al) for v, al in zip(fit.inputs, alpha, strict=True)})
        out["E"] = float(np.exp(e))
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
                r = log_prediction(th, log_x) - log_y
                return float(np.sum(w * asymmetric_huber(r, delta, penalty)))

            from scipy.optimize import minimize

            result = minimize(
                obj,
                theta,
                method="Nelder-Mead",
                options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-14},
            )
            result = minimize(obj, result.x, method="L-BFGS-B")
            theta, value = np.asarray(result.x), float(result.fun)
        k = len(variables)
        names = self.parameter_names_for(variables)
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


POWER_SUM = PowerSum()
"""The registered ``power_sum`` family: the approach-3 fitter, start grid, bootstrap, frontier,
prescriptions and plots ask it for the parameter layout (``POWER_SUM.layout(variables)``)."""
