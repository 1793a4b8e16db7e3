"""The ``loss_to_loss`` family: ``L_y = E_y + K (L_x - E_x)^kappa`` (Brandfonbrener et al.,
arXiv 2411.12925), between two losses of the same models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from fitting.laws.base import FamilyFit, LawFamily

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

    def constraints(self, inputs: Sequence[str] | None = None) -> dict[str, str]:
        return {
            "E_x": "0 <= E_x < min L_x",
            "E_y": "0 <= E_y < min L_y",
            "K": "[1e-08, 1e+04]",
            "kappa": "[0.05, 10]",
        }

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
