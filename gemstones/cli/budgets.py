"""``--budgets``: the compute budgets that ``fit`` and ``frontier`` prescribe for.

Its own module so that neither command module imports the other.
"""

from __future__ import annotations


def parse_budgets(text: str) -> list[float]:
    """Parse ``1e20,1e21,1e22`` into floats.

    Raises:
        GemstonesInputError: an empty entry, an entry that is not a positive, finite number, or
            more than ``MAX_BUDGETS`` entries.
    """
    from gemstones.errors import GemstonesInputError
    from gemstones.scaling.prescribe import MAX_BUDGETS

    budgets = []
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_BUDGETS:
        raise GemstonesInputError(
            f"--budgets has {len(parts):,} values; at most {MAX_BUDGETS:,} are allowed"
        )
    for part in parts:
        if not part:
            raise GemstonesInputError(
                f"--budgets {text!r} has an empty value; use e.g. 1e20,1e21,1e22"
            )
        try:
            value = float(part)
        except ValueError:
            raise GemstonesInputError(
                f"--budgets: {part!r} is not a number; use e.g. 1e20,1e21,1e22"
            ) from None
        if not value > 0 or value == float("inf"):
            raise GemstonesInputError(f"--budgets: {part!r} must be a positive, finite number")
        budgets.append(value)
    if not budgets:
        raise GemstonesInputError("--budgets is empty; use e.g. 1e20,1e21,1e22")
    return budgets
