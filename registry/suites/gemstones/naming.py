"""Naming rules of the Gemstones suite on the Hugging Face Hub.

Source: the public model cards of ``tomg-group-umd/Gemstone-*`` (see DESIGN.md). Repositories are
``tomg-group-umd/Gemstone-{width}x{depth}`` plus ``_lr_ablation`` / ``_cooldown`` suffixes; branches are
``step_{step:08d}`` and, for cooldowns, ``step_{start:08d}_cooldown_{end:08d}``; ``main`` holds the last
checkpoint of each repository (for cooldowns: the 90B -> 99B one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ...errors import RegistryInputError

SUITE = "gemstones"
ORGANISATION = "tomg-group-umd"
Variant = Literal["main", "lr_ablation", "cooldown"]
VARIANTS: tuple[Variant, ...] = ("main", "lr_ablation", "cooldown")
_SUFFIX: dict[str, str] = {"main": "", "lr_ablation": "_lr_ablation", "cooldown": "_cooldown"}
#: The paper's fitting sets (upstream file names ``wandb_df_for_fitting_<set>.jsonl``), in a fixed order.
PAPER_SETS: tuple[str, ...] = (
    "hot",
    "hot_477",
    "hot_100b+",
    "hot_100b+_477",
    "hot_120b+_only",
    "hot_120b+_only_477",
    "hot_100b+_512x",
    "hot_sampled_like_chinchilla",
    "lr_ablation_hot",
    "lr_ablation_hot_477",
    "lr_ablation_hot_sampled_like_chinchilla",
    "cool_begin",
    "cool_end",
)

_REPO_RE = re.compile(
    rf"^{ORGANISATION}/Gemstone-(?P<width>\d+)x(?P<depth>\d+)(?P<suffix>_lr_ablation|_cooldown)?$"
)
_STEP_RE = re.compile(r"^step_(?P<step>\d{8})$")
_COOLDOWN_RE = re.compile(r"^step_(?P<start>\d{8})_cooldown_(?P<end>\d{8})$")
_RUN_RE = re.compile(r"^(?P<cooler>cooler_)?PyGemma-(?P<width>\d+)x(?P<depth>\d+)_pretrain$")


@dataclass(frozen=True)
class RepoName:
    """A parsed suite repository id."""

    width: int
    depth: int
    variant: Variant


def check_variant(variant: str) -> Variant:
    """Return ``variant`` if it is a suite variant, else raise a RegistryInputError naming the choices."""
    if variant not in VARIANTS:
        raise RegistryInputError(
            f"unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}"
        )
    return variant  # type: ignore[return-value]


def shape_name(width: int, depth: int) -> str:
    """Return the suite's shape label, e.g. ``1024x28``."""
    return f"{width}x{depth}"


def repo_id(width: int, depth: int, variant: str = "main") -> str:
    """Return the Hub repository id of a shape and variant."""
    return f"{ORGANISATION}/Gemstone-{shape_name(width, depth)}{_SUFFIX[check_variant(variant)]}"


def parse_repo_id(repo: str) -> RepoName:
    """Parse ``tomg-group-umd/Gemstone-{w}x{d}[_lr_ablation|_cooldown]``."""
    match = _REPO_RE.match(repo)
    if match is None:
        raise RegistryInputError(
            f"{repo!r} is not a Gemstones repository id; expected "
            f"{ORGANISATION}/Gemstone-{{width}}x{{depth}}[_lr_ablation|_cooldown]"
        )
    suffix = match["suffix"] or ""
    variant = next(name for name, value in _SUFFIX.items() if value == suffix)
    return RepoName(int(match["width"]), int(match["depth"]), variant)  # type: ignore[arg-type]


def step_revision(step: int) -> str:
    """Branch name of a training step, e.g. ``step_00002385``."""
    return f"step_{int(step):08d}"


def cooldown_revision(start_step: int, end_step: int) -> str:
    """Branch name of a cooldown, e.g. ``step_00002385_cooldown_00002622``."""
    return f"step_{int(start_step):08d}_cooldown_{int(end_step):08d}"


def parse_revision(revision: str) -> tuple[int | None, int | None]:
    """Return ``(step, cooldown_start_step)`` encoded in a branch name; ``(None, None)`` for ``main``."""
    if revision == "main":
        return None, None
    if match := _STEP_RE.match(revision):
        return int(match["step"]), None
    if match := _COOLDOWN_RE.match(revision):
        return int(match["end"]), int(match["start"])
    raise RegistryInputError(
        f"{revision!r} is not a Gemstones revision; expected 'main', 'step_NNNNNNNN' or "
        "'step_NNNNNNNN_cooldown_NNNNNNNN'"
    )


def split_checkpoint_id(checkpoint: str) -> tuple[str, str]:
    """Split ``repo_id@revision`` (revision defaults to ``main``) and validate both parts."""
    repo, _, revision = checkpoint.partition("@")
    revision = revision or "main"
    parse_repo_id(repo)
    parse_revision(revision)
    return repo, revision


def parse_upstream_run_name(run_name: str) -> tuple[int, int, Variant]:
    """Parse the paper's W&B run names: ``[cooler_]PyGemma-{w}x{d}_pretrain`` -> (w, d, variant)."""
    match = _RUN_RE.match(run_name)
    if match is None:
        raise RegistryInputError(f"unrecognised upstream run name {run_name!r}")
    variant: Variant = "lr_ablation" if match["cooler"] else "main"
    return int(match["width"]), int(match["depth"]), variant
