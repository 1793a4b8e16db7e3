"""Suite checkpoints as JAX models: read ``config.json``, safetensors weights and ``tokenizer.json``.

No torch at run time. Architectures live in :data:`ARCHITECTURES`, keyed by ``config.json``'s
``model_type``: ``gemma`` (the Gemstones suite) and ``huginn_raven`` (recurrent depth; evaluate it at
r recurrences with ``load_model(path).with_steps(r, seed=0)``).

Example:
    >>> from gemstones.models import load_model, load_tokenizer
    >>> model = load_model("tests/gemstones/data_models/gemma_gqa_untied")
    >>> tok = load_tokenizer("tests/gemstones/data_models/gemma_gqa_untied", vocab_size=model.vocab_size)
"""

from fitting.named_registry import Registry
from gemstones.models.errors import ModelLoadError
from gemstones.models.gemma import GemmaConfig
from gemstones.models.loading import (
    ARCHITECTURES,
    LoadedModel,
    ModelFamily,
    check_tokenizer_fits,
    load_model,
    load_tokenizer,
    read_config,
)
from gemstones.models.weights import WeightReader

__all__ = [
    "ARCHITECTURES",
    "GemmaConfig",
    "LoadedModel",
    "ModelFamily",
    "ModelLoadError",
    "Registry",
    "WeightReader",
    "check_tokenizer_fits",
    "load_model",
    "load_tokenizer",
    "read_config",
]
