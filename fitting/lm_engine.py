"""The batched Levenberg-Marquardt step of approach 3, written once for numpy and for JAX.

``fitting.approach3.solve_from_starts`` polishes many starts at once. Its algorithm (an IRLS
Levenberg-Marquardt on the Huber objective, see that module) is defined here against an array
namespace ``xp``: ``jax.numpy`` inside the compiled JAX loop, ``numpy`` in the eager engine that
small problems use, so that a small fit never imports JAX (importing JAX alone takes longer than
a whole small fit). Both engines run the same iterations from the same starts with the same
stopping rule; they differ only in floating-point rounding (summation order), so they land on the
same optimum (objectives equal to about 1e-12 relative on the built-in designs).

Engine choice: ``resolve_engine`` reads ``engine=`` or, when that is None, the environment
variable ``GEMSTONES_FIT_ENGINE``:

- ``auto`` (default): numpy when the problem is small (starts x points at most
  ``NUMPY_MAX_PAIRS``, and a start-grid screen of at most ``NUMPY_MAX_SCREEN`` pairs: every
  two-variable design), else JAX;
- ``numpy`` or ``jax``: always that engine.

The numpy engine steps only the starts still running (finished ones drop out of the arrays), and
accumulates ``J^T W J`` and ``J^T W r`` over chunks of points, so memory stays
O(n + starts x chunk) as in the JAX engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from fitting.errors import FitInputError
from fitting.laws.power_sum import huber
from fitting.laws.power_sum import log_prediction_jacobian_rows as log_prediction_jacobian

ENGINES = ("auto", "numpy", "jax")
_DEFAULT = {"engine": "auto", "source": "engine"}
"""What ``resolve_engine(None, ...)`` uses; ``gemstones`` sets it from ``GEMSTONES_FIT_ENGINE``."""
NUMPY_MAX_PAIRS = 1 << 17
"""``auto`` picks numpy when the largest batched solve has at most this many (start, point) pairs
(131,072; ``hot``: 256 probed starts x 220 points, then 32 x 220)..."""
NUMPY_MAX_SCREEN = 1 << 22
"""... and the start grid's screen at most this many (grid point, point) pairs (4,194,304): a
two-variable law's 4,500-point grid on up to 256 screening points passes, a three-variable law's
135,000 do not (there JAX's fused, compiled screen is several times faster than numpy's)."""

NUMPY_CHUNK_PAIRS = 1 << 15
"""(start, point) pairs per accumulation chunk of the numpy engine."""

INITIAL_DAMPING = 1e-3


def set_default_engine(engine: str, source: str = "engine") -> None:
    """Set the engine that calls without an explicit ``engine`` use in this process.

    The name is checked when a fit resolves it, so a bad value is reported by the fit, naming
    ``source`` (the application's setting, e.g. an environment variable).

    Args:
        engine: ``"auto"``, ``"numpy"`` or ``"jax"``.
        source: what to call the setting in an error message.

    Example:
        >>> set_default_engine("jax"); resolve_engine(None, 1)
        'jax'
        >>> set_default_engine("auto"); resolve_engine(None, 1)
        'numpy'
    """
    _DEFAULT.update(engine=engine, source=source)


def resolve_engine(engine: str | None, pairs: int, screen_pairs: int = 0) -> str:
    """The engine (``"numpy"`` or ``"jax"``) a problem runs on.

    Args:
        engine: ``"auto"``, ``"numpy"``, ``"jax"``, or None for the process default
            (:func:`set_default_engine`; ``"auto"`` unless set).
        pairs: starts x points of the largest batched solve of the problem.
        screen_pairs: grid points x points of its start-grid screen (0: none).

    Returns:
        ``"numpy"`` or ``"jax"``.

    Raises:
        FitInputError: an engine name (given or the process default) that is not one of ``ENGINES``.

    Example:
        >>> resolve_engine("auto", 32 * 220), resolve_engine("auto", 10**7), resolve_engine("jax", 1)
        ('numpy', 'jax', 'jax')
    """
    source = "engine"
    if engine is None:
        engine, source = _DEFAULT["engine"], _DEFAULT["source"]
    name = str(engine).strip().lower()
    if name not in ENGINES:
        raise FitInputError(f"unknown {source} {engine!r}; valid: {', '.join(ENGINES)}")
    if name == "auto":
        small = pairs <= NUMPY_MAX_PAIRS and screen_pairs <= NUMPY_MAX_SCREEN
        return "numpy" if small else "jax"
    return name


def chunk_stats(
    phi: Any,
    lx_t: Any,
    ly: Any,
    w: Any,
    delta: float,
    xp: ModuleType = np,
    stop_gradient: Callable[[Any], Any] | None = None,
) -> tuple[Any, Any, Any]:
    """Objective, ``J^T W J`` and ``J^T W r`` of every start over one chunk of points.

    ``W`` is the IRLS majoriser of the Huber loss: the point weight times ``min(1, delta/|r|)``.

    Args:
        phi: (m, p) centred parameters.
        lx_t: (k, c) centred log variables, one row per variable; ly: (c,) log losses.
        w: (mw, c) point weights, mw 1 (shared) or m (one row per start).
        delta: Huber threshold.
        xp: ``numpy`` or ``jax.numpy``.
        stop_gradient: see ``log_prediction_jacobian``.

    Returns:
        ``(f (m,), h (m, p, p), g (m, p))``.
    """
    pred, jac = log_prediction_jacobian(phi, lx_t, xp, stop_gradient)
    r = ly[None, :] - pred
    f = xp.sum(huber(r, delta, xp) * w, axis=1)
    irls = w * xp.minimum(1.0, delta / xp.maximum(xp.abs(r), 1e-300))
    jw = jac * irls[:, None, :]
    h = xp.matmul(jw, xp.swapaxes(jac, 1, 2))
    g = xp.matmul(jw, r[..., None])[..., 0]
    return f, h, g


def lm_step(
    state: dict[str, Any],
    stats: Callable[[Any], tuple[Any, Any, Any]],
    max_steps: Any,
    rtol: float,
    patience: int,
    xp: ModuleType = np,
    solve: Callable[[Any, Any], Any] | None = None,
) -> dict[str, Any]:
    """One Levenberg-Marquardt pass over a batch of starts (both engines' loop body).

    A start flagged ``fresh`` is evaluated (objective, ``J^T W J``, ``J^T W r``), not stepped.
    Every other running start tries the damped Gauss-Newton step; it is taken only when the
    objective falls (damping / 3), else the damping grows x 4. A pass whose objective falls by at
    most ``rtol * |f|`` (a rejected step included) is a stall; ``patience`` stalls in a row end
    the start.

    Args:
        state: ``phi`` (m, p), ``f`` (m,), ``h`` (m, p, p), ``g`` (m, p), ``lam`` (m,),
            ``done`` (m,) bool, ``stalls`` (m,) int, ``steps`` (m,) int, ``fresh`` (m,) bool.
        stats: ``phi -> (f, h, g)`` summed over every point.
        max_steps: iteration cap per start.
        rtol: relative stall threshold.
        patience: stalls in a row that end a start.
        xp: ``numpy`` or ``jax.numpy``.
        solve: batched ``solve(a (m, p, p), b (m, p, 1))``; default ``xp.linalg.solve``.

    Returns:
        The next state (same keys; ``fresh`` all False).
    """
    phi, f, h, g, lam, fresh = (state[key] for key in ("phi", "f", "h", "g", "lam", "fresh"))
    p = phi.shape[-1]
    live = ~state["done"] & (state["steps"] < max_steps) & ~fresh
    diag = xp.diagonal(h, axis1=1, axis2=2)
    damping = lam[:, None] * (diag + 1e-12 * (1.0 + xp.max(diag, axis=1, keepdims=True)))
    system = h + damping[..., None] * xp.eye(p)
    step_vec = (solve or xp.linalg.solve)(system, g[..., None])[..., 0]
    trial = xp.where(fresh[:, None], phi, phi + step_vec)
    f_trial, h_trial, g_trial = stats(trial)
    better = xp.isfinite(f_trial) & (f_trial < f) & live
    take = better | fresh
    new_f = xp.where(take, f_trial, f)
    stalled = (f - new_f) <= rtol * xp.abs(new_f)
    stalls = xp.where(live, xp.where(stalled, state["stalls"] + 1, 0), state["stalls"])
    return {
        "phi": xp.where(take[:, None], trial, phi),
        "f": new_f,
        "h": xp.where(take[:, None, None], h_trial, h),
        "g": xp.where(take[:, None], g_trial, g),
        "lam": xp.where(live, xp.clip(xp.where(better, lam / 3.0, lam * 4.0), 1e-12, 1e16), lam),
        "done": state["done"] | (live & (stalls >= patience)),
        "stalls": stalls,
        "steps": state["steps"] + live.astype(state["steps"].dtype),
        "fresh": xp.zeros_like(fresh),
    }


def _numpy_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``np.linalg.solve``; a singular system gives NaN (as in JAX) instead of raising."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out = np.full(b.shape, np.nan)
        for i in range(a.shape[0]):
            with contextlib.suppress(np.linalg.LinAlgError):
                out[i] = np.linalg.solve(a[i], b[i])
        return out


def lm_solve_numpy(
    phi0: np.ndarray,
    lx: np.ndarray,
    ly: np.ndarray,
    weights: np.ndarray,
    *,
    delta: float,
    max_steps: int,
    rtol: float,
    patience: int,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run ``lm_step`` in numpy on every start until each has converged or spent ``max_steps``.

    Only the starts still running are stepped; a start's iterates do not depend on the others.

    Args:
        phi0: (m, p) centred starts.
        lx: (n, k) centred log variables; ly: (n,) log losses.
        weights: (1, n) shared or (m, n) per-start point weights.
        delta, max_steps, rtol, patience: as in ``lm_step``.
        progress: optional ``progress(finished, m)``, called every ``progress_every`` passes that
            finished starts, and at the end.
        progress_every: passes between progress calls.

    Returns:
        ``(phi, f, converged, steps)``, each with a leading axis of m.
    """
    m, p = phi0.shape
    n = ly.shape[0]
    lx_t = np.ascontiguousarray(lx.T)
    per_start = weights.shape[0] != 1
    state: dict[str, np.ndarray] = {
        "phi": np.array(phi0, dtype=np.float64, copy=True),
        "f": np.zeros(m),
        "h": np.zeros((m, p, p)),
        "g": np.zeros((m, p)),
        "lam": np.full(m, INITIAL_DAMPING),
        "done": np.zeros(m, dtype=bool),
        "stalls": np.zeros(m, dtype=np.int32),
        "steps": np.zeros(m, dtype=np.int32),
        "fresh": np.ones(m, dtype=bool),
    }
    running = np.flatnonzero(~state["done"] & (state["steps"] < max_steps))
    reported, passes = 0, 0
    while running.size:
        w_rows = weights[running] if per_start else weights
        chunk = max(1, NUMPY_CHUNK_PAIRS // running.size)

        def stats(phi: np.ndarray, w_rows: np.ndarray = w_rows, chunk: int = chunk):
            if n <= chunk:
                return chunk_stats(phi, lx_t, ly, w_rows, delta)
            total = None
            for start in range(0, n, chunk):
                part = slice(start, start + chunk)
                piece = chunk_stats(phi, lx_t[:, part], ly[part], w_rows[:, part], delta)
                total = (
                    piece
                    if total is None
                    else tuple(a + b for a, b in zip(total, piece, strict=True))
                )
            return total

        sub = {key: value[running] for key, value in state.items()}
        new = lm_step(sub, stats, max_steps, rtol, patience, np, _numpy_solve)
        for key, value in new.items():
            state[key][running] = value
        passes += 1
        running = running[~new["done"] & (new["steps"] < max_steps)]
        finished = m - running.size
        if progress is not None and finished > reported and (passes % progress_every == 0):
            progress(finished, m)
            reported = finished
    if progress is not None and reported < m:
        progress(m, m)
    return state["phi"], state["f"], state["done"], state["steps"].astype(np.int64)
