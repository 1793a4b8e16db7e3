"""The checkpoint catalog: one polars row per checkpoint, loaded from the embedded parquet file.

``load_catalog()`` returns a :class:`Catalog`, a frozen wrapper whose queries return new catalogs::

    from registry.catalog import load_catalog
    hot = load_catalog().select(variant="main", in_set="hot")
    hot.select(where=pl.col("width") >= 1024).to_pandas()

The column schema is documented in ``data/README.md``.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from .embedded import embedded_path
from .errors import CatalogCacheError, RegistryInputError
from .suites import DEFAULT_SUITE, Suite, get_suite, suite_of_repo
from .tokens import token_bound
from .user_cache import CACHE_ENV_VAR, refreshed_catalog_path

EMBEDDED_CATALOG = ("catalog", "gemstones.parquet")
#: Numeric columns that describe a checkpoint (size, position, compute), not a measurement of it;
#: every other numeric column is a metric (``registry.metrics``) or one of its companions.
CHECKPOINT_COLUMNS = (
    "width", "depth", "params", "params_non_embedding", "step", "tokens", "cooldown_start_step",
    "flops_per_token", "flops", "num_nodes", "seconds_per_step", "gpu_hours",
)  # fmt: skip
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_log = logging.getLogger(__name__)


def embedded_catalog_path(suite: str | None = None) -> Path:
    """Path of the catalog shipped with the package for ``suite`` (default: Gemstones)."""
    if suite is None or suite == DEFAULT_SUITE:
        return embedded_path(*EMBEDDED_CATALOG)
    return get_suite(suite).embedded_catalog_path()


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str | int | float):
        return [value]
    return list(value)


def _check_members(name: str, values: Sequence[Any], valid: Sequence[Any]) -> None:
    unknown = [v for v in values if v not in set(valid)]
    if unknown:
        shown = ", ".join(str(v) for v in valid) or "none in this suite"
        raise RegistryInputError(
            f"unknown {name} {unknown[0]!r}; valid {name}s: {shown}", value=unknown[0], valid=valid
        )


@dataclass(frozen=True)
class Catalog:
    """An immutable selection of checkpoints.

    Attributes:
        frame: one row per checkpoint (schema in ``data/README.md``).
        source: the parquet file it was loaded from.
    """

    frame: pl.DataFrame
    source: Path | None = None

    def __len__(self) -> int:
        return self.frame.height

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.frame.iter_rows(named=True))

    @property
    def is_empty(self) -> bool:
        """True when no checkpoint is selected."""
        return self.frame.is_empty()

    @property
    def shapes(self) -> list[str]:
        """Shape labels (``{width}x{depth}``) present, ordered by width then depth."""
        shapes = self.frame.select("shape", "width", "depth").unique().sort("width", "depth")
        return shapes["shape"].to_list()

    def to_polars(self) -> pl.DataFrame:
        """The rows as a polars DataFrame."""
        return self.frame

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (``in_paper_sets`` becomes a column of lists)."""
        return self.frame.to_pandas()

    @property
    def suites(self) -> tuple[Suite, ...]:
        """The suites whose rows this catalog holds (its ``suite`` column); Gemstones if it has none."""
        names = (
            self.frame["suite"].unique(maintain_order=True).to_list()
            if "suite" in self.frame.columns and self.frame.height
            else []
        )
        return tuple(get_suite(name) for name in names) or (get_suite(DEFAULT_SUITE),)

    def _variants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for suite in self.suites for v in suite.variants))

    def _paper_sets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for suite in self.suites for s in suite.paper_sets))

    def _suite_for(self, repo: str) -> Suite:
        """The suite of this catalog that names ``repo``; its first suite when none does.

        Raises:
            RegistryInputError: ``repo`` belongs to a registered suite this catalog does not hold.
        """
        suites = self.suites
        owner = next((suite for suite in suites if suite.owns_repo(repo.partition("@")[0])), None)
        if owner is not None:
            return owner
        other = suite_of_repo(repo.partition("@")[0])
        if other is not None:
            raise RegistryInputError(
                f"{repo.partition('@')[0]!r} is a {other.name} checkpoint, not in this "
                f"{'/'.join(s.name for s in suites)} catalog; use load_catalog(suite={other.name!r}) "
                f"(or --suite {other.name})"
            )
        return suites[0]

    def _with(self, frame: pl.DataFrame) -> Catalog:
        return Catalog(frame=frame, source=self.source)

    def select(
        self,
        *,
        variant: str | Sequence[str] | None = None,
        width: int | Sequence[int] | None = None,
        depth: int | Sequence[int] | None = None,
        shape: str | Sequence[str] | None = None,
        min_tokens: float | str | None = None,
        max_tokens: float | str | None = None,
        step: int | Sequence[int] | None = None,
        in_set: str | Sequence[str] | None = None,
        where: pl.Expr | None = None,
    ) -> Catalog:
        """Return the checkpoints matching every given filter.

        Args:
            variant: one of the suite's variants (Gemstones: ``main``, ``lr_ablation`` or
                ``cooldown``; Pythia: ``standard`` or ``deduped``), or several.
            width, depth, shape, step: exact values (or lists of them).
            min_tokens, max_tokens: inclusive bounds on tokens seen: a number (exact) or a
                string as the CLI takes it (``"100e9"``, or a nominal label ``"100B"`` that
                matches within 0.1%; see ``registry.tokens``).
            in_set: membership in one of the paper's fitting sets (any of several).
            where: any further polars expression, e.g. ``pl.col("val_loss") < 3``.

        Raises:
            RegistryInputError: an unknown variant, shape or set, a token bound that is not a
                count, or min_tokens > max_tokens.
        """
        min_tokens = token_bound(min_tokens, "min_tokens", "min")
        max_tokens = token_bound(max_tokens, "max_tokens", "max")
        conditions: list[pl.Expr] = []
        if variant is not None:
            variants = _as_list(variant)
            _check_members("variant", variants, self._variants())
            conditions.append(pl.col("variant").is_in(variants))
        if width is not None:
            conditions.append(pl.col("width").is_in(_as_list(width)))
        if depth is not None:
            conditions.append(pl.col("depth").is_in(_as_list(depth)))
        if shape is not None:
            shapes = _as_list(shape)
            _check_members("shape", shapes, self.shapes)
            conditions.append(pl.col("shape").is_in(shapes))
        if min_tokens is not None and max_tokens is not None and min_tokens > max_tokens:
            raise RegistryInputError(
                f"min_tokens {min_tokens:g} is larger than max_tokens {max_tokens:g}"
            )
        if min_tokens is not None:
            conditions.append(pl.col("tokens") >= min_tokens)
        if max_tokens is not None:
            conditions.append(pl.col("tokens") <= max_tokens)
        if step is not None:
            conditions.append(pl.col("step").is_in(_as_list(step)))
        if in_set is not None:
            sets = _as_list(in_set)
            _check_members("paper set", sets, self._paper_sets())
            conditions.append(
                pl.col("in_paper_sets").list.eval(pl.element().is_in(sets)).list.any()
            )
        if where is not None:
            conditions.append(where)
        if not conditions:
            return self
        return self._with(self.frame.filter(pl.all_horizontal(conditions)))

    def get(self, checkpoint: str) -> dict[str, Any]:
        """Return the row of ``repo_id@revision`` (revision defaults to ``main``).

        Raises:
            RegistryInputError: malformed id, unknown repository, or unknown revision (with the
                closest revisions of that repository as suggestions).
        """
        suite = self._suite_for(checkpoint)
        repo, revision = suite.split_checkpoint_id(checkpoint)
        in_repo = self.frame.filter(pl.col("repo_id") == repo)
        if in_repo.is_empty():
            repos = self.frame["repo_id"].unique().sort().to_list()
            close = difflib.get_close_matches(repo, repos, n=3)
            hint = (
                f"; did you mean {', '.join(close)}?"
                if close
                else f"; {len(repos)} repositories are known"
            )
            raise RegistryInputError(f"unknown repository {repo!r}{hint}")
        row = in_repo.filter(pl.col("revision") == revision)
        if row.is_empty() and revision == "main" and suite.main_alias is not None:
            row = in_repo.filter(pl.col("revision") == suite.main_alias)
        if row.is_empty():
            revisions = in_repo["revision"].to_list()
            close = _nearest_revisions(in_repo, revision, suite)
            raise RegistryInputError(
                f"{repo} has no checkpoint {revision!r}; closest: {', '.join(close)} "
                f"({len(revisions)} revisions, {revisions[0]} .. {revisions[-1]})"
            )
        return row.row(0, named=True)

    def counts(self) -> dict[str, Any]:
        """Summary counts: checkpoints, per variant, shapes, repositories."""
        per_variant = {
            variant: self.frame.filter(pl.col("variant") == variant).height
            for variant in self._variants()
        }
        return {
            "checkpoints": self.frame.height,
            "per_variant": per_variant,
            "shapes": self.frame["shape"].n_unique(),
            "shapes_per_variant": {
                variant: self.frame.filter(pl.col("variant") == variant)["shape"].n_unique()
                for variant in self._variants()
            },
            "repositories": self.frame["repo_id"].n_unique(),
            "pinned": int(self.frame["commit"].is_not_null().sum()),
        }


def measurement_columns(frame: pl.DataFrame) -> list[str]:
    """The numeric columns of catalog rows that hold measurements (not ``CHECKPOINT_COLUMNS``)."""
    return [
        name
        for name, dtype in frame.schema.items()
        if dtype.is_numeric() and name not in CHECKPOINT_COLUMNS
    ]


def _nearest_revisions(
    rows: pl.DataFrame, revision: str, suite: Suite, count: int = 3
) -> list[str]:
    """The ``count`` revisions of ``rows`` whose step is closest to the one ``revision`` names."""
    step, _ = suite.parse_revision(revision)
    if step is None:
        return rows["revision"].head(count).to_list()
    nearest = rows.with_columns(distance=(pl.col("step") - step).abs()).sort("distance").head(count)
    return nearest["revision"].to_list()


def read_catalog(path: Path) -> Catalog:
    """Read a catalog parquet file (the embedded one or a refreshed copy)."""
    return Catalog(frame=pl.read_parquet(path), source=Path(path))


def check_refreshed_catalog(path: Path, suite: str | None = None) -> Catalog:
    """Read the refreshed catalog of the user cache, refusing one that cannot be trusted.

    It must be a readable parquet file with exactly the columns and types of the suite's embedded
    catalog (default: Gemstones), and every ``commit`` must be null or 40 hexadecimal characters.

    Raises:
        CatalogCacheError: the message names the file, what is wrong and how to reset it.
    """
    path = Path(path)
    try:
        frame = pl.read_parquet(path)
    except (
        Exception,
        pl.exceptions.PanicException,
    ) as error:  # polars panics on some corrupt files
        detail = str(error).strip().splitlines()[0][:120] if str(error).strip() else ""
        raise CatalogCacheError(
            _cache_problem(path, f"not a readable parquet file ({detail})", suite)
        ) from None
    expected = pl.read_parquet_schema(embedded_catalog_path(suite))
    if dict(frame.schema) != dict(expected):
        missing = [c for c in expected if c not in frame.schema]
        extra = [c for c in frame.schema if c not in expected]
        retyped = [c for c in expected if c in frame.schema and frame.schema[c] != expected[c]]
        parts = [
            f"{label} {', '.join(names[:4])}{' ...' if len(names) > 4 else ''}"
            for label, names in (("missing", missing), ("unknown", extra), ("retyped", retyped))
            if names
        ]
        raise CatalogCacheError(
            _cache_problem(
                path, f"another schema than this version's catalog ({'; '.join(parts)})", suite
            )
        )
    bad = frame.filter(
        pl.col("commit").is_not_null() & ~pl.col("commit").str.contains(_COMMIT_RE.pattern)
    )
    if bad.height:
        raise CatalogCacheError(
            _cache_problem(
                path,
                f"{bad.height} checkpoint(s) pinned to invalid commit ids, e.g. {bad['commit'][0][:50]!r}",
                suite,
            )
        )
    return Catalog(frame=frame, source=path)


def _cache_problem(path: Path, problem: str, suite: str | None = None) -> str:
    option = "" if suite in (None, DEFAULT_SUITE) else f" --suite {suite}"
    return (
        f"the cached catalog {path} is unusable: {problem}; reset it with `rm {path}` "
        f"(or point {CACHE_ENV_VAR} elsewhere), then run `gemstones registry refresh{option}` to pin again"
    )


def load_catalog(
    path: Path | None = None,
    *,
    suite: str | None = None,
    prefer_refreshed: bool = True,
    on_bad_cache: Literal["warn", "raise"] = "warn",
) -> Catalog:
    """Load the catalog.

    Args:
        path: an explicit parquet file; when omitted, the suite's refreshed catalog in the user
            cache (written by ``gemstones registry refresh``) if it exists, else the embedded one.
        suite: a registered suite (``registry.suites.suite_names()``); default Gemstones.
        prefer_refreshed: set False to always use the embedded catalog.
        on_bad_cache: what to do when the refreshed catalog is corrupt or has another schema:
            ``"warn"`` logs a one-line warning naming the file and how to reset it, then uses the
            embedded catalog (read-only use); ``"raise"`` raises CatalogCacheError (commands that
            would overwrite it).

    Raises:
        RegistryInputError: an unknown suite (the message lists the registered ones).

    Example:
        >>> load_catalog(prefer_refreshed=False).counts()["repositories"]
        62
        >>> load_catalog(suite="pythia", prefer_refreshed=False).counts()["repositories"]
        16
    """
    name = get_suite(suite).name
    if path is not None:
        return read_catalog(Path(path))
    refreshed = refreshed_catalog_path(name)
    if prefer_refreshed and refreshed.is_file():
        try:
            return check_refreshed_catalog(refreshed, name)
        except CatalogCacheError as problem:
            if on_bad_cache == "raise":
                raise
            _log.warning("warning: %s; using the embedded catalog (not pinned) meanwhile", problem)
    return read_catalog(embedded_catalog_path(name))
