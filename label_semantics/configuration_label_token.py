"""Configuration of the label-as-token sequence classifier: every label is one special token of the input."""

from __future__ import annotations

import logging

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .verbalizer import describe_type

logger = logging.getLogger(__name__)

# Tokens the window holds besides the label tokens: [CLS], the [SEP] after the labels, at least one text token
# and the final [SEP].
RESERVED_TOKENS = 4

LABEL_ATTENTIONS = ("isolated", "shared")
LABEL_HEADS = ("description", "linear")
# What a checkpoint saved before these fields existed was: every token saw every label, one linear layer scored.
LEGACY_FIELDS = {"label_attention": "shared", "label_head": "linear"}


def check_threshold(value, name: str = "threshold") -> float:
    """Return `value` as a float after checking it lies strictly between 0 and 1 (a multi-label threshold of 0
    would predict every label, one of 1 none). The config and `predict()` both call it.

    Raises:
        `ValueError`: naming the value and a valid one.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < value < 1.0
    if not ok:
        raise ValueError(f"{name}={value!r} must be a number strictly between 0 and 1, e.g. {name}=0.5.")
    return float(value)


@strict
class LabelTokenConfig(PreTrainedConfig):
    r"""
    Configuration of [`LabelTokenForSequenceClassification`]: a BERT-like encoder reads
    `[CLS] <label_1> ... <label_n> [SEP] text [SEP]`, where every label is one added special token, and each label
    token's final state gives that label's logit.

    Args:
        encoder_config (`dict` or `PreTrainedConfig`, *optional*):
            Configuration of the encoder, any BERT-like model that `AutoModel.from_config` builds. Defaults to a
            `BertConfig`.
        label_descriptions (`list[str]`, *optional*):
            One natural-language description per label, in label-id order; they initialise the label tokens.
            Derived from the label names by `label_semantics.verbalizer.describe_type` when not given.
        label_token_ids (`list[int]`, *optional*):
            The vocabulary id of every label's token, in label-id order. Defaults to the last `num_labels` ids of
            the encoder's vocabulary, which is where [`~LabelTokenForSequenceClassification.from_encoder`] adds them.
        sep_token_id (`int`, *optional*):
            The id of the separator written between the label tokens and the text (`[SEP]` for BERT).
        pad_token_id (`int`, *optional*):
            The tokenizer's padding id, recorded so that `Trainer` finds the model and tokenizer in agreement.
        max_seq_length (`int`, *optional*):
            The window: the most tokens the encoder reads at once, label tokens included (they share one position
            id but each costs attention). Defaults to the encoder's `max_position_embeddings`; at most
            `max_seq_length - 4` labels fit in one pass.
        classifier_dropout (`float`, *optional*):
            Dropout on the label-token states before the head. Defaults to the encoder's
            `hidden_dropout_prob`.
        threshold (`float`, *optional*, defaults to `0.5`):
            Multi-label only: a label is predicted when its sigmoid probability reaches this value.
        label_attention (`str`, *optional*, defaults to `"isolated"`):
            `"isolated"`: each label token sees `[CLS]`, itself, the `[SEP]` and the text, and no token sees another
            label token (the text is read as if no label were there), so every label's logit depends on that label
            and the text only: a label set of any size can be split across several passes with the same logits.
            `"shared"`: every token sees every token (the design before this field existed; all labels must fit in
            one window). Isolated attention needs the encoder's `"eager"` or `"sdpa"` attention.
        label_head (`str`, *optional*, defaults to `"description"`):
            `"description"`: label `i`'s logit is `s * cos(t + W h_i, d_i) + b`, where `t` is the mean of the text
            tokens' final states, `h_i` the label token's, `d_i` the mean final state of the label's description
            read alone by the same encoder, `W` a linear layer that starts at zero and `s`, `b` two learned
            scalars (starting at 20 and 0). Untrained, the model ranks the labels by how close their descriptions
            are to the text (zero-shot); training moves `W`, the label tokens and the encoder. `"linear"`: dropout
            and one linear layer shared by all labels on `h_i` (the design before this field existed).
        label_smoothing (`float`, *optional*, defaults to `0.0`):
            Single-label only: the label smoothing of the cross-entropy loss, from 0 (none) to below 1.
        labels_per_pass (`int`, *optional*):
            The most label tokens the encoder reads in one pass; more labels take several passes, each reading the
            text again (the cost grows with the number of passes). Isolated attention only: shared attention needs
            all labels in one pass. Defaults to all labels when they fill at most half the window, else half the
            window.
        description_token_ids (`list[list[int]]`, *optional*):
            For every label, its description as the tokenizer encodes it alone (`[CLS] description [SEP]`), used by
            `label_head="description"`; [`~LabelTokenForSequenceClassification.from_encoder`] sets it.

    A config saved before `label_attention` and `label_head` existed loads as `label_attention="shared"`,
    `label_head="linear"`, the model it was trained as.

    Labels go in `id2label` / `label2id` as for any transformers classifier; `problem_type` is
    `"single_label_classification"` (softmax, cross-entropy) or `"multi_label_classification"` (sigmoid, binary
    cross-entropy), inferred from the first targets when not set. A model with one label is a binary detector and
    is always multi-label.

    Example:

    ```python
    >>> from transformers import BertConfig
    >>> from label_semantics import LabelTokenConfig, LabelTokenForSequenceClassification

    >>> config = LabelTokenConfig(
    ...     encoder_config=BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2).to_dict(),
    ...     id2label={0: "anger", 1: "joy", 2: "creative-work"},
    ...     sep_token_id=102,
    ...     label_head="linear",  # the default "description" head also needs description_token_ids
    ... )
    >>> config.label_descriptions
    ['anger', 'joy', 'creative work']
    >>> config.label_token_ids
    [30519, 30520, 30521]
    >>> model = LabelTokenForSequenceClassification(config)  # random weights; use `from_encoder` for a checkpoint
    ```
    """

    model_type = "label-token"
    sub_configs_defaults = {"encoder_config": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder_config: PreTrainedConfig | dict | None = None
    label_descriptions: list[str] | None = None
    label_token_ids: list[int] | None = None
    sep_token_id: int | None = None
    pad_token_id: int | None = None
    max_seq_length: int | None = None
    classifier_dropout: float | int | None = None
    threshold: float | int = 0.5
    label_attention: str = "isolated"
    label_head: str = "description"
    label_smoothing: float | int = 0.0
    labels_per_pass: int | None = None
    description_token_ids: list[list[int]] | None = None

    @classmethod
    def from_dict(cls, config_dict: dict, **kwargs) -> LabelTokenConfig:
        """As `PreTrainedConfig.from_dict`; a config saved before `label_attention` existed keeps its old design."""
        if "label_attention" not in config_dict and "label_head" not in config_dict:
            config_dict = {**config_dict, **LEGACY_FIELDS}
        return super().from_dict(config_dict, **kwargs)

    def __post_init__(self, **kwargs):
        # A nested config must never switch on remote code for us.
        if isinstance(self.encoder_config, dict):
            self.encoder_config = {
                k: v for k, v in self.encoder_config.items() if k not in ("trust_remote_code", "auto_map")
            }
        super().__post_init__(**kwargs)
        labels = self.labels
        self._check_labels(labels)
        if self.label_descriptions is None:
            self.label_descriptions = [describe_type(label) for label in labels]
        vocab_size = self.encoder_config.vocab_size
        if self.label_token_ids is None:
            self.label_token_ids = list(range(vocab_size - len(labels), vocab_size))
        for name, values in (
            ("label_descriptions", self.label_descriptions),
            ("label_token_ids", self.label_token_ids),
        ):
            if len(values) != len(labels):
                raise ValueError(
                    f"{name} has {len(values)} entries but there are {len(labels)} labels {labels}; give one entry "
                    "per label, in id order, or leave it out to derive it from the labels."
                )
        bad_ids = [i for i in self.label_token_ids if not 0 <= i < vocab_size]
        if bad_ids or len(set(self.label_token_ids)) != len(labels):
            raise ValueError(
                f"label_token_ids={self.label_token_ids} must be {len(labels)} distinct ids inside the encoder's "
                f"vocabulary of {vocab_size}; build the model with LabelTokenForSequenceClassification.from_encoder("
                "path, labels=[...]), which adds the tokens and sets the ids."
            )
        positions = getattr(self.encoder_config, "max_position_embeddings", None)
        if self.max_seq_length is None:
            self.max_seq_length = positions if positions is not None else 512
        if positions is not None and self.max_seq_length > positions:
            raise ValueError(
                f"max_seq_length={self.max_seq_length} exceeds the encoder's max_position_embeddings={positions}; "
                f"pass max_seq_length={positions} or less."
            )
        self._check_design(labels)
        check_threshold(self.threshold)
        if self.problem_type == "regression":
            raise ValueError(
                "problem_type='regression' is not supported: every label token gives a label score. Use "
                "'single_label_classification' or 'multi_label_classification', or leave it unset."
            )

    def _check_design(self, labels: list[str]) -> None:
        """Validate `label_attention`, `label_head`, `label_smoothing`, `labels_per_pass` and the description ids."""
        for name, value, allowed in (
            ("label_attention", self.label_attention, LABEL_ATTENTIONS),
            ("label_head", self.label_head, LABEL_HEADS),
        ):
            if value not in allowed:
                raise ValueError(
                    f"{name}={value!r} is not supported; use one of {allowed}, e.g. {name}={allowed[0]!r}."
                )
        smoothing = self.label_smoothing
        if (
            isinstance(smoothing, bool)
            or not isinstance(smoothing, (int, float))
            or not 0.0 <= smoothing < 1.0
        ):
            raise ValueError(f"label_smoothing={smoothing!r} must be a number from 0 to below 1, e.g. 0.1.")
        fit = self.max_seq_length - RESERVED_TOKENS
        if self.label_attention == "shared":
            if len(labels) > fit:
                raise ValueError(
                    f"{len(labels)} labels do not fit in a window of max_seq_length={self.max_seq_length} tokens: at "
                    f"most {fit} labels fit ({RESERVED_TOKENS} places go to [CLS], two [SEP] and at least one text "
                    "token). Use label_attention='isolated', which reads a large label set in several passes, fewer "
                    "labels, or a larger max_seq_length if the encoder allows it."
                )
            if self.labels_per_pass not in (None, len(labels)):
                raise ValueError(
                    f"labels_per_pass={self.labels_per_pass} needs label_attention='isolated': with shared attention "
                    f"all {len(labels)} labels are read in one pass. Leave labels_per_pass unset."
                )
            self.labels_per_pass = len(labels)
        elif self.labels_per_pass is None:
            half = self.max_seq_length // 2
            self.labels_per_pass = len(labels) if len(labels) <= half else half
        per_pass = self.labels_per_pass
        if isinstance(per_pass, bool) or not isinstance(per_pass, int) or not 1 <= per_pass <= fit:
            raise ValueError(
                f"labels_per_pass={per_pass!r} must be an int from 1 to {fit} (max_seq_length={self.max_seq_length} "
                f"less {RESERVED_TOKENS} places for [CLS], two [SEP] and a text token), e.g. "
                f"labels_per_pass={min(len(labels), self.max_seq_length // 2)}."
            )
        self.labels_per_pass = min(per_pass, len(labels))
        ids = self.description_token_ids
        if ids is not None and (len(ids) != len(labels) or any(not row for row in ids)):
            raise ValueError(
                f"description_token_ids has {len(ids)} entries for {len(labels)} labels {labels} (or an empty one); "
                "give each label's encoded description, in id order."
            )

    @property
    def num_passes(self) -> int:
        """How many encoder passes one text takes: the labels in groups of `labels_per_pass`."""
        return -(-self.num_labels // self.labels_per_pass)

    @staticmethod
    def _check_labels(labels: list[str]) -> None:
        if not labels:
            raise ValueError(
                "No labels given. Pass the classes to predict, e.g. id2label={0: 'anger', 1: 'joy'}."
            )
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"Duplicate labels {duplicates} in {labels}; list every label once.")

    @property
    def labels(self) -> list[str]:
        """The labels in id order."""
        ids = sorted(self.id2label or {})
        if ids != list(range(len(ids))):
            raise ValueError(f"id2label must map the ids 0..{len(ids) - 1} without gaps, got ids {ids}.")
        return [self.id2label[i] for i in ids]

    @property
    def is_multi_label(self) -> bool:
        """Whether the model scores every label on its own (sigmoid) rather than picking one (softmax)."""
        return self.problem_type == "multi_label_classification" or self.num_labels == 1


# save_pretrained copies this file (and the verbalizer) next to the config and writes `auto_map`
LabelTokenConfig.register_for_auto_class()

__all__ = ["LABEL_ATTENTIONS", "LABEL_HEADS", "LabelTokenConfig", "check_threshold"]
