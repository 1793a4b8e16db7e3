"""The Pythia suite as a :class:`~registry.suites.base.Suite`: its facts live in this folder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from ..base import Suite, SuiteRepo
from . import architecture as arch
from . import naming


@dataclass(frozen=True)
class PythiaSuite(Suite):
    """Pythia (EleutherAI/pythia-{size}[-deduped]); no losses and no time model."""

    @property
    def repo_pattern(self) -> str:
        return f"{naming.ORGANISATION}/pythia-{{size}}[-deduped]"

    def parse_repo_id(self, repo_id: str) -> SuiteRepo:
        size, variant = naming.parse_repo_id(repo_id)
        shape = arch.shape_of(size)
        return SuiteRepo(size, shape.width, shape.depth, variant)

    def repo_id(self, shape: str, variant: str | None = None) -> str:
        return naming.repo_id(shape, variant or self.variants[0])

    def revision(self, step: int) -> str:
        return naming.step_revision(step)

    def parse_revision(self, revision: str) -> tuple[int | None, int | None]:
        return naming.parse_revision(revision)

    def shared_weights_key(self, repo_id: str, revision: str) -> str | None:
        """``step0`` of a size and of its ``-deduped`` twin: the same initialisation may be served.

        Both variants of a size start from the same seed, so identical initial weights are not a
        broken branch; every other duplicate is.
        """
        if revision != "step0" or not self.owns_repo(repo_id):
            return None
        size, _ = naming.parse_repo_id(repo_id)
        return f"pythia-{size}@step0"

    def parameter_count(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        return arch.parameter_count(width, depth)

    def non_embedding_parameter_count(
        self, width: ArrayLike, depth: ArrayLike
    ) -> NDArray[np.float64]:
        return arch.non_embedding_parameter_count(width, depth)

    def flops_per_token(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        return arch.flops_per_token(width, depth)

    def build_catalog(self) -> pl.DataFrame:
        from .build import build_catalog  # imported here: `python -m ...build` runs it as __main__

        return build_catalog()


PYTHIA = PythiaSuite(
    name=naming.SUITE,
    title="Pythia (EleutherAI)",
    organisation=naming.ORGANISATION,
    search="pythia-",
    variants=naming.VARIANTS,
    tokens_per_step=arch.TOKENS_PER_STEP,
    sequence_length=arch.SEQUENCE_LENGTH,
    probe_repo=f"{naming.ORGANISATION}/pythia-70m",
    # The step branches hold float16 weights (config.json torch_dtype); an assumption for offline
    # estimates only: an online dry run reads the exact sizes from the Hub.
    bytes_per_param=2,
    # The GPT-NeoX-20B tokenizer (tokenizer.json ~2.1 MB + special tokens map + config).
    tokenizer_bytes=2_200_000,
    config_bytes=1_500,
    main_alias=naming.step_revision(naming.LAST_STEP),
    source="data/suites/pythia/PROVENANCE.md (model cards, arXiv 2304.01373 Table 1, config.json)",
)
