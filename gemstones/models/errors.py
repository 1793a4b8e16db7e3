"""The error every model-loading failure becomes."""

from __future__ import annotations

from gemstones.errors import GemstonesInputError


class ModelLoadError(GemstonesInputError):
    """A checkpoint folder that cannot be loaded: unsupported config, missing or corrupt weights,
    a tokenizer that does not fit the model. The message names the field, file or value.

    A user mistake (``exit_code`` 2); ``value`` and ``valid`` as in ``GemstonesInputError``.
    """
