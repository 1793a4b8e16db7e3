"""The law families on the catalog: approach 2, loss-to-loss, two-step downstream prediction, and
extrapolation validation (leave-larger-out and rollout) of every family on a design.

The math is in :mod:`fitting.laws`; this module selects the catalog rows, builds the
holdout splits and scores predictions.

Example:
    >>> from gemstones.scaling.law_analysis import validate_design
    >>> rows = validate_design("hot", law="power_sum", holdout="larger:0.2")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fitting.approach1 import Approach1Fit
from fitting.errors import FitInputError
from fitting.laws import REGISTRY, bootstrap_isoflop, relative_errors
from gemstones.errors import GemstonesInputError
from gemstones.scaling.designs import Design, design_table, load_design, results_folder
from registry.catalog import Catalog
from registry.metrics import (
    BENCHMARK_CHOICES,
    EVAL_PREFIX,
    METRICS,
    Metric,
    MetricRegistry,
    benchmark_metric,
)

#: The catalog's loss metrics and lighteval benchmarks (``registry.metrics``).
CatalogLike = Catalog | pl.DataFrame
"""A catalog, or its rows as a polars frame (``Catalog.frame`` or a filtered copy)."""

LOSS_COLUMNS = METRICS.names("loss")
BENCHMARKS = tuple(BENCHMARK_CHOICES)
SCHEMES = ("leave-larger-out", "rollout")
VALIDATED_LAWS = ("power_sum", "isoflop", "loss_to_loss", "sigmoid_accuracy")
MAX_ROLLOUT_FOLDS = 10


def _catalog(catalog: CatalogLike | None) -> pl.DataFrame:
    if catalog is None:
        from registry.catalog import load_catalog

        return load_catalog().frame
    return catalog.frame if isinstance(catalog, Catalog) else catalog


def _design(design: str | Design) -> Design:
    return design if isinstance(design, Design) else load_design(design)


def _with_metrics(
    names: tuple[str, ...], catalog: CatalogLike | None, results: Path | None
) -> tuple[pl.DataFrame, MetricRegistry]:
    """The catalog rows and the metric registry, with evaluated metrics joined when ``names``
    include one (``eval_*``, from the results folder ``results``, default the user cache's)."""
    frame = _catalog(catalog)
    if not any(n.startswith(EVAL_PREFIX) and n not in frame.columns for n in names):
        return frame, METRICS
    from gemstones.evaluate.results import ResultStore, join_results, metric_registry

    records = ResultStore(results).records()
    return join_results(frame, records), metric_registry(records=records)


def _metric_registry(names: tuple[str, ...], results: Path | None) -> MetricRegistry:
    """The metric registry, with the evaluated metrics of ``results`` when ``names`` include one."""
    if not any(n.startswith(EVAL_PREFIX) for n in names):
        return METRICS
    from gemstones.evaluate.results import metric_registry

    return metric_registry(results)


def _loss_metric(name: str, registry: MetricRegistry) -> Metric:
    """The registered loss ``name`` (``unknown loss 'x'; valid: ...`` otherwise)."""
    return registry.get_kind(name, "loss", "loss")


# --------------------------------------------------------------------------- approach 2


def isoflop_design(
    design: str | Design,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    n_budgets: int = 24,
    catalog: CatalogLike | None = None,
) -> Any:
    """Approach 2 on a design's data (every checkpoint it selects), bootstrapped by runs.

    Returns:
        ``fitting.laws.IsoflopBootstrap``.
    """
    table = design_table(_design(design), catalog)
    run = (
        table["run_name"].to_numpy() if "run_name" in table.columns else table["params"].to_numpy()
    )
    return bootstrap_isoflop(
        run,
        table["params"].to_numpy(),
        table["flops"].to_numpy(),
        table["loss"].to_numpy(),
        n_resamples=n_resamples,
        seed=seed,
        ci=ci,
        n_budgets=n_budgets,
    )


# --------------------------------------------------------------------------- loss-to-loss


def loss_pairs(
    x: str, y: str, catalog: CatalogLike | None = None, *, results: Path | None = None
) -> pl.DataFrame:
    """Checkpoints with both losses: columns shape, params, tokens, step, loss_x, loss_y.

    Args:
        x, y: two different registered loss metrics (``gemstones metrics list``): the catalog's
            validation losses, or evaluated ones (``eval_loss_<name>``, ``eval_bpb_<name>``).
        catalog: the catalog (default: ``load_catalog()``).
        results: the results folder of evaluated metrics (default: the user cache's).

    Raises:
        RegistryInputError: ``unknown loss 'x'; valid: ...`` (the registered losses).
        GemstonesInputError: the same loss twice, or no checkpoint with both.

    Example:
        >>> loss_pairs("val_loss", "val_loss_dclm").height  # doctest: +SKIP
        770
    """
    if x == y:
        raise GemstonesInputError(f"loss-to-loss needs two different losses; got {x!r} twice")
    frame, registry = _with_metrics((x, y), catalog, results)
    for name in (x, y):
        _loss_metric(name, registry)
    pairs = frame.filter(pl.col(x).is_not_null() & pl.col(y).is_not_null())
    if pairs.is_empty():
        raise GemstonesInputError(f"no checkpoint has both {x} and {y}")
    return pairs.select(
        "shape", "params", "tokens", "step", loss_x=pl.col(x), loss_y=pl.col(y)
    ).sort("params", "step")


def fit_loss_to_loss(
    x: str, y: str, catalog: CatalogLike | None = None, *, results: Path | None = None
) -> Any:
    """Fit ``L_y = E_y + K (L_x - E_x)^kappa`` on every checkpoint with both losses
    (:func:`loss_pairs`)."""
    pairs = loss_pairs(x, y, catalog, results=results)
    return REGISTRY.get("loss_to_loss").fit(pairs["loss_x"].to_numpy(), pairs["loss_y"].to_numpy())


# --------------------------------------------------------------------------- two-step downstream


def accuracy_metric(benchmark: str, registry: MetricRegistry | None = None) -> Metric:
    """The accuracy metric of a benchmark (``hellaswag`` or ``bench_hellaswag``, or an evaluated
    ``eval_acc_<name>``), which must have a chance level: the sigmoid's floor.

    Raises:
        RegistryInputError: an unknown benchmark (listing the valid ones).
        GemstonesInputError: an accuracy whose chance level is unknown.
    """
    metric = benchmark_metric(benchmark, registry)
    if metric.chance is None:
        raise GemstonesInputError(
            f"accuracy {metric.name!r} has no known chance level (its results do not record the "
            "number of choices), and the sigmoid needs it as its floor"
        )
    return metric


def bench_rows(
    benchmark: str,
    loss: str = "val_loss",
    catalog: CatalogLike | None = None,
    *,
    results: Path | None = None,
) -> pl.DataFrame:
    """Main checkpoints with the benchmark's accuracy: shape, params, tokens, step, loss, accuracy.

    Args:
        benchmark: a registered accuracy (see :func:`accuracy_metric`).
        loss: a registered loss metric.
        results: the results folder of evaluated metrics (default: the user cache's).
    """
    frame, registry = _with_metrics((loss, benchmark), catalog, results)
    column = accuracy_metric(benchmark, registry).name
    _loss_metric(loss, registry)
    frame = frame.filter(
        (pl.col("variant") == "main") & pl.col(column).is_not_null() & pl.col(loss).is_not_null()
    )
    return frame.select(
        "shape",
        params=pl.col("params").cast(pl.Float64),
        tokens=pl.col("tokens").cast(pl.Float64),
        step="step",
        loss=pl.col(loss),
        accuracy=pl.col(column),
    ).sort("params", "step")


@dataclass(frozen=True)
class TwoStepResult:
    """Two-step prediction of held-out shapes: (N, D) -> loss -> accuracy.

    Attributes:
        benchmark, loss: what was predicted and through which loss.
        heldout_shapes: the shapes predicted.
        loss_fit, accuracy_fit: the two ``FamilyFit`` steps.
        table: held-out rows with ``loss_pred``, ``accuracy_pred`` and
            ``accuracy_from_true_loss`` (step 2 alone).
        final_error_points: accuracy error (points) at each held-out shape's last checkpoint.
        mae_points: mean absolute accuracy error over every held-out checkpoint (points).
        loss_relative_error: mean relative error of step 1's loss.
    """

    benchmark: str
    loss: str
    heldout_shapes: tuple[str, ...]
    loss_fit: Any
    accuracy_fit: Any
    table: pl.DataFrame
    final_error_points: dict[str, float]
    mae_points: float
    step2_mae_points: float
    loss_relative_error: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "benchmark": self.benchmark,
            "loss": self.loss,
            "heldout_shapes": list(self.heldout_shapes),
            "final_error_points": self.final_error_points,
            "mae_points": self.mae_points,
            "step2_mae_points": self.step2_mae_points,
            "loss_relative_error": self.loss_relative_error,
            "loss_fit": self.loss_fit.as_dict(),
            "accuracy_fit": self.accuracy_fit.as_dict(),
        }


def two_step(
    benchmark: str = "hellaswag",
    *,
    loss: str = "val_loss",
    heldout: int | tuple[str, ...] = 2,
    catalog: CatalogLike | None = None,
    n_polish: int = 64,
    rows: pl.DataFrame | None = None,
    results: Path | None = None,
) -> TwoStepResult:
    """Predict held-out shapes' accuracy from the others' (Bhagia et al.'s two steps).

    Step 1 fits ``loss = E + A N^-alpha + B D^-beta`` (``power_sum``) on the other shapes'
    checkpoints; step 2 fits ``accuracy = chance + (top - chance) sigmoid(-k (loss - L0))`` on
    them; the held-out shapes' accuracy is step 2 of step 1's predicted loss.

    Args:
        benchmark: a registered accuracy (``hellaswag``, ``bench_hellaswag``, an evaluated
            ``eval_acc_<name>``); its chance level (``registry.metrics``) is the sigmoid's floor.
        loss: the intermediate loss metric.
        heldout: the number of largest shapes to hold out, or their names.
        rows: the checkpoints to use (columns of :func:`bench_rows`); default: every main
            checkpoint with the benchmark.
        results: the results folder of evaluated metrics (default: the user cache's).
    """
    chance = accuracy_metric(benchmark, _metric_registry((benchmark,), results)).chance
    if rows is None:
        rows = bench_rows(benchmark, loss, catalog, results=results)
    if isinstance(heldout, int):
        sizes = rows.group_by("shape").agg(pl.col("params").first()).sort("params")
        if not 1 <= heldout < sizes.height - 3:
            raise GemstonesInputError(f"heldout must be 1..{sizes.height - 4}; got {heldout}")
        shapes = tuple(sizes["shape"].tail(heldout).to_list())
    else:
        shapes = tuple(heldout)
    test = rows.filter(pl.col("shape").is_in(list(shapes)))
    train = rows.filter(~pl.col("shape").is_in(list(shapes)))
    if test.height == 0:
        raise GemstonesInputError(f"held-out shapes {list(shapes)} have no {benchmark} rows")
    loss_fit = REGISTRY.get("power_sum").fit(
        train.select("params", "tokens").to_numpy(),
        train["loss"].to_numpy(),
        options={"n_polish": n_polish},
    )
    acc_family = REGISTRY.get("sigmoid_accuracy")
    acc_fit = acc_family.fit(
        train["loss"].to_numpy(),
        train["accuracy"].to_numpy(),
        options={"chance": chance},
    )
    loss_pred = loss_fit.predict(test.select("params", "tokens").to_numpy())
    acc_pred = acc_fit.predict(loss_pred)
    acc_true_loss = acc_fit.predict(test["loss"].to_numpy())
    table = test.with_columns(
        loss_pred=pl.Series(loss_pred),
        accuracy_pred=pl.Series(acc_pred),
        accuracy_from_true_loss=pl.Series(acc_true_loss),
    )
    last = table.sort("step").group_by("shape").last()
    final = {
        row["shape"]: 100.0 * (row["accuracy_pred"] - row["accuracy"])
        for row in last.iter_rows(named=True)
    }
    return TwoStepResult(
        benchmark=benchmark,
        loss=loss,
        heldout_shapes=shapes,
        loss_fit=loss_fit,
        accuracy_fit=acc_fit,
        table=table,
        final_error_points=final,
        mae_points=float(100 * np.mean(np.abs(acc_pred - test["accuracy"].to_numpy()))),
        step2_mae_points=float(100 * np.mean(np.abs(acc_true_loss - test["accuracy"].to_numpy()))),
        loss_relative_error=float(np.mean(relative_errors(loss_pred, test["loss"].to_numpy()))),
    )


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Holdout:
    """A leave-larger-out rule: ``larger:FRAC`` (the largest fraction of shapes by params),
    ``params>X`` or ``flops>X``."""

    kind: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Holdout:
        """Parse ``larger:0.2``, ``params>1e9`` or ``flops>1e20``.

        Raises:
            GemstonesInputError: anything else.
        """
        text = text.strip()
        try:
            if text.startswith("larger:"):
                value = float(text.split(":", 1)[1])
                if 0 < value < 1:
                    return cls("larger", value)
            for kind in ("params", "flops"):
                if text.startswith(f"{kind}>"):
                    value = float(text.split(">", 1)[1])
                    if np.isfinite(value) and value > 0:
                        return cls(kind, value)
        except ValueError:
            pass
        raise GemstonesInputError(
            f"invalid --holdout {text!r}; valid: larger:FRAC (0 < FRAC < 1), params>X, flops>X"
        )

    def test_mask(self, table: pl.DataFrame) -> np.ndarray:
        """Which rows of a table (with params and, for flops, flops) are held out."""
        if self.kind == "larger":
            sizes = np.unique(table["params"].to_numpy())
            n_out = max(1, round(self.value * sizes.size))
            cut = sizes[-n_out]
            return table["params"].to_numpy() >= cut
        return table[self.kind].to_numpy() > self.value


@dataclass(frozen=True)
class Fold:
    """One train/test split of a validation scheme."""

    label: str
    train: np.ndarray
    test: np.ndarray


def folds(table: pl.DataFrame, scheme: str, holdout: Holdout, n_folds: int = 4) -> list[Fold]:
    """The splits of a scheme: one for leave-larger-out, ``n_folds`` for rollout (shapes sorted by
    params into ``n_folds + 1`` groups; fold i trains on groups 0..i and tests on group i + 1)."""
    if scheme not in SCHEMES:
        raise GemstonesInputError(f"unknown scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    if scheme == "leave-larger-out":
        test = holdout.test_mask(table)
        return [Fold(f"{holdout.kind}:{holdout.value:g}", ~test, test)]
    if not 1 <= n_folds <= MAX_ROLLOUT_FOLDS:
        raise GemstonesInputError(f"rollout folds must be 1..{MAX_ROLLOUT_FOLDS}; got {n_folds}")
    params = table["params"].to_numpy()
    sizes = np.unique(params)
    groups = np.array_split(sizes, n_folds + 1)
    out = []
    for i in range(n_folds):
        train_sizes = np.concatenate(groups[: i + 1])
        out.append(
            Fold(
                f"<= {train_sizes.max():.3g} -> {groups[i + 1].max():.3g}",
                np.isin(params, train_sizes),
                np.isin(params, groups[i + 1]),
            )
        )
    return out


def _score(pred: np.ndarray, true: np.ndarray, points: bool) -> dict[str, float]:
    if points:
        err = 100.0 * (pred - true)
        return {
            "mae": float(np.mean(np.abs(err))),
            "max_abs": float(np.max(np.abs(err))),
            "bias": float(np.mean(err)),
        }
    rel = (pred - true) / true
    return {
        "mean_rel_error": float(np.mean(np.abs(rel))),
        "max_rel_error": float(np.max(np.abs(rel))),
        "bias": float(np.mean(rel)),
        "mae": float(np.mean(np.abs(pred - true))),
    }


def validate_design(
    design: str | Design,
    *,
    law: str = "power_sum",
    holdout: str = "larger:0.2",
    scheme: str = "leave-larger-out",
    n_folds: int = 4,
    benchmark: str = "hellaswag",
    loss_y: str = "val_loss_dclm",
    n_polish: int = 64,
    interval_resamples: int = 0,
    catalog: CatalogLike | None = None,
) -> list[dict[str, Any]]:
    """Extrapolation validation of a law family on a design's data.

    - ``power_sum``: the design's law variables (params-tokens by default) on the design's
      points; error = relative error of the predicted loss on held-out points.
    - ``isoflop``: N*(C) from the training runs' parabolas; error = relative error of the predicted
      N* against the N* that all runs' parabolas give at the budgets beyond the training set's
      largest (approach 2 validated on the optimum it predicts, not on a loss).
    - ``loss_to_loss``: the design's loss to ``loss_y`` over the design's shapes (every main
      checkpoint with both); error = relative error of the held-out shapes' ``loss_y``.
    - ``sigmoid_accuracy``: the two-step task law (``benchmark``) with the held-out shapes;
      error in accuracy points.

    With ``interval_resamples`` > 0, ``power_sum`` folds also report ``pi_coverage``: the share
    of held-out points inside the 95% prediction interval (bootstrap refits by runs plus the
    training residuals, :func:`fitting.laws.prediction_interval`).

    Returns:
        One record per fold: design, law, scheme, fold, n_train, n_test, and the error metrics.
    """
    spec = _design(design)
    if law not in VALIDATED_LAWS:
        REGISTRY.get(law)  # unknown: the registry's error lists the families
        raise GemstonesInputError(
            f"law {law!r} has no validation; valid: {', '.join(VALIDATED_LAWS)}"
        )
    rule = Holdout.parse(holdout)
    if law in ("loss_to_loss", "sigmoid_accuracy"):
        table, target = _design_pairs(spec, law, benchmark, loss_y, catalog)
        if table.height == 0:
            return [
                {
                    "design": spec.name,
                    "law": law,
                    "scheme": scheme,
                    "fold": "-",
                    "n_train": 0,
                    "n_test": 0,
                    "error": f"no selected checkpoint has both {spec.selection.loss} and {target.name}",
                }
            ]
    else:
        table = design_table(spec, catalog)
    records = []
    for fold in folds(table, scheme, rule, n_folds):
        train, test = table.filter(pl.Series(fold.train)), table.filter(pl.Series(fold.test))
        record: dict[str, Any] = {
            "design": spec.name,
            "law": law,
            "scheme": scheme,
            "fold": fold.label,
            "n_train": train.height,
            "n_test": test.height,
        }
        if train.height == 0 or test.height == 0 or train["params"].n_unique() < 3:
            record["error"] = "empty or too small split"
            records.append(record)
            continue
        try:
            record.update(
                _validate_fold(
                    law, spec, train, test, benchmark, n_polish, catalog, interval_resamples
                )
            )
        except FitInputError as failure:
            record["error"] = str(failure)
        records.append(record)
    return records


def _design_pairs(
    spec: Design, law: str, benchmark: str, loss_y: str, catalog: CatalogLike | None
) -> tuple[pl.DataFrame, Metric]:
    """The design's selected checkpoints that have both its loss and the law's target metric
    (``loss_y`` or the benchmark's accuracy), and that metric."""
    from gemstones.scaling.designs import select_rows

    if spec.selection.source != "catalog":
        raise GemstonesInputError(f"{law} needs a catalog design; {spec.name!r} reads a file")
    x_col = spec.selection.loss
    wanted = loss_y if law == "loss_to_loss" else benchmark
    frame, registry = _with_metrics((x_col, wanted), catalog, results_folder(spec))
    if law == "loss_to_loss":
        target = _loss_metric(loss_y, registry)
    else:
        target = accuracy_metric(benchmark, registry)
    rows = select_rows(spec, frame).filter(
        pl.col(x_col).is_not_null() & pl.col(target.name).is_not_null()
    )
    names = ("loss_x", "loss_y") if law == "loss_to_loss" else ("loss", "accuracy")
    return rows.select(
        "shape",
        params=pl.col("params").cast(pl.Float64),
        tokens=pl.col("tokens").cast(pl.Float64),
        step="step",
        **{names[0]: pl.col(x_col), names[1]: pl.col(target.name)},
    ).with_columns(flops=6.0 * pl.col("params") * pl.col("tokens")), target


def _coverage(
    train: pl.DataFrame,
    test: pl.DataFrame,
    variables: list[str],
    spec: Design,
    fit: Any,
    x_test: np.ndarray,
    resamples: int,
    n_polish: int,
) -> dict[str, Any]:
    """Share of held-out points inside the 95% prediction interval of a power-sum fold."""
    from fitting.laws import bootstrap_family, prediction_interval

    x_train = train.select(variables).to_numpy().astype(np.float64)
    y_train = train["loss"].to_numpy()
    groups = (
        train["run_name"].to_numpy() if "run_name" in train.columns else np.arange(y_train.size)
    )
    boot = bootstrap_family(
        "power_sum",
        x_train,
        y_train,
        groups,
        n_resamples=resamples,
        options={"variables": variables, "delta": spec.fit.delta, "n_polish": n_polish},
    )
    residuals = np.log(y_train) - np.log(fit.predict(x_train))
    low, _, high = prediction_interval(boot.samples, np.log(x_test), residuals, level=0.95)
    y_test = test["loss"].to_numpy()
    return {
        "pi_coverage": float(np.mean((y_test >= low) & (y_test <= high))),
        "pi_mean_rel_width": float(np.mean((high - low) / y_test)),
    }


def _validate_fold(
    law: str,
    spec: Design,
    train: pl.DataFrame,
    test: pl.DataFrame,
    benchmark: str,
    n_polish: int,
    catalog: CatalogLike | None,
    interval_resamples: int = 0,
) -> dict[str, Any]:
    if law == "power_sum":
        variables = list(spec.law.variable_names)
        fit = REGISTRY.get("power_sum").fit(
            train.select(variables).to_numpy().astype(np.float64),
            train["loss"].to_numpy(),
            options={"variables": variables, "delta": spec.fit.delta, "n_polish": n_polish},
        )
        x_test = test.select(variables).to_numpy().astype(np.float64)
        pred = fit.predict(x_test)
        out = {**_score(pred, test["loss"].to_numpy(), False), "units": "relative loss"}
        if interval_resamples > 0:
            out.update(
                _coverage(train, test, variables, spec, fit, x_test, interval_resamples, n_polish)
            )
        return out
    if law == "loss_to_loss":
        fit = REGISTRY.get("loss_to_loss").fit(
            train["loss_x"].to_numpy(), train["loss_y"].to_numpy()
        )
        pred = fit.predict(test["loss_x"].to_numpy())
        return {**_score(pred, test["loss_y"].to_numpy(), False), "units": "relative loss"}
    if law == "sigmoid_accuracy":
        result = two_step(
            benchmark,
            rows=pl.concat([train, test]).drop("flops"),
            loss=spec.selection.loss,
            heldout=tuple(test["shape"].unique().to_list()),
            n_polish=n_polish,
            catalog=catalog,
            results=results_folder(spec),
        )
        score = _score(
            result.table["accuracy_pred"].to_numpy(), result.table["accuracy"].to_numpy(), True
        )
        return {
            **score,
            "units": f"{benchmark} accuracy points",
            "final_error_points": result.final_error_points,
        }
    # isoflop: fit N*(C) on the training runs, compare with all runs' N* at the same budgets
    from fitting.laws import fit_isoflop

    def arrays(frame: pl.DataFrame) -> tuple[np.ndarray, ...]:
        run = (
            frame["run_name"].to_numpy()
            if "run_name" in frame.columns
            else frame["params"].to_numpy()
        )
        return run, frame["params"].to_numpy(), frame["flops"].to_numpy(), frame["loss"].to_numpy()

    small = fit_isoflop(*arrays(train))
    full = fit_isoflop(*arrays(pl.concat([train, test])))
    beyond = full.budgets > small.budgets.max()
    target = full.budgets[beyond] if np.any(beyond) else full.budgets
    observed = full.optimal_params[beyond] if np.any(beyond) else full.optimal_params
    pred = small.optimal_params_at(target)
    return {
        **_score(pred, observed, False),
        "units": "relative N*",
        "params_exponent_train": small.params_exponent,
        "params_exponent_all": full.params_exponent,
    }


# --------------------------------------------------------------------------- approaches side by side


def compare_approaches(
    design: str | Design,
    *,
    n_resamples: int = 100,
    seed: int = 0,
    approach3_resamples: int = 0,
    catalog: CatalogLike | None = None,
) -> pl.DataFrame:
    """Approaches 1, 2 and 3 on one design's data: the params and tokens exponents of the
    compute-optimal allocation (N* ∝ C^a, D* ∝ C^b), each with its interval.

    Approach 1: slopes of the envelope lines with their Student-t 95% intervals; approach 2:
    :func:`isoflop_design` with a bootstrap by runs; approach 3: ``a = beta / (alpha + beta)``
    of the fitted power sum, with a bootstrap-by-runs interval when ``approach3_resamples`` > 0
    (warm-started refits; about 0.5 s each on a few hundred points).
    """
    from gemstones.scaling.designs import fit_design

    spec = _design(design)
    table = design_table(spec, catalog)
    rows: list[dict[str, Any]] = []
    one = fit_design(spec.with_overrides(approach=1), table=table).fit
    assert isinstance(one, Approach1Fit)  # approach 1 was asked for
    rows.append(
        {
            "approach": 1,
            "method": f"envelope ({one.method})",
            "params_exponent": one.params.slope,
            "params_low": one.params.slope_ci[0],
            "params_high": one.params.slope_ci[1],
            "tokens_exponent": one.tokens.slope,
            "interval": "95% Student t",
        }
    )
    two = isoflop_design(spec, n_resamples=n_resamples, seed=seed, catalog=catalog)
    rows.append(
        {
            "approach": 2,
            "method": f"isoflop ({two.fit.budgets.size} budgets)",
            "params_exponent": two.fit.params_exponent,
            "params_low": two.params_exponent_ci[0],
            "params_high": two.params_exponent_ci[1],
            "tokens_exponent": two.fit.tokens_exponent,
            "interval": f"{two.ci:.0%} bootstrap by runs ({two.resamples.size})",
        }
    )
    options = {"delta": spec.fit.delta, "seed": spec.fit.seed}
    x3, y3 = table.select("params", "tokens").to_numpy(), table["loss"].to_numpy()
    low3 = high3 = None
    if approach3_resamples > 0:
        from fitting.laws import bootstrap_family

        boot3 = bootstrap_family(
            "power_sum",
            x3,
            y3,
            table["run_name"].to_numpy(),
            n_resamples=approach3_resamples,
            seed=seed,
            options=options,
        )
        three = boot3.fit
        low3, high3 = boot3.derived_intervals.get("params_exponent", (None, None))
    else:
        three = REGISTRY.get("power_sum").fit(x3, y3, options=options)
    derived = REGISTRY.get("power_sum").derived(three)
    rows.append(
        {
            "approach": 3,
            "method": "power_sum (Huber)",
            "params_exponent": derived.get("params_exponent"),
            "params_low": low3,
            "params_high": high3,
            "tokens_exponent": derived.get("tokens_exponent"),
            "interval": (
                f"95% bootstrap by runs ({approach3_resamples})"
                if approach3_resamples > 0
                else "none (--resamples-3; see laws profile)"
            ),
        }
    )
    return pl.DataFrame(rows)


# --------------------------------------------------------------------------- any family on a design


@dataclass(frozen=True)
class DesignFamilyFit:
    """A law family fitted on a design's data with bootstrap intervals.

    Attributes:
        design: the design's name.
        law: the family's name.
        boot: ``FamilyBootstrap`` (or ``IsoflopBootstrap`` for ``isoflop``).
        x, y: the fitted inputs and outputs (for plots).
        xlabel, ylabel: what x and y are.
    """

    design: str
    law: str
    boot: Any
    x: np.ndarray
    y: np.ndarray
    xlabel: str
    ylabel: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {"design": self.design, "law": self.law, **self.boot.as_dict()}


def fit_family_on_design(
    design: str | Design,
    law: str,
    *,
    loss_y: str = "val_loss_dclm",
    benchmark: str = "hellaswag",
    n_resamples: int = 100,
    seed: int = 0,
    ci: float = 0.95,
    n_polish: int = 64,
    catalog: CatalogLike | None = None,
) -> DesignFamilyFit:
    """Fit one registered family on a catalog design's checkpoints, with intervals by runs.

    - ``power_sum``: the design's law variables -> its loss;
    - ``isoflop``: approach 2 on its checkpoints;
    - ``loss_to_loss``: the design's loss -> ``loss_y`` on its checkpoints that have both;
    - ``sigmoid_accuracy``: the design's loss -> the benchmark's accuracy (chance floor from
      the metric registry, ``registry.metrics``).
    """
    from fitting.laws import bootstrap_family

    spec = _design(design)
    REGISTRY.get(law)
    if law == "isoflop":
        boot = isoflop_design(spec, n_resamples=n_resamples, seed=seed, ci=ci, catalog=catalog)
        return DesignFamilyFit(
            spec.name, law, boot, boot.fit.budgets, boot.fit.optimal_params, "FLOPs", "N*"
        )
    if law == "power_sum":
        table = design_table(spec, catalog)
        variables = list(spec.law.variable_names)
        x = table.select(variables).to_numpy().astype(np.float64)
        y = table["loss"].to_numpy()
        groups = table["run_name"].to_numpy() if "run_name" in table.columns else np.arange(y.size)
        options: dict[str, Any] = {
            "variables": variables,
            "delta": spec.fit.delta,
            "n_polish": n_polish,
        }
        xlabel, ylabel = ", ".join(variables), spec.selection.loss
    else:
        pairs, target = _design_pairs(spec, law, benchmark, loss_y, catalog)
        if pairs.height == 0:
            raise GemstonesInputError(
                f"design {spec.name!r} selects no checkpoints with both {spec.selection.loss} "
                f"and {target.name}"
            )
        x = pairs[pairs.columns[4]].to_numpy()
        y = pairs[pairs.columns[5]].to_numpy()
        groups = pairs["shape"].to_numpy()
        options = {"chance": target.chance} if law == "sigmoid_accuracy" else {}
        xlabel, ylabel = spec.selection.loss, target.name
    boot = bootstrap_family(
        law, x, y, groups, n_resamples=n_resamples, seed=seed, ci=ci, options=options
    )
    return DesignFamilyFit(spec.name, law, boot, np.asarray(x), np.asarray(y), xlabel, ylabel)
