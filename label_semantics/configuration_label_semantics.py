"""Configuration of the dual-tower label-semantics token classifier (Ma et al., 2022)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

LABEL_POOLINGS = ("cls", "mean")
CRF_LOSSES = ("nll", "nll+ce")


@strict(accept_kwargs=True)
class LabelSemanticsConfig(PreTrainedConfig):
    r"""
    Configuration of [`LabelSemanticsForTokenClassification`]: a text tower that encodes the sentence and a label
    tower that encodes every label written as natural language (``B-PER`` -> ``"begin person"``). A token's score
    for a label is the dot product of the token's state with the label's vector.

    Args:
        text_config (`dict` or `PreTrainedConfig`, *optional*):
            Configuration of the text tower, any BERT-like encoder. Defaults to a `BertConfig`.
        label_config (`dict` or `PreTrainedConfig`, *optional*):
            Configuration of the label tower when `share_towers=False`. Defaults to a copy of `text_config`.
        share_towers (`bool`, *optional*, defaults to `True`):
            Whether one encoder serves as both towers (shared weights) or the label tower has its own.
        label_pooling (`str`, *optional*, defaults to `"cls"`):
            How a label description becomes one vector: `"cls"` (the first token's state, as in the paper) or
            `"mean"` (average over the description's tokens).
        label_descriptions (`list[str]`, *optional*):
            One natural-language description per label, in label-id order. Derived from the labels by the
            verbalizer when not given. Each is read whole by the label tower: a description longer than the tower's
            `max_position_embeddings` tokens is refused by `set_labels`, never cut.
        description_style (`str`, *optional*, defaults to `"names"`):
            How the built-in types of the usual benchmarks are described: `"names"`, by their name in words
            (``"begin musical artist"``), or `"definitions"`, by a short definition (``"begin musical artist: a
            singer, musician or composer"``; `label_semantics.label_descriptions.BUILTIN_DEFINITIONS`). Descriptions
            the user gives win in either style; kept by `set_labels` for later label sets.
        label_input_ids (`list[list[int]]`, *optional*):
            The label tower's token ids of every description (special tokens included), so a saved model encodes
            its labels with no tokenizer at hand.
        tag_scheme (`str`, *optional*):
            The model's own tagging scheme (`"IO"`, `"IOB1"`, `"IOB2"` or `"BIOES"`): the scheme of `id2label`, which
            is what the logits mean, and the one decoding works in. It is fixed when the model is built (the scheme
            it is trained in) and kept by `set_labels`, which maps labels given in another scheme to their types.
        data_scheme (`str`, *optional*):
            The scheme of the labels the user gave last (the data's scheme). `predict`, `evaluate_ner`, the CLI and
            the pipelines write tags in it; `None` means `tag_scheme`.
        crf (`bool`, *optional*, defaults to `False`):
            Learn collapsed transitions (Hou et al., 2020): 60 scores between abstract tags (O, B, I, E, S crossed
            with "same type" / "other type", plus start and end), which carry to any label set of the scheme. They
            are trained with the CRF negative log-likelihood and used by Viterbi decoding in `predict`.
        crf_loss (`str`, *optional*, defaults to `"nll+ce"`):
            With `crf=True`: `"nll+ce"` (the CRF negative log-likelihood plus the token cross-entropy) or `"nll"`
            (the CRF alone). Measured on the few-shot grid (BENCHMARKS.md, decoding), `"nll+ce"` keeps the
            emissions calibrated: CoNLL-2003 test 85.0 F1 against 84.6 with `"nll"` (argmax, what the stock
            pipeline reads, 80.0 against 77.6), zero-shot 22.9 against 21.7 over the eight targets.
        crf_scheme (`str`, *optional*):
            The scheme the CRF transitions were trained for; set with them. A model whose `tag_scheme` differs is
            refused.
        outside_description (`str`, *optional*, defaults to `"other"`):
            The description of the `O` tag.
        classifier_dropout (`float`, *optional*, defaults to `0.1`):
            Dropout on the token states before the dot products.

    Example:

    ```python
    >>> from transformers import BertConfig
    >>> from label_semantics import LabelSemanticsConfig, LabelSemanticsForTokenClassification

    >>> config = LabelSemanticsConfig(
    ...     text_config=BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2).to_dict(),
    ...     id2label={0: "O", 1: "B-PER", 2: "I-PER"},
    ... )
    >>> config.label_descriptions
    ['other', 'begin person', 'inside person']
    >>> model = LabelSemanticsForTokenClassification(config)  # random weights; use `from_encoder` to start from a checkpoint
    ```
    """

    model_type = "label-semantics"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="bert"),
        "label_config": SubConfigSpec(config_class=AutoConfig, model_type="bert", optional=True),
    }

    text_config: PreTrainedConfig | dict | None = None
    label_config: PreTrainedConfig | dict | None = None
    share_towers: bool = True
    label_pooling: str = "cls"
    label_descriptions: list[str] | None = None
    description_style: str = "names"
    label_input_ids: list[list[int]] | None = None
    tag_scheme: str | None = None
    data_scheme: str | None = None
    crf: bool = False
    crf_loss: str = "nll+ce"
    crf_scheme: str | None = None
    outside_description: str = "other"
    classifier_dropout: float | int = 0.1

    def __post_init__(self, **kwargs):
        # A nested config must never switch on remote code for us (cf. SpanMarker 1.8.1).
        for key in ("text_config", "label_config"):
            sub = getattr(self, key)
            if isinstance(sub, dict):
                sub = {k: v for k, v in sub.items() if k not in ("trust_remote_code", "auto_map")}
                setattr(self, key, sub)
        if self.share_towers:
            self.label_config = None
        elif self.label_config is None:
            text = self.text_config
            self.label_config = text.to_dict() if isinstance(text, PreTrainedConfig) else dict(text or {})
        super().__post_init__(**kwargs)
        self._check()  # before the labels are read: a gap in the ids is a clear error, not a KeyError
        placeholder = [f"LABEL_{i}" for i in range(len(self.id2label or {}))]
        if self.label_descriptions is None and self.id2label and self.labels != placeholder:
            from .verbalizer import verbalize

            self.label_descriptions = verbalize(
                self.labels, outside=self.outside_description, style=self.description_style
            )
        self._check()

    @property
    def labels(self) -> list[str]:
        """The labels in id order."""
        return [self.id2label[i] for i in range(len(self.id2label))]

    def _check(self) -> None:
        # plain ValueErrors: class validators (`validate_*`) would wrap them in a non-ValueError exception
        if self.label_pooling not in LABEL_POOLINGS:
            raise ValueError(
                f"label_pooling={self.label_pooling!r} is not supported; use one of {LABEL_POOLINGS}, "
                f"e.g. LabelSemanticsConfig(label_pooling='cls')."
            )
        from .verbalizer import SchemeError, check_description_style, normalize_scheme

        check_description_style(self.description_style)

        if self.crf_loss not in CRF_LOSSES:
            raise ValueError(
                f"crf_loss={self.crf_loss!r} is not supported; use one of {CRF_LOSSES}, e.g. "
                f"LabelSemanticsConfig(crf=True, crf_loss='nll')."
            )
        if self.crf and self.crf_scheme and self.tag_scheme and self.crf_scheme != self.tag_scheme:
            raise SchemeError(
                f"the CRF transitions were trained for the {self.crf_scheme} scheme but the model's labels are "
                f"{self.tag_scheme}; load the checkpoint as saved, or build a new CRF with "
                f"LabelSemanticsForTokenClassification.from_encoder(..., crf=True)"
            )
        for name in ("tag_scheme", "data_scheme", "crf_scheme"):
            value = getattr(self, name)
            if value is not None and normalize_scheme(value) != value:
                raise ValueError(
                    f"{name}={value!r} is not a scheme name; use one of IO, IOB1, IOB2 or BIOES, "
                    f"e.g. LabelSemanticsConfig({name}='IOB2')."
                )
        labels = [self.id2label[i] for i in sorted(self.id2label)] if self.id2label else []
        if sorted(self.id2label or {}) != list(range(len(labels))):
            raise ValueError(
                f"id2label must map the ids 0..{len(labels) - 1} without gaps, got ids {sorted(self.id2label)}."
            )
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"Duplicate labels {duplicates} in id2label; every label must appear once.")
        for name, values in (
            ("label_descriptions", self.label_descriptions),
            ("label_input_ids", self.label_input_ids),
        ):
            if values is not None and len(values) != len(labels):
                raise ValueError(
                    f"{name} has {len(values)} entries but there are {len(labels)} labels {labels}; "
                    "give one entry per label, in id order, or leave it out to derive it from the labels."
                )


# save_pretrained copies this file (and the verbalizer) next to the config and writes `auto_map`
LabelSemanticsConfig.register_for_auto_class()

__all__ = ["LabelSemanticsConfig"]
