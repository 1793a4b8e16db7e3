"""The suite interface: everything the registry needs to know about one family of checkpoints.

A suite is a set of Hub repositories published together (Gemstones, Pythia, ...). Its facts are
the naming rules (repository id <-> shape and variant, branch name <-> training step), the
architecture arithmetic (parameters, FLOPs per token), an optional time model (GPU hours), the
catalog builder, how to find its repositories on the Hub, and what the offline download estimate
assumes. Every suite lives in its own folder under ``registry/suites/`` and registers one
:class:`Suite` instance in :data:`registry.suites.SUITES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from ..embedded import embedded_path
from ..errors import RegistryInputError


@dataclass(frozen=True)
class SuiteRepo:
    """A parsed repository id of a suite.

    Attributes:
        shape: The suite's label of the model size (``1024x28`` for Gemstones, ``70m`` for Pythia).
        width: Hidden size.
        depth: Number of transformer blocks.
        variant: One of the suite's variants.
    """

    shape: str
    width: int
    depth: int
    variant: str


@dataclass(frozen=True)
class Suite(ABC):
    """One checkpoint suite (abstract; each suite folder defines a frozen subclass).

    Attributes:
        name: Registry key and value of the catalog's ``suite`` column, e.g. ``"pythia"``.
        title: Human name, e.g. ``"Pythia (EleutherAI)"``.
        organisation: Hub author that owns the repositories.
        search: Hub model-search term that finds them (``list_models(author=, search=)``).
        variants: Variant names, the first being the default.
        tokens_per_step: Tokens seen per optimizer step (sequences x sequence length).
        sequence_length: Training context length.
        probe_repo: A repository used to check that the Hub answers before a long listing.
        bytes_per_param: Bytes per parameter of the published weights (offline size estimates).
        tokenizer_bytes: Typical size of the tokenizer files of one checkpoint (offline estimates).
        config_bytes: Typical size of the config files of one checkpoint (offline estimates).
        paper_sets: Named subsets of the catalog (``in_paper_sets``); empty when the suite has none.
        main_alias: The catalog revision that the ``main`` branch aliases when ``main`` is not a
            catalog row itself (Pythia: ``step143000``); None when ``main`` is a row (Gemstones).
        source: Where the facts come from (a provenance file or a paper).
    """

    name: str
    title: str
    organisation: str
    search: str
    variants: tuple[str, ...]
    tokens_per_step: int
    sequence_length: int
    probe_repo: str
    bytes_per_param: int
    tokenizer_bytes: int
    config_bytes: int = 1_500
    paper_sets: tuple[str, ...] = ()
    main_alias: str | None = None
    source: str = ""

    # -- naming ------------------------------------------------------------------------------
    @property
    @abstractmethod
    def repo_pattern(self) -> str:
        """The repository id pattern, for messages (e.g. ``EleutherAI/pythia-{size}[-deduped]``)."""

    @abstractmethod
    def parse_repo_id(self, repo_id: str) -> SuiteRepo:
        """Parse one of the suite's repository ids; raise RegistryInputError for any other id."""

    @abstractmethod
    def repo_id(self, shape: str, variant: str | None = None) -> str:
        """The repository id of a shape and variant (default: the first variant)."""

    @abstractmethod
    def revision(self, step: int) -> str:
        """The branch name of a training step."""

    @abstractmethod
    def parse_revision(self, revision: str) -> tuple[int | None, int | None]:
        """``(step, cooldown_start_step)`` named by a branch; ``(None, None)`` for ``main``."""

    def owns_repo(self, repo_id: str) -> bool:
        """True when ``repo_id`` is one of this suite's repositories (the Hub listing filter)."""
        try:
            self.parse_repo_id(repo_id)
        except RegistryInputError:
            return False
        return True

    def check_variant(self, variant: str) -> str:
        """Return ``variant`` if the suite has it, else raise a RegistryInputError naming the choices."""
        if variant not in self.variants:
            raise RegistryInputError(
                f"unknown variant {variant!r}; valid variants: {', '.join(self.variants)}"
            )
        return variant

    def split_checkpoint_id(self, checkpoint: str) -> tuple[str, str]:
        """Split ``repo_id@revision`` (revision defaults to ``main``) and validate both parts."""
        repo, _, revision = checkpoint.partition("@")
        revision = revision or "main"
        self.parse_repo_id(repo)
        self.parse_revision(revision)
        return repo, revision

    def tokens_at_step(self, step: ArrayLike) -> NDArray[np.int64]:
        """Tokens seen after ``step`` optimizer steps."""
        return np.asarray(step, dtype=np.int64) * self.tokens_per_step

    def shared_weights_key(self, repo_id: str, revision: str) -> str | None:
        """A key shared by checkpoints that may legitimately hold identical weights, else None.

        ``registry verify`` reports byte-identical weights behind distinct checkpoints as a problem
        unless every checkpoint of the group has the same non-None key here (e.g. two models
        initialised with the same seed, at step 0).
        """
        del repo_id, revision
        return None

    # -- architecture arithmetic ---------------------------------------------------------------
    @abstractmethod
    def parameter_count(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        """Total parameters (embedding and output head included) of shapes (vectorised)."""

    @abstractmethod
    def non_embedding_parameter_count(
        self, width: ArrayLike, depth: ArrayLike
    ) -> NDArray[np.float64]:
        """Parameters without the vocabulary matrices, as the suite publishes them (vectorised)."""

    @abstractmethod
    def flops_per_token(self, width: ArrayLike, depth: ArrayLike) -> NDArray[np.float64]:
        """Training FLOPs per token (forward + backward) under the suite's accounting (vectorised)."""

    # -- time model ----------------------------------------------------------------------------
    def gpu_hours(self, rows: pl.DataFrame) -> pl.Series | None:
        """GPU hours of each catalog row, or None when the suite publishes no time model."""
        del rows
        return None

    # -- catalog -------------------------------------------------------------------------------
    @abstractmethod
    def build_catalog(self) -> pl.DataFrame:
        """Build the suite's catalog (one row per checkpoint) from its embedded source files."""

    def embedded_catalog_path(self) -> Path:
        """Where the suite's built catalog ships (``data/catalog/<name>.parquet``)."""
        return embedded_path("catalog", f"{self.name}.parquet")
