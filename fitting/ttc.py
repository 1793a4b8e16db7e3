"""Test-time-compute curves of recurrent-depth models: forms, fits, AIC choice, summaries, flags.

Recurrent-depth models (Huginn-0125, arXiv 2502.05171) trade test-time compute for accuracy by
iterating a core block r times; their benchmark accuracy rises with r and saturates ("sigmoidal in
the number of iterations", Section 6 of the paper). This module fits such curves.

Curve forms, x being the recurrences r or the FLOPs they cost (any positive axis):

- ``sigmoid`` (accuracy): acc(x) = c + (A - c) / (1 + (x50 / x)^k), a logistic in log x whose floor
  c is fixed at the task's chance level; parameters A (ceiling, c < A <= 1), x50 > 0, k > 0.
- ``exponential`` (accuracy): acc(x) = c + (A - c) (1 - exp(-x / tau)); parameters A, tau.
- ``power`` (loss): L(x) = L_inf + B x^-alpha; parameters L_inf >= 0, B > 0, alpha > 0.
- ``exp_decay`` (loss): L(x) = L_inf + B exp(-x / tau); parameters L_inf, B, tau.
- ``exp_power`` (coverage against samples k, chance 0): cov(k) = exp(a k^b), a < 0, b < 0, the
  exponentiated power law of Brown et al. 2024 (arXiv 2407.21787); its ceiling is 1 by form, so
  k_q = (ln q / a)^(1/b) is the k of coverage q. ``COVERAGE_FORMS`` pits it against the sigmoid and
  exponential with chance 0; ``fitting.sampling`` builds on it.

Objectives: the binomial negative log-likelihood when the number of scored items n is known per
point (the value is a fraction of n Bernoulli outcomes), otherwise weighted least squares with
weights 1/stderr^2 (uniform when no stderr is given). Model choice: AIC = 2 * objective' + 2 p, where
objective' is the negative log-likelihood (binomial) or the Gaussian one (chi^2 / 2 with known
stderrs, (m/2) log(RSS/m) otherwise); lower is better.

Summaries. For the accuracy forms, the gain is measured from chance: r_q solves
acc(r_q) = c + q (A - c), so r50, r90 and r95 are the x at which the curve has climbed 50/90/95% of
the way from chance to its ceiling A (sigmoid: r_q = x50 (q / (1 - q))^(1/k); exponential:
r_q = -tau ln(1 - q)). The loss forms have no finite value at x -> 0, so their gain is measured from
the smallest measured x, x_ref: L(r_q) = L(x_ref) - q (L(x_ref) - L_inf). ``A`` is the ceiling (or
L_inf for losses). Confidence intervals come from a seeded parametric bootstrap: new data drawn from
the fitted curve (binomial with the known n, otherwise Gaussian with the stderrs or the residual
scatter, floored as below), each refitted from both the point estimate and the best start of the grid
(a single start would stay in a flat valley and understate the spread), percentile intervals.

Noise. The bootstrap draws binomial counts when n is known, Gaussian noise with the given stderrs
when they are known, and otherwise Gaussian noise whose scale is the larger of the residual scatter
and a documented floor: the binomial standard error sqrt(p (1 - p) / n_assumed) of an evaluation of
``assumed_n`` items (``fit_table`` uses the task's standard evaluation size from ``EVAL_SIZES``, else
``DEFAULT_ASSUMED_N`` = 1000), or ``LOSS_FLOOR_REL`` (0.1%) of the value for losses. Without the
floor, a curve that passes exactly through its points (as many points as parameters, or a
paper table rounded to 0.01%) has no residual scatter, and every resample of it is the same curve:
a zero-width interval that says nothing about the data.

Identifiability. A form with more free parameters than distinct x is not fitted (it has a family of
exact solutions, and the optimizer returns one of them, often at a bound); if no candidate form
remains, ``fit_ttc`` raises. The result carries warnings (``TTCResult.warnings``):
``exact_interpolant`` (as many distinct x as parameters: the curve passes through the points and its
summaries follow from the form, not from the data), ``form_not_fitted`` (a candidate refused for that
reason), ``parameter_at_bound`` (a parameter ended at the edge of its search range, e.g. a ceiling of
exactly 1), ``ceiling_extrapolated`` (the ceiling's gain over chance exceeds ``ceiling_ratio`` (1.25)
times the best measured gain, by more than twice the noise), ``r95_extrapolated`` (r95 beyond
``extrapolation_factor`` (4) times the largest measured x) and ``r50_extrapolated`` (r50 below the
smallest measured x divided by that factor).

Flags: ``still_climbing`` when r95 lies beyond the largest measured x (the fitted curve has not
reached 95% of its gain where it was last measured), or when the last measured doubling of x still
bought more than ``climb_fraction`` (default 5%) of the gain made so far (from chance for accuracies,
from the first point for losses). The second, data-based criterion matters when few points let a
3-parameter sigmoid bend flat right after the data (Huginn's OBQA: +1.2 points from r = 16 to 32,
9% of its gain, while its 4-point sigmoid puts r95 near 14); ``overthinking`` when the accuracy at the largest x is
lower than the best earlier accuracy by more than ``z`` combined standard errors (noise from the
stderrs, else binomial n, else the fit's residual scatter).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fitting.errors import FitInputError
from fitting.result import ResultMixin
from fitting.stats import percentile_table

Array = NDArray[np.float64]

CHANCE_LEVELS: Mapping[str, float] = {
    "arc_easy": 0.25,
    "arc_challenge": 0.25,
    "hellaswag": 0.25,
    "mmlu": 0.25,
    "openbookqa": 0.25,
    "sciq": 0.25,
    "piqa": 0.5,
    "winogrande": 0.5,
    "boolq": 0.5,
    "copa": 0.5,
    "parity": 0.5,
    "gsm8k": 0.0,
    "minerva_math": 0.0,
    "humaneval": 0.0,
    "mbpp": 0.0,
    "triviaqa": 0.0,
    "nq_open": 0.0,
}
"""Chance accuracy of known tasks. ARC, HellaSwag, MMLU, OBQA and SciQ are 4-way (25%), PiQA and
WinoGrande 2-way (50%), as the Huginn-0125 reference states; BoolQ and COPA are 2-way; ``parity``
is the tiny recurrent-depth task of ``gemstones.runs.recurrent`` (two classes). GSM8K, MATH,
HumanEval, MBPP, TriviaQA and NQ-Open are generative (exact match or pass@k): chance 0."""

GENERATIVE_CHANCE = 0.0
"""Default chance level of any ``generate_until`` task (exact match: a guess is never right)."""

EVAL_SIZES: Mapping[str, int] = {
    "arc_easy": 2376,
    "arc_challenge": 1172,
    "hellaswag": 10042,
    "mmlu": 14042,
    "openbookqa": 500,
    "piqa": 1838,
    "sciq": 1000,
    "winogrande": 1267,
    "boolq": 3270,
    "copa": 100,
    "gsm8k": 1319,
}
"""Items in the split lm-eval-harness scores by default (ARC, MMLU, OBQA, SciQ, GSM8K: test;
HellaSwag, PiQA, WinoGrande (xl), BoolQ, COPA: validation). Used only as the bootstrap's noise floor
when a table gives neither n nor stderrs; exact names only (``mmlu_anatomy`` is not all of MMLU)."""

DEFAULT_ASSUMED_N = 1000
"""Items assumed for the binomial noise floor of a task whose evaluation size is unknown."""

LOSS_FLOOR_REL = 1e-3
"""Noise floor of loss curves without stderrs: this fraction of each value."""

ACCURACY_FORMS = ("sigmoid", "exponential")
LOSS_FORMS = ("power", "exp_decay")
COVERAGE_FORMS = ("exp_power", "sigmoid", "exponential")
"""Candidate forms of coverage (pass@k) against the number of samples k (chance 0)."""
QUANTILES = (0.5, 0.9, 0.95)
_SUMMARY_NAMES = ("A", "r50", "r90", "r95")
DEFAULT_CI_LEVEL = 0.95
"""Central coverage of the bootstrap intervals (the package-wide default; 0.90 before issue 11)."""


def chance_level(
    task: str, overrides: Mapping[str, float] | None = None, *, output_type: str | None = None
) -> float:
    """Chance accuracy of a task: an override, the built-in table, the table entry of a prefix,
    or 0 for a generative task.

    A prefix is the name cut at an underscore, so ``mmlu_abstract_algebra`` finds ``mmlu`` and
    ``parity_len16`` finds ``parity``. A task whose lm-eval ``output_type`` is ``generate_until``
    defaults to ``GENERATIVE_CHANCE`` (0) unless an override or the table says otherwise.

    Example:
        >>> chance_level("mmlu_anatomy"), chance_level("bbh_cot_fewshot_navigate", output_type="generate_until")
        (0.25, 0.0)

    Raises:
        FitInputError: the task is unknown, not generative, and no override is given.
    """
    known_level = _tabled_chance(task, overrides)
    if known_level is not None:
        return known_level
    if output_type == "generate_until":
        return GENERATIVE_CHANCE
    known = ", ".join(sorted(CHANCE_LEVELS))
    raise FitInputError(
        f"no chance level known for task {task!r}; pass one, e.g. {task}=0.25 for a 4-way "
        f"multiple-choice task or {task}=0 for a generative one; known: {known}"
    )


def _tabled_chance(task: str, overrides: Mapping[str, float] | None) -> float | None:
    for table in (overrides or {}, CHANCE_LEVELS):
        if task in table:
            return float(table[task])
    parts = task.split("_")
    for cut in range(len(parts) - 1, 0, -1):
        prefix = "_".join(parts[:cut])
        for table in (overrides or {}, CHANCE_LEVELS):
            if prefix in table:
                return float(table[prefix])
    return None


def metric_is_loss(metric: str) -> bool:
    """Whether a metric name denotes a lower-is-better quantity (loss, perplexity, bits per byte)."""
    name = metric.lower()
    return any(word in name for word in ("loss", "perplexity", "ppl", "bits_per_byte", "bpb"))


# ----------------------------------------------------------------------------------------------
# Curve forms. Each maps unconstrained parameters theta to a prediction; bounds keep the optimizer
# in a sane region (x-scales within a few e-folds of the data).


def _expit(z: Array | float) -> Array:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


@dataclass(frozen=True)
class CurveForm:
    """A parametric curve y(x; theta) with its natural parameters and r_q formula.

    ``fixed_ceiling`` is the ceiling of a form whose ceiling is not a parameter (``exp_power``: a
    coverage that tends to 1); otherwise the ceiling is the parameter ``ceiling_name``.
    """

    name: str
    parameter_names: tuple[str, ...]
    predict: Callable[[Array, Array, float], Array]
    natural: Callable[[Array, float], dict[str, float]]
    x_at_gain: Callable[[dict[str, float], float, float], float]
    ceiling_name: str
    jacobian: Callable[[Array, Array, float], Array]
    fixed_ceiling: float | None = None

    @property
    def n_parameters(self) -> int:
        return len(self.parameter_names)


def _sigmoid_predict(theta: Array, x: Array, c: float) -> Array:
    a, log_x50, log_k = theta
    ceiling = c + (1.0 - c) * _expit(a)
    return c + (ceiling - c) / (1.0 + np.exp(np.exp(log_k) * (log_x50 - np.log(x))))


def _sigmoid_natural(theta: Array, c: float) -> dict[str, float]:
    a, log_x50, log_k = theta
    return {
        "A": float(c + (1 - c) * _expit(a)),
        "x50": float(np.exp(log_x50)),
        "k": float(np.exp(log_k)),
    }


def _sigmoid_x_at(p: dict[str, float], q: float, x_ref: float) -> float:
    return p["x50"] * (q / (1.0 - q)) ** (1.0 / p["k"])


def _sigmoid_jacobian(theta: Array, x: Array, c: float) -> Array:
    a, log_x50, log_k = theta
    s = _expit(a)
    gain = (1.0 - c) * s
    k = np.exp(log_k)
    z = log_x50 - np.log(x)
    e = np.exp(np.clip(k * z, -700.0, 700.0))
    inv = 1.0 / (1.0 + e)
    d_a = (1.0 - c) * s * (1.0 - s) * inv
    d_l50 = -gain * e * k * inv**2
    d_lk = -gain * e * k * z * inv**2
    return np.stack([d_a, d_l50, d_lk], axis=-1)


def _exponential_predict(theta: Array, x: Array, c: float) -> Array:
    a, log_tau = theta
    ceiling = c + (1.0 - c) * _expit(a)
    return c + (ceiling - c) * -np.expm1(-x / np.exp(log_tau))


def _exponential_jacobian(theta: Array, x: Array, c: float) -> Array:
    a, log_tau = theta
    s = _expit(a)
    u = x / np.exp(log_tau)
    decay = np.exp(-u)
    return np.stack(
        [(1.0 - c) * s * (1.0 - s) * (1.0 - decay), -(1.0 - c) * s * decay * u], axis=-1
    )


def _exponential_natural(theta: Array, c: float) -> dict[str, float]:
    a, log_tau = theta
    return {"A": float(c + (1 - c) * _expit(a)), "tau": float(np.exp(log_tau))}


def _exponential_x_at(p: dict[str, float], q: float, x_ref: float) -> float:
    return -p["tau"] * math.log1p(-q)


def _power_predict(theta: Array, x: Array, c: float) -> Array:
    log_linf, log_b, log_alpha = theta
    return np.exp(log_linf) + np.exp(log_b) * x ** (-np.exp(log_alpha))


def _power_jacobian(theta: Array, x: Array, c: float) -> Array:
    log_linf, log_b, log_alpha = theta
    alpha = np.exp(log_alpha)
    term = np.exp(log_b) * x ** (-alpha)
    return np.stack([np.full_like(x, np.exp(log_linf)), term, -term * np.log(x) * alpha], axis=-1)


def _power_natural(theta: Array, c: float) -> dict[str, float]:
    return dict(zip(("L_inf", "B", "alpha"), (float(v) for v in np.exp(theta)), strict=True))


def _power_x_at(p: dict[str, float], q: float, x_ref: float) -> float:
    return x_ref * (1.0 - q) ** (-1.0 / p["alpha"])


def _exp_decay_predict(theta: Array, x: Array, c: float) -> Array:
    log_linf, log_b, log_tau = theta
    return np.exp(log_linf) + np.exp(log_b) * np.exp(-x / np.exp(log_tau))


def _exp_decay_jacobian(theta: Array, x: Array, c: float) -> Array:
    log_linf, log_b, log_tau = theta
    u = x / np.exp(log_tau)
    term = np.exp(log_b) * np.exp(-u)
    return np.stack([np.full_like(x, np.exp(log_linf)), term, term * u], axis=-1)


def _exp_decay_natural(theta: Array, c: float) -> dict[str, float]:
    return dict(zip(("L_inf", "B", "tau"), (float(v) for v in np.exp(theta)), strict=True))


def _exp_decay_x_at(p: dict[str, float], q: float, x_ref: float) -> float:
    return x_ref - p["tau"] * math.log1p(-q)


def _exp_power_predict(theta: Array, x: Array, c: float) -> Array:
    log_a, log_b = theta
    return np.exp(-np.exp(log_a) * x ** (-np.exp(log_b)))


def _exp_power_jacobian(theta: Array, x: Array, c: float) -> Array:
    log_a, log_b = theta
    b = np.exp(log_b)
    decay = np.exp(log_a) * x ** (-b)
    y = np.exp(-decay)
    return np.stack([-y * decay, y * decay * np.log(x) * b], axis=-1)


def _exp_power_natural(theta: Array, c: float) -> dict[str, float]:
    log_a, log_b = theta
    return {"a": float(-np.exp(log_a)), "b": float(-np.exp(log_b))}


def _exp_power_x_at(p: dict[str, float], q: float, x_ref: float) -> float:
    return (math.log(q) / p["a"]) ** (1.0 / p["b"])


FORMS: Mapping[str, CurveForm] = {
    "sigmoid": CurveForm(
        "sigmoid",
        ("A", "x50", "k"),
        _sigmoid_predict,
        _sigmoid_natural,
        _sigmoid_x_at,
        "A",
        _sigmoid_jacobian,
    ),
    "exponential": CurveForm(
        "exponential",
        ("A", "tau"),
        _exponential_predict,
        _exponential_natural,
        _exponential_x_at,
        "A",
        _exponential_jacobian,
    ),
    "power": CurveForm(
        "power",
        ("L_inf", "B", "alpha"),
        _power_predict,
        _power_natural,
        _power_x_at,
        "L_inf",
        _power_jacobian,
    ),
    "exp_decay": CurveForm(
        "exp_decay",
        ("L_inf", "B", "tau"),
        _exp_decay_predict,
        _exp_decay_natural,
        _exp_decay_x_at,
        "L_inf",
        _exp_decay_jacobian,
    ),
    "exp_power": CurveForm(
        "exp_power",
        ("a", "b"),
        _exp_power_predict,
        _exp_power_natural,
        _exp_power_x_at,
        "",
        _exp_power_jacobian,
        fixed_ceiling=1.0,
    ),
}


def _starts_and_bounds(
    form: str, x: Array, y: Array
) -> tuple[list[Array], list[tuple[float, float]]]:
    lo, hi = float(np.log(x.min())), float(np.log(x.max()))
    if form == "sigmoid":
        starts = [
            np.array([a, l50, lk])
            for a in (-1.0, 1.0, 3.0)
            for l50 in (lo, 0.5 * (lo + hi), hi, hi + 1.0)
            for lk in (np.log(0.7), np.log(2.0), np.log(5.0))
        ]
        return starts, [(-12.0, 12.0), (lo - 5.0, hi + 5.0), (np.log(0.05), np.log(50.0))]
    if form == "exponential":
        scale = float(np.log(x.max()))
        starts = [
            np.array([a, lt]) for a in (-1.0, 1.0, 3.0) for lt in np.linspace(lo - 1, scale + 1, 5)
        ]
        return starts, [(-12.0, 12.0), (lo - 6.0, hi + 6.0)]
    if form == "exp_power":
        starts = [
            np.array([np.log(a), np.log(b)])
            for a in (0.03, 0.3, 1.0, 3.0, 10.0)
            for b in (0.1, 0.3, 0.7, 1.5)
        ]
        return starts, [(np.log(1e-6), np.log(1e4)), (np.log(1e-3), np.log(10.0))]
    span = max(float(y.max() - y.min()), 1e-6)
    floor = max(float(y.min()), 1e-6)
    if form == "power":
        starts = [
            np.array([np.log(floor * f), np.log(span * g), np.log(al)])
            for f in (0.5, 0.9)
            for g in (1.0, 3.0)
            for al in (0.3, 1.0, 2.0)
        ]
        return starts, [
            (np.log(1e-9), np.log(10 * y.max() + 1e-9)),
            (-30.0, 30.0),
            (np.log(1e-3), np.log(10.0)),
        ]
    if form == "exp_decay":
        starts = [
            np.array([np.log(floor * f), np.log(span * g), lt])
            for f in (0.5, 0.9)
            for g in (1.0, 3.0)
            for lt in np.linspace(lo, hi, 3)
        ]
        return starts, [
            (np.log(1e-9), np.log(10 * y.max() + 1e-9)),
            (-30.0, 30.0),
            (lo - 6.0, hi + 6.0),
        ]
    raise FitInputError(f"unknown curve form {form!r}; valid: {', '.join(FORMS)}")


# ----------------------------------------------------------------------------------------------
# Objectives.


@dataclass(frozen=True)
class _Data:
    x: Array
    y: Array
    chance: float
    n: Array | None
    stderr: Array | None

    @property
    def objective(self) -> str:
        return "binomial" if self.n is not None else "wls"


def _objective(form: CurveForm, data: _Data) -> Callable[[Array], tuple[float, Array]]:
    """The fit objective and its analytic gradient in the unconstrained parameters."""
    eps = 1e-12
    if data.n is not None:
        successes = data.y * data.n
        failures = (1.0 - data.y) * data.n

        def nll(theta: Array) -> tuple[float, Array]:
            p = np.clip(form.predict(theta, data.x, data.chance), eps, 1.0 - eps)
            value = -(successes * np.log(p) + failures * np.log1p(-p)).sum()
            d_p = -(successes / p - failures / (1.0 - p))
            return float(value), d_p @ form.jacobian(theta, data.x, data.chance)

        return nll
    weights = 1.0 / data.stderr**2 if data.stderr is not None else np.ones_like(data.y)

    def rss(theta: Array) -> tuple[float, Array]:
        resid = data.y - form.predict(theta, data.x, data.chance)
        d_pred = -2.0 * weights * resid
        return float((weights * resid**2).sum()), d_pred @ form.jacobian(theta, data.x, data.chance)

    return rss


def _log_likelihood_term(data: _Data, value: float) -> float:
    """The -log-likelihood (up to a data-only constant) used by AIC, from the objective's value."""
    if data.n is not None:
        return value
    if data.stderr is not None:
        return 0.5 * value
    m = len(data.y)
    return 0.5 * m * math.log(max(value, 1e-300) / m)


def _minimize(
    fun: Callable[[Array], tuple[float, Array]],
    starts: Sequence[Array],
    bounds: Sequence[tuple[float, float]],
    polish: int = 4,
) -> tuple[Array, float, int]:
    """Screen every start by its objective, polish the ``polish`` best with bounded truncated Newton.

    TNC rather than L-BFGS-B: on 2-3 parameters the latter spends its time in multi-threaded BLAS
    calls on tiny vectors (20-200x slower on a shared machine).
    """
    from scipy.optimize import minimize

    lower = np.array([b[0] for b in bounds])
    upper = np.array([b[1] for b in bounds])
    clipped = [np.clip(start, lower, upper) for start in starts]
    screened = sorted(clipped, key=lambda t: _finite_or_inf(fun(t)[0]))[:polish]
    best_theta, best_value, converged = None, math.inf, 0
    for start in screened:
        result = minimize(fun, start, jac=True, method="TNC", bounds=list(bounds))
        if np.isfinite(result.fun):
            converged += int(result.success)
            if result.fun < best_value:
                best_theta, best_value = np.asarray(result.x, dtype=np.float64), float(result.fun)
    if best_theta is None:
        raise FitInputError("every start of the curve fit failed (non-finite objective)")
    return best_theta, best_value, converged


def _finite_or_inf(value: float) -> float:
    return value if np.isfinite(value) else math.inf


# ----------------------------------------------------------------------------------------------
# Results.


@dataclass(frozen=True)
class CurveFit(ResultMixin):
    """One curve form fitted to one task's points.

    Attributes:
        form: the curve form's name (see ``FORMS``).
        parameters: natural parameters (e.g. ``{"A": .., "x50": .., "k": ..}``).
        theta: the unconstrained parameters the optimizer used (for ``predict``).
        chance: the fixed floor c (accuracy forms; NaN for loss forms).
        objective: ``"binomial"`` or ``"wls"``.
        objective_value: the minimised negative log-likelihood or weighted residual sum of squares.
        aic: Akaike information criterion (lower is better; comparable across forms on the same data).
        n_points: number of points fitted.
        converged_starts: starts whose optimizer reported success.
        at_bound: names of parameters that ended at the edge of their search range.
    """

    form: str
    parameters: dict[str, float]
    theta: tuple[float, ...]
    chance: float
    objective: str
    objective_value: float
    aic: float
    n_points: int
    converged_starts: int
    at_bound: tuple[str, ...] = ()

    def predict(self, x: ArrayLike) -> Array:
        """The fitted curve at x."""
        values = np.asarray(x, dtype=np.float64)
        return FORMS[self.form].predict(np.asarray(self.theta), values, self.chance)

    def x_at_gain(self, q: float, x_ref: float) -> float:
        """r_q: the x at which the curve has made a fraction q of its gain (see module docstring)."""
        if not 0.0 < q < 1.0:
            raise FitInputError(f"gain fraction q={q} must lie strictly between 0 and 1")
        return FORMS[self.form].x_at_gain(self.parameters, q, x_ref)


@dataclass(frozen=True)
class FitWarning(ResultMixin):
    """Something about a fit that limits what it can say (see the module docstring for the codes).

    Attributes:
        code: a stable identifier, e.g. ``exact_interpolant`` or ``r95_extrapolated``.
        message: one sentence naming the numbers behind it.
    """

    code: str
    message: str


@dataclass(frozen=True)
class TTCResult(ResultMixin):
    """The chosen curve of one task with its summaries, confidence intervals and flags.

    Attributes:
        fit: the curve form chosen by AIC.
        alternatives: every form tried, best AIC first (the chosen one included).
        x: the measured x (sorted); y: the measured values.
        ceiling: A (accuracy ceiling) or L_inf (loss floor).
        r50, r90, r95: x at 50/90/95% of the gain (in units of x: recurrences or FLOPs).
        ci: percentile bootstrap intervals ``{"A": (lo, hi), "r50": ..., "r90": ..., "r95": ...}``
            (empty when no bootstrap was requested).
        ci_level: the central coverage of ``ci``.
        parameter_ci: percentile bootstrap intervals of the chosen form's natural parameters
            (e.g. ``{"a": .., "b": ..}`` of ``exp_power``), from the same replicates.
        still_climbing: r95 lies beyond the largest measured x.
        last_doubling_gain: the gain of the last measured step per doubling of x, as a fraction of
            the gain made by the last point (see the module docstring).
        overthinking: the value at the largest x is worse than the best earlier value beyond noise.
        drop_z: the size of that drop in combined standard errors (0 when there is no drop).
        warnings: what limits the fit (exact interpolant, extrapolated A or r95, bounds, ...).
        noise: where the bootstrap's (and the overthinking test's) noise came from.
        distinct_x: the number of distinct measured x.
    """

    fit: CurveFit
    alternatives: tuple[CurveFit, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    ceiling: float
    r50: float
    r90: float
    r95: float
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    ci_level: float = DEFAULT_CI_LEVEL
    parameter_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    still_climbing: bool = False
    last_doubling_gain: float = 0.0
    overthinking: bool = False
    drop_z: float = 0.0
    warnings: tuple[FitWarning, ...] = ()
    noise: str = ""
    distinct_x: int = 0

    @property
    def x_max(self) -> float:
        """The largest measured x."""
        return max(self.x)

    @property
    def warning_codes(self) -> tuple[str, ...]:
        """The codes of ``warnings``, in order."""
        return tuple(w.code for w in self.warnings)

    def summary(self) -> str:
        """E.g. ``sigmoid: A=0.751 [0.74, 0.76], r95=14.2 [11, 19] (95% CI), still climbing``."""

        def with_ci(name: str, value: float) -> str:
            lo_hi = self.ci.get(name)
            return f"{value:.3g}" + ("" if lo_hi is None else f" [{lo_hi[0]:.3g}, {lo_hi[1]:.3g}]")

        flags = [
            f
            for f, on in (
                ("still climbing", self.still_climbing),
                ("overthinking", self.overthinking),
            )
            if on
        ]
        level = f" ({self.ci_level:.0%} CI)" if self.ci else ""
        return (
            f"{self.fit.form}: A={with_ci('A', self.ceiling)}, r95={with_ci('r95', self.r95)}"
            f"{level}{', ' + ', '.join(flags) if flags else ''}"
        )


def _validate(
    x: ArrayLike,
    y: ArrayLike,
    n: ArrayLike | None,
    stderr: ArrayLike | None,
    chance: float,
    is_loss: bool,
) -> _Data:
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    if xs.shape != ys.shape:
        raise FitInputError(f"x has {xs.size} values but y has {ys.size}")
    if xs.size < 2:
        raise FitInputError(f"a curve needs at least 2 points, got {xs.size}")
    if np.any(~np.isfinite(xs)) or np.any(xs <= 0):
        raise FitInputError(f"x must be finite and positive, got {xs.tolist()}")
    if np.any(~np.isfinite(ys)):
        raise FitInputError(f"y must be finite, got {ys.tolist()}")
    if not is_loss and (np.any(ys < 0) or np.any(ys > 1)):
        raise FitInputError(
            f"accuracies must lie in [0, 1] (convert percentages), got {ys.tolist()}"
        )
    if not is_loss and not 0.0 <= chance < 1.0:
        raise FitInputError(f"chance={chance} must lie in [0, 1)")
    ns = None
    if n is not None:
        ns = np.asarray(n, dtype=np.float64).ravel()
        if ns.shape != xs.shape or np.any(~np.isfinite(ns)) or np.any(ns <= 0):
            raise FitInputError(
                f"n must hold one positive count per point, got {np.asarray(n).tolist()}"
            )
        if is_loss:
            ns = None
    ses = None
    if stderr is not None:
        ses = np.asarray(stderr, dtype=np.float64).ravel()
        if ses.shape != xs.shape or np.any(~np.isfinite(ses)) or np.any(ses <= 0):
            ses = None  # zero / missing stderrs cannot weight a fit: fall back to uniform weights
    order = np.argsort(xs, kind="stable")
    return _Data(
        xs[order],
        ys[order],
        chance,
        None if ns is None else ns[order],
        None if ses is None else ses[order],
    )


_BOUND_TOLERANCE = 1e-3
"""Distance (in the optimizer's log or logit units) within which a parameter counts as at a bound."""

_CEILING_LIMIT = 0.999
"""A ceiling that has climbed this fraction of the way from chance to 1 counts as at its bound (the
optimizer stops short of the logit bound once the gradient vanishes)."""


def _fit_form(form_name: str, data: _Data, start: Array | None = None, polish: int = 4) -> CurveFit:
    form = FORMS[form_name]
    starts, bounds = _starts_and_bounds(form_name, data.x, data.y)
    if start is not None:
        starts = [start, *starts]
    theta, value, converged = _minimize(_objective(form, data), starts, bounds, polish=polish)
    aic = 2.0 * _log_likelihood_term(data, value) + 2.0 * form.n_parameters
    natural = form.natural(theta, data.chance)
    at_bound = tuple(
        name
        for name, t, (lo, hi) in zip(form.parameter_names, theta, bounds, strict=True)
        if min(t - lo, hi - t) < _BOUND_TOLERANCE
        or (name == "A" and natural["A"] - data.chance > _CEILING_LIMIT * (1.0 - data.chance))
    )
    return CurveFit(
        form=form_name,
        parameters=natural,
        theta=tuple(float(t) for t in theta),
        chance=data.chance,
        objective=data.objective,
        objective_value=value,
        aic=aic,
        n_points=len(data.y),
        converged_starts=converged,
        at_bound=at_bound,
    )


def fit_curve(
    x: ArrayLike,
    y: ArrayLike,
    *,
    form: str = "sigmoid",
    chance: float = 0.0,
    n: ArrayLike | None = None,
    stderr: ArrayLike | None = None,
) -> CurveFit:
    """Fit one curve form to (x, y) points by binomial likelihood (n given) or weighted least squares.

    Args:
        x: recurrences or FLOPs, positive.
        y: accuracies in [0, 1] (or losses for the loss forms).
        form: one of ``FORMS``.
        chance: the fixed floor c of the accuracy forms.
        n: scored items per point; switches to the binomial likelihood (accuracy forms only).
        stderr: standard errors per point; weights 1/stderr^2 in least squares.

    Returns:
        The best of a screened grid of starts, each polished by bounded truncated Newton (TNC).
    """
    if form not in FORMS:
        raise FitInputError(f"unknown curve form {form!r}; valid: {', '.join(FORMS)}")
    data = _validate(x, y, n, stderr, chance, is_loss=form in LOSS_FORMS)
    distinct = _distinct(data)
    if FORMS[form].n_parameters > distinct:
        raise FitInputError(_too_few_message((form,), distinct))
    return _fit_form(form, data)


def _distinct(data: _Data) -> int:
    return int(np.unique(data.x).size)


def _too_few_message(forms: Sequence[str], distinct: int) -> str:
    needs = ", ".join(f"{name} needs {FORMS[name].n_parameters}" for name in forms)
    return (
        f"{distinct} distinct x cannot identify the curve: a form needs at least as many distinct "
        f"x as free parameters ({needs}); measure more points"
    )


def _summaries(fit: CurveFit, x_ref: float) -> tuple[float, float, float, float]:
    form = FORMS[fit.form]
    ceiling = (
        form.fixed_ceiling if form.fixed_ceiling is not None else fit.parameters[form.ceiling_name]
    )
    r50, r90, r95 = (fit.x_at_gain(q, x_ref) for q in QUANTILES)
    return ceiling, r50, r90, r95


def curve_summaries(fit: CurveFit, x_ref: float) -> tuple[float, float, float, float]:
    """The ceiling and the x at 50/90/95% of the gain of a fitted curve (see the module docstring).

    Example:
        >>> fit = fit_curve([1, 2, 4, 8], [0.3, 0.45, 0.6, 0.7], form="exp_power")
        >>> ceiling, k50, k90, k95 = curve_summaries(fit, 1.0)
        >>> ceiling, round(float(fit.predict(k50)), 6)
        (1.0, 0.5)
    """
    return _summaries(fit, x_ref)


def _noise(data: _Data, fit: CurveFit, assumed_n: float, is_loss: bool) -> tuple[Array, str]:
    """Per-point noise scale of the data, and a phrase saying where it came from.

    Known stderrs or binomial n are used as they are. Otherwise the residual scatter is floored by
    the binomial standard error of ``assumed_n`` items (accuracies) or ``LOSS_FLOOR_REL`` of the
    value (losses), so that an exact interpolant still has noise to resample.
    """
    if data.stderr is not None:
        return data.stderr, "the given stderrs"
    if data.n is not None:
        p = np.clip(data.y, 1.0 / (data.n + 1.0), 1.0 - 1.0 / (data.n + 1.0))
        return np.sqrt(p * (1 - p) / data.n), "binomial with the given n"
    resid = data.y - fit.predict(data.x)
    dof = len(data.y) - FORMS[fit.form].n_parameters
    scatter = math.sqrt(float((resid**2).sum()) / dof) if dof > 0 else 0.0
    if is_loss:
        floor = LOSS_FLOOR_REL * np.abs(data.y)
        floor_name = f"{LOSS_FLOOR_REL:g} of each value"
    else:
        p = np.clip(data.y, 1.0 / (assumed_n + 1.0), 1.0 - 1.0 / (assumed_n + 1.0))
        floor = np.sqrt(p * (1 - p) / assumed_n)
        floor_name = f"binomial with an assumed n={assumed_n:g}"
    noise = np.maximum(floor, scatter)
    if np.all(floor >= scatter):
        return noise, f"floor: {floor_name} (no n or stderr given; residual scatter {scatter:.2g})"
    return noise, f"residual scatter {scatter:.2g} (floor: {floor_name})"


def _drop(data: _Data, noise: Array, is_loss: bool) -> float:
    """The worsening at the largest x against the best earlier point, in combined standard errors."""
    if len(data.y) < 2:
        return 0.0
    signed = -data.y if is_loss else data.y
    best = int(np.argmax(signed[:-1]))
    drop = signed[best] - signed[-1]
    if drop <= 0:
        return 0.0
    scale = math.sqrt(float(noise[best] ** 2 + noise[-1] ** 2))
    return math.inf if scale == 0 else float(drop / scale)


def _last_doubling_gain(data: _Data, is_loss: bool) -> float:
    """Gain of the last step per doubling of x, as a fraction of the gain made so far."""
    doublings = math.log2(data.x[-1] / data.x[-2])
    if doublings <= 0:
        return 0.0
    if is_loss:
        step, total = data.y[-2] - data.y[-1], data.y[0] - data.y[-1]
    else:
        step, total = data.y[-1] - data.y[-2], data.y[-1] - data.chance
    if total <= 0 or step <= 0:
        return 0.0
    return float(step / doublings / total)


@dataclass(frozen=True)
class _Limits:
    """Thresholds of the extrapolation warnings."""

    extrapolation_factor: float
    ceiling_ratio: float


def _warnings(
    best: CurveFit,
    data: _Data,
    noise: Array,
    summaries: tuple[float, float, float, float],
    refused: Sequence[str],
    limits: _Limits,
    is_loss: bool,
) -> tuple[FitWarning, ...]:
    """The warnings of one chosen fit (codes in the module docstring)."""
    ceiling, r50, _, r95 = summaries
    distinct = _distinct(data)
    p = FORMS[best.form].n_parameters
    found: list[FitWarning] = []
    if distinct <= p:
        found.append(
            FitWarning(
                "exact_interpolant",
                f"{distinct} distinct x for the {p} parameters of the {best.form}: the curve passes "
                "through the points, so A and r95 follow from the form, not from the data",
            )
        )
    for name in refused:
        found.append(
            FitWarning(
                "form_not_fitted",
                f"{name} not fitted: {FORMS[name].n_parameters} parameters, {distinct} distinct x",
            )
        )
    if best.at_bound:
        values = ", ".join(f"{k}={best.parameters[k]:.4g}" for k in best.at_bound)
        found.append(
            FitWarning(
                "parameter_at_bound",
                f"{values} at the edge of the search range: the data do not pin it down",
            )
        )
    x_min, x_max = float(data.x.min()), float(data.x.max())
    factor = limits.extrapolation_factor
    if is_loss:
        reference = float(data.y[0])
        measured, fitted = reference - float(data.y.min()), reference - ceiling
        edge = int(np.argmin(data.y))
        beyond = float(data.y.min()) - ceiling
    else:
        measured, fitted = float(data.y.max()) - data.chance, ceiling - data.chance
        edge = int(np.argmax(data.y))
        beyond = ceiling - float(data.y.max())
    fixed = FORMS[best.form].fixed_ceiling is not None  # assumed by the form, not fitted
    if (
        not fixed
        and fitted > limits.ceiling_ratio * max(measured, 0.0)
        and beyond > 2.0 * float(noise[edge])
    ):
        what = "L_inf" if is_loss else "A"
        found.append(
            FitWarning(
                "ceiling_extrapolated",
                f"{what}={ceiling:.4g} lies {beyond:.3g} beyond the best measured value "
                f"{float(data.y[edge]):.4g}: its gain is {_ratio(fitted, measured)} the measured one",
            )
        )
    if math.isfinite(r95) and r95 > factor * x_max:
        found.append(
            FitWarning(
                "r95_extrapolated",
                f"r95={r95:.4g} is {r95 / x_max:.3g}x the largest measured x ({x_max:.4g})",
            )
        )
    elif not math.isfinite(r95):
        found.append(FitWarning("r95_extrapolated", f"r95={r95} is not finite"))
    if r50 < x_min / factor:
        found.append(
            FitWarning(
                "r50_extrapolated",
                f"r50={r50:.3g} is {x_min / r50:.3g}x below the smallest measured x ({x_min:.4g})",
            )
        )
    return tuple(found)


def _ratio(fitted: float, measured: float) -> str:
    return f"{fitted / measured:.3g}x" if measured > 0 else "far beyond"


def fit_ttc(
    x: ArrayLike,
    y: ArrayLike,
    *,
    chance: float = 0.0,
    n: ArrayLike | None = None,
    stderr: ArrayLike | None = None,
    forms: Sequence[str] | None = None,
    loss: bool = False,
    bootstrap: int = 200,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    overthinking_z: float = 2.0,
    climb_fraction: float = 0.05,
    assumed_n: float | None = None,
    extrapolation_factor: float = 4.0,
    ceiling_ratio: float = 1.25,
) -> TTCResult:
    """Fit a test-time-compute curve: every identifiable form, choose by AIC, summarise, flag.

    Args:
        x: recurrences r (or FLOPs) of the measured points.
        y: accuracies in [0, 1] (``loss=False``) or losses (``loss=True``).
        chance: chance accuracy c, the fixed floor of the accuracy forms.
        n: scored items per point (binomial likelihood); None for weighted least squares.
        stderr: standard errors per point (least-squares weights, overthinking noise).
        forms: candidate forms; default ``ACCURACY_FORMS`` or ``LOSS_FORMS``. Forms with more free
            parameters than distinct x are not fitted (a ``form_not_fitted`` warning).
        loss: the values are lower-is-better.
        bootstrap: parametric bootstrap replicates for the CIs (0 = none).
        seed: seed of the bootstrap (>= 0).
        ci_level: central coverage of the percentile intervals.
        overthinking_z: how many combined standard errors a final drop must exceed to be flagged.
        climb_fraction: last-doubling gain (fraction of the gain so far) that counts as climbing.
        assumed_n: items per point for the binomial noise floor when neither n nor stderr is given
            (default ``DEFAULT_ASSUMED_N``).
        extrapolation_factor: r95 beyond this multiple of the largest x (or r50 below the smallest
            x over it) is warned about.
        ceiling_ratio: a ceiling whose gain over chance exceeds this multiple of the best measured
            gain (and the noise) is warned about.

    Returns:
        A ``TTCResult`` with the AIC-chosen fit, all alternatives, A, r50, r90, r95, CIs, flags and
        warnings.

    Raises:
        FitInputError: bad data or options, or no candidate form has as few parameters as there are
            distinct x.

    Example:
        >>> res = fit_ttc([1, 32], [0.30, 0.70], chance=0.25, bootstrap=50)
        >>> res.fit.form, res.warning_codes[0]
        ('exponential', 'exact_interpolant')
    """
    candidates = tuple(forms) if forms else (LOSS_FORMS if loss else ACCURACY_FORMS)
    for name in candidates:
        if name not in FORMS:
            raise FitInputError(f"unknown curve form {name!r}; valid: {', '.join(FORMS)}")
        if (name in LOSS_FORMS) != loss:
            kind = "loss" if loss else "accuracy"
            raise FitInputError(f"form {name!r} does not fit {kind} curves")
    if "exp_power" in candidates and chance != 0.0:
        raise FitInputError(
            f"chance={chance}: the exp_power form (coverage against samples) has floor 0; use chance=0"
        )
    if not 0.0 < ci_level < 1.0:
        raise FitInputError(f"ci_level={ci_level} must lie strictly between 0 and 1")
    if seed < 0:
        raise FitInputError(f"seed={seed} must be >= 0")
    if bootstrap < 0:
        raise FitInputError(f"bootstrap={bootstrap} must be >= 0")
    if bootstrap > 0:
        from fitting.bootstrap import check_bootstrap_options

        check_bootstrap_options(bootstrap, seed, ci_level)
    floor_n = DEFAULT_ASSUMED_N if assumed_n is None else float(assumed_n)
    if not (math.isfinite(floor_n) and floor_n >= 1):
        raise FitInputError(f"assumed_n={assumed_n} must be a finite count >= 1")
    if not (math.isfinite(extrapolation_factor) and extrapolation_factor >= 1):
        raise FitInputError(f"extrapolation_factor={extrapolation_factor} must be >= 1")
    if not (math.isfinite(ceiling_ratio) and ceiling_ratio >= 1):
        raise FitInputError(f"ceiling_ratio={ceiling_ratio} must be >= 1")
    data = _validate(x, y, n, stderr, chance, is_loss=loss)
    distinct = _distinct(data)
    fittable = tuple(name for name in candidates if FORMS[name].n_parameters <= distinct)
    refused = tuple(name for name in candidates if name not in fittable)
    if not fittable:
        raise FitInputError(_too_few_message(candidates, distinct))
    fits = sorted((_fit_form(name, data) for name in fittable), key=lambda f: f.aic)
    best = fits[0]
    x_ref = float(data.x.min())
    summaries = _summaries(best, x_ref)
    ceiling, r50, r90, r95 = summaries
    noise, noise_source = _noise(data, best, floor_n, loss)
    drop_z = _drop(data, noise, loss)
    climb = _last_doubling_gain(data, loss)
    intervals = (
        _bootstrap(best, data, noise, bootstrap, seed, ci_level, x_ref) if bootstrap > 0 else {}
    )
    ci = {k: v for k, v in intervals.items() if k in _SUMMARY_NAMES}
    parameter_ci = {k: v for k, v in intervals.items() if k not in _SUMMARY_NAMES}
    limits = _Limits(extrapolation_factor, ceiling_ratio)
    return TTCResult(
        fit=best,
        alternatives=tuple(fits),
        x=tuple(float(v) for v in data.x),
        y=tuple(float(v) for v in data.y),
        ceiling=ceiling,
        r50=r50,
        r90=r90,
        r95=r95,
        ci=ci,
        parameter_ci=parameter_ci,
        ci_level=ci_level,
        still_climbing=bool(r95 > data.x.max() or climb > climb_fraction),
        last_doubling_gain=climb,
        overthinking=bool(drop_z > overthinking_z),
        drop_z=drop_z,
        warnings=_warnings(best, data, noise, summaries, refused, limits, loss),
        noise=noise_source,
        distinct_x=distinct,
    )


def _bootstrap(
    fit: CurveFit, data: _Data, noise: Array, replicates: int, seed: int, level: float, x_ref: float
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of A, r50, r90, r95 from refits of data drawn around the fitted curve.

    Binomial counts when n is known; otherwise Gaussian noise of scale ``noise`` (the stderrs, or the
    floored residual scatter of ``_noise``), so an exact interpolant is resampled with real noise.
    The draws and the replicate loop are the bootstrap engine's (``fitting.bootstrap``,
    a ``Parametric`` resampler); the intervals are ``fitting.stats.percentile_table``'s.
    """
    from fitting.bootstrap import Parametric, Resample, run_bootstrap

    mean = fit.predict(data.x)
    names = ("A", "r50", "r90", "r95", *fit.parameters)

    def simulate(rng: np.random.Generator) -> Array:
        if data.n is not None:
            counts = np.round(data.n).astype(np.int64)
            return rng.binomial(counts, np.clip(mean, 0.0, 1.0)) / counts
        y_star = mean + rng.normal(0.0, 1.0, size=mean.shape) * noise
        if fit.form not in LOSS_FORMS:
            return np.clip(y_star, 0.0, 1.0)
        return np.maximum(y_star, 1e-12)

    def refit(sample: Resample) -> tuple[float, ...]:
        replica = _Data(data.x, np.asarray(sample.y), data.chance, data.n, data.stderr)
        again = _fit_form(fit.form, replica, start=np.asarray(fit.theta), polish=2)
        return (*_summaries(again, x_ref), *again.parameters.values())

    replicas = run_bootstrap(refit, Parametric(simulate), n_resamples=replicates, seed=seed)
    return percentile_table(list(replicas.values), names, level)


# ----------------------------------------------------------------------------------------------
# Tables: one curve per group of a tidy table.

GROUP_COLUMNS = ("model", "checkpoint", "task", "metric", "filter", "n_shot", "chat_template")


@dataclass(frozen=True)
class TaskCurve(ResultMixin):
    """The fitted curve of one group of a tidy table (one model, checkpoint, task, metric, ...)."""

    model: str
    checkpoint: str | None
    task: str
    metric: str
    filter: str | None
    n_shot: int | None
    chat_template: str | None
    x_name: str
    result: TTCResult
    r: tuple[int, ...]
    output_type: str | None = None


def fit_table(
    frame: Any,
    *,
    x: str = "r",
    chance: Mapping[str, float] | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    progress: Callable[[int, int], None] | None = None,
    assumed_n: float | None = None,
) -> list[TaskCurve]:
    """Fit a curve to every group of a tidy table (see ``gemstones.ttc.ingest.TIDY_SCHEMA``).

    Args:
        frame: a polars DataFrame with the tidy columns (``flops_per_token`` needed for x="flops";
            an optional ``output_type`` column makes ``generate_until`` tasks default to chance 0).
        x: ``"r"`` or ``"flops"`` (forward FLOPs per token at r).
        chance: per-task chance overrides (else ``CHANCE_LEVELS`` and its prefixes).
        bootstrap, seed, ci_level: as in ``fit_ttc``.
        progress: called as ``progress(done, total)`` after each group.
        assumed_n: the noise floor's item count for tasks without n or stderr; default the task's
            ``EVAL_SIZES`` entry, else ``DEFAULT_ASSUMED_N``.

    Returns:
        One ``TaskCurve`` per group, in the table's sort order. Values are averaged over rows that
        share r within a group (repeated evaluations); n is summed over them.

    Raises:
        FitInputError: x is unknown, FLOPs are missing for x="flops", chance levels are unknown (all
            such tasks are named at once), or a group has too few distinct r for any form.

    Example:
        >>> from gemstones.ttc.ingest import read_results  # doctest: +SKIP
        >>> curves = fit_table(read_results("huginn-0125_table1.csv"), bootstrap=50)  # doctest: +SKIP
    """
    import polars as pl

    if x not in ("r", "flops"):
        raise FitInputError(f"x={x!r}; valid: r, flops")
    if frame.is_empty():
        raise FitInputError("the table has no rows to fit")
    groups = frame.group_by(list(GROUP_COLUMNS), maintain_order=True)
    keys = [key for key, _ in groups]
    output_types = _output_types(frame)
    levels = _chance_levels(frame, chance, output_types)
    curves: list[TaskCurve] = []
    for index, key in enumerate(keys):
        values = dict(zip(GROUP_COLUMNS, key, strict=True))
        rows = frame.filter(
            pl.all_horizontal(
                pl.col(c).is_null() if values[c] is None else pl.col(c) == values[c]
                for c in GROUP_COLUMNS
            )
        )
        points = (
            rows.group_by("r")
            .agg(
                pl.col("value").mean(),
                pl.col("stderr").mean(),
                pl.col("stderr").null_count().alias("stderr_missing"),
                pl.col("n").sum(),
                pl.col("n").null_count().alias("n_missing"),
                pl.col("flops_per_token").first(),
            )
            .sort("r")
        )
        label = " / ".join(
            str(values[c]) for c in ("model", "checkpoint", "task", "metric", "filter") if values[c]
        )
        if points.height < 2:
            raise FitInputError(
                f"{label}: a curve needs at least 2 distinct r, got {points['r'].to_list()}"
            )
        if x == "flops":
            if points["flops_per_token"].null_count():
                raise FitInputError(
                    f"{label}: FLOPs per token unknown for model {values['model']!r}; "
                    "use --x r or give its architecture in config.model_args"
                )
            xs = points["flops_per_token"].to_numpy()
        else:
            xs = points["r"].to_numpy().astype(np.float64)
        is_loss = metric_is_loss(values["metric"])
        c = 0.0 if is_loss else levels[values["task"]]
        n = None if points["n_missing"].sum() else points["n"].to_numpy().astype(np.float64)
        se = None if points["stderr_missing"].sum() else points["stderr"].to_numpy()
        try:
            result = fit_ttc(
                xs,
                points["value"].to_numpy(),
                chance=c,
                n=n,
                stderr=se,
                loss=is_loss,
                bootstrap=bootstrap,
                seed=seed,
                ci_level=ci_level,
                assumed_n=assumed_n if assumed_n is not None else EVAL_SIZES.get(values["task"]),
            )
        except FitInputError as bad:
            raise FitInputError(f"{label}: {bad}") from None
        curves.append(
            TaskCurve(
                model=values["model"],
                checkpoint=values["checkpoint"],
                task=values["task"],
                metric=values["metric"],
                filter=values["filter"],
                n_shot=values["n_shot"],
                chat_template=values["chat_template"],
                x_name=x,
                result=result,
                r=tuple(int(v) for v in points["r"].to_list()),
                output_type=output_types.get(values["task"]),
            )
        )
        if progress is not None:
            progress(index + 1, len(keys))
    return curves


def _output_types(frame: Any) -> dict[str, str]:
    """The lm-eval output type of each task that has one (an optional ``output_type`` column)."""
    if "output_type" not in frame.columns:
        return {}
    known = frame.drop_nulls("output_type").unique(["task"], keep="first", maintain_order=True)
    return dict(zip(known["task"].to_list(), known["output_type"].to_list(), strict=True))


def _chance_levels(
    frame: Any, overrides: Mapping[str, float] | None, output_types: Mapping[str, str]
) -> dict[str, float]:
    """The chance level of every accuracy task of the table; one error naming all unknown tasks."""
    levels: dict[str, float] = {}
    unknown: list[str] = []
    pairs = frame.select("task", "metric").unique(maintain_order=True).iter_rows()
    for task, metric in pairs:
        if metric_is_loss(metric) or task in levels or task in unknown:
            continue
        try:
            levels[task] = chance_level(task, overrides, output_type=output_types.get(task))
        except FitInputError:
            unknown.append(task)
    if unknown:
        example = " ".join(f"--chance {t}=0.25" for t in unknown[:3])
        raise FitInputError(
            f"no chance level known for {len(unknown)} task(s): {', '.join(unknown)}; pass one per "
            f"task, e.g. {example} (0.25 for 4-way multiple choice, 0.5 for 2-way, 0 for generative)"
        )
    return levels


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so that it is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def curve_record(curve: TaskCurve) -> dict[str, Any]:
    """A strict-JSON-ready summary of one fitted curve (``{x}50`` etc. in units of the x axis).

    Non-finite numbers (an infinite drop z, say) become None, so ``json.dumps(...,
    allow_nan=False)`` always succeeds.
    """
    res, x = curve.result, curve.x_name
    return _json_safe(_record(curve, res, x))


def _record(curve: TaskCurve, res: TTCResult, x: str) -> dict[str, Any]:
    return {
        "model": curve.model,
        "checkpoint": curve.checkpoint,
        "task": curve.task,
        "metric": curve.metric,
        "filter": curve.filter,
        "n_shot": curve.n_shot,
        "chat_template": curve.chat_template,
        "output_type": curve.output_type,
        "x": x,
        "form": res.fit.form,
        "objective": res.fit.objective,
        "chance": res.fit.chance,
        "parameters": res.fit.parameters,
        "ceiling": res.ceiling,
        f"{x}50": res.r50,
        f"{x}90": res.r90,
        f"{x}95": res.r95,
        "ci_level": res.ci_level,
        "ci": {(k if k == "A" else k.replace("r", x, 1)): list(v) for k, v in res.ci.items()},
        "parameter_ci": {k: list(v) for k, v in res.parameter_ci.items()},
        "still_climbing": res.still_climbing,
        "last_doubling_gain": res.last_doubling_gain,
        "overthinking": res.overthinking,
        "drop_z": res.drop_z,
        "warnings": [{"code": w.code, "message": w.message} for w in res.warnings],
        "noise": res.noise,
        "distinct_x": res.distinct_x,
        "at_bound": list(res.fit.at_bound),
        "aic": {f.form: f.aic for f in res.alternatives},
        "points": {"r": list(curve.r), "x": list(res.x), "y": list(res.y)},
    }
