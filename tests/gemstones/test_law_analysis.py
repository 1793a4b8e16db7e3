"""Holdout rules and validation splits (pure, fast)."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from gemstones.errors import GemstonesInputError
from gemstones.scaling.law_analysis import Holdout, folds

TABLE = pl.DataFrame(
    {
        "params": np.repeat([1e7, 2e7, 5e7, 1e8, 2e8, 5e8, 1e9, 2e9, 5e9, 1e10], 3),
        "flops": np.geomspace(1e17, 1e22, 30),
    }
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [("larger:0.2", "larger", 0.2), ("params>1e9", "params", 1e9), ("flops>3e20", "flops", 3e20)],
)
def test_holdout_parses(text, kind, value):
    rule = Holdout.parse(text)
    assert (rule.kind, rule.value) == (kind, value)


@pytest.mark.parametrize("text", ["larger:0", "larger:1.5", "params>-1", "tokens>5", "flops>x", ""])
def test_holdout_rejects(text):
    with pytest.raises(GemstonesInputError, match="invalid --holdout"):
        Holdout.parse(text)


def test_leave_larger_out_holds_out_the_largest_shapes():
    (fold,) = folds(TABLE, "leave-larger-out", Holdout.parse("larger:0.2"))
    held = np.unique(TABLE["params"].to_numpy()[fold.test])
    assert held.tolist() == [5e9, 1e10]
    assert not np.any(fold.train & fold.test)
    (by_flops,) = folds(TABLE, "leave-larger-out", Holdout.parse("flops>1e21"))
    assert np.all(TABLE["flops"].to_numpy()[by_flops.test] > 1e21)


def test_rollout_expands_the_window_and_tests_the_next_sizes():
    splits = folds(TABLE, "rollout", Holdout.parse("larger:0.2"), n_folds=4)
    assert len(splits) == 4
    params = TABLE["params"].to_numpy()
    for earlier, later in itertools.pairwise(splits):
        assert later.train.sum() > earlier.train.sum()
    for fold in splits:
        assert params[fold.train].max() < params[fold.test].min()
    with pytest.raises(GemstonesInputError, match="rollout folds"):
        folds(TABLE, "rollout", Holdout.parse("larger:0.2"), n_folds=0)
    with pytest.raises(GemstonesInputError, match="unknown scheme"):
        folds(TABLE, "kfold", Holdout.parse("larger:0.2"))
