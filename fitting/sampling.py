"""Repeated sampling: pass@k estimates, coverage curves against samples k, and their power laws.

Sources (facts and formulas only):

- Brown et al. 2024, "Large Language Monkeys: Scaling Inference Compute with Repeated Sampling"
  (arXiv 2407.21787): coverage (the fraction of problems solved by at least one of k samples)
  follows an exponentiated power law, ``coverage(k) ~ exp(a k^b)`` with a < 0 and b < 0. That is
  the ``exp_power`` form of ``fitting.ttc``, fitted here next to the sigmoid and exponential forms
  and chosen by AIC.
- Chen et al. 2021 (Codex, arXiv 2107.03374) and Schaeffer et al. 2025, "How Do Large Language
  Monkeys Get Their Power (Laws)?" (arXiv 2502.17578): from n samples of a problem, c of them
  correct, ``pass_i@k = 1 - C(n - c, k) / C(n, k)`` is an unbiased estimate of
  ``1 - (1 - p_i)^k`` (p_i the problem's single-attempt success probability); the dataset's pass@k
  is the mean over problems.
- Schaeffer et al. 2025 also show that the aggregate power law comes from the distribution of the
  p_i: per-problem failure falls exponentially, ``(1 - p_i)^k``, but if the p_i have a density
  ~ p^(alpha - 1) near 0 (a Beta(alpha, beta), or one scaled to (0, s)), then
  ``1 - pass@k = E[(1 - p)^k] ~ Gamma(alpha) / (B(alpha, beta) s^alpha) * k^-alpha``, so
  ``-log pass@k ~ A k^-alpha``: the power-law exponent is alpha. They fit a (scaled) Beta to the
  p_i and read the exponent off it, which needs far fewer samples than fitting the curve.

The distribution is fitted here by maximum likelihood of the counts themselves: c_i ~ Binomial(n_i,
p_i) with p_i = s u_i, u_i ~ Beta(alpha, beta). With s = 1 this is the beta-binomial likelihood (as
in Kazdan et al. 2025, arXiv 2510.05197), exact for any n; unsolved problems (c = 0), which a
density fit to c/n cannot use, enter through P(c = 0 | n). With s < 1, expanding
``(1 - s u)^m = sum_j Binom(j; m, s) (1 - u)^j`` gives an exact sum of positive terms:

    P(c | n) = C(n, c) s^c sum_{j=0}^{n-c} Binom(j; n - c, s) B(alpha + c, beta + j) / B(alpha, beta)

whose cost grows with n, so the scaled form is fitted only while the terms stay within
``MAX_MIXTURE_TERMS`` (a ``form_not_fitted`` warning otherwise). The same sum with c = 0 gives the
fitted distribution's pass@k curve. ``beta`` and ``scaled_beta`` are compared by AIC.

Uncertainty. Coverage at different k is measured on the same problems, so its points are not
independent: with per-problem counts, intervals come from a bootstrap over problems (problems drawn
with replacement, the curve re-estimated and every fit redone). A table of aggregate coverage alone
gets the parametric bootstrap of ``fitting.ttc.fit_ttc``, which treats the points as independent
and so understates the spread; that limitation is named in the result's ``noise``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fitting.errors import FitInputError
from fitting.result import ResultMixin
from fitting.stats import percentile_table
from fitting.ttc import (
    COVERAGE_FORMS,
    DEFAULT_CI_LEVEL,
    CurveFit,
    FitWarning,
    TaskCurve,
    TTCResult,
    curve_record,
    curve_summaries,
    fit_curve,
    fit_ttc,
)

Array = NDArray[np.float64]

MAX_SAMPLES = 1_000_000
"""The most samples per problem accepted (Brown et al. draw up to 10,000)."""

MAX_PROBLEMS = 1_000_000
"""The most problems one fit accepts."""

MAX_MIXTURE_TERMS = 400_000
"""The most terms one evaluation of the scaled-Beta likelihood may sum (over distinct (n, c))."""

COVERAGE_TARGETS = (0.5, 0.9, 0.95, 0.99)
"""Coverages whose required number of samples k is reported."""

DISTRIBUTION_FORMS = ("beta", "scaled_beta")

_EXACT_PRODUCT_TERMS = 64
"""pass@k uses the exact product when min(k, c) is at most this, else log-gamma differences."""


# ----------------------------------------------------------------------------------------------
# Per-problem counts and the unbiased estimator.


def validate_counts(n: ArrayLike, c: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Check per-problem sample counts n and correct counts c; return them as int64 arrays.

    Raises:
        FitInputError: shapes differ, no problems, a count is not a whole number, n < 1,
            c < 0, c > n, or n above ``MAX_SAMPLES`` (the message names the first bad problem).

    Example:
        >>> validate_counts([10, 10], [0, 3])[1].tolist()
        [0, 3]
    """
    ns = np.asarray(n, dtype=np.float64).ravel()
    cs = np.asarray(c, dtype=np.float64).ravel()
    if ns.shape != cs.shape:
        raise FitInputError(f"n has {ns.size} values but c has {cs.size}")
    if ns.size == 0:
        raise FitInputError("no problems: give at least one (n, c) pair")
    if ns.size > MAX_PROBLEMS:
        raise FitInputError(f"{ns.size} problems is more than the limit {MAX_PROBLEMS:,}")
    checks = (
        (~np.isfinite(ns) | (ns != np.round(ns)), "n must be a whole number"),
        (~np.isfinite(cs) | (cs != np.round(cs)), "c must be a whole number"),
        (ns < 1, "n must be >= 1"),
        (ns > MAX_SAMPLES, f"n must be <= {MAX_SAMPLES:,}"),
        (cs < 0, "c must be >= 0"),
        (cs > ns, "c must be <= n"),
    )
    for bad, rule in checks:
        if np.any(bad):
            i = int(np.argmax(bad))
            raise FitInputError(f"problem {i}: n={ns[i]:g}, c={cs[i]:g}: {rule}")
    return ns.astype(np.int64), cs.astype(np.int64)


def pass_at_k(n: ArrayLike, c: ArrayLike, k: int) -> Array:
    """The unbiased per-problem pass@k, ``1 - C(n - c, k) / C(n, k)`` (Chen et al. 2021; Schaeffer
    et al. 2025, arXiv 2502.17578).

    The ratio is computed as an exact product, ``prod_{i=n-c+1}^{n} (1 - k / i)`` or equivalently
    ``prod_{i=0}^{k-1} (1 - c / (n - i))``, whichever has fewer factors, when that is at most 64;
    otherwise from log-gamma differences (both factor counts then exceed 64, the log-ratio is at
    least 64^2 / n in size and its rounding error is relatively small). It is 1 when n - c < k.

    Args:
        n: samples per problem.
        c: correct samples per problem.
        k: samples per attempt, 1 <= k <= min(n).

    Returns:
        pass@k of each problem.

    Example:
        >>> pass_at_k([10, 10, 10], [0, 1, 10], 2).round(4).tolist()
        [0.0, 0.2, 1.0]
    """
    ns, cs = validate_counts(n, c)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise FitInputError(f"k={k!r} must be a whole number >= 1")
    k = int(k)
    if k > int(ns.min()):
        raise FitInputError(
            f"k={k} exceeds the fewest samples of a problem ({int(ns.min())}): pass@k is "
            "estimable only for k <= n"
        )
    return 0.0 - np.expm1(_log_fail_ratio(ns, cs, k))  # 0.0, not -0.0, where c = 0


def _log_fail_ratio(ns: NDArray[np.int64], cs: NDArray[np.int64], k: int) -> Array:
    """log C(n - c, k) / C(n, k) per problem (-inf where n - c < k)."""
    from scipy.special import gammaln

    out = np.full(ns.shape, -np.inf)
    live = ns - cs >= k
    n, c = ns[live].astype(np.float64), cs[live].astype(np.float64)
    terms = np.minimum(c, k)
    small = terms <= _EXACT_PRODUCT_TERMS
    result = np.empty_like(n)
    # Product over the smaller count: over c factors (1 - k / (n - i)), or k factors (1 - c / (n - i)).
    by_c = c <= k
    acc = np.zeros_like(n)
    for i in range(_EXACT_PRODUCT_TERMS):
        use = small & (i < terms)
        if not use.any():
            break
        numerator = np.where(by_c, float(k), c)
        acc[use] += np.log1p(-numerator[use] / (n[use] - i))
    result[small] = acc[small]
    big = ~small
    nb, cb = n[big], c[big]
    result[big] = (
        gammaln(nb - cb + 1) - gammaln(nb - cb - k + 1) - gammaln(nb + 1) + gammaln(nb - k + 1)
    )
    out[live] = result
    return out


def default_k_grid(n_min: int) -> tuple[int, ...]:
    """Powers of two from 1 up to ``n_min``, and ``n_min`` itself.

    Example:
        >>> default_k_grid(100)
        (1, 2, 4, 8, 16, 32, 64, 100)
    """
    if n_min < 1:
        raise FitInputError(f"n_min={n_min} must be >= 1")
    grid = [2**i for i in range(int(math.log2(n_min)) + 1)]
    if grid[-1] != n_min:
        grid.append(n_min)
    return tuple(grid)


@dataclass(frozen=True)
class CoverageCurve(ResultMixin):
    """Mean pass@k over problems at each k, with its standard error across problems.

    Attributes:
        k: the numbers of samples.
        coverage: mean unbiased pass@k over problems.
        stderr: standard deviation of the per-problem estimates over sqrt(problems).
        n_problems: problems averaged.
    """

    k: tuple[int, ...]
    coverage: tuple[float, ...]
    stderr: tuple[float, ...]
    n_problems: int


def coverage_curve(n: ArrayLike, c: ArrayLike, k: Sequence[int] | None = None) -> CoverageCurve:
    """The dataset's pass@k (coverage) at each k: the mean of the per-problem unbiased estimates.

    Args:
        n, c: samples and correct samples per problem.
        k: the numbers of samples (default ``default_k_grid(min(n))``); each <= min(n).

    Returns:
        A ``CoverageCurve``.

    Example:
        >>> coverage_curve([4, 4], [0, 2], k=[1, 4]).coverage
        (0.25, 0.5)
    """
    ns, cs = validate_counts(n, c)
    ks = tuple(default_k_grid(int(ns.min())) if k is None else (int(v) for v in k))
    means, errors = [], []
    for value in ks:
        per = pass_at_k(ns, cs, value)
        means.append(float(per.mean()))
        errors.append(float(per.std(ddof=1) / math.sqrt(per.size)) if per.size > 1 else 0.0)
    return CoverageCurve(ks, tuple(means), tuple(errors), int(ns.size))


# ----------------------------------------------------------------------------------------------
# The distribution of single-attempt success probabilities.


@dataclass(frozen=True)
class BetaFit(ResultMixin):
    """A (scaled) Beta distribution of per-problem success probabilities, fitted to counts.

    p = scale * u with u ~ Beta(alpha, beta); ``beta`` fits have scale 1.

    Attributes:
        form: ``"beta"`` or ``"scaled_beta"``.
        alpha, beta, scale: the distribution's parameters.
        log_likelihood: the maximised log-likelihood of the counts (binomial over the distribution).
        aic: 2 * parameters - 2 * log-likelihood.
        n_problems: problems fitted.
        at_bound: parameters that ended at the edge of their search range.
    """

    form: str
    alpha: float
    beta: float
    scale: float
    log_likelihood: float
    aic: float
    n_problems: int
    at_bound: tuple[str, ...] = ()

    @property
    def exponent(self) -> float:
        """The implied power-law exponent of -log pass@k in k: alpha (Schaeffer et al. 2025)."""
        return self.alpha

    @property
    def prefactor(self) -> float:
        """A of the implied large-k law -log pass@k ~ A k^-alpha: Gamma(alpha) / (B(alpha, beta) s^alpha)."""
        from scipy.special import betaln, gammaln

        return math.exp(
            gammaln(self.alpha) - betaln(self.alpha, self.beta) - self.alpha * math.log(self.scale)
        )

    @property
    def mean(self) -> float:
        """The mean single-attempt success probability (pass@1) of the distribution."""
        return self.scale * self.alpha / (self.alpha + self.beta)

    def pass_at_k(self, k: ArrayLike) -> Array:
        """The distribution's pass@k, 1 - E[(1 - p)^k], at each k (k <= ``MAX_SAMPLES``).

        Example:
            >>> fit = BetaFit("beta", 1.0, 1.0, 1.0, 0.0, 0.0, 1)
            >>> fit.pass_at_k([1, 3]).round(4).tolist()  # uniform p: 1 - 1 / (k + 1)
            [0.5, 0.75]
        """
        ks = np.asarray(k, dtype=np.float64).ravel()
        if np.any(ks < 1) or np.any(ks != np.round(ks)) or np.any(ks > MAX_SAMPLES):
            raise FitInputError(
                f"k must be whole numbers from 1 to {MAX_SAMPLES:,}, got {ks.tolist()}"
            )
        theta = _theta(self.alpha, self.beta, self.scale)
        fail = np.array(
            [
                _log_pmf(
                    np.array([int(v)]), np.array([0]), theta, scaled=self.form == "scaled_beta"
                )[0]
                for v in ks
            ]
        )
        return 0.0 - np.expm1(fail)  # 0.0, not -0.0, where nothing is solved


def _theta(alpha: float, beta: float, scale: float) -> Array:
    logit = math.log(scale / (1.0 - scale)) if scale < 1.0 else _SCALE_LOGIT_MAX
    return np.array([math.log(alpha), math.log(beta), logit])


_SCALE_LOGIT_MAX = 12.0
"""Upper bound of logit(scale): a scale within 6e-6 of 1."""

_BOUNDS = (
    (math.log(1e-3), math.log(1e3)),
    (math.log(1e-3), math.log(1e5)),
    (-8.0, _SCALE_LOGIT_MAX),
)


def _log_pmf(ns: NDArray[np.int64], cs: NDArray[np.int64], theta: Array, *, scaled: bool) -> Array:
    """log P(c | n) of each (n, c) pair under the (scaled) Beta-binomial model, without log C(n, c)."""
    return _Mixture.of(ns, cs).log_pmf(theta, scaled=scaled)


@dataclass(frozen=True)
class _Mixture:
    """The terms j = 0..n-c of the scaled-Beta likelihood of each (n, c) pair, flattened.

    ``segment`` holds the index of each term's pair, ``starts`` where each pair's terms begin;
    ``log_choose`` is log C(n - c, j) per term.
    """

    n: NDArray[np.int64]
    c: NDArray[np.int64]
    j: Array
    m: Array
    c_term: Array
    log_choose: Array
    starts: NDArray[np.int64]

    @classmethod
    def of(cls, ns: NDArray[np.int64], cs: NDArray[np.int64]) -> _Mixture:
        from scipy.special import gammaln

        sizes = (ns - cs + 1).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        segment = np.repeat(np.arange(ns.size), sizes)
        j = (np.arange(int(sizes.sum())) - starts[segment]).astype(np.float64)
        m = (ns - cs)[segment].astype(np.float64)
        log_choose = gammaln(m + 1) - gammaln(j + 1) - gammaln(m - j + 1)
        return cls(ns, cs, j, m, cs[segment].astype(np.float64), log_choose, starts)

    def log_pmf(self, theta: Array, *, scaled: bool) -> Array:
        return self.log_pmf_and_grad(theta, scaled=scaled)[0]

    def log_pmf_and_grad(self, theta: Array, *, scaled: bool) -> tuple[Array, Array]:
        """log P(c | n) per pair and its gradient in (log alpha, log beta, logit scale)."""
        from scipy.special import betaln, digamma

        alpha, beta = math.exp(theta[0]), math.exp(theta[1])
        base = betaln(alpha, beta)
        d_base = np.array([digamma(alpha), digamma(beta)]) - digamma(alpha + beta)
        grad = np.zeros((self.n.size, 3))
        if not scaled:
            a, b = alpha + self.c, beta + self.n - self.c
            total = digamma(a + b)
            grad[:, 0] = alpha * (digamma(a) - total - d_base[0])
            grad[:, 1] = beta * (digamma(b) - total - d_base[1])
            return betaln(a, b) - base, grad
        s = 1.0 / (1.0 + math.exp(-theta[2]))
        log_s = -math.log1p(math.exp(-theta[2]))
        log_1ms = -math.log1p(math.exp(theta[2]))
        a, b = alpha + self.c_term, beta + self.j
        terms = self.log_choose + self.j * log_s + (self.m - self.j) * log_1ms + betaln(a, b)
        sizes = np.diff(np.append(self.starts, terms.size))
        peak = np.maximum.reduceat(terms, self.starts)
        weight = np.exp(terms - np.repeat(peak, sizes))
        sums = np.add.reduceat(weight, self.starts)
        weight /= np.repeat(sums, sizes)  # each pair's terms as a distribution over j
        total = digamma(a + b)
        grad[:, 0] = alpha * (
            np.add.reduceat(weight * (digamma(a) - total), self.starts) - d_base[0]
        )
        grad[:, 1] = beta * (
            np.add.reduceat(weight * (digamma(b) - total), self.starts) - d_base[1]
        )
        d_logit = (self.c_term + self.j) * (1.0 - s) - (self.m - self.j) * s
        grad[:, 2] = np.add.reduceat(weight * d_logit, self.starts)
        return self.c * log_s + peak + np.log(sums) - base, grad


@dataclass(frozen=True)
class _Counts:
    """Distinct (n, c) pairs of the problems and how often each occurs."""

    n: NDArray[np.int64]
    c: NDArray[np.int64]
    inverse: NDArray[np.int64]
    log_choose: Array
    mixture: _Mixture | None = None

    def log_pmf_and_grad(self, theta: Array, *, scaled: bool) -> tuple[Array, Array]:
        """log P(c | n) of each distinct pair (without log C(n, c)) and its gradient."""
        if scaled:
            if self.mixture is None:
                raise FitInputError(
                    f"scaled_beta needs {self.mixture_terms:,} likelihood terms, more than the "
                    f"limit {MAX_MIXTURE_TERMS:,}"
                )
            return self.mixture.log_pmf_and_grad(theta, scaled=True)
        plain = _Mixture(self.n, self.c, *(np.empty(0),) * 4, np.empty(0, np.int64))
        return plain.log_pmf_and_grad(theta, scaled=scaled)

    @classmethod
    def of(cls, ns: NDArray[np.int64], cs: NDArray[np.int64]) -> _Counts:
        from scipy.special import gammaln

        pairs, inverse = np.unique(np.stack([ns, cs], axis=1), axis=0, return_inverse=True)
        n, c = pairs[:, 0], pairs[:, 1]
        log_choose = gammaln(n + 1.0) - gammaln(c + 1.0) - gammaln(n - c + 1.0)
        small = int((n - c + 1).sum()) <= MAX_MIXTURE_TERMS
        return cls(n, c, inverse.ravel(), log_choose, _Mixture.of(n, c) if small else None)

    def weights(self, problems: NDArray[np.int64] | None = None) -> Array:
        """How often each distinct pair occurs among all problems (or the given problem indices)."""
        chosen = self.inverse if problems is None else self.inverse[problems]
        return np.bincount(chosen, minlength=self.n.size).astype(np.float64)

    @property
    def mixture_terms(self) -> int:
        return int((self.n - self.c + 1).sum())


def _fit_distribution(
    counts: _Counts, weights: Array, form: str, start: Array | None = None
) -> tuple[Array, float]:
    from scipy.optimize import minimize

    scaled = form == "scaled_beta"
    bounds = list(_BOUNDS if scaled else _BOUNDS[:2])

    def nll_and_grad(theta: Array) -> tuple[float, Array]:
        full = theta if scaled else np.append(theta, _SCALE_LOGIT_MAX)
        values, grads = counts.log_pmf_and_grad(full, scaled=scaled)
        value = -float(weights @ values)
        gradient = -(weights @ grads)[: theta.size]
        if not (math.isfinite(value) and np.all(np.isfinite(gradient))):
            return 1e300, np.zeros_like(theta)
        return value, gradient

    def nll(theta: Array) -> float:
        return nll_and_grad(theta)[0]

    if start is not None:
        starts = [start if scaled else start[:2]]
    else:
        grid = [
            np.array([math.log(a), math.log(b)]) for a in (0.2, 0.6, 2.0) for b in (0.5, 2.0, 8.0)
        ]
        starts = [np.append(g, 2.0) for g in grid] if scaled else grid
        starts = sorted(starts, key=nll)[:2]
    best: tuple[Array, float] | None = None
    for point in starts:
        result = minimize(
            nll_and_grad, point, jac=True, method="TNC", bounds=bounds, options={"maxfun": 400}
        )
        if best is None or result.fun < best[1]:
            best = (np.asarray(result.x, dtype=np.float64), float(result.fun))
    assert best is not None
    theta, value = best
    return (theta if scaled else np.append(theta, _SCALE_LOGIT_MAX)), value


def _beta_fit(counts: _Counts, weights: Array, form: str, theta: Array, nll: float) -> BetaFit:
    scaled = form == "scaled_beta"
    names = ("alpha", "beta", "scale") if scaled else ("alpha", "beta")
    at_bound = tuple(
        name
        for name, t, (lo, hi) in zip(names, theta, _BOUNDS, strict=False)
        if min(t - lo, hi - t) < 1e-3
    )
    log_likelihood = float(weights @ counts.log_choose) - nll
    scale = 1.0 / (1.0 + math.exp(-theta[2])) if scaled else 1.0
    return BetaFit(
        form=form,
        alpha=math.exp(theta[0]),
        beta=math.exp(theta[1]),
        scale=scale,
        log_likelihood=log_likelihood,
        aic=2.0 * len(names) - 2.0 * log_likelihood,
        n_problems=int(weights.sum()),
        at_bound=at_bound,
    )


def fit_success_distribution(
    n: ArrayLike, c: ArrayLike, *, forms: Sequence[str] = DISTRIBUTION_FORMS
) -> tuple[BetaFit, ...]:
    """Fit (scaled) Beta distributions of single-attempt success probability to per-problem counts.

    Maximum likelihood of c_i ~ Binomial(n_i, s u_i), u_i ~ Beta(alpha, beta) (see the module
    docstring); alpha is the implied power-law exponent of -log pass@k (Schaeffer et al. 2025).

    Args:
        n, c: samples and correct samples per problem.
        forms: ``"beta"`` (scale 1) and/or ``"scaled_beta"`` (scale s in (0, 1) fitted too).

    Returns:
        The fits, best AIC first. ``scaled_beta`` is left out when its likelihood would sum more
        than ``MAX_MIXTURE_TERMS`` terms (use ``"beta"`` for many samples per problem).

    Raises:
        FitInputError: bad counts, an unknown form, or no form could be fitted.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> p = rng.beta(0.5, 3.0, size=500)
        >>> best = fit_success_distribution(np.full(500, 50), rng.binomial(50, p), forms=("beta",))[0]
        >>> 0.35 < best.alpha < 0.7
        True
    """
    ns, cs = validate_counts(n, c)
    for form in forms:
        if form not in DISTRIBUTION_FORMS:
            raise FitInputError(
                f"unknown distribution {form!r}; valid: {', '.join(DISTRIBUTION_FORMS)}"
            )
    counts = _Counts.of(ns, cs)
    weights = counts.weights()
    fits = []
    for form in forms:
        if form == "scaled_beta" and counts.mixture_terms > MAX_MIXTURE_TERMS:
            continue
        theta, value = _fit_distribution(counts, weights, form)
        fits.append(_beta_fit(counts, weights, form, theta, value))
    if not fits:
        raise FitInputError(
            f"scaled_beta needs {counts.mixture_terms:,} likelihood terms, more than the limit "
            f"{MAX_MIXTURE_TERMS:,}; fit 'beta' instead"
        )
    return tuple(sorted(fits, key=lambda f: f.aic))


# ----------------------------------------------------------------------------------------------
# Curves against samples.


def samples_for_coverage(fit: CurveFit, target: float) -> float:
    """The number of samples k at which a fitted coverage curve reaches ``target``.

    ``exp_power``: k = (ln target / a)^(1 / b) (Brown et al. 2024). Forms with a ceiling A < 1 never
    reach a target at or above A: the answer is then infinite.

    Example:
        >>> fit = fit_curve([1, 2, 4, 8, 16], [0.3, 0.42, 0.55, 0.66, 0.75], form="exp_power")
        >>> round(float(fit.predict(samples_for_coverage(fit, 0.9))), 6)
        0.9
    """
    if not 0.0 < target < 1.0:
        raise FitInputError(f"target coverage {target} must lie strictly between 0 and 1")
    if fit.form == "exp_power":
        return fit.x_at_gain(target, 1.0)
    ceiling = fit.parameters.get("A", 1.0)
    if target <= fit.chance:
        return 0.0
    if target >= ceiling:
        return math.inf
    return fit.x_at_gain((target - fit.chance) / (ceiling - fit.chance), 1.0)


@dataclass(frozen=True)
class SamplingResult(ResultMixin):
    """Coverage against samples k: the curve fit, and (from per-problem counts) the distribution.

    Attributes:
        curve: the coverage points (per-problem input: estimated from the counts).
        result: the AIC-chosen curve among ``COVERAGE_FORMS`` with summaries, CIs and warnings
            (k50/k90/k95 are its r50/r90/r95).
        samples_for_coverage: k needed for each of ``COVERAGE_TARGETS`` on the chosen curve.
        samples_ci: bootstrap intervals of those k (keys as strings, e.g. ``"0.9"``).
        exponent_ci: bootstrap interval of the exp_power exponent -b (per-problem input).
        distribution: the AIC-chosen Beta fit (None for aggregate input).
        distribution_alternatives: every distribution fitted, best AIC first.
        distribution_ci: bootstrap intervals of alpha, beta, scale and the implied exponent.
        unsolved: problems with no correct sample (c = 0).
        warnings: the curve's warnings and the distribution's.
        source: ``"problems"`` or ``"aggregate"``.
    """

    curve: CoverageCurve
    result: TTCResult
    samples_for_coverage: dict[float, float]
    samples_ci: dict[str, tuple[float, float]]
    exponent_ci: tuple[float, float] | None
    distribution: BetaFit | None
    distribution_alternatives: tuple[BetaFit, ...]
    distribution_ci: dict[str, tuple[float, float]]
    unsolved: int | None
    warnings: tuple[FitWarning, ...]
    source: str

    @property
    def power_fit(self) -> CurveFit | None:
        """The exp_power fit (Brown et al. 2024), chosen by AIC or not; None if it was not fitted."""
        return next((f for f in self.result.alternatives if f.form == "exp_power"), None)

    @property
    def exponent(self) -> float:
        """-b of the exp_power fit, -log coverage ~ -a k^b, whether or not AIC chose it (else NaN)."""
        fit = self.power_fit
        return math.nan if fit is None else -fit.parameters["b"]


def _check_options(bootstrap: int, seed: int, ci_level: float, targets: Sequence[float]) -> None:
    if bootstrap < 0:
        raise FitInputError(f"bootstrap={bootstrap} must be >= 0")
    if seed < 0:
        raise FitInputError(f"seed={seed} must be >= 0")
    if not 0.0 < ci_level < 1.0:
        raise FitInputError(f"ci_level={ci_level} must lie strictly between 0 and 1")
    if bootstrap > 0:
        from fitting.bootstrap import check_bootstrap_options

        check_bootstrap_options(bootstrap, seed, ci_level)
    for target in targets:
        if not 0.0 < target < 1.0:
            raise FitInputError(f"target coverage {target} must lie strictly between 0 and 1")


def fit_problems(
    n: ArrayLike,
    c: ArrayLike,
    *,
    k: Sequence[int] | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    targets: Sequence[float] = COVERAGE_TARGETS,
    distributions: Sequence[str] = DISTRIBUTION_FORMS,
    extrapolation_factor: float = 4.0,
) -> SamplingResult:
    """Fit coverage against samples from per-problem counts: the curve, and the Beta distribution.

    The coverage at each k is the mean unbiased pass@k (``coverage_curve``); the curve forms
    ``COVERAGE_FORMS`` are fitted to it by least squares weighted by the across-problem standard
    errors and chosen by AIC (``fitting.ttc.fit_ttc``). The (scaled) Beta is fitted to the counts
    (``fit_success_distribution``). Intervals: a bootstrap over problems, every fit redone per
    replicate (the chosen curve form and the chosen distribution).

    Args:
        n, c: samples and correct samples per problem.
        k: the k grid (default powers of two up to the fewest samples of a problem).
        bootstrap: replicates (0 = no intervals); seed: its seed; ci_level: interval coverage.
        targets: coverages whose required k is reported.
        distributions: Beta forms to fit (``"beta"``, ``"scaled_beta"``); empty for none.
        extrapolation_factor: a k for a target beyond this multiple of the largest k is warned about.

    Returns:
        A ``SamplingResult``.

    Raises:
        FitInputError: bad counts or options, no problem ever solved, or too few k for any form.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> p = 0.8 * rng.beta(0.4, 2.0, size=400)
        >>> res = fit_problems(np.full(400, 64), rng.binomial(64, p), bootstrap=0)
        >>> res.result.fit.form, 0.2 < res.distribution.alpha < 0.7
        ('exp_power', True)
    """
    _check_options(bootstrap, seed, ci_level, targets)
    ns, cs = validate_counts(n, c)
    if not cs.any():
        raise FitInputError(
            f"no problem was solved (c = 0 for all {cs.size}): coverage is 0 at every k, and no "
            "curve can be fitted"
        )
    curve = coverage_curve(ns, cs, k)
    result = _fit_curve_points(curve, extrapolation_factor)
    counts = _Counts.of(ns, cs)
    fits = fit_success_distribution(ns, cs, forms=distributions) if distributions else ()
    best = fits[0] if fits else None
    needed = {t: samples_for_coverage(result.fit, t) for t in targets}
    samples_ci: dict[str, tuple[float, float]] = {}
    distribution_ci: dict[str, tuple[float, float]] = {}
    exponent_ci = None
    if bootstrap > 0:
        result, samples_ci, exponent_ci, distribution_ci = _problem_bootstrap(
            ns, cs, curve, result, counts, best, targets, bootstrap, seed, ci_level
        )
    warnings = (
        *result.warnings,
        *_target_warnings(needed, curve, extrapolation_factor),
        *_distribution_warnings(best, fits, counts, ns.size, int((cs == 0).sum())),
    )
    return SamplingResult(
        curve=curve,
        result=result,
        samples_for_coverage=needed,
        samples_ci=samples_ci,
        exponent_ci=exponent_ci,
        distribution=best,
        distribution_alternatives=fits,
        distribution_ci=distribution_ci,
        unsolved=int((cs == 0).sum()),
        warnings=tuple(warnings),
        source="problems",
    )


def _fit_curve_points(curve: CoverageCurve, extrapolation_factor: float) -> TTCResult:
    stderr = np.asarray(curve.stderr)
    return fit_ttc(
        np.asarray(curve.k, dtype=np.float64),
        np.asarray(curve.coverage),
        chance=0.0,
        stderr=stderr if np.all(stderr > 0) else None,
        forms=COVERAGE_FORMS,
        bootstrap=0,
        extrapolation_factor=extrapolation_factor,
        assumed_n=curve.n_problems,
    )


def _problem_bootstrap(
    ns: NDArray[np.int64],
    cs: NDArray[np.int64],
    curve: CoverageCurve,
    result: TTCResult,
    counts: _Counts,
    best: BetaFit | None,
    targets: Sequence[float],
    replicates: int,
    seed: int,
    level: float,
) -> tuple[
    TTCResult,
    dict[str, tuple[float, float]],
    tuple[float, float] | None,
    dict[str, tuple[float, float]],
]:
    """Problems resampled with replacement; the chosen curve form and distribution refitted.

    The draws and the replicate loop are the bootstrap engine's (``fitting.bootstrap``, problems
    ``ByPoints``).
    """
    from fitting.bootstrap import ByPoints, Resample, run_bootstrap

    form = result.fit.form
    x_ref = float(min(curve.k))
    curve_names = (
        "A",
        "r50",
        "r90",
        "r95",
        *result.fit.parameters,
        *(str(t) for t in targets),
        "exponent",
    )
    start = None if best is None else _theta(best.alpha, best.beta, best.scale)

    def refit(
        sample: Resample,
    ) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
        pick = sample.picks
        curve_draw = dist_draw = None
        if cs[pick].any():
            star = coverage_curve(ns[pick], cs[pick], curve.k)
            se = np.asarray(star.stderr)
            try:
                again = fit_curve(
                    star.k,
                    star.coverage,
                    form=form,
                    chance=0.0,
                    stderr=se if np.all(se > 0) else None,
                )
            except FitInputError:
                again = None
            power = again if form == "exp_power" else _try_power_fit(star)
            if again is not None and power is not None:
                curve_draw = (
                    *curve_summaries(again, x_ref),
                    *again.parameters.values(),
                    *(samples_for_coverage(again, t) for t in targets),
                    -power.parameters["b"],
                )
        if best is not None:
            weights = counts.weights(pick)
            theta, value = _fit_distribution(counts, weights, best.form, start=start)
            fit = _beta_fit(counts, weights, best.form, theta, value)
            dist_draw = (fit.alpha, fit.beta, fit.scale, -fit.alpha, -fit.prefactor)
        return curve_draw, dist_draw

    replicas = run_bootstrap(refit, ByPoints(int(ns.size)), n_resamples=replicates, seed=seed)
    curve_draws = [c for c, _ in replicas.values if c is not None]
    dist_draws = [d for _, d in replicas.values if d is not None]
    table = percentile_table(curve_draws, curve_names, level)
    summary = {k: v for k, v in table.items() if k in ("A", "r50", "r90", "r95")}
    parameters = {k: v for k, v in table.items() if k in result.fit.parameters}
    samples_ci = {str(t): table[str(t)] for t in targets if str(t) in table}
    noise = f"bootstrap over problems ({len(curve_draws)} of {replicates} replicates refitted)"
    result = dataclasses.replace(
        result, ci=summary, parameter_ci=parameters, ci_level=level, noise=noise
    )
    distribution_ci = percentile_table(dist_draws, ("alpha", "beta", "scale", "b", "a"), level)
    return result, samples_ci, table.get("exponent"), distribution_ci


def _try_power_fit(curve: CoverageCurve) -> CurveFit | None:
    se = np.asarray(curve.stderr)
    try:
        return fit_curve(
            curve.k,
            curve.coverage,
            form="exp_power",
            chance=0.0,
            stderr=se if np.all(se > 0) else None,
        )
    except FitInputError:
        return None


def _target_warnings(
    needed: Mapping[float, float], curve: CoverageCurve, factor: float
) -> list[FitWarning]:
    k_max = max(curve.k)
    far = {t: v for t, v in needed.items() if v > factor * k_max}
    if not far:
        return []
    listed = ", ".join(f"coverage {t:g} at k={v:.4g}" for t, v in far.items())
    return [
        FitWarning(
            "samples_extrapolated",
            f"{listed}: beyond {factor:g}x the largest k measured ({k_max}), read off the form",
        )
    ]


def _distribution_warnings(
    best: BetaFit | None, fits: Sequence[BetaFit], counts: _Counts, problems: int, unsolved: int
) -> list[FitWarning]:
    found: list[FitWarning] = []
    if best is None:
        return found
    if "scaled_beta" not in {f.form for f in fits} and counts.mixture_terms > MAX_MIXTURE_TERMS:
        found.append(
            FitWarning(
                "form_not_fitted",
                f"scaled_beta not fitted: {counts.mixture_terms:,} likelihood terms, more than "
                f"{MAX_MIXTURE_TERMS:,}",
            )
        )
    if best.at_bound:
        found.append(
            FitWarning(
                "distribution_at_bound",
                f"{', '.join(best.at_bound)} of the {best.form} at the edge of its range: "
                "the counts do not pin it down",
            )
        )
    if problems < 30:
        found.append(
            FitWarning(
                "few_problems",
                f"{problems} problems: the Beta fit and its exponent rest on very few problems",
            )
        )
    if unsolved == 0:
        found.append(
            FitWarning(
                "no_unsolved_problems",
                "every problem was solved at least once: the left tail that sets the exponent is "
                "seen only through small success counts",
            )
        )
    return found


def fit_coverage(
    k: ArrayLike,
    coverage: ArrayLike,
    *,
    n_problems: ArrayLike | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    targets: Sequence[float] = COVERAGE_TARGETS,
    assumed_n: float | None = None,
    extrapolation_factor: float = 4.0,
) -> SamplingResult:
    """Fit coverage against samples from an aggregate table (k, coverage[, problems]).

    The forms ``COVERAGE_FORMS`` are fitted by binomial likelihood when the number of problems is
    known, else by least squares, and chosen by AIC; intervals from ``fit_ttc``'s parametric
    bootstrap, which treats the points as independent (they share problems, so the intervals are
    too narrow; per-problem counts avoid this, see ``fit_problems``).

    Args:
        k: samples (>= 1); coverage: fraction of problems solved in [0, 1]; n_problems: problems
            per point (optional).
        bootstrap, seed, ci_level, targets, extrapolation_factor: as in ``fit_problems``.
        assumed_n: problems assumed for the bootstrap's noise floor when n_problems is unknown.

    Returns:
        A ``SamplingResult`` without a distribution.

    Example:
        >>> ks = [1, 2, 4, 8, 16, 32, 64, 128]
        >>> res = fit_coverage(ks, [0.30, 0.41, 0.52, 0.62, 0.70, 0.77, 0.82, 0.86], bootstrap=0)
        >>> res.result.fit.form
        'exp_power'
    """
    _check_options(bootstrap, seed, ci_level, targets)
    ks = np.asarray(k, dtype=np.float64).ravel()
    if ks.size and (np.any(ks != np.round(ks)) or np.any(ks < 1)):
        raise FitInputError(f"k must be whole numbers >= 1, got {ks.tolist()}")
    ys = np.asarray(coverage, dtype=np.float64).ravel()
    ns = None if n_problems is None else np.asarray(n_problems, dtype=np.float64).ravel()
    result = fit_ttc(
        ks,
        ys,
        chance=0.0,
        n=ns,
        forms=COVERAGE_FORMS,
        bootstrap=bootstrap,
        seed=seed,
        ci_level=ci_level,
        assumed_n=assumed_n,
        extrapolation_factor=extrapolation_factor,
    )
    if bootstrap > 0:
        result = dataclasses.replace(
            result, noise=f"{result.noise}; points treated as independent (they share problems)"
        )
    order = np.argsort(ks, kind="stable")
    curve = CoverageCurve(
        tuple(int(v) for v in ks[order]),
        tuple(float(v) for v in ys[order]),
        (),
        int(ns.max()) if ns is not None else 0,
    )
    needed = {t: samples_for_coverage(result.fit, t) for t in targets}
    # For exp_power (ceiling 1, floor 0) r50/r90/r95 are the k of coverage 0.5/0.9/0.95.
    samples_ci = (
        {str(q): result.ci[f"r{round(q * 100)}"] for q in (0.5, 0.9, 0.95) if q in targets}
        if result.fit.form == "exp_power" and result.ci
        else {}
    )
    return SamplingResult(
        curve=curve,
        result=result,
        samples_for_coverage=needed,
        samples_ci=samples_ci,
        exponent_ci=(lambda ci: None if ci is None else (-ci[1], -ci[0]))(
            result.parameter_ci.get("b") if result.fit.form == "exp_power" else None
        ),
        distribution=None,
        distribution_alternatives=(),
        distribution_ci={},
        unsolved=None,
        warnings=(*result.warnings, *_target_warnings(needed, curve, extrapolation_factor)),
        source="aggregate",
    )


# ----------------------------------------------------------------------------------------------
# Tables.


@dataclass(frozen=True)
class SamplingCurve(ResultMixin):
    """The coverage curve of one (model, task) group of a sampling table.

    ``task_curve`` wraps the curve fit as a ``fitting.ttc.TaskCurve`` on the axis ``"k"`` (so the
    recurrence plots and records apply); ``sampling`` has the rest.
    """

    task_curve: TaskCurve
    sampling: SamplingResult


PROBLEM_COLUMNS = ("model", "task", "problem_id", "n", "c")
COVERAGE_COLUMNS = ("model", "task", "k", "coverage", "n_problems")


def fit_sampling_tables(
    problems: Any | None = None,
    aggregate: Any | None = None,
    *,
    bootstrap: int = 200,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    targets: Sequence[float] = COVERAGE_TARGETS,
    assumed_n: float | None = None,
) -> list[SamplingCurve]:
    """Fit one coverage curve per (model, task) of a per-problem and/or an aggregate table.

    Args:
        problems: a polars DataFrame with ``PROBLEM_COLUMNS`` (one row per problem), or None.
        aggregate: a polars DataFrame with ``COVERAGE_COLUMNS`` (``n_problems`` may be null), or None.
        bootstrap, seed, ci_level, targets: as in ``fit_problems``; assumed_n as in ``fit_coverage``.

    Returns:
        One ``SamplingCurve`` per group: per-problem groups first, then aggregate ones, each in
        the order they first appear.

    Raises:
        FitInputError: a group's fit fails (the message names the group).

    Example:
        >>> from gemstones.ttc.sampling import read_sampling_tables  # doctest: +SKIP
        >>> curves = fit_sampling_tables(*read_sampling_tables(["problems.csv"]))  # doctest: +SKIP
    """
    curves: list[SamplingCurve] = []
    for frame, source in ((problems, "problems"), (aggregate, "aggregate")):
        if frame is None or frame.is_empty():
            continue
        for (model, task), rows in frame.group_by(["model", "task"], maintain_order=True):
            label = f"{model} / {task}"
            try:
                if source == "problems":
                    result = fit_problems(
                        rows["n"].to_numpy(),
                        rows["c"].to_numpy(),
                        bootstrap=bootstrap,
                        seed=seed,
                        ci_level=ci_level,
                        targets=targets,
                    )
                else:
                    known = rows["n_problems"].null_count() == 0
                    result = fit_coverage(
                        rows["k"].to_numpy(),
                        rows["coverage"].to_numpy(),
                        n_problems=rows["n_problems"].to_numpy() if known else None,
                        bootstrap=bootstrap,
                        seed=seed,
                        ci_level=ci_level,
                        targets=targets,
                        assumed_n=assumed_n,
                    )
            except FitInputError as bad:
                raise FitInputError(f"{label}: {bad}") from None
            task_curve = TaskCurve(
                model=str(model),
                checkpoint=None,
                task=str(task),
                metric="coverage",
                filter=None,
                n_shot=None,
                chat_template=None,
                x_name="k",
                result=result.result,
                r=result.curve.k,
                output_type=None,
            )
            curves.append(SamplingCurve(task_curve, result))
    return curves


def sampling_record(curve: SamplingCurve) -> dict[str, Any]:
    """A strict-JSON-ready record of one sampling curve: ``curve_record``'s fields (k50, k95, ...)
    plus ``source``, ``samples_for_coverage``, the exp_power exponent and the distribution.

    Non-finite numbers (a target the curve never reaches) become None.
    """
    from fitting.ttc import _json_safe

    record = curve_record(curve.task_curve)
    res = curve.sampling
    dist = res.distribution
    record.update(
        {
            "kind": "sampling",
            "source": res.source,
            "warnings": [{"code": w.code, "message": w.message} for w in res.warnings],
            "samples_for_coverage": {str(t): v for t, v in res.samples_for_coverage.items()},
            "samples_ci": {t: list(v) for t, v in res.samples_ci.items()},
            "exponent": res.exponent,
            "exponent_ci": None if res.exponent_ci is None else list(res.exponent_ci),
            "unsolved": res.unsolved,
            "n_problems": res.curve.n_problems or None,
            "points_stderr": list(res.curve.stderr) or None,
            "distribution": None
            if dist is None
            else {
                "form": dist.form,
                "alpha": dist.alpha,
                "beta": dist.beta,
                "scale": dist.scale,
                "mean_pass_at_1": dist.mean,
                "implied_exp_power": {"a": -dist.prefactor, "b": -dist.exponent},
                "log_likelihood": dist.log_likelihood,
                "aic": {f.form: f.aic for f in res.distribution_alternatives},
                "ci": {k: list(v) for k, v in res.distribution_ci.items()},
                "at_bound": list(dist.at_bound),
            },
        }
    )
    return _json_safe(record)
