"""label-semantics: few-shot NER and text classification that read the labels' names.

Importing the package registers its configs and models with the transformers Auto classes, so a saved
checkpoint loads with `AutoModelForTokenClassification.from_pretrained(folder)` (or the sequence-classification
equivalent), and registers the `"label-semantics-ner"` pipeline.
"""

from __future__ import annotations

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from . import pipelines  # noqa: F401  (registers "label-semantics-ner" with transformers.pipeline)
from .configuration_label_attention import LabelAttentionConfig
from .configuration_label_semantics import LabelSemanticsConfig
from .configuration_label_token import LabelTokenConfig
from .modeling_label_attention import LabelAttentionForSequenceClassification
from .modeling_label_semantics import LabelSemanticsForTokenClassification
from .modeling_label_token import LabelTokenForSequenceClassification

__version__ = "0.1.0"

for _config, _model, _auto in (
    (LabelSemanticsConfig, LabelSemanticsForTokenClassification, AutoModelForTokenClassification),
    (LabelTokenConfig, LabelTokenForSequenceClassification, AutoModelForSequenceClassification),
    (LabelAttentionConfig, LabelAttentionForSequenceClassification, AutoModelForSequenceClassification),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModel.register(_config, _model, exist_ok=True)
    _auto.register(_config, _model, exist_ok=True)

__all__ = [
    "LabelAttentionConfig",
    "LabelAttentionForSequenceClassification",
    "LabelSemanticsConfig",
    "LabelSemanticsForTokenClassification",
    "LabelTokenConfig",
    "LabelTokenForSequenceClassification",
    "__version__",
]
