"""Build the checkpoint catalog from the upstream tables copied into ``data/upstream/gemstones``.

Reproducible: ``python -m registry.suites.gemstones.build`` rewrites ``data/catalog/gemstones.parquet`` from the files in
the repository alone, and a test rebuilds it and compares it with the committed copy.

Sources (all from the MIT-licensed Gemstones paper repository; see data/README.md):
- ``wandb_dfs/wandb_df_for_fitting_hot_100b+_477.jsonl``: every main-variant checkpoint (22 x 175);
- ``wandb_dfs/wandb_df_for_fitting_lr_ablation_hot_477.jsonl``: every half-lr checkpoint (20 x 50);
- ``wandb_dfs/wandb_df_for_fitting_cool_end.jsonl`` / ``cool_begin.jsonl``: each cooldown's end and start;
- ``other_validation_losses/{fineweb,fineweb_edu,dclm}_losses/Gemstone-{w}x{d}.json``: other losses;
- ``benchmarks/light_eval_df.parquet`` (+ ``_err``): lighteval accuracies and their standard errors;
- every other ``wandb_df_for_fitting_<set>.jsonl``: membership in the paper's fitting sets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from ...atomic import write_parquet_atomic
from ...embedded import embedded_path
from . import architecture as arch
from . import naming
from .naming import PAPER_SETS

_OTHER_LOSSES = {
    "fineweb": "val_loss_fineweb",
    "fineweb_edu": "val_loss_fineweb_edu",
    "dclm": "val_loss_dclm",
}
_VARIANT_ORDER = {name: i for i, name in enumerate(naming.VARIANTS)}


def upstream_dir() -> Path:
    """Folder of the upstream Gemstones tables inside the embedded data."""
    return embedded_path("upstream", "gemstones")


def read_paper_set(name: str, source: Path | None = None) -> pl.DataFrame:
    """Read one upstream fitting table ``wandb_df_for_fitting_<name>.jsonl`` as a polars frame."""
    root = source or upstream_dir()
    return pl.read_ndjson(root / "wandb_dfs" / f"wandb_df_for_fitting_{name}.jsonl")


def _shape_columns(frame: pl.DataFrame) -> pl.DataFrame:
    parsed = [naming.parse_upstream_run_name(name) for name in frame["run_name"]]
    return frame.with_columns(
        pl.Series("width", [p[0] for p in parsed], dtype=pl.Int64),
        pl.Series("depth", [p[1] for p in parsed], dtype=pl.Int64),
    ).with_columns(shape=pl.format("{}x{}", "width", "depth"))


def _training_rows(frame: pl.DataFrame, variant: str) -> pl.DataFrame:
    """Rows of a main or lr-ablation run: the last step of each repository is its ``main`` branch."""
    frame = _shape_columns(frame)
    last = pl.col("step") == pl.col("step").max().over("run_name")
    return frame.with_columns(
        variant=pl.lit(variant),
        revision=pl.when(last)
        .then(pl.lit("main"))
        .otherwise(pl.col("step").map_elements(naming.step_revision, return_dtype=pl.Utf8)),
        cooldown_start_step=pl.lit(None, dtype=pl.Int64),
        cooldown_start_val_loss=pl.lit(None, dtype=pl.Float64),
    )


def _cooldown_rows(begin: pl.DataFrame, end: pl.DataFrame) -> pl.DataFrame:
    """Cooldown end points, each paired with where it started (the k-th start of a run with its k-th end)."""
    rank = pl.col("step").rank("ordinal").over("run_name").alias("k")
    starts = begin.with_columns(rank).select(
        "run_name", "k", cooldown_start_step="step", cooldown_start_val_loss="final_loss"
    )
    ends = end.with_columns(rank)
    paired = ends.join(starts, on=["run_name", "k"], how="left", validate="1:1").drop("k")
    if paired["cooldown_start_step"].null_count():
        raise ValueError("cool_begin and cool_end do not pair one-to-one per run")
    paired = _shape_columns(paired)
    return paired.with_columns(
        variant=pl.lit("cooldown"),
        revision=pl.struct("cooldown_start_step", "step").map_elements(
            lambda row: naming.cooldown_revision(row["cooldown_start_step"], row["step"]),
            return_dtype=pl.Utf8,
        ),
    )


def _other_losses(root: Path) -> pl.DataFrame:
    """Long-to-wide table of FineWeb / FineWeb-Edu / DCLM losses keyed by (shape, revision)."""
    records: list[dict[str, object]] = []
    for corpus, column in _OTHER_LOSSES.items():
        for path in sorted(
            (root / "other_validation_losses" / f"{corpus}_losses").glob("Gemstone-*.json")
        ):
            shape = path.stem.removeprefix("Gemstone-")
            for revision, loss in json.loads(path.read_text()).items():
                records.append(
                    {"shape": shape, "revision": revision, "column": column, "loss": float(loss)}
                )
    long = pl.DataFrame(records)
    return long.pivot(on="column", index=["shape", "revision"], values="loss")


def _benchmark_name(task: str) -> str:
    return "bench_" + re.sub(r"[^0-9a-zA-Z]+", "_", task).strip("_").lower()


def _benchmarks(root: Path) -> pl.DataFrame:
    """lighteval accuracies and standard errors keyed by (shape, revision)."""
    frames = []
    for file_name, suffix in (
        ("light_eval_df.parquet", ""),
        ("light_eval_df_err.parquet", "_stderr"),
    ):
        table = pl.read_parquet(root / "benchmarks" / file_name)
        index_column = next(c for c in table.columns if c.startswith("__index") or c == "index")
        table = table.rename(
            {c: _benchmark_name(c) + suffix for c in table.columns if c != index_column}
        )
        key = table[index_column].str.extract_groups(
            r"^Gemstone-(?P<shape>\d+x\d+)-(?P<revision>.+)$"
        )
        frames.append(table.drop(index_column).with_columns(key.struct.unnest()))
    return frames[0].join(
        frames[1], on=["shape", "revision"], how="full", coalesce=True, validate="1:1"
    )


def _set_membership(root: Path, rows: pl.DataFrame) -> pl.DataFrame:
    """``in_paper_sets``: the paper fitting tables each catalog row appears in (by run and step)."""
    links = []
    for name in PAPER_SETS:
        table = read_paper_set(name, root).select("run_name", "step")
        if name == "cool_begin":
            key = rows.filter(pl.col("variant") == "cooldown").select(
                "run_name", "cooldown_start_step", "revision", "variant"
            )
            matched = table.join(
                key, left_on=["run_name", "step"], right_on=["run_name", "cooldown_start_step"]
            )
        else:
            variant = (
                "cooldown"
                if name == "cool_end"
                else ("lr_ablation" if name.startswith("lr_") else "main")
            )
            key = rows.filter(pl.col("variant") == variant).select(
                "run_name", "step", "revision", "variant"
            )
            matched = table.join(key, on=["run_name", "step"])
        if matched.height != table.height:
            raise ValueError(
                f"paper set {name}: {table.height - matched.height} rows not in the catalog"
            )
        links.append(matched.select("variant", "run_name", "revision", set_name=pl.lit(name)))
    order = {name: i for i, name in enumerate(PAPER_SETS)}
    return (
        pl.concat(links)
        .with_columns(order=pl.col("set_name").replace_strict(order))
        .sort("order")
        .group_by("variant", "run_name", "revision", maintain_order=True)
        .agg(in_paper_sets=pl.col("set_name"))
    )


def build_catalog(source: Path | None = None) -> pl.DataFrame:
    """Build the catalog, one row per checkpoint, from the upstream tables under ``source``."""
    root = source or upstream_dir()
    rows = pl.concat(
        [
            _training_rows(read_paper_set("hot_100b+_477", root), "main"),
            _training_rows(read_paper_set("lr_ablation_hot_477", root), "lr_ablation"),
            _cooldown_rows(read_paper_set("cool_begin", root), read_paper_set("cool_end", root)),
        ],
        how="diagonal_relaxed",
    )
    width, depth = rows["width"].to_numpy(), rows["depth"].to_numpy()
    params = arch.parameter_count(width, depth)
    if not (params == rows["params_active_precise"].to_numpy()).all():
        raise ValueError("architecture parameter count disagrees with params_active_precise")
    flops_per_token = arch.flops_per_token(width, depth)
    rows = rows.with_columns(
        suite=pl.lit(naming.SUITE),
        repo_id=pl.format(
            "{}/Gemstone-{}{}",
            pl.lit(naming.ORGANISATION),
            "shape",
            pl.col("variant").replace_strict(
                {"main": "", "lr_ablation": "_lr_ablation", "cooldown": "_cooldown"}
            ),
        ),
        commit=pl.lit(None, dtype=pl.Utf8),
        params=pl.Series(params.astype("int64")),
        params_non_embedding=pl.Series(
            arch.non_embedding_parameter_count(width, depth).astype("int64")
        ),
        flops_per_token=pl.Series(flops_per_token),
        num_nodes=pl.col("num_nodes").cast(pl.Int64),
    ).with_columns(
        flops=pl.col("flops_per_token") * pl.col("tokens").cast(pl.Float64),
        gpu_hours=pl.col("seconds_per_step")
        * pl.col("step")
        * pl.col("num_nodes")
        * arch.GPUS_PER_NODE
        / 3600.0,
    )
    if not (rows["tokens"] == rows["step"] * arch.TOKENS_PER_STEP).all():
        raise ValueError("upstream tokens disagree with step * 4,194,304")
    main_only = pl.col("variant") == "main"
    extras = _other_losses(root).join(
        _benchmarks(root), on=["shape", "revision"], how="full", coalesce=True
    )
    rows = rows.join(
        extras.with_columns(variant=pl.lit("main")), on=["variant", "shape", "revision"], how="left"
    )
    rows = rows.join(
        _set_membership(root, rows), on=["variant", "run_name", "revision"], how="left"
    )
    rows = rows.with_columns(pl.col("in_paper_sets").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))))
    del main_only
    bench = sorted(c for c in rows.columns if c.startswith("bench_") and not c.endswith("_stderr"))
    ordered = [
        "suite", "repo_id", "revision", "commit", "variant", "shape", "width", "depth", "run_name",
        "params", "params_non_embedding", "step", "tokens", "cooldown_start_step",
        "flops_per_token", "flops", "num_nodes", "seconds_per_step", "gpu_hours",
        "val_loss", "cooldown_start_val_loss", "val_loss_fineweb", "val_loss_fineweb_edu", "val_loss_dclm",
        *bench, *[f"{b}_stderr" for b in bench], "in_paper_sets",
    ]  # fmt: skip
    rows = rows.rename({"final_loss": "val_loss"}).select(ordered)
    return rows.sort(
        pl.col("variant").replace_strict(_VARIANT_ORDER, return_dtype=pl.Int64),
        "width",
        "depth",
        "step",
    )


def main() -> None:
    """Rebuild ``data/catalog/gemstones.parquet`` from the upstream tables in the repository."""
    catalog = build_catalog()
    target = embedded_path("catalog", "gemstones.parquet")
    write_parquet_atomic(catalog, target)
    counts = catalog.group_by("variant", maintain_order=True).len()
    print(
        f"wrote {target}: {catalog.height} checkpoints; "
        + ", ".join(f"{v}={n}" for v, n in counts.iter_rows())
    )


if __name__ == "__main__":
    main()
