"""The ``sigmoid_accuracy`` family: accuracy as a sigmoid of a loss with a chance floor (step 2 of
the two-step task law of Bhagia et al., arXiv 2412.04403)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from fitting.errors import FitInputError
from fitting.laws.base import FamilyFit, LawFamily

# --------------------------------------------------------------------------- sigmoid_accuracy


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

    def constraints(self, inputs: Sequence[str] | None = None) -> dict[str, str]:
        return {
            "top": "chance < top <= 1",
            "k": "[0.001, 1000]",
            "L0": "within 5 data ranges of the losses",
            "chance": "fixed by options['chance'] (default 0.25)",
        }

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
