"""Approach 3: fit ``L = E + sum_i A_i x_i^-alpha_i`` by batched multi-start optimisation in JAX.

The reference procedure (Chinchilla approach 3, as run by the Gemstones paper, arXiv 2502.06857)
starts scipy's L-BFGS-B from every point of a grid (4,050,000 starts for four variables) and keeps
the best. Here, in float64 scoped to the fit:

1. *screen*: the objective is evaluated at every grid point (``fitting.starts.screen_grid``) and
   the best ``n_polish`` (256) are kept;
2. *probe*: those starts run 40 batched local iterations on the screening points;
3. *polish*: the best ``n_refine`` (32) probed solutions run to convergence on every point; the
   lowest objective among the converged ones is the fit. Above ``max_refine_points`` (8,192;
   every built-in design is below) they converge on a seeded subsample of that size instead, and
   only the best ``n_final`` (3) distinct solutions are polished on every point, so the time is
   linear in the number of points (a fixed cost plus a few dozen passes over the data).

Memory is O(n): ``J^T W J`` and ``J^T W r`` are accumulated over chunks of points inside the
compiled loop, never as a starts x points x parameters tensor. Data are padded with zero-weight
points to size buckets, so that a new data size reuses the compiled solver (and JAX's persistent
compilation cache, switched on by ``gemstones``, reuses it across processes).

The local solver (``solve_from_starts``) is a batched Levenberg-Marquardt on the iteratively
reweighted least-squares majoriser of the Huber loss, with the analytic Jacobian of the log
prediction (``fitting.laws.log_prediction_jacobian``, equal to ``jax.jacfwd``'s) and steps accepted
only when the true objective falls; a vmapped optax L-BFGS (zoom line search, ``jax.grad``
gradients) is available as ``method="lbfgs"``. Before solving, the intercepts are re-centred,
``b_i = a_i - alpha_i * mean(log x_i)``, an exact linear change of variables that removes most of
the a/alpha correlation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fitting.errors import FitInputError
from fitting.laws import (
    DEFAULT_DELTA,
    POWER_SUM,
    chunked_objective,
    log_prediction,
    objective,
    parameter_count,
    require_enough_data,
    split_theta,
    validate_delta,
    validate_inputs,
)
from fitting.lm_engine import chunk_stats, lm_solve_numpy, lm_step, resolve_engine
from fitting.result import ResultMixin
from fitting.starts import PAPER_GRID, StartGrid, screen_grid, screening_subsample

DEFAULT_MAX_STEPS = 2000
DEFAULT_POLISH_STARTS = 256
DEFAULT_REFINE_POINTS = 8192
DEFAULT_FINAL_STARTS = 3
CHUNK_ELEMENTS = 1 << 17
"""(start, point) pairs per chunk of the batched solver's accumulation."""
POINT_CHUNK_FLOOR = 256

FLAG_VANISHING_E = "irreducible_error_vanishing"
FLAG_EXPONENT_NEAR_ZERO = "exponent_near_zero"
FLAG_AT_GRID_EDGE = "at_grid_edge"
FLAG_NOT_CONVERGED = "not_converged"
FLAG_NEGATIVE_EXPONENT = "negative_exponent"
FLAG_NOT_IDENTIFIED = "parameters_not_identified"
FLAG_COEFFICIENT_OVERFLOW = "coefficient_overflow"
FLAG_NO_DEGREES_OF_FREEDOM = "as_many_parameters_as_points"

IDENTIFIABILITY_RTOL = 1e-10
"""A direction of parameter space is not identified by the data when the Gauss-Newton curvature
along it is below this fraction of the largest (condition number of J^T W J above 1e10)."""

E_FLOOR = -10.0
"""Below this e (E < 4.5e-5) the irreducible error is flagged as vanishing."""

_LOG_FLOAT_MAX = float(np.log(np.finfo(np.float64).max))


@dataclass(frozen=True)
class StartsSolution:
    """The polished solutions of a batch of starts.

    Attributes:
        theta: final parameters, paper layout, shape (m, 2k+1).
        objective: final objective of each, shape (m,).
        converged: whether each met the stopping rule before ``max_steps``, shape (m,).
        steps: local iterations each took, shape (m,).
    """

    theta: np.ndarray
    objective: np.ndarray
    converged: np.ndarray
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _centre(log_x: np.ndarray) -> np.ndarray:
    return np.mean(log_x, axis=0)


def _to_centred(theta: np.ndarray, centre: np.ndarray) -> np.ndarray:
    return POWER_SUM.layout(centre.shape[0]).to_centred(theta, centre)


def _from_centred(phi: np.ndarray, centre: np.ndarray) -> np.ndarray:
    return POWER_SUM.layout(centre.shape[0]).from_centred(phi, centre)


def _points_per_chunk(m: int) -> int:
    """Points per accumulation chunk for ``m`` starts: a power of two, about 2^17 (start, point) pairs."""
    target = max(POINT_CHUNK_FLOOR, CHUNK_ELEMENTS // max(1, m))
    return 1 << (target.bit_length() - 1)


def padded_point_count(n: int, chunk: int) -> int:
    """The bucket a data set of ``n`` points is padded to (with zero-weight points).

    ``n`` rounded up to 8..16 or ``2^j * {8, 9, ..., 15}`` points: at most 12.5% padding, and about
    eight buckets per doubling of the data, each sharing one compiled solver. The padded points
    are then split into chunks of at most ``chunk`` points (a power of two dividing the bucket).

    Example:
        >>> padded_point_count(220, 1024), padded_point_count(3000, 1024)
        (224, 3072)
    """
    if n <= 16:
        return max(8, n)
    scale = 1 << (n.bit_length() - 4)  # n / scale lies in [8, 16)
    del chunk  # the bucket does not depend on the chunk size
    return -(-n // scale) * scale


def _padded_arrays(
    log_x: np.ndarray, log_loss: np.ndarray, weights: np.ndarray, centre: np.ndarray, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred, zero-weight-padded data split into chunks: (C, k, c), (C, c), (C, mw, c)."""
    n, k = log_x.shape
    n_pad = padded_point_count(n, chunk)
    c = n_pad if n_pad <= chunk else min(chunk, n_pad & -n_pad)  # a power of two dividing n_pad
    lx = np.zeros((n_pad, k))
    np.subtract(log_x, centre, out=lx[:n])
    ly = np.zeros(n_pad)
    ly[:n] = log_loss
    w = np.zeros((weights.shape[0], n_pad))
    w[:, :n] = weights
    chunks = n_pad // c
    w = np.ascontiguousarray(w.reshape(-1, chunks, c).transpose(1, 0, 2))
    lx_t = np.ascontiguousarray(lx.reshape(chunks, c, k).transpose(0, 2, 1))
    return lx_t, ly.reshape(chunks, c), w


def solve_from_starts(
    starts: np.ndarray,
    log_x: np.ndarray,
    log_loss: np.ndarray,
    *,
    delta: float = DEFAULT_DELTA,
    weights: np.ndarray | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    method: str = "lm",
    rtol: float = 1e-10,
    patience: int = 10,
    slots: int | None = None,
    round_steps: int = 32,
    progress: Callable[[int, int], None] | None = None,
    engine: str | None = None,
) -> StartsSolution:
    """Polish many starts at once on the summed Huber objective, batched in float64.

    Two batched local methods are available:

    - ``"lm"`` (default): Levenberg-Marquardt on the iteratively reweighted least-squares majoriser
      of the Huber loss (weights ``min(1, delta/|r|)``), with the analytic Jacobian and a step
      accepted only when the true objective falls. ``J^T W J`` and ``J^T W r`` are accumulated
      over chunks of points, so memory is O(n + starts x chunk), never starts x points x
      parameters; the data are padded with zero-weight points to a size bucket
      (``padded_point_count``) so that a new data size reuses the compiled solver. Each iteration
      is one pass over the data plus a (2k+1)-square solve per start.
    - ``"lbfgs"``: optax L-BFGS with a zoom line search, vmapped over starts (slower on CPU;
      JAX only).

    ``"lm"`` runs on one of two engines with the same iterations (``fitting.lm_engine``): JAX
    (compiled, padded, slotted as above) or numpy (eager; no JAX import), chosen by ``engine``.

    Args:
        starts: initial parameters, paper layout, shape (m, 2k+1).
        log_x: natural logs of the variables, shape (n, k).
        log_loss: natural logs of the losses, shape (n,).
        delta: Huber threshold.
        weights: None, (n,) shared per-point weights, or (m, n) per-start weights (e.g. bootstrap
            resampling counts, each start polishing its own resample).
        max_steps: iteration cap per start.
        method: ``"lm"`` or ``"lbfgs"``.
        rtol: an iteration "stalls" when the objective falls by less than ``rtol * |f|``.
        patience: a start has converged after this many consecutive stalled iterations.
        slots: hold at most this many starts at once (``"lm"`` only; rounded down to a power of
            two); finished starts are replaced from the queue every ``round_steps`` iterations.
            None: all starts at once.
        round_steps: iterations between refills of the slots.
        progress: optional callback ``progress(finished, m)`` after each round that finished starts.
        engine: ``"auto"`` (numpy when starts x points is at most
            ``fitting.lm_engine.NUMPY_MAX_PAIRS``, else JAX), ``"numpy"``, ``"jax"``, or None to
            read ``GEMSTONES_FIT_ENGINE`` (default ``auto``). ``"lbfgs"`` always runs in JAX.

    Returns:
        ``StartsSolution`` with parameters back in the paper layout.

    Raises:
        FitInputError: bad shapes, weights, method or engine.

    Example:
        >>> x = np.geomspace(1e6, 1e9, 50)[:, None]
        >>> y = 2.0 + 300.0 * x[:, 0] ** -0.3
        >>> solution = solve_from_starts(np.array([[5.0, 0.2, 0.5]]), np.log(x), np.log(y))
        >>> solution.theta[0]  # [log 300, 0.3, log 2] -> array([5.70..., 0.3..., 0.69...])
    """
    delta = validate_delta(delta)
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    log_x = np.asarray(log_x, dtype=np.float64)
    log_loss = np.asarray(log_loss, dtype=np.float64)
    m, n_params = starts.shape
    n, k = log_x.shape
    if n_params != 2 * k + 1:
        raise FitInputError(f"starts have {n_params} columns; a {k}-variable law needs {2 * k + 1}")
    if method not in ("lm", "lbfgs"):
        raise FitInputError(f"unknown method {method!r}; valid: 'lm', 'lbfgs'")
    if weights is None:
        w = np.ones((1, n))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim == 1:
            w = w[None, :]
        if (
            w.shape[-1] != n
            or w.shape[0] not in (1, m)
            or np.any(w < 0)
            or not np.all(np.isfinite(w))
        ):
            raise FitInputError(
                f"weights must be non-negative, finite, of shape ({n},) or ({m}, {n}); got {w.shape}"
            )
    centre = _centre(log_x)
    phi0 = _to_centred(starts, centre)
    chosen = resolve_engine(engine, m * n)
    if method == "lm" and chosen == "numpy":
        phi, value, converged, steps = lm_solve_numpy(
            phi0,
            log_x - centre,
            log_loss,
            w,
            delta=delta,
            max_steps=int(max_steps),
            rtol=float(rtol),
            patience=int(patience),
            progress=progress,
        )
        return _solution(phi, value, converged, steps, centre)

    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        if method == "lm":
            slot_count = _slot_count(m, slots)
            padded = _padded_arrays(log_x, log_loss, w, centre, _points_per_chunk(slot_count))
            lx, ly = jax.device_put(padded[0]), jax.device_put(padded[1])
            weights_c = padded[2]  # (C, 1 or m, c), host copy kept only for per-start weights
            del padded
            shared = jax.device_put(weights_c) if weights_c.shape[1] == 1 else None
            runner = _lm_runner(k, float(delta), float(rtol), int(patience))
            phi, value, converged, steps = _lm_queue(
                runner,
                phi0,
                lx,
                ly,
                weights_c,
                shared,
                slot_count,
                int(max_steps),
                int(round_steps),
                progress,
            )
            del lx, ly, shared, weights_c
        else:
            run = _lbfgs_runner(k, float(delta), int(max_steps), float(rtol), int(patience))
            phi, value, converged, steps = run(
                jnp.asarray(phi0),
                jnp.asarray(log_x - centre),
                jnp.asarray(log_loss),
                jnp.asarray(np.broadcast_to(w, (m, n))),
            )
        phi, value = np.asarray(phi), np.asarray(value)
        converged, steps = np.asarray(converged), np.asarray(steps)
    return _solution(phi, value, converged, steps, centre)


def _solution(
    phi: np.ndarray, value: np.ndarray, converged: np.ndarray, steps: np.ndarray, centre: np.ndarray
) -> StartsSolution:
    """Back to the paper layout; a start with a non-finite result is not converged (objective inf)."""
    theta = _from_centred(phi, centre)
    finite = np.isfinite(value) & np.all(np.isfinite(theta), axis=1)
    value = np.where(finite, value, np.inf)
    return StartsSolution(theta=theta, objective=value, converged=converged & finite, steps=steps)


def _slot_count(m: int, slots: int | None) -> int:
    """How many starts the solver holds at once: all of them, or ``slots`` (a power of two)."""
    if slots is None or m <= slots:
        return m
    return 1 << (max(1, int(slots)).bit_length() - 1)


def _lm_queue(
    runner, phi0, lx, ly, weights_c, shared, slot_count, max_steps, round_steps, progress
):
    """Run the LM solver over ``m`` starts through ``slot_count`` slots.

    With as many slots as starts it is one call to the compiled loop. Otherwise the slots run
    ``round_steps`` iterations at a time and every finished start's slot is refilled from the
    queue, so a few slow starts never hold a whole batch of finished ones (one compiled program
    whatever the number of starts). Each start's iterates are the same either way.
    """
    import jax

    m, p = phi0.shape
    out_phi = np.array(phi0, dtype=np.float64, copy=True)
    out_f = np.full(m, np.inf)
    out_done = np.zeros(m, dtype=bool)
    out_steps = np.zeros(m, dtype=np.int64)
    per_start = shared is None
    if slot_count >= m:
        round_steps = max_steps
    held = np.full(slot_count, -1, dtype=np.int64)  # the start each slot holds, -1 = none
    state = {
        "phi": np.zeros((slot_count, p)),
        "f": np.zeros(slot_count),
        "h": np.zeros((slot_count, p, p)),
        "g": np.zeros((slot_count, p)),
        "lam": np.full(slot_count, 1e-3),
        "done": np.ones(slot_count, dtype=bool),
        "stalls": np.zeros(slot_count, dtype=np.int32),
        "steps": np.zeros(slot_count, dtype=np.int32),
    }
    queued, finished = 0, 0
    while True:
        free = np.flatnonzero(held < 0)
        take = min(free.size, m - queued)
        fresh = np.zeros(slot_count, dtype=bool)
        if take:
            slots_now, starts_now = free[:take], np.arange(queued, queued + take)
            held[slots_now] = starts_now
            fresh[slots_now] = True
            state["phi"][slots_now] = phi0[starts_now]
            state["lam"][slots_now] = 1e-3
            state["done"][slots_now] = False
            state["stalls"][slots_now] = 0
            state["steps"][slots_now] = 0
            queued += take
        if per_start:
            w = weights_c[:, np.maximum(held, 0), :]
            w[:, held < 0, :] = 0.0
            w = jax.device_put(w)
        else:
            w = shared
        state["fresh"] = fresh
        result = runner(
            jax.device_put(state),
            lx,
            ly,
            w,
            max_steps,
            round_steps,
        )
        state = {key: np.array(value) for key, value in result.items()}
        over = (state["done"] | (state["steps"] >= max_steps)) & (held >= 0)
        for slot in np.flatnonzero(over):
            start = held[slot]
            out_phi[start] = state["phi"][slot]
            out_f[start] = state["f"][slot]
            out_done[start] = state["done"][slot]
            out_steps[start] = state["steps"][slot]
            held[slot] = -1
        state["done"][held < 0] = True
        finished += int(over.sum())
        if progress is not None and over.any():
            progress(finished, m)
        if finished >= m:
            return out_phi, out_f, out_done, out_steps


_RUNNERS: dict[tuple, object] = {}


def _lm_runner(k: int, delta: float, rtol: float, patience: int):
    """Build (once per configuration) the jitted batched IRLS Levenberg-Marquardt loop.

    The loop takes the data in chunks, (C, k, c) / (C, c) / (C, mw, c), and keeps, per start, the
    objective, ``J^T W J`` and ``J^T W r`` at the current point: a trial point's three are computed
    in the same pass as its objective, and carried over when the step is accepted. It runs until
    every start has converged or spent ``max_steps`` iterations, or ``round_steps`` iterations
    have passed; starts flagged ``fresh`` get their objective, ``J^T W J`` and ``J^T W r`` in the
    first pass (one traced copy of the pass: tracing is most of a warm process's start-up).
    """
    key = ("lm", k, delta, rtol, patience)
    if key in _RUNNERS:
        return _RUNNERS[key]
    import jax
    import jax.numpy as jnp

    p = 2 * k + 1

    def stats(phi, lx, ly, w):
        """Objective, J^T W J and J^T W r of every start, summed over the chunks."""
        if lx.shape[0] == 1:
            return chunk_stats(phi, lx[0], ly[0], w[0], delta, jnp, jax.lax.stop_gradient)
        m = phi.shape[0]

        def add(acc, chunk):
            lx_c, ly_c, w_c = chunk
            part = chunk_stats(phi, lx_c, ly_c, w_c, delta, jnp, jax.lax.stop_gradient)
            return tuple(a + b for a, b in zip(acc, part, strict=True)), None

        init = (jnp.zeros((m,)), jnp.zeros((m, p, p)), jnp.zeros((m, p)))
        total, _ = jax.lax.scan(add, init, (lx, ly, w))
        return total

    @jax.jit
    def run(state, lx, ly, w, max_steps, round_steps):
        def cond(carry):
            i, s = carry
            running = ~s["done"] & (s["steps"] < max_steps)
            # one more pass than round_steps: the first evaluates the fresh starts
            return (i <= round_steps) & jnp.any(running)

        def body(carry):
            i, s = carry
            step = lm_step(s, lambda phi: stats(phi, lx, ly, w), max_steps, rtol, patience, jnp)
            return i + 1, step

        _, state = jax.lax.while_loop(cond, body, (jnp.asarray(0), state))
        return state

    _RUNNERS[key] = run
    return run


def _lbfgs_runner(k: int, delta: float, max_steps: int, rtol: float, patience: int):
    """Build (once per configuration) the jitted, vmapped optax L-BFGS loop."""
    key = ("lbfgs", k, delta, max_steps, rtol, patience)
    if key in _RUNNERS:
        return _RUNNERS[key]
    import jax
    import jax.numpy as jnp
    import optax

    solver = optax.lbfgs(linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=40))

    def solve_one(phi0, lx, ly, w):
        def value_fn(phi):
            return objective(phi, lx, ly, delta, w, jnp)

        value_and_grad = optax.value_and_grad_from_state(value_fn)

        def cond(carry):
            step, _, _, _, done, _ = carry
            return (step < max_steps) & ~done

        def body(carry):
            step, phi, state, f_prev, done, stalls = carry
            value, grad = value_and_grad(phi, state=state)
            updates, new_state = solver.update(
                grad, state, phi, value=value, grad=grad, value_fn=value_fn
            )
            new_phi = optax.apply_updates(phi, updates)
            new_value = value_fn(new_phi)
            ok = jnp.isfinite(new_value) & jnp.all(jnp.isfinite(new_phi))
            new_phi = jnp.where(ok, new_phi, phi)
            new_value = jnp.where(ok, new_value, value)
            stalled = (f_prev - new_value) <= rtol * jnp.abs(new_value)
            stalls = jnp.where(stalled, stalls + 1, 0)
            done = (stalls >= patience) | ~ok
            return step + 1, new_phi, new_state, new_value, done, stalls

        carry = (
            jnp.asarray(0),
            phi0,
            solver.init(phi0),
            value_fn(phi0),
            jnp.asarray(False),
            jnp.asarray(0),
        )
        step, phi, _, value, done, _ = jax.lax.while_loop(cond, body, carry)
        return phi, value, done, step

    run = jax.jit(jax.vmap(solve_one, in_axes=(0, None, None, 0)))
    _RUNNERS[key] = run
    return run


@dataclass(frozen=True)
class Approach3Fit(ResultMixin):
    """The best approach-3 fit of a data set.

    Paper layout (as published by the Gemstones code): ``coefficients`` a_i on the natural-log scale,
    ``exponents`` alpha_i, ``irreducible_error`` e; natural layout: ``A`` = exp(a), ``alpha``, ``E`` =
    exp(e), so that L = E + sum_i A_i x_i^-alpha_i.

    Attributes:
        variables: variable names, in parameter order.
        exponents: alpha_i.
        coefficients: a_i (log scale).
        irreducible_error: e (log scale).
        objective: summed Huber objective at the optimum.
        delta: Huber threshold used.
        theta: the full parameter vector ``[a..., alpha..., e]``.
        n_points: data points fitted.
        n_starts: grid starts evaluated (screened).
        n_polished: screened starts probed with the local solver.
        n_converged: of the starts polished to the end, how many met the stopping rule.
        flags: warnings about degenerate solutions (see ``degeneracy_flags`` and
            ``identifiability_flags``).
        seed: the seed used.
        screen_points: data points used to screen the grid.
        unidentified: parameters the data cannot determine (``a_<variable>``,
            ``alpha_<variable>``, ``e``), flagged ``parameters_not_identified``.
    """

    variables: tuple[str, ...]
    exponents: tuple[float, ...]
    coefficients: tuple[float, ...]
    irreducible_error: float
    objective: float
    delta: float
    theta: np.ndarray
    n_points: int
    n_starts: int
    n_polished: int
    n_converged: int
    flags: tuple[str, ...]
    seed: int = 0
    screen_points: int = 0
    unidentified: tuple[str, ...] = ()

    @property
    def A(self) -> tuple[float, ...]:
        """Natural-scale coefficients exp(a_i) (inf where a_i > 709.78, flagged
        ``coefficient_overflow``)."""
        with np.errstate(over="ignore"):
            return tuple(float(np.exp(a)) for a in self.coefficients)

    @property
    def alpha(self) -> tuple[float, ...]:
        """Exponents alpha_i (same as ``exponents``)."""
        return self.exponents

    @property
    def E(self) -> float:
        """Natural-scale irreducible loss exp(e) (inf where e > 709.78, flagged)."""
        with np.errstate(over="ignore"):
            return float(np.exp(self.irreducible_error))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted loss at points ``x`` (n, k) (or (k,) for one point), raw variable values."""
        x_arr = np.asarray(x, dtype=np.float64)
        single = x_arr.ndim == 1
        x_arr = np.atleast_2d(x_arr)
        if x_arr.shape[-1] != len(self.variables):
            raise FitInputError(
                f"predict needs {len(self.variables)} columns {list(self.variables)}; "
                f"got shape {x_arr.shape}"
            )
        out = np.exp(log_prediction(self.theta, np.log(x_arr)))
        return out[0] if single else out

    def as_dict(self) -> dict:
        """JSON-friendly summary (paper layout plus natural layout).

        Strict JSON: a natural-scale value that overflows float64 (flagged
        ``coefficient_overflow``) is ``None``; the log-scale values are always finite.
        """
        return {
            "variables": list(self.variables),
            "objective": self.objective,
            "delta": self.delta,
            "exponents": list(self.exponents),
            "coefficients": list(self.coefficients),
            "irreducible_error": self.irreducible_error,
            "A": [_finite_or_none(v) for v in self.A],
            "alpha": list(self.alpha),
            "E": _finite_or_none(self.E),
            "n_points": self.n_points,
            "n_starts": self.n_starts,
            "n_polished": self.n_polished,
            "n_converged": self.n_converged,
            "flags": list(self.flags),
            "unidentified_parameters": list(self.unidentified),
            "seed": self.seed,
        }


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None


def degeneracy_flags(
    theta: np.ndarray,
    k: int,
    grid: StartGrid | None,
    *,
    converged: bool = True,
    e_floor: float = E_FLOOR,
    exponent_floor: float = 1e-3,
) -> tuple[str, ...]:
    """Flags for solutions that should not be read at face value.

    - ``irreducible_error_vanishing``: e < ``e_floor`` (E -> 0; the fit drove e to -inf).
    - ``exponent_near_zero``: some |alpha_i| < ``exponent_floor`` (a term is a constant).
    - ``negative_exponent``: some alpha_i < 0 (loss grows with the variable).
    - ``at_grid_edge``: some exponent sits at or beyond an edge of the start grid's exponent span
      (within ``exponent_floor``); coefficients a_i depend on the variables' units, so they are
      not checked against the grid.
    - ``not_converged``: the best start did not meet the stopping rule.
    """
    _, alpha, e = split_theta(np.asarray(theta), k)
    flags = []
    if e < e_floor:
        flags.append(FLAG_VANISHING_E)
    if np.any(np.abs(alpha) < exponent_floor):
        flags.append(FLAG_EXPONENT_NEAR_ZERO)
    if np.any(alpha < -exponent_floor):
        flags.append(FLAG_NEGATIVE_EXPONENT)
    if grid is not None:
        low, high = min(grid.exponents), max(grid.exponents)
        at_edge = np.any(alpha >= high - exponent_floor) or np.any(alpha <= low + exponent_floor)
        if at_edge:
            flags.append(FLAG_AT_GRID_EDGE)
    if not converged:
        flags.append(FLAG_NOT_CONVERGED)
    return tuple(flags)


def fit_approach3(
    x: np.ndarray,
    loss: np.ndarray,
    *,
    variables: Sequence[str],
    delta: float = DEFAULT_DELTA,
    start_grid: StartGrid | np.ndarray | None = None,
    seed: int = 0,
    weights: np.ndarray | None = None,
    n_polish: int = DEFAULT_POLISH_STARTS,
    max_screen_points: int = 256,
    max_steps: int = DEFAULT_MAX_STEPS,
    probe_steps: int = 40,
    n_refine: int = 32,
    max_refine_points: int = DEFAULT_REFINE_POINTS,
    n_final: int = DEFAULT_FINAL_STARTS,
    engine: str | None = None,
) -> Approach3Fit:
    """Fit an approach-3 law to positive data: screen a start grid, polish the best, keep the best.

    Args:
        x: raw (positive) variable values, shape (n, k), columns in the order of ``variables``.
        loss: measured losses, shape (n,).
        variables: names of the k variables.
        delta: Huber threshold (paper: 1e-4).
        start_grid: ``None`` for the paper's grid, a ``StartGrid``, or an explicit (m, 2k+1) array
            of starts (all polished, no screening).
        seed: seed of the screening subsample for large data sets (the fit is deterministic given it).
        weights: optional per-point weights (n,).
        n_polish: how many screened starts to polish.
        max_screen_points: screen the grid on at most this many points.
        max_steps: iteration cap of the final polish.
        probe_steps: iterations every screened start gets (on the screening points) before the
            best ``n_refine`` of them (by objective) are polished to convergence on all points.
        n_refine: how many probed starts are polished to convergence.
        max_refine_points: above this many points, the ``n_refine`` starts converge on a seeded
            subsample of this size first, and only the best ``n_final`` distinct solutions are
            polished on every point (time linear in n, memory O(n)). At or below it (every
            built-in design) all ``n_refine`` are polished on every point.
        n_final: how many subsample solutions are polished on every point for large data sets.
        engine: ``"auto"``, ``"numpy"``, ``"jax"``, or None to read ``GEMSTONES_FIT_ENGINE``
            (default ``auto``). One engine runs the whole fit: ``auto`` picks numpy for small
            problems (the largest batched solve and the grid screen below
            ``fitting.lm_engine.NUMPY_MAX_PAIRS`` / ``NUMPY_MAX_SCREEN``: every two-variable
            design), so a small fit never imports JAX. Both engines run the same algorithm and
            reach the same optimum up to rounding.

    Returns:
        The best ``Approach3Fit`` (lowest objective among converged polished starts, or among all
        when none converged, flagged ``not_converged``).

    Raises:
        FitInputError: empty data, non-positive or non-finite values (naming the rows), bad shapes,
            a delta that is not positive and finite, fewer distinct points than free parameters
            (2k + 1), or a variable that never varies.
    """
    delta = validate_delta(delta)
    variables = tuple(variables)
    log_x, log_loss = validate_inputs(x, loss, variables)
    k = len(variables)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != log_loss.shape:
            raise FitInputError(f"weights must have shape {log_loss.shape}; got {weights.shape}")
    n_distinct = require_enough_data(log_x, variables, weights)
    sized = PAPER_GRID if start_grid is None else start_grid
    grid_size = sized.size(k) if isinstance(sized, StartGrid) else 0
    engine = resolve_engine(
        engine,
        _largest_solve(
            log_loss.size, n_polish, max_screen_points, n_refine, max_refine_points, n_final
        ),
        grid_size * min(log_loss.size, max_screen_points),
    )
    grid: StartGrid | None
    if start_grid is None or isinstance(start_grid, StartGrid):
        grid = PAPER_GRID if start_grid is None else start_grid
        screened = screen_grid(
            grid,
            log_x,
            log_loss,
            keep=n_polish,
            delta=delta,
            weights=weights,
            max_points=max_screen_points,
            seed=seed,
            engine=engine,
        )
        starts, n_starts, screen_points = (
            screened.starts,
            screened.n_evaluated,
            screened.n_screen_points,
        )
    else:
        grid = None
        starts = np.atleast_2d(np.asarray(start_grid, dtype=np.float64))
        if starts.shape[1] != 2 * k + 1:
            raise FitInputError(f"explicit starts need {2 * k + 1} columns; got {starts.shape}")
        n_starts, screen_points = starts.shape[0], 0
    n_polished = starts.shape[0]
    if n_polished > n_refine:
        # successive halving: probe every start briefly on the screening points, then polish
        # only the most promising ones to convergence on every point
        subset = screening_subsample(log_loss.size, max_screen_points, seed)
        probe = solve_from_starts(
            starts,
            log_x[subset],
            log_loss[subset],
            delta=delta,
            weights=None if weights is None else weights[subset],
            max_steps=probe_steps,
            # the polish's slot count: on small data both stages share one compiled program
            slots=n_refine,
            round_steps=probe_steps,
            engine=engine,
        )
        order = np.lexsort((np.arange(n_polished), probe.objective))[:n_refine]
        starts = probe.theta[order]
    if log_loss.size > max_refine_points and starts.shape[0] > n_final:
        # large data: converge on a subsample, then polish only the few best distinct solutions
        subset = screening_subsample(log_loss.size, max_refine_points, seed)
        refined = solve_from_starts(
            starts,
            log_x[subset],
            log_loss[subset],
            delta=delta,
            weights=None if weights is None else weights[subset],
            max_steps=max_steps,
            engine=engine,
        )
        starts = refined.theta[_distinct_best(refined, n_final)]
    solution = solve_from_starts(
        starts, log_x, log_loss, delta=delta, weights=weights, max_steps=max_steps, engine=engine
    )
    best = _best_index(solution)
    theta = solution.theta[best]
    if not np.all(np.isfinite(theta)):
        raise FitInputError(
            f"the fit failed: no start reached finite parameters ({theta.tolist()}); the data do "
            f"not follow a law over {list(variables)}"
        )
    converged = bool(solution.converged[best])
    extra_flags, unidentified = identifiability_flags(theta, log_x, variables, weights, n_distinct)
    value = chunked_objective(theta, log_x, log_loss, delta, weights)
    a, alpha, e = split_theta(theta, k)
    return Approach3Fit(
        variables=variables,
        exponents=tuple(float(v) for v in alpha),
        coefficients=tuple(float(v) for v in a),
        irreducible_error=float(e),
        objective=value,
        delta=float(delta),
        theta=theta,
        n_points=int(log_loss.shape[0]),
        n_starts=int(n_starts),
        n_polished=int(n_polished),
        n_converged=int(np.sum(solution.converged)),
        flags=degeneracy_flags(theta, k, grid, converged=converged) + extra_flags,
        seed=int(seed),
        screen_points=int(screen_points),
        unidentified=unidentified,
    )


def _largest_solve(
    n: int, n_polish: int, screen_points: int, n_refine: int, refine_points: int, n_final: int
) -> int:
    """Starts x points of a fit's largest batched solve (what ``auto`` sizes the engine by)."""
    probe = n_polish * min(n, screen_points)
    if n <= refine_points:
        return max(probe, n_refine * n)
    return max(probe, n_refine * refine_points, n_final * n)


def _best_index(solution: StartsSolution) -> int:
    """Index of the best converged solution (ties: lowest index), or the best overall if none."""
    values = solution.objective
    if np.any(solution.converged):
        values = np.where(solution.converged, values, np.inf)
    return int(np.argmin(values))


def parameter_names(variables: Sequence[str]) -> tuple[str, ...]:
    """Names of ``theta``'s entries: ``a_<variable>``..., ``alpha_<variable>``..., ``e``."""
    return POWER_SUM.parameter_names_for(variables)


_FLAG_CHUNK = 65_536
"""Rows of the Jacobian formed at once by ``identifiability_flags``."""


def identifiability_flags(
    theta: np.ndarray,
    log_x: np.ndarray,
    variables: Sequence[str],
    weights: np.ndarray | None = None,
    n_distinct: int | None = None,
    *,
    rtol: float = IDENTIFIABILITY_RTOL,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Flags for what the data cannot determine, and the parameters concerned.

    - ``parameters_not_identified``: the Gauss-Newton matrix H = J^T W J of the log predictions
      (J with respect to the centred parameters, W the point weights) has eigenvalues below
      ``rtol`` times its largest: along those directions the parameters can move by whole units
      with no visible change in the fitted values (too few distinct values of a variable, a term
      that is negligible or a step, variables that are functions of each other). The parameters
      with a component of at least 0.1 in such a direction are returned.
    - ``coefficient_overflow``: some a_i or e exceeds log(float64 max) = 709.78, so A_i or E is
      infinite on the natural scale (the log-scale values are still exact).
    - ``as_many_parameters_as_points``: ``n_distinct`` equals the number of parameters; the law
      interpolates the data and the objective (about 0) says nothing about the fit.

    A vanishing irreducible error (e < ``E_FLOOR``) is left out of the identifiability check:
    ``degeneracy_flags`` reports it as ``irreducible_error_vanishing``.

    Args:
        theta: the fitted parameters ``[a..., alpha..., e]``.
        log_x: natural logs of the variables, shape (n, k).
        variables: the variable names.
        weights: optional per-point weights (n,).
        n_distinct: distinct points with positive weight (from ``require_enough_data``).
        rtol: relative eigenvalue threshold.

    Returns:
        ``(flags, unidentified parameter names)``.

    Example:
        >>> x = np.log([[1.0], [2.0], [4.0], [8.0]])
        >>> identifiability_flags(np.array([0.0, 0.5, -1.0]), x, ["n"])
        ((), ())
    """
    theta = np.asarray(theta, dtype=np.float64)
    k = len(variables)
    flags: list[str] = []
    a, _, e = split_theta(theta, k)
    if np.any(a > _LOG_FLOAT_MAX) or e > _LOG_FLOAT_MAX:
        flags.append(FLAG_COEFFICIENT_OVERFLOW)
    if n_distinct is not None and n_distinct <= parameter_count(k):
        flags.append(FLAG_NO_DEGREES_OF_FREEDOM)
    centre = _centre(log_x)
    phi, centred_x = _to_centred(theta, centre), log_x - centre
    b, alpha, e_value = split_theta(phi, k)
    checked = parameter_names(variables)
    keep = len(checked) - (1 if e < E_FLOOR else 0)
    if e < E_FLOOR:
        checked = checked[:-1]
    n = log_x.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    gauss_newton = np.zeros((keep, keep))
    for start in range(0, n, _FLAG_CHUNK):  # J^T W J in chunks: O(chunk) memory at any n
        cx = centred_x[start : start + _FLAG_CHUNK]
        z = np.concatenate([b - alpha * cx, np.full((cx.shape[0], 1), e_value)], axis=1)
        share = np.exp(z - np.max(z, axis=1, keepdims=True))
        share /= np.sum(share, axis=1, keepdims=True)  # d log L_hat / d z: softmax weights
        jac = POWER_SUM.layout(k).join(share[:, :k], -share[:, :k] * cx, share[:, k])[:, :keep]
        gauss_newton += (jac * w[start : start + _FLAG_CHUNK, None]).T @ jac
    curvature, directions = np.linalg.eigh(gauss_newton)
    weak = curvature <= rtol * max(float(curvature[-1]), np.finfo(np.float64).tiny)
    involved = np.any(np.abs(directions[:, weak]) >= 0.1, axis=1)
    names = tuple(name for name, hit in zip(checked, involved, strict=True) if hit)
    if names:
        flags.append(FLAG_NOT_IDENTIFIED)
    return tuple(flags), names


def _distinct_best(solution: StartsSolution, count: int, tol: float = 1e-3) -> np.ndarray:
    """Indices of up to ``count`` best solutions (converged first), one per basin.

    A solution within ``tol`` (every parameter) of a better one is the same basin and skipped.
    """
    rank = np.where(solution.converged, 0, 1)
    order = np.lexsort((np.arange(rank.size), solution.objective, rank))
    chosen: list[int] = []
    for i in order:
        theta = solution.theta[i]
        if not np.all(np.isfinite(theta)):
            continue
        if any(np.max(np.abs(theta - solution.theta[j])) <= tol for j in chosen):
            continue
        chosen.append(int(i))
        if len(chosen) == count:
            break
    return np.array(chosen or [int(order[0])], dtype=np.int64)
