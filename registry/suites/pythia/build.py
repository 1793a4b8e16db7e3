"""Build the Pythia catalog from the suite's published facts in ``data/suites/pythia``.

Reproducible: ``python -m registry.suites.pythia.build`` rewrites ``data/catalog/pythia.parquet``
from ``architectures.csv`` and the naming rules alone; a test rebuilds it and compares. One row per
(variant, size, published step): 2 x 8 x 154 = 2,464 checkpoints. Pythia has no measured losses
here and no time model, so those columns are null; the columns are the Gemstones catalog's without
its benchmark columns, so both catalogs read the same way.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ...atomic import write_parquet_atomic
from ...embedded import embedded_path
from . import architecture as arch
from . import naming

#: Catalog columns (the Gemstones schema without ``bench_*``), with their types.
COLUMNS: dict[str, pl.DataType] = {
    "suite": pl.Utf8(), "repo_id": pl.Utf8(), "revision": pl.Utf8(), "commit": pl.Utf8(),
    "variant": pl.Utf8(), "shape": pl.Utf8(), "width": pl.Int64(), "depth": pl.Int64(),
    "run_name": pl.Utf8(), "params": pl.Int64(), "params_non_embedding": pl.Int64(),
    "step": pl.Int64(), "tokens": pl.Int64(), "cooldown_start_step": pl.Int64(),
    "flops_per_token": pl.Float64(), "flops": pl.Float64(), "num_nodes": pl.Int64(),
    "seconds_per_step": pl.Float64(), "gpu_hours": pl.Float64(), "val_loss": pl.Float64(),
    "cooldown_start_val_loss": pl.Float64(), "val_loss_fineweb": pl.Float64(),
    "val_loss_fineweb_edu": pl.Float64(), "val_loss_dclm": pl.Float64(),
    "in_paper_sets": pl.List(pl.Utf8()),
}  # fmt: skip


def check_published_counts() -> None:
    """Raise ValueError unless the formulas give every published total and non-embedding count."""
    for shape in arch.shapes():
        total = int(arch.parameter_count(shape.width, shape.depth))
        non_embedding = int(arch.non_embedding_parameter_count(shape.width, shape.depth))
        if (total, non_embedding) != (shape.published_params, shape.published_non_embedding_params):
            raise ValueError(
                f"pythia-{shape.size}: computed {total:,} / {non_embedding:,} parameters, published "
                f"{shape.published_params:,} / {shape.published_non_embedding_params:,}"
            )


def build_catalog() -> pl.DataFrame:
    """Build the Pythia catalog (2,464 rows), sorted by variant, width, depth and step.

    Example:
        >>> build_catalog().height
        2464
    """
    check_published_counts()
    records = [
        (variant, shape, step)
        for variant in naming.VARIANTS
        for shape in sorted(arch.shapes(), key=lambda s: (s.width, s.depth))
        for step in naming.STEPS
    ]
    width = np.array([s.width for _, s, _ in records], dtype=np.int64)
    depth = np.array([s.depth for _, s, _ in records], dtype=np.int64)
    steps = np.array([step for _, _, step in records], dtype=np.int64)
    tokens = arch.tokens_at_step(steps)
    flops_per_token = arch.flops_per_token(width, depth)
    frame = pl.DataFrame(
        {
            "suite": [naming.SUITE] * len(records),
            "repo_id": [naming.repo_id(s.size, v) for v, s, _ in records],
            "revision": [naming.step_revision(step) for _, _, step in records],
            "variant": [v for v, _, _ in records],
            "shape": [s.size for _, s, _ in records],
            "width": width,
            "depth": depth,
            "params": arch.parameter_count(width, depth).astype(np.int64),
            "params_non_embedding": arch.non_embedding_parameter_count(width, depth).astype(
                np.int64
            ),
            "step": steps,
            "tokens": tokens,
            "flops_per_token": flops_per_token,
            "flops": flops_per_token * tokens.astype(np.float64),
        }
    )
    missing = {
        name: pl.lit([], dtype=dtype) if name == "in_paper_sets" else pl.lit(None, dtype=dtype)
        for name, dtype in COLUMNS.items()
        if name not in frame.columns
    }
    frame = frame.with_columns(**missing)
    return frame.select(pl.col(name).cast(dtype) for name, dtype in COLUMNS.items())


def main() -> None:
    """Rebuild ``data/catalog/pythia.parquet``."""
    catalog = build_catalog()
    target = embedded_path("catalog", "pythia.parquet")
    write_parquet_atomic(catalog, target)
    print(
        f"wrote {target}: {catalog.height} checkpoints, {catalog['repo_id'].n_unique()} repositories"
    )


if __name__ == "__main__":
    main()
