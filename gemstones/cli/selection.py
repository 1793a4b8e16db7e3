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


MAX_FILTER_INT = 2**31 - 1


def parse_name_list(text: str, option: str) -> list[str]:
    """Parse ``main`` or ``main,cooldown`` into names; an empty entry is an error, not "all".

    Raises:
        RegistryInputError: the text or one of its comma-separated entries is empty.
    """
    names = [part.strip() for part in text.split(",")]
    if any(not name for name in names):
        raise RegistryInputError(
            f"{option} {text!r} has an empty value; give one or more comma-separated values "
            f"(leave {option} out to select all)"
        )
    return names


def parse_int_list(text: str, option: str) -> list[int]:
    """Parse ``512`` or ``512,1024`` into positive integers, naming the option on error.

    Raises:
        RegistryInputError: an empty entry, a non-integer, or a value outside 1..2**31-1.
    """
    values = []
    for part in parse_name_list(text, option):
        try:
            value = int(part)
        except ValueError:
            raise RegistryInputError(
                f"{option}: {part!r} is not an integer; use e.g. {option} 512 or {option} 512,1024"
            ) from None
        if not 1 <= value <= MAX_FILTER_INT:
            raise RegistryInputError(
                f"{option}: {value} is out of range; valid: 1 to {MAX_FILTER_INT:,}"
            )
        values.append(value)
    return values


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
    """Apply the CLI's textual filters to ``catalog``.

    A filter given as an empty string (``--width ''``) is an error, never "no filter".

    Raises:
        RegistryInputError: an empty or malformed filter value, or no checkpoint matches.
    """
    selected = catalog.select(
        variant=None if variant is None else parse_name_list(variant, "--variant"),
        width=None if width is None else parse_int_list(width, "--width"),
        depth=None if depth is None else parse_int_list(depth, "--depth"),
        shape=None if shape is None else parse_name_list(shape, "--shape"),
        min_tokens=None if min_tokens is None else parse_token_count(min_tokens, "--min-tokens"),
        max_tokens=None if max_tokens is None else parse_token_count(max_tokens, "--max-tokens"),
        in_set=None if in_set is None else parse_name_list(in_set, "--in-set"),
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
