"""Configuration of the label-attention sentence classifier (zero-shot sequence labelling).

The model is a sentence classifier whose token-level soft attention doubles as a word labeller
(Rei & Søgaard, 2018; Bujel, Yannakoudakis & Rei, 2021). With several labels each label has its own
attention query, computed from the label's natural-language description by the same encoder.
"""

from __future__ import annotations

import logging
from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

logger = logging.getLogger(__name__)

ATTENTION_FUNCTIONS = ("sigmoid", "softmax")
WORD_AGGREGATIONS = ("first", "max")
LABEL_POOLINGS = ("cls", "mean")


class LabelAttentionConfigError(ValueError):
    """Raised when a [`LabelAttentionConfig`] field has an invalid value; the message shows a valid call."""


class UnknownLabelError(ValueError):
    """A sentence label that is not one of the model's configured labels."""


class EmptyTrainingSetError(ValueError):
    """`prepare_dataset()` was given no examples."""


class MissingTokenizerError(ValueError):
    """A text-level method was called on a model that has no (fast) tokenizer attached."""


# [CLS], one token of text, [SEP]
MIN_LENGTH = 3


def check_max_length(value: int | None, positions: int | None, name: str = "max_length") -> int | None:
    """Check a token limit: an `int` of at least 3 ([CLS], one token, [SEP]) and at most the encoder's
    `max_position_embeddings` (`positions`); `None` passes.

    Raises:
        [`LabelAttentionConfigError`]: naming the value and a valid one.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_LENGTH:
        raise LabelAttentionConfigError(
            f"`{name}` must be an int of at least {MIN_LENGTH} ([CLS], a token, [SEP]), got {value!r}; "
            f"e.g. {name}=128."
        )
    if isinstance(positions, int) and value > positions:
        raise LabelAttentionConfigError(
            f"`{name}`={value} exceeds the encoder's max_position_embeddings={positions}; pass {name}={positions} "
            "or less."
        )
    return value


@strict
class LabelAttentionConfig(PreTrainedConfig):
    r"""
    Configuration of [`LabelAttentionForSequenceClassification`]: a BERT-like encoder, one soft-attention
    query per label (from the label's description) and the weights of the three losses.

    Args:
        encoder_config (`PreTrainedConfig` or `dict`, *optional*):
            Configuration of the encoder, built with `AutoModel.from_config`. Defaults to a `BertConfig`.
        label_descriptions (`list[str]`, *optional*):
            One natural-language description per label, in `id2label` order. Defaults to the label names.
        label_description_ids (`list[list[int]]`, *optional*):
            The descriptions tokenised by the encoder's tokenizer (with special tokens), so `forward()`
            needs only tensors. Set by `from_encoder()` / `set_labels()`.
        special_token_ids (`list[int]`, *optional*):
            Token ids that never take part in attention or in the losses ([CLS], [SEP], [PAD], ...).
            Padding is always excluded through the attention mask.
        attention_function (`str`, *optional*, defaults to `"sigmoid"`):
            `"sigmoid"`: ã_i = sigmoid(e_i), a_i = ã_i / sum_k ã_k (Rei & Søgaard, 2018); `"softmax"`: a_i =
            softmax(e_i), and the token score is a_i itself.
        square_attention (`bool`, *optional*, defaults to `False`):
            With `"sigmoid"`: pool with a_i = ã_i^2 / sum_k ã_k^2 instead of ã_i / sum_k ã_k, which sharpens the
            attention (Bujel, Yannakoudakis & Rei, 2021); the token scores stay ã_i.
        attention_hidden_size (`int`, *optional*):
            Width of the attention and output projections. Defaults to the encoder's hidden size.
        sentence_loss_weight (`float`, *optional*, defaults to `1.0`):
            Weight of L1, the sentence classification loss.
        min_attention_loss_weight (`float`, *optional*, defaults to `0.01`):
            Weight of L2 = (min_i ã_i - 0)^2: some tokens of every sentence are negative.
        max_attention_loss_weight (`float`, *optional*, defaults to `0.01`):
            Weight of L3 = (max_i ã_i - y)^2: a positive token exists only in a positive sentence.
        zero_attention_loss_weight (`float`, *optional*, defaults to `0.0`):
            Weight of L5 = the mean of ã_i^2 over the `zero_attention_tokens` lowest tokens of every sentence (L2
            widened from one token to several; Bujel et al.'s `zero_delta`). Off at 0.
        zero_attention_tokens (`int`, *optional*, defaults to `0`):
            How many of the lowest tokens L5 pushes to 0 (Bujel et al.'s `zero_n`); L5 is off at 0.
        word_aggregation (`str`, *optional*, defaults to `"first"`):
            A word's score is that of its `"first"` sub-token or the `"max"` over its sub-tokens.
        word_threshold (`float`, *optional*, defaults to `0.5`):
            A word gets a label when its score for that label is at least this value; in [0, 1].
        sentence_threshold (`float`, *optional*, defaults to `0.5`):
            Probability at which a binary or multi-label sentence gets a label; in [0, 1].
        label_pooling (`str`, *optional*, defaults to `"cls"`):
            How a description is pooled into its query vector: the `"cls"` state or the `"mean"` over tokens.
        classifier_dropout (`float`, *optional*):
            Dropout on the token states; defaults to the encoder's `hidden_dropout_prob`.
        max_length (`int`, *optional*):
            Token limit used by `predict()` and `prepare_dataset()`; longer inputs are truncated with a
            warning (and flagged by `predict()`). At least 3 and at most the encoder's
            `max_position_embeddings`, which is the default.
        initializer_range (`float`, *optional*, defaults to `0.02`):
            Standard deviation of the normal initialiser of the head.

    Example:

    ```python
    >>> from transformers import BertConfig
    >>> from label_semantics.configuration_label_attention import LabelAttentionConfig

    >>> config = LabelAttentionConfig(
    ...     encoder_config=BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2),
    ...     id2label={0: "incorrect"},
    ...     label2id={"incorrect": 0},
    ...     problem_type="multi_label_classification",
    ... )
    >>> config.label_descriptions
    ['incorrect']
    ```"""

    model_type = "label-attention"
    sub_configs_defaults = {"encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder_config: PreTrainedConfig | dict | None = None
    label_descriptions: list[str] | None = None
    label_description_ids: list[list[int]] | None = None
    special_token_ids: list[int] | None = None
    attention_function: Literal["sigmoid", "softmax"] = "sigmoid"
    square_attention: bool = False
    attention_hidden_size: int | None = None
    sentence_loss_weight: float | int = 1.0
    min_attention_loss_weight: float | int = 0.01
    max_attention_loss_weight: float | int = 0.01
    zero_attention_loss_weight: float | int = 0.0
    zero_attention_tokens: int = 0
    word_aggregation: Literal["first", "max"] = "first"
    word_threshold: float | int = 0.5
    sentence_threshold: float | int = 0.5
    label_pooling: Literal["cls", "mean"] = "cls"
    classifier_dropout: float | int | None = None
    max_length: int | None = None
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        # A nested config must never switch on remote code for us.
        if isinstance(self.encoder_config, dict):
            self.encoder_config = {
                k: v for k, v in self.encoder_config.items() if k not in ("trust_remote_code", "auto_map")
            }
        super().__post_init__(**kwargs)
        if self.label_descriptions is None and self.id2label is not None:
            self.label_descriptions = [str(self.id2label[i]) for i in range(len(self.id2label))]
        self.check()

    def check(self) -> None:
        """Validate the fields; called at construction and by the model before use.

        Raises:
            [`LabelAttentionConfigError`]: naming the offending field and value and showing a valid value.
        """
        for name in ("word_threshold", "sentence_threshold"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise LabelAttentionConfigError(
                    f"`{name}` must lie in [0, 1], got {value!r}; e.g. LabelAttentionConfig(..., {name}=0.5)."
                )
        for name in (
            "sentence_loss_weight",
            "min_attention_loss_weight",
            "max_attention_loss_weight",
            "zero_attention_loss_weight",
        ):
            value = getattr(self, name)
            if float(value) < 0.0:
                raise LabelAttentionConfigError(
                    f"`{name}` must be >= 0, got {value!r}; use 0.0 to switch that loss off, "
                    f"e.g. LabelAttentionConfig(..., {name}=0.0)."
                )
        tokens = self.zero_attention_tokens
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise LabelAttentionConfigError(
                f"`zero_attention_tokens` must be an int >= 0, got {tokens!r}; e.g. "
                "LabelAttentionConfig(..., zero_attention_tokens=3, zero_attention_loss_weight=0.1)."
            )
        if self.square_attention and self.attention_function != "sigmoid":
            raise LabelAttentionConfigError(
                f"`square_attention=True` squares the sigmoid scores, but attention_function="
                f"{self.attention_function!r}; use attention_function='sigmoid' or square_attention=False."
            )
        for name, choices in (
            ("attention_function", ATTENTION_FUNCTIONS),
            ("word_aggregation", WORD_AGGREGATIONS),
            ("label_pooling", LABEL_POOLINGS),
        ):
            value = getattr(self, name)
            if value not in choices:
                raise LabelAttentionConfigError(
                    f"`{name}` must be one of {choices}, got {value!r}; "
                    f"e.g. LabelAttentionConfig(..., {name}={choices[0]!r})."
                )
        if self.problem_type == "regression":
            raise LabelAttentionConfigError(
                "`problem_type='regression'` is not supported by the label-attention classifier; use "
                "'single_label_classification' (one label per sentence) or 'multi_label_classification'."
            )
        num_labels = self.num_labels or 0
        positions = getattr(self.encoder_config, "max_position_embeddings", None)
        check_max_length(self.max_length, positions)
        if self.label_descriptions is not None and len(self.label_descriptions) != num_labels:
            raise LabelAttentionConfigError(
                f"{len(self.label_descriptions)} label descriptions for {num_labels} labels "
                f"({list(self.id2label.values()) if self.id2label else []}); give one description per label, "
                "in id2label order, e.g. label_descriptions=['grammatical error']."
            )
        if self.label_description_ids is not None and len(self.label_description_ids) != num_labels:
            raise LabelAttentionConfigError(
                f"{len(self.label_description_ids)} tokenised descriptions for {num_labels} labels; rebuild them "
                "with model.set_labels(labels, descriptions) rather than editing the config."
            )


# save_pretrained copies this file next to the config and writes `auto_map`
LabelAttentionConfig.register_for_auto_class()

__all__ = [
    "EmptyTrainingSetError",
    "LabelAttentionConfig",
    "LabelAttentionConfigError",
    "MissingTokenizerError",
    "UnknownLabelError",
    "check_max_length",
]
