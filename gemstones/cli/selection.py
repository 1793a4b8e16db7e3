"""Catalog filter options shared by ``registry list``, ``registry download`` and ``registry verify``.

Each option is an ``Annotated`` type, so a command declares ``variant: VariantOption = None`` and
passes its values to :func:`select_from_catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from registry.errors import RegistryInputError
from registry.tokens import NOMINAL_TOLERANCE, token_bound
from registry.tokens import parse_token_count as parse_token_count  # re-exported: one parser

if TYPE_CHECKING:  # imported where used: `gemstones --help` stays fast
    from registry.catalog import Catalog

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
_NOMINAL = (
    f"A label with a K/M/B/T suffix is nominal and matches within {NOMINAL_TOLERANCE:.1%} (the '100B' "
    "checkpoints hold 100,034,150,400 tokens); a plain number is exact."
)
MinTokensOption = Annotated[
    str | None,
    typer.Option("--min-tokens", help=f"At least this many tokens: 100B, 1.5T, 100e9. {_NOMINAL}"),
]
MaxTokensOption = Annotated[
    str | None,
    typer.Option("--max-tokens", help=f"At most this many tokens: 100B, 1.5T, 100e9. {_NOMINAL}"),
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
        min_tokens=token_bound(min_tokens, "--min-tokens", "min"),
        max_tokens=token_bound(max_tokens, "--max-tokens", "max"),
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
