"""Registers the built-in law families (run once, on the registry's first use)."""

from __future__ import annotations

from fitting.laws.base import REGISTRY
from fitting.laws.isoflop import Isoflop
from fitting.laws.loss_to_loss import LossToLoss
from fitting.laws.power_sum import POWER_SUM
from fitting.laws.sigmoid import SigmoidAccuracy

for _family in (POWER_SUM, Isoflop(), LossToLoss(), SigmoidAccuracy()):
    REGISTRY.register(_family.name, _family)
