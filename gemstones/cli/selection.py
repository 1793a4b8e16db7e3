"""Catalog filter options shared by ``registry list``, ``registry download`` and ``registry verify``.

Each option is an ``Annotated`` type, so a command declares ``variant: VariantOption = None`` and
passes its values to :func:`select_from_catalog`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import typer

from registry.errors import RegistryInputError

if TYPE_CHECKING:  # imported where used: `gemstones --help` stays fast
    from registry.catalog import Catalog

_TOKEN_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_TOKEN_RE = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*(?P<suffix>[kKmMbBgGtT]?)\s*$"
)


def parse_token_count(text: str, option: str = "--min-tokens") -> float:
    """Parse a token count such as ``100e9``, ``100B``, ``1.5T`` or ``350000000``.

    Raises:
        RegistryInputError: the text is not a non-negative number with an optional K/M/B/T suffix.
    """
    match = _TOKEN_RE.match(text)
    if match is None:
        raise RegistryInputError(
            f"{option}: cannot read {text!r} as a token count; use a number like 100e9, 100B, 1.5T or 350M"
        )
    return float(match["number"]) * _TOKEN_SUFFIX[match["suffix"].upper()]


def parse_int_list(text: str, option: str) -> list[int]:
    """Parse ``512`` or ``512,1024`` into integers, naming the option on error."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RegistryInputError(
            f"{option}: {text!r} is not an integer or a comma-separated list of integers"
        ) from None


VariantOption = Annotated[
    str | None,
    typer.Option("--variant", help="main, lr_ablation or cooldown (comma-separated for several)."),
]
WidthOption = Annotated[
    str | None, typer.Option("--width", help="Model width(s), e.g. 512 or 512,1024.")
]
DepthOption = Annotated[
    str | None, typer.Option("--depth", help="Model depth(s), e.g. 28 or 12,13.")
]
ShapeOption = Annotated[
    str | None, typer.Option("--shape", help="Shape(s) WIDTHxDEPTH, e.g. 1024x28.")
]
MinTokensOption = Annotated[
    str | None, typer.Option("--min-tokens", help="At least this many tokens: 100e9, 100B, 1.5T.")
]
MaxTokensOption = Annotated[
    str | None, typer.Option("--max-tokens", help="At most this many tokens: 100e9, 100B, 1.5T.")
]
InSetOption = Annotated[
    str | None, typer.Option("--in-set", help="Membership in a paper fitting set, e.g. hot.")
]


def select_from_catalog(
    catalog: Catalog,
    *,
    variant: str | None = None,
    width: str | None = None,
    depth: str | None = None,
    shape: str | None = None,
    min_tokens: str | None = None,
    max_tokens: str | None = None,
    in_set: str | None = None,
) -> Catalog:
    """Apply the CLI's textual filters to ``catalog``; raise RegistryInputError if nothing matches."""
    selected = catalog.select(
        variant=variant.split(",") if variant else None,
        width=parse_int_list(width, "--width") if width else None,
        depth=parse_int_list(depth, "--depth") if depth else None,
        shape=shape.split(",") if shape else None,
        min_tokens=parse_token_count(min_tokens, "--min-tokens") if min_tokens else None,
        max_tokens=parse_token_count(max_tokens, "--max-tokens") if max_tokens else None,
        in_set=in_set.split(",") if in_set else None,
    )
    if selected.is_empty:
        given = {
            "--variant": variant, "--width": width, "--depth": depth, "--shape": shape,
            "--min-tokens": min_tokens, "--max-tokens": max_tokens, "--in-set": in_set,
        }  # fmt: skip
        described = " ".join(f"{k} {v}" for k, v in given.items() if v is not None)
        raise RegistryInputError(
            f"no checkpoint matches {described}; try `gemstones registry stats`"
        )
    return selected
