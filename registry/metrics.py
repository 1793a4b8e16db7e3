"""The metric registry: what every measurement column of the catalog is.

A :class:`Metric` names a catalog column and says what kind of number it holds (a ``loss``, lower
is better, or an ``accuracy``, higher is better), its chance level, unit, and where it comes from.
The embedded catalog's measurement columns are registered here (:data:`METRICS`); metrics measured
with ``gemstones eval`` join a copy of the registry when their results exist
(``gemstones.evaluate.results.metric_registry``), named by the rules of :data:`EVALUATED_COLUMNS`.

Example:
    >>> from registry.metrics import get_metric
    >>> get_metric("bench_piqa").chance, get_metric("val_loss").kind
    (0.5, 'loss')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from .errors import RegistryInputError

MetricKind = Literal["loss", "accuracy"]
METRIC_KINDS: tuple[str, ...] = ("loss", "accuracy")
SOURCES: tuple[str, ...] = ("catalog", "evaluated")


@dataclass(frozen=True)
class Metric:
    """One measurement column.

    Attributes:
        name: the catalog column (and the name designs and commands use).
        kind: ``"loss"`` (lower is better) or ``"accuracy"`` (higher is better).
        chance: the expected score of a uniform guess (accuracies: mean of 1 / number of choices),
            None for losses and for accuracies whose number of choices is unknown.
        unit: the unit of the values.
        source: ``"catalog"`` (embedded, from the upstream tables) or ``"evaluated"``
            (``gemstones eval`` results).
        provenance: where the values come from and how they are defined.
        companions: other columns about this metric, as ``(column, what it holds)`` pairs (its
            standard error, or its value at another point of a run).
    """

    name: str
    kind: MetricKind
    chance: float | None
    unit: str
    source: str
    provenance: str
    companions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in METRIC_KINDS:
            raise RegistryInputError(
                f"metric {self.name!r}: unknown kind {self.kind!r}; valid: {', '.join(METRIC_KINDS)}"
            )
        if self.source not in SOURCES:
            raise RegistryInputError(
                f"metric {self.name!r}: unknown source {self.source!r}; valid: {', '.join(SOURCES)}"
            )
        if self.kind == "loss" and self.chance is not None:
            raise RegistryInputError(f"metric {self.name!r}: a loss has no chance level")
        if self.chance is not None and not (math.isfinite(self.chance) and 0 <= self.chance < 1):
            raise RegistryInputError(
                f"metric {self.name!r}: chance must be in [0, 1); got {self.chance!r}"
            )

    @property
    def direction(self) -> str:
        """Which values are better: ``"lower"`` (losses) or ``"higher"`` (accuracies)."""
        return "lower" if self.kind == "loss" else "higher"

    @property
    def columns(self) -> tuple[str, ...]:
        """Every catalog column the metric describes: its own, then its companions'."""
        return (self.name, *(column for column, _ in self.companions))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``gemstones metrics list --format json``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "chance": self.chance,
            "direction": self.direction,
            "unit": self.unit,
            "source": self.source,
            "provenance": self.provenance,
            "companions": [column for column, _ in self.companions],
        }


class MetricRegistry:
    """Metrics by name, in registration order.

    Args:
        metrics: the initial members.

    Example:
        >>> registry = MetricRegistry([Metric("x", "loss", None, "nats", "catalog", "a test")])
        >>> registry.get("x").direction, registry.names()
        ('lower', ('x',))
    """

    def __init__(self, metrics: Iterable[Metric] = ()) -> None:
        self._metrics: dict[str, Metric] = {}
        for metric in metrics:
            self.register(metric)

    def register(self, metric: Metric, *, replace: bool = False) -> Metric:
        """Add ``metric``; an equal one already registered is kept, a different one needs ``replace``.

        Raises:
            RegistryInputError: another metric (or a companion column) already has the name.
        """
        known = self._metrics.get(metric.name)
        if known == metric:
            return known
        if known is not None and not replace:
            raise RegistryInputError(f"metric {metric.name!r} is already registered")
        taken = {
            c: m.name for m in self._metrics.values() for c in m.columns if m.name != metric.name
        }
        clash = next((c for c in metric.columns if c in taken), None)
        if clash is not None:
            raise RegistryInputError(
                f"metric {metric.name!r}: column {clash!r} is already described by {taken[clash]!r}"
            )
        self._metrics[metric.name] = metric
        return metric

    def get(self, name: str) -> Metric:
        """The metric called ``name``.

        Raises:
            RegistryInputError: ``unknown metric 'x'; available: ...``.
        """
        try:
            return self._metrics[name]
        except KeyError:
            raise RegistryInputError(
                f"unknown metric {name!r}; available: {', '.join(self._metrics) or 'none'}"
            ) from None

    def get_kind(self, name: str, kind: str, what: str | None = None) -> Metric:
        """The metric ``name``, which must be of ``kind``.

        Args:
            what: the word for it in the error (default: the kind), e.g. ``"loss"``.

        Raises:
            RegistryInputError: ``unknown <what> 'x'; valid: <the metrics of that kind>``.
        """
        metric = self._metrics.get(name)
        if metric is None or metric.kind != kind:
            valid = ", ".join(self.names(kind)) or "none"
            detail = (
                f" ({name!r} is {'an' if metric.kind == 'accuracy' else 'a'} {metric.kind})"
                if metric
                else ""
            )
            raise RegistryInputError(f"unknown {what or kind} {name!r}{detail}; valid: {valid}")
        return metric

    def names(self, kind: str | None = None) -> tuple[str, ...]:
        """Registered names (of one kind when given), in registration order."""
        return tuple(m.name for m in self.metrics(kind))

    def metrics(self, kind: str | None = None) -> tuple[Metric, ...]:
        """Registered metrics (of one kind when given), in registration order."""
        return tuple(m for m in self._metrics.values() if kind is None or m.kind == kind)

    def describing(self, column: str) -> Metric | None:
        """The metric a catalog column belongs to (its own column or a companion), else None."""
        return next((m for m in self._metrics.values() if column in m.columns), None)

    def copy(self) -> MetricRegistry:
        """An independent registry with the same members."""
        return MetricRegistry(self._metrics.values())

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def __iter__(self) -> Iterator[str]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)


# --------------------------------------------------------------------------- the embedded catalog

_UPSTREAM = "Gemstones paper repository (arXiv 2502.06857, MIT; data/upstream/gemstones)"
_LIGHTEVAL = (
    "lighteval accuracy (log-likelihood of each choice), {upstream}: "
    "benchmarks/light_eval_df.parquet column {task!r} (standard error: light_eval_df_err.parquet); "
    "chance = 1/{choices}: {choices} choices per item in the lighteval task definition "
    "(huggingface/lighteval, src/lighteval/tasks: {dataset})"
)

#: The lighteval benchmarks of the catalog: column suffix -> (upstream task, choices, dataset note).
BENCHMARK_CHOICES: dict[str, tuple[str, int, str]] = {
    "arc_challenge": ("arc:challenge", 4, "ai2_arc ARC-Challenge, A-D; a few items have 3 or 5"),
    "arc_easy": ("arc:easy", 4, "ai2_arc ARC-Easy, A-D; a few items have 3 or 5"),
    "commonsense_qa": ("commonsense_qa", 5, "CommonsenseQA, choices A-E"),
    "hellaswag": ("hellaswag", 4, "HellaSwag, 4 endings"),
    "mmlu": ("mmlu", 4, "MMLU, choices A-D"),
    "openbookqa": ("openbookqa", 4, "OpenBookQA, choices A-D"),
    "piqa": ("piqa", 2, "PIQA, 2 solutions"),
    "siqa": ("siqa", 3, "Social IQa, answers A-C"),
    "winogrande": ("winogrande", 2, "WinoGrande, 2 options"),
}
BENCHMARK_PREFIX = "bench_"


def _catalog_metrics() -> list[Metric]:
    losses = [
        Metric(
            "val_loss",
            "loss",
            None,
            "nats per token",
            "catalog",
            "Dolma held-out validation loss (the loss the paper fits), "
            f"{_UPSTREAM}: wandb_dfs/wandb_df_for_fitting_*.jsonl",
            companions=(
                (
                    "cooldown_start_val_loss",
                    "cooldown rows: val_loss where the cooldown began (wandb_df_for_fitting_cool_begin.jsonl)",
                ),
            ),
        ),
    ]
    for corpus, label in (("fineweb", "FineWeb"), ("fineweb_edu", "FineWeb-Edu"), ("dclm", "DCLM")):
        losses.append(
            Metric(
                f"val_loss_{corpus}",
                "loss",
                None,
                "nats per token",
                "catalog",
                f"{label} validation loss, {_UPSTREAM}: "
                f"other_validation_losses/{corpus}_losses/Gemstone-<w>x<d>.json",
            )
        )
    accuracies = [
        Metric(
            f"{BENCHMARK_PREFIX}{suffix}",
            "accuracy",
            1.0 / choices,
            "fraction correct",
            "catalog",
            _LIGHTEVAL.format(upstream=_UPSTREAM, task=task, choices=choices, dataset=dataset),
            companions=((f"{BENCHMARK_PREFIX}{suffix}_stderr", "standard error"),),
        )
        for suffix, (task, choices, dataset) in BENCHMARK_CHOICES.items()
    ]
    return [*losses, *accuracies]


#: The metrics of the embedded catalog (and any registered with :func:`register_metric`).
METRICS = MetricRegistry(_catalog_metrics())


def get_metric(name: str, registry: MetricRegistry | None = None) -> Metric:
    """The registered metric ``name`` (in ``registry``, default :data:`METRICS`).

    Raises:
        RegistryInputError: ``unknown metric 'x'; available: ...``.

    Example:
        >>> get_metric("bench_commonsense_qa").chance
        0.2
    """
    return (registry if registry is not None else METRICS).get(name)


def register_metric(metric: Metric, *, replace: bool = False) -> Metric:
    """Add a metric to :data:`METRICS` (for catalogs with more measurement columns)."""
    return METRICS.register(metric, replace=replace)


def benchmark_metric(benchmark: str, registry: MetricRegistry | None = None) -> Metric:
    """The accuracy metric of a benchmark given by short name (``hellaswag``) or metric name.

    Raises:
        RegistryInputError: ``unknown benchmark 'x'; valid: <short names>, <other accuracies>``.
    """
    members = registry if registry is not None else METRICS
    for name in (f"{BENCHMARK_PREFIX}{benchmark}", benchmark):
        if name in members and members.get(name).kind == "accuracy":
            return members.get(name)
    valid = [
        n.removeprefix(BENCHMARK_PREFIX) if n.startswith(BENCHMARK_PREFIX) else n
        for n in members.names("accuracy")
    ]
    raise RegistryInputError(f"unknown benchmark {benchmark!r}; valid: {', '.join(valid)}")


# --------------------------------------------------------------------------- evaluated metrics


@dataclass(frozen=True)
class EvaluatedColumn:
    """How one value of a ``gemstones eval`` result becomes a catalog column ``<prefix>_<name>``.

    Attributes:
        value: the key in a result record's ``values``.
        prefix: the column prefix.
        kind: the metric kind.
        unit: the unit of the values.
        definition: what the value is.
    """

    value: str
    prefix: str
    kind: MetricKind
    unit: str
    definition: str


#: Per metric-set kind (``loss`` on a corpus, ``mc`` on a task file): its evaluated columns.
EVALUATED_COLUMNS: dict[str, tuple[EvaluatedColumn, ...]] = {
    "loss": (
        EvaluatedColumn(
            "loss", "eval_loss", "loss", "nats per token", "mean next-token NLL per scored token"
        ),
        EvaluatedColumn(
            "bits_per_byte", "eval_bpb", "loss", "bits per byte", "summed NLL / ln 2 / UTF-8 bytes"
        ),
    ),
    "mc": (
        EvaluatedColumn(
            "acc", "eval_acc", "accuracy", "fraction correct", "argmax summed log-likelihood"
        ),
        EvaluatedColumn(
            "acc_norm",
            "eval_acc_norm",
            "accuracy",
            "fraction correct",
            "argmax log-likelihood / len(choice)",
        ),
    ),
}
EVAL_PREFIX = "eval_"


def evaluated_column(column: str) -> EvaluatedColumn | None:
    """The evaluated-column rule a column name follows (longest prefix first), else None.

    Example:
        >>> evaluated_column("eval_acc_norm_quiz").value, evaluated_column("val_loss")
        ('acc_norm', None)
    """
    rules = sorted(
        (rule for rules in EVALUATED_COLUMNS.values() for rule in rules),
        key=lambda rule: -len(rule.prefix),
    )
    return next(
        (r for r in rules if column.startswith(f"{r.prefix}_") and len(column) > len(r.prefix) + 1),
        None,
    )


def evaluated_metric(column: str, *, chance: float | None = None, provenance: str = "") -> Metric:
    """The :class:`Metric` of an evaluated column (kind and unit from its prefix).

    Args:
        column: ``eval_loss_<name>``, ``eval_bpb_<name>``, ``eval_acc_<name>`` or
            ``eval_acc_norm_<name>``.
        chance: accuracies: the chance level if the number of choices is known.
        provenance: where the results are (appended to the definition).

    Raises:
        RegistryInputError: a column that follows none of the rules.
    """
    rule = evaluated_column(column)
    if rule is None:
        prefixes = ", ".join(f"{r.prefix}_<name>" for rs in EVALUATED_COLUMNS.values() for r in rs)
        raise RegistryInputError(f"{column!r} is not an evaluated metric column; valid: {prefixes}")
    text = f"gemstones eval {rule.value}: {rule.definition}"
    return Metric(
        column,
        rule.kind,
        chance if rule.kind == "accuracy" else None,
        rule.unit,
        "evaluated",
        f"{text}; {provenance}" if provenance else text,
    )
