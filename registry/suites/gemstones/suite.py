"""The Gemstones suite as a :class:`~registry.suites.base.Suite`: its facts live in this folder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from ...errors import RegistryInputError
from ..base import Suite, SuiteRepo
from . import architecture as arch
from . import naming

_SHAPE_RE_HINT = "{width}x{depth}"


@dataclass(frozen=True)
class GemstonesSuite(Suite):
    """Gemstones (tomg-group-umd/Gemstone-{w}x{d}[_lr_ablation|_cooldown]); see naming.py, architecture.py."""

    @property
    def repo_pattern(self) -> str:
        return f"{naming.ORGANISATION}/Gemstone-{{width}}x{{depth}}[_lr_ablation|_cooldown]"

    def parse_repo_id(self, repo_id: str) -> SuiteRepo:
        parsed = naming.parse_repo_id(repo_id)
        return SuiteRepo(
            naming.shape_name(parsed.width, parsed.depth),
            parsed.width,
            parsed.depth,
            parsed.variant,
        )

    def repo_id(self, shape: str, variant: str | None = None) -> str:
        width, depth = _parse_shape(shape)
        return naming.repo_id(width, depth, variant or self.variants[0])

    def revision(self, step: int) -> str:
        return naming.step_revision(step)

    def parse_revision(self, revision: str) -> tuple[int | None, int | None]:
        return naming.parse_revision(revision)

    def parameter_count(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        return arch.parameter_count(width, depth)

    def non_embedding_parameter_count(
        self, width: ArrayLike, depth: ArrayLike
    ) -> NDArray[np.float64]:
        return arch.non_embedding_parameter_count(width, depth)

    def flops_per_token(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        return arch.flops_per_token(width, depth)

    def gpu_hours(self, rows: pl.DataFrame) -> pl.Series | None:
        """``seconds_per_step * step * num_nodes * 8 / 3600`` (architecture.gpu_hours) per row."""
        hours = arch.gpu_hours(
            rows["seconds_per_step"].to_numpy(),
            rows["step"].to_numpy(),
            rows["num_nodes"].to_numpy(),
        )
        return pl.Series("gpu_hours", hours, dtype=pl.Float64)

    def build_catalog(self) -> pl.DataFrame:
        from .build import build_catalog  # imported here: `python -m ...build` runs it as __main__

        return build_catalog()


def _parse_shape(shape: str) -> tuple[int, int]:
    width, sep, depth = shape.partition("x")
    if not (sep and width.isdigit() and depth.isdigit()):
        raise RegistryInputError(f"{shape!r} is not a Gemstones shape; expected {_SHAPE_RE_HINT}")
    return int(width), int(depth)


GEMSTONES = GemstonesSuite(
    name=naming.SUITE,
    title="Gemstones (tomg-group-umd)",
    organisation=naming.ORGANISATION,
    search="Gemstone-",
    variants=naming.VARIANTS,
    tokens_per_step=arch.TOKENS_PER_STEP,
    sequence_length=arch.SEQUENCE_LENGTH,
    probe_repo=f"{naming.ORGANISATION}/Gemstone-768x3",
    # The Gemstones weights are assumed to be float32 safetensors (an assumption, not a measurement:
    # an online dry run reads the exact sizes from the Hub).
    bytes_per_param=4,
    # A GPT-NeoX-style BPE tokenizer for a 50,304-token vocabulary (tokenizer.json + config + map).
    tokenizer_bytes=2_200_000,
    config_bytes=1_500,
    paper_sets=naming.PAPER_SETS,
    source="arXiv 2502.06857 and its MIT-licensed repository (data/README.md)",
)
