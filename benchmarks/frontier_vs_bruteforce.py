"""Benchmark: the exact fast width–depth frontier against brute-force grid evaluation.

The paper's grid, with its floors taken exactly (``fitting.frontier.exact_geometric_floor``, the
same on every machine): 1,025 widths (2^8..2^17) x 456 to 798 depths (max(1, w // 2048)..16 w),
637,594 shapes, x 500 token counts (1e9..10^13.5), 318,797,000 combinations, 13 log-FLOP buckets
from 1e18 to 1e26. The law is the
paper's published 4-variable ``hot`` fit (width, depth, params, tokens; delta 1e-4), plus its
2-variable params–tokens fit evaluated on the same grid, and the time-optimal (GPU-hour) frontier
of the 4-variable law under the time model fitted to the catalog's step times.

Brute force = vectorised numpy evaluation of every (shape, token) pair (``bruteforce_frontier``),
timed on a random sample of the shapes (all 500 token counts each) and extrapolated to the full
grid; with ``--full`` it is also run on the whole grid. Agreement is checked bucket by bucket: on
the sample grid (both methods on the same sample), and on the full grid with ``--full``.

Run: ``/work/venv/bin/python benchmarks/frontier_vs_bruteforce.py [--sample 0.02] [--full]``
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import numpy as np


def _published(name: str) -> np.ndarray:
    from registry.embedded import embedded_path

    raw = json.loads(embedded_path("upstream", "gemstones", "parameters", name).read_text())
    return np.array(
        raw["coefficients"]["0"] + raw["exponents"]["0"] + [raw["irreducible_error"]["0"]]
    )


def _agree(a, b) -> tuple[int, int]:
    """(buckets agreeing, buckets compared): same shape and tokens, or a tie in loss to 1e-12."""
    if len(a) != len(b):
        return 0, max(len(a), len(b))
    same = (a.width == b.width) & (a.depth == b.depth) & (a.tokens == b.tokens)
    tie = np.abs(a.loss - b.loss) <= 1e-12 * np.abs(b.loss)
    return int(np.sum(same | tie)), len(a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sample", type=float, default=0.02, help="fraction of shapes brute-forced"
    )
    parser.add_argument("--full", action="store_true", help="also brute-force the whole grid")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from fitting.frontier import (
        ShapeGrid,
        bruteforce_frontier,
        compute_frontier,
        paper_flop_edges,
        paper_shape_grid,
        paper_token_grid,
    )
    from gemstones.scaling.prescribe import default_edges, time_model_from_catalog
    from registry.suites.gemstones.architecture import flops_per_token, parameter_count

    started = time.perf_counter()
    grid = paper_shape_grid()
    grid_seconds = time.perf_counter() - started
    tokens = paper_token_grid()
    combos = len(grid) * tokens.size
    print(
        f"paper grid: {np.unique(grid.width).size} widths, {len(grid):,} shapes, "
        f"{tokens.size} token counts -> {combos:,} combinations (grid built in {grid_seconds:.2f} s)"
    )
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(grid), size=max(1, int(args.sample * len(grid))), replace=False))
    sample = ShapeGrid(grid.width[pick], grid.depth[pick])

    time_model = time_model_from_catalog()
    cases = [
        (
            "hot width-depth-params-tokens, FLOPs",
            _published("approach3_width_depth_params_tokens_hot_delta1e-4.json"),
            ("width", "depth", "params", "tokens"),
            flops_per_token,
            paper_flop_edges(),
            "FLOPs",
        ),
        (
            "hot params-tokens on the shape grid, FLOPs",
            _published("approach3_params_tokens_hot_delta1e-4.json"),
            ("params", "tokens"),
            flops_per_token,
            paper_flop_edges(),
            "FLOPs",
        ),
        (
            "hot width-depth-params-tokens, GPU hours",
            _published("approach3_width_depth_params_tokens_hot_delta1e-4.json"),
            ("width", "depth", "params", "tokens"),
            time_model.gpu_hours_per_token,
            default_edges("gpu_hours"),
            "GPU hours",
        ),
    ]
    for label, theta, variables, cost, edges, resource in cases:
        print(f"\n== {label}")
        options = {"tokens": tokens, "edges": edges, "resource": resource}
        ours_on = partial(compute_frontier, theta, variables, cost, parameter_count, **options)
        brute_on = partial(bruteforce_frontier, theta, variables, cost, parameter_count, **options)
        started = time.perf_counter()
        ours = ours_on(grid=grid)
        ours_seconds = time.perf_counter() - started
        started = time.perf_counter()
        brute_sample = brute_on(grid=sample)
        sample_seconds = time.perf_counter() - started
        brute_full_estimate = sample_seconds * len(grid) / len(sample)
        ours_sample = ours_on(grid=sample)
        agree, compared = _agree(ours_sample, brute_sample)
        print(
            f"ours, full grid:         {ours_seconds:8.2f} s  ({ours.evaluated:,} candidates evaluated)"
        )
        print(
            f"brute force, {len(sample):,} shapes: {sample_seconds:8.2f} s -> full grid "
            f"{brute_full_estimate:8.1f} s (extrapolated); ratio {brute_full_estimate / ours_seconds:.0f}x"
        )
        print(f"agreement on the sample grid: {agree}/{compared} buckets")
        if args.full:
            started = time.perf_counter()
            brute = brute_on(grid=grid)
            full_seconds = time.perf_counter() - started
            agree, compared = _agree(ours, brute)
            print(
                f"brute force, full grid:  {full_seconds:8.1f} s (measured); ratio "
                f"{full_seconds / ours_seconds:.0f}x; agreement {agree}/{compared} buckets"
            )
        print(
            f"{'bucket low':>11} {'width':>7} {'depth':>6} {'w/d':>7} {'params':>10} {'tokens':>10} "
            f"{'tok/param':>9} {'loss':>8}"
        )
        for j in range(len(ours)):
            print(
                f"{ours.bucket_low[j]:11.3e} {ours.width[j]:7.0f} {ours.depth[j]:6.0f} "
                f"{ours.width_depth_ratio[j]:7.1f} {ours.params[j]:10.3e} {ours.tokens[j]:10.3e} "
                f"{ours.tokens_per_param[j]:9.3g} {ours.loss[j]:8.4f}"
            )


if __name__ == "__main__":
    main()
