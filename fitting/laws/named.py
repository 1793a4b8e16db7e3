"""The named laws: registered configurations (variable lists) of the ``power_sum`` family.

Designs (``[law] form``) and ``gemstones fit --law`` both read :data:`NAMED_LAWS`, so a law added
with :func:`register_law` is accepted by both. Plain Python (no numpy), so the CLI can list the
names in its help without importing the numerics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fitting.errors import FitInputError
from fitting.named_registry import Registry


@dataclass(frozen=True)
class LawForm:
    """A named approach-3 law: which variables enter the sum of power laws, in which order.

    Attributes:
        name: the law's name as used by designs and the CLI, e.g. ``"params-tokens"``.
        variables: the variable names, in the order of the parameter vector.
    """

    name: str
    variables: tuple[str, ...]

    @property
    def k(self) -> int:
        """Number of variables (power-law terms)."""
        return len(self.variables)


NAMED_LAWS: Registry[LawForm] = Registry("law", FitInputError)
"""The named configurations of the ``power_sum`` family (name -> variables)."""


def register_law(form: LawForm) -> LawForm:
    """Register a named configuration of the ``power_sum`` family.

    Example:
        >>> register_law(LawForm("params-tokens", ("params", "tokens")))  # doctest: +SKIP
    """
    return NAMED_LAWS.register(form.name, form)


for _form in (
    LawForm("params-tokens", ("params", "tokens")),
    LawForm("width-depth-tokens", ("width", "depth", "tokens")),
    LawForm("width-depth-params-tokens", ("width", "depth", "params", "tokens")),
):
    register_law(_form)
del _form


def law_form(name_or_variables: str | Sequence[str]) -> LawForm:
    """Return a named law, or a custom law over a user list of variables.

    Args:
        name_or_variables: a name from ``NAMED_LAWS`` or a sequence of distinct variable names.

    Returns:
        The ``LawForm``.

    Raises:
        FitInputError: an unknown law name, an empty or duplicated variable list.
    """
    if isinstance(name_or_variables, str):
        if name_or_variables in NAMED_LAWS:
            return NAMED_LAWS[name_or_variables]
        raise FitInputError(
            f"unknown law {name_or_variables!r}; valid laws: {', '.join(NAMED_LAWS)} "
            "(or a list of variable names)"
        )
    variables = tuple(str(v) for v in name_or_variables)
    if not variables:
        raise FitInputError("a law needs at least one variable; got an empty list")
    if len(set(variables)) != len(variables):
        raise FitInputError(f"law variables must be distinct; got {list(variables)}")
    for form in NAMED_LAWS.values():
        if form.variables == variables:
            return form
    return LawForm("-".join(variables), variables)
