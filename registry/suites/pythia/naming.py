"""Naming rules of the Pythia suite on the Hugging Face Hub.

Source: the model cards of ``EleutherAI/pythia-*`` (see ``data/suites/pythia/PROVENANCE.md``).
Repositories are ``EleutherAI/pythia-{size}`` and ``EleutherAI/pythia-{size}-deduped`` for the eight
sizes 70m ... 12b; branches are ``step{N}`` for the 154 published steps 0, 1, 2, 4, ..., 512 and
1000, 2000, ..., 143000; ``main`` is the same checkpoint as ``step143000``.
"""

from __future__ import annotations

import re

from ...errors import RegistryInputError

SUITE = "pythia"
ORGANISATION = "EleutherAI"
SIZES: tuple[str, ...] = ("70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b")
VARIANTS: tuple[str, ...] = ("standard", "deduped")
_SUFFIX = {"standard": "", "deduped": "-deduped"}
LAST_STEP = 143_000
#: The 154 published branches' steps: 0, the powers of two up to 512, then every 1,000 steps.
STEPS: tuple[int, ...] = (0, *(2**k for k in range(10)), *range(1_000, LAST_STEP + 1, 1_000))

_REPO_RE = re.compile(
    rf"^{ORGANISATION}/pythia-(?P<size>{'|'.join(re.escape(s) for s in SIZES)})(?P<dedup>-deduped)?$"
)
_STEP_RE = re.compile(r"^step(?P<step>0|[1-9]\d{0,5})$")


def check_variant(variant: str) -> str:
    """Return ``variant`` if it is a Pythia variant, else raise a RegistryInputError naming the choices."""
    if variant not in VARIANTS:
        raise RegistryInputError(
            f"unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}"
        )
    return variant


def repo_id(size: str, variant: str = "standard") -> str:
    """Repository id of a size and variant, e.g. ``repo_id("70m", "deduped")`` -> ``EleutherAI/pythia-70m-deduped``."""
    if size not in SIZES:
        raise RegistryInputError(f"unknown Pythia size {size!r}; valid sizes: {', '.join(SIZES)}")
    return f"{ORGANISATION}/pythia-{size}{_SUFFIX[check_variant(variant)]}"


def parse_repo_id(repo: str) -> tuple[str, str]:
    """``EleutherAI/pythia-{size}[-deduped]`` -> ``(size, variant)``.

    Raises:
        RegistryInputError: any other id (``pythia-70m-v0``, ``pythia-160m-seed1``, another org).
    """
    match = _REPO_RE.match(repo)
    if match is None:
        raise RegistryInputError(
            f"{repo!r} is not a Pythia repository id; expected {ORGANISATION}/pythia-{{size}}[-deduped] "
            f"with size one of {', '.join(SIZES)}"
        )
    return match["size"], "deduped" if match["dedup"] else "standard"


def step_revision(step: int) -> str:
    """Branch name of a training step, e.g. ``step_revision(512)`` -> ``step512``."""
    value = int(step)
    if not 0 <= value <= LAST_STEP:
        raise RegistryInputError(f"Pythia step {value} is out of range; valid: 0 to {LAST_STEP}")
    return f"step{value}"


def parse_revision(revision: str) -> tuple[int | None, int | None]:
    """``(step, None)`` of a ``stepN`` branch, ``(None, None)`` for ``main`` (Pythia has no cooldowns)."""
    if revision == "main":
        return None, None
    match = _STEP_RE.match(revision)
    if match is None or int(match["step"]) > LAST_STEP:
        raise RegistryInputError(
            f"{revision!r} is not a Pythia revision; expected 'main' or 'stepN' with N from 0 to {LAST_STEP}"
        )
    return int(match["step"]), None
