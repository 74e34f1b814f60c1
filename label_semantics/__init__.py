"""label-semantics: few-shot NER and text classification that read the labels' names.

Importing the package registers its configs and models with the transformers Auto classes, so a saved
checkpoint loads with `AutoModelForTokenClassification.from_pretrained(folder)`.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification

from .configuration_label_semantics import LabelSemanticsConfig
from .modeling_label_semantics import LabelSemanticsForTokenClassification

__version__ = "0.1.0"

AutoConfig.register(LabelSemanticsConfig.model_type, LabelSemanticsConfig)
AutoModel.register(LabelSemanticsConfig, LabelSemanticsForTokenClassification)
AutoModelForTokenClassification.register(LabelSemanticsConfig, LabelSemanticsForTokenClassification)

__all__ = [
    "LabelSemanticsConfig",
    "LabelSemanticsForTokenClassification",
    "__version__",
]

# Label-attention sentence classifier (zero-shot sequence labelling): Auto* registration.
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification  # noqa: E402

from .configuration_label_attention import LabelAttentionConfig  # noqa: E402
from .modeling_label_attention import LabelAttentionForSequenceClassification  # noqa: E402

AutoConfig.register(LabelAttentionConfig.model_type, LabelAttentionConfig, exist_ok=True)
AutoModel.register(LabelAttentionConfig, LabelAttentionForSequenceClassification, exist_ok=True)
AutoModelForSequenceClassification.register(
    LabelAttentionConfig, LabelAttentionForSequenceClassification, exist_ok=True
)

# Label-as-token sequence classifier: Auto* registration.
from transformers import AutoModelForSequenceClassification  # noqa: E402

from .configuration_label_token import LabelTokenConfig  # noqa: E402
from .modeling_label_token import LabelTokenForSequenceClassification  # noqa: E402

AutoConfig.register(LabelTokenConfig.model_type, LabelTokenConfig, exist_ok=True)
AutoModel.register(LabelTokenConfig, LabelTokenForSequenceClassification, exist_ok=True)
AutoModelForSequenceClassification.register(LabelTokenConfig, LabelTokenForSequenceClassification, exist_ok=True)

# Pipelines: registers "label-semantics-ner" (zero-shot labels at call time) with transformers.pipeline.
from . import pipelines  # noqa: E402, F401
