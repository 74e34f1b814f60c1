"""Zero-shot sequence labelling: a sentence classifier whose soft attention labels the words.

Rei & Søgaard (NAACL 2018) and Bujel, Yannakoudakis & Rei (2021): each token gets an unnormalised
score e_i, ã_i = sigmoid(e_i), a_i = ã_i / sum_k ã_k, and the sentence vector s = sum_i a_i h_i is
classified. Trained on sentence labels only (L1), with L2 = (min_i ã_i)^2 and L3 = (max_i ã_i - y)^2
shaping the attention, ã_i becomes a word label. With several labels there is one attention query per
label, the pooled encoding of the label's description by the same encoder, so a multi-class or
multi-label sentence classifier returns, for each predicted label, the words that support it.

The model lives here; its arithmetic (attention weights, losses, word scores) is in
`label_attention_scoring.py` as pure functions, and text in / word evidence out (`predict`,
`prepare_dataset`) in `label_attention_prediction.py`. All of them travel with a saved checkpoint as remote
code; the names below are importable from this module as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_label_attention import (
    EmptyTrainingSetError,
    LabelAttentionConfig,
    LabelAttentionConfigError,
    MissingTokenizerError,
    UnknownLabelError,
)
from .label_attention_prediction import predict as predict_words
from .label_attention_prediction import prepare_dataset as prepare_features
from .label_attention_prediction import require_tokenizer, token_limit
from .label_attention_prediction import sentence_targets as targets_for
from .label_attention_scoring import (
    aggregate_word_scores,
    attention_losses,
    attention_weights,
    check_threshold,
    sentence_loss,
)
from .verbalizer import describe_type

logger = logging.getLogger(__name__)

TOKENIZER_OPTIONS = ("revision", "token", "cache_dir", "local_files_only", "subfolder", "trust_remote_code")


@dataclass
class LabelAttentionOutput(SequenceClassifierOutput):
    r"""
    Output of [`LabelAttentionForSequenceClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `(1,)`, *optional*, returned when `labels` is given):
            `sentence_loss_weight * L1 + min_attention_loss_weight * L2 + max_attention_loss_weight * L3` (+
            `zero_attention_loss_weight * L5` when switched on).
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Sentence logits (sigmoid for binary / multi-label, softmax for single-label).
        token_scores (`torch.FloatTensor` of shape `(batch_size, seq_len, num_labels)`):
            ã_i per token and label (the softmax weights with `attention_function="softmax"`); zero on
            padding and special tokens.
        attention_weights (`torch.FloatTensor` of shape `(batch_size, seq_len, num_labels)`):
            The normalised weights a_i that pool the token states; they sum to one over the real tokens.
    """

    token_scores: torch.FloatTensor | None = None
    attention_weights: torch.FloatTensor | None = None


class LabelAttentionPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading for the label-attention models."""

    config_class = LabelAttentionConfig
    config: LabelAttentionConfig
    base_model_prefix = "label_attention"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, LabelAttentionForSequenceClassification):
            init.zeros_(module.attention_bias)
            init.zeros_(module.output_bias)


class LabelAttentionForSequenceClassification(LabelAttentionPreTrainedModel):
    r"""
    A sentence classifier over any BERT-like encoder whose per-label soft attention scores each word.

    Args:
        config ([`LabelAttentionConfig`]):
            The model configuration.
        encoder ([`PreTrainedModel`], *optional*):
            An already built (e.g. pretrained) encoder; by default one is built from
            `config.encoder_config` with `AutoModel.from_config`.

    Example:

    ```python
    >>> from label_semantics.modeling_label_attention import LabelAttentionForSequenceClassification

    >>> model = LabelAttentionForSequenceClassification.from_encoder(
    ...     "sentence-transformers/all-MiniLM-L6-v2", labels=["incorrect"], descriptions={"incorrect": "grammatical error"}
    ... )
    >>> # ... train on sentence labels only (Trainer, model.prepare_dataset(texts, labels)) ...
    >>> result = model.predict("I saws the show .")
    >>> result["labels"], [(w["word"], round(w["scores"]["incorrect"], 2)) for w in result["words"]]
    ```"""

    def __init__(self, config: LabelAttentionConfig, encoder: PreTrainedModel | None = None):
        encoder_attention = encoder.config._attn_implementation if encoder is not None else None
        super().__init__(config)
        config.check()
        self.encoder = encoder if encoder is not None else AutoModel.from_config(config.encoder_config)
        # the parent __init__ resets the sub-config's attention implementation: keep the encoder's own
        self.encoder.config._attn_implementation = (
            encoder_attention or self.encoder.config._attn_implementation or self.config._attn_implementation
        )
        self.config.encoder_config = self.encoder.config
        hidden = self.encoder.config.hidden_size
        width = config.attention_hidden_size or hidden
        dropout = config.classifier_dropout
        if dropout is None:
            dropout = getattr(self.encoder.config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(dropout)
        self.token_projection = nn.Linear(hidden, width)
        self.query_projection = nn.Linear(hidden, width, bias=False)
        self.sentence_projection = nn.Linear(hidden, width)
        self.output_projection = nn.Linear(hidden, width, bias=False)
        self.attention_bias = nn.Parameter(torch.zeros(1))
        self.output_bias = nn.Parameter(torch.zeros(1))
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self.post_init()

    # ----------------------------------------------------------------------------------- construction
    @classmethod
    def from_encoder(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        labels: Sequence[str],
        descriptions: Mapping[str, str] | Sequence[str] | None = None,
        *,
        problem_type: str | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        **config_kwargs: Any,
    ) -> LabelAttentionForSequenceClassification:
        """Build a label-attention classifier over a pretrained encoder and its tokenizer.

        Args:
            pretrained_model_name_or_path (`str` or `os.PathLike`):
                A BERT-like encoder checkpoint (directory or hub id) loadable with `AutoModel`.
            labels (`Sequence[str]`):
                The sentence labels. One label is a binary task (e.g. `["incorrect"]`: the sentence has an
                error or not); several labels are a single-label task unless
                `problem_type="multi_label_classification"`.
            descriptions (`Mapping[str, str]` or `Sequence[str]`, *optional*):
                Natural-language descriptions, keyed by label or one per label; the rest come from
                `verbalizer.describe_type`.
            problem_type (`str`, *optional*):
                `"single_label_classification"` or `"multi_label_classification"`; inferred when omitted.
            tokenizer ([`PreTrainedTokenizerBase`], *optional*):
                A fast tokenizer; loaded from the checkpoint by default.
            config_kwargs (`dict`, *optional*):
                Further [`LabelAttentionConfig`] fields, e.g. `attention_function="softmax"`.

        Returns:
            [`LabelAttentionForSequenceClassification`]: the model, with `model.tokenizer` set.
        """
        labels = _check_label_names(labels)
        encoder = AutoModel.from_pretrained(pretrained_model_name_or_path)
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(pretrained_model_name_or_path)
        if problem_type is None:
            problem_type = "multi_label_classification" if len(labels) == 1 else "single_label_classification"
        config = LabelAttentionConfig(
            encoder_config=encoder.config,
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            problem_type=problem_type,
            label_descriptions=_descriptions_for(labels, descriptions),
            **config_kwargs,
        )
        model = cls(config, encoder=encoder)
        # a tokenizer without a length limit would let the stock pipelines overrun the position embeddings
        positions = getattr(encoder.config, "max_position_embeddings", None)
        if isinstance(positions, int) and tokenizer.model_max_length > positions:
            tokenizer.model_max_length = positions
        model.set_labels(labels, descriptions, tokenizer=tokenizer)
        return model

    def set_labels(
        self,
        labels: Sequence[str],
        descriptions: Mapping[str, str] | Sequence[str] | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
    ) -> None:
        """Set (or replace) the label set; the head is label-agnostic, so no weights change.

        Args:
            labels (`Sequence[str]`):
                The label names, in id order.
            descriptions (`Mapping[str, str]` or `Sequence[str]`, *optional*):
                Descriptions keyed by label or one per label; missing ones come from `describe_type`.
            tokenizer ([`PreTrainedTokenizerBase`], *optional*):
                A fast tokenizer; becomes `model.tokenizer`. Defaults to the one already attached.
        """
        labels = _check_label_names(labels)
        if tokenizer is not None:
            self.tokenizer = tokenizer
        tok = self._require_tokenizer("set_labels")
        texts = _descriptions_for(labels, descriptions)
        ids = [list(map(int, row)) for row in tok(texts)["input_ids"]]
        config = self.config
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: i for i, label in enumerate(labels)}
        config.label_descriptions = texts
        config.label_description_ids = ids
        # the unknown token stands for a word of the text (an emoji, a rare script), so it takes part in attention
        config.special_token_ids = sorted({int(i) for i in tok.all_special_ids} - {tok.unk_token_id})
        if len(labels) == 1:
            config.problem_type = "multi_label_classification"
        elif config.problem_type is None:
            config.problem_type = "single_label_classification"
        config.check()

    # --------------------------------------------------------------------------------- save / load
    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """Save weights and config as usual and the attached tokenizer beside them; then remove what an older
        checkpoint in the folder left and this model does not need (see `checkpoint_files.py`)."""
        from .checkpoint_files import remove_stale_files

        super().save_pretrained(save_directory, *args, **kwargs)
        if not kwargs.get("is_main_process", True):
            return
        written = self.tokenizer.save_pretrained(save_directory) if self.tokenizer is not None else ()
        remove_stale_files(self, save_directory, written, variant=kwargs.get("variant"))

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any
    ) -> LabelAttentionForSequenceClassification:
        """Load a saved model and, when the checkpoint has one, its tokenizer (`model.tokenizer`), with the same
        `revision`, `subfolder`, `token`, `cache_dir` and `local_files_only`. Weights load from safetensors only."""
        kwargs.setdefault("use_safetensors", True)
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        options = {k: kwargs[k] for k in TOKENIZER_OPTIONS if k in kwargs}
        try:
            model.tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **options)
        except (OSError, ValueError) as error:
            logger.warning(
                "No tokenizer loaded from %s (%s); set model.tokenizer.", pretrained_model_name_or_path, error
            )
        return model

    # ------------------------------------------------------------------------------------ tensors
    def description_inputs(self) -> dict[str, torch.Tensor]:
        """The tokenised label descriptions from the config as padded tensors on the model's device.

        Returns:
            `dict[str, torch.Tensor]`: `input_ids` and `attention_mask`, each `(num_labels, max_len)`.
        """
        rows = self.config.label_description_ids
        if not rows:
            raise MissingTokenizerError(
                "The config has no tokenised label descriptions; call "
                "model.set_labels(labels, descriptions, tokenizer=tokenizer) once (from_encoder() does it)."
            )
        pad = self.encoder.config.pad_token_id or 0
        width = max(len(row) for row in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device)}

    def encode_labels(
        self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The label tower: each description pooled into one vector by the shared encoder.

        Args:
            input_ids (`torch.Tensor` of shape `(num_labels, desc_len)`, *optional*):
                Tokenised descriptions; by default those stored in the config.
            attention_mask (`torch.Tensor` of shape `(num_labels, desc_len)`, *optional*):
                Their attention mask.

        Returns:
            `torch.Tensor` of shape `(num_labels, hidden_size)`: pass it to `forward(query_vectors=...)`
            to encode a fixed label set once.
        """
        if input_ids is None:
            inputs = self.description_inputs()
            input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.config.label_pooling == "mean":
            weights = attention_mask.unsqueeze(-1).to(states.dtype)
            return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return states[:, 0]

    def token_mask(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """True on the tokens that take part in attention: not padding, not a special token.

        Args:
            input_ids (`torch.Tensor` of shape `(batch, seq_len)`):
                Token ids.
            attention_mask (`torch.Tensor` of shape `(batch, seq_len)`, *optional*):
                1 on real tokens, 0 on padding.

        Returns:
            `torch.BoolTensor` of shape `(batch, seq_len)`.
        """
        mask = (
            torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        )
        special = self.config.special_token_ids
        if special:
            mask = mask & ~torch.isin(input_ids, torch.tensor(special, device=input_ids.device))
        return mask

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        query_vectors: torch.Tensor | None = None,
        special_tokens_mask: torch.Tensor | None = None,
        return_dict: bool | None = None,
    ) -> LabelAttentionOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`):
                Token ids of the sentences.
            attention_mask (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                1 on real tokens, 0 on padding.
            token_type_ids (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
                Segment ids, passed to the encoder.
            labels (`torch.Tensor`, *optional*):
                Sentence labels: `(batch_size,)` class ids (binary: 0/1), or `(batch_size, num_labels)` 0/1
                floats for multi-label data.
            query_vectors (`torch.Tensor` of shape `(num_labels, hidden_size)`, *optional*):
                From `encode_labels()`; computed from the config's descriptions when omitted.
            special_tokens_mask (`torch.Tensor` of shape `(batch_size, seq_len)`, *optional*):
                1 on tokens to exclude from attention, in addition to the config's `special_token_ids`.
            return_dict (`bool`, *optional*):
                Return a [`LabelAttentionOutput`] (default) or a tuple.

        Returns:
            [`LabelAttentionOutput`] or `tuple`.
        """
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if input_ids is None:
            raise ValueError("`input_ids` is required: model(input_ids=..., attention_mask=...).")
        positions = getattr(self.encoder.config, "max_position_embeddings", None)
        if isinstance(positions, int) and input_ids.shape[-1] > positions:
            raise ValueError(
                f"The input has {input_ids.shape[-1]} tokens but the encoder reads at most {positions}; tokenize "
                f"with truncation=True (pipelines: pass truncation=True), or call model.predict(texts), which "
                "truncates with a warning and flags the result."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        encoder_kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            encoder_kwargs["token_type_ids"] = token_type_ids
        states = self.encoder(**encoder_kwargs).last_hidden_state
        mask = self.token_mask(input_ids, attention_mask)
        if special_tokens_mask is not None:
            mask = mask & ~special_tokens_mask.bool()
        queries = self.encode_labels() if query_vectors is None else query_vectors
        queries = queries.to(states.dtype)

        tokens = torch.tanh(self.token_projection(self.dropout(states)))  # (B, T, W)
        energies = torch.einsum("btw,lw->btl", tokens, self.query_projection(queries)) + self.attention_bias
        token_scores, weights = attention_weights(
            energies, mask, self.config.attention_function, square=self.config.square_attention
        )
        sentences = torch.einsum("btl,bth->blh", weights, states)  # (B, L, H)
        sentences = torch.tanh(self.sentence_projection(self.dropout(sentences)))  # (B, L, W)
        logits = torch.einsum("blw,lw->bl", sentences, self.output_projection(queries)) + self.output_bias

        loss = None
        if labels is not None:
            config = self.config
            loss = sentence_loss(
                logits,
                token_scores,
                mask,
                labels,
                problem_type=config.problem_type,
                label_names=[config.id2label[i] for i in range(len(config.id2label))],
                sentence_loss_weight=config.sentence_loss_weight,
                min_attention_loss_weight=config.min_attention_loss_weight,
                max_attention_loss_weight=config.max_attention_loss_weight,
                zero_attention_loss_weight=config.zero_attention_loss_weight,
                zero_attention_tokens=config.zero_attention_tokens,
            )
        if not return_dict:
            output = (logits, token_scores, weights)
            return (loss, *output) if loss is not None else output
        return LabelAttentionOutput(
            loss=loss, logits=logits, token_scores=token_scores, attention_weights=weights
        )

    # ------------------------------------------------------------------------------ text interface
    def _require_tokenizer(self, method: str) -> PreTrainedTokenizerBase:
        return require_tokenizer(self, method)

    def _max_length(self) -> int:
        return token_limit(self)

    def sentence_targets(self, labels: Sequence[Any]) -> list[Any]:
        """Map sentence labels to the `labels` values `forward()` takes.

        Binary models (one label) take `True`/`False`, `0`/`1` or the label's name; single-label models a
        label name (or id); multi-label models a list of label names.

        Args:
            labels (`Sequence`):
                One entry per sentence.

        Returns:
            `list`: ints for binary and single-label models, lists of 0/1 floats for multi-label models.

        Raises:
            [`UnknownLabelError`]: for a label outside the configured set, naming it and the valid labels.
        """
        return targets_for(self.config, labels)

    def prepare_dataset(
        self,
        texts: Sequence[str] | Sequence[Sequence[str]],
        labels: Sequence[Any],
        *,
        max_length: int | None = None,
    ) -> list[dict[str, Any]]:
        """Tokenise sentences with their sentence labels into features for `Trainer`.

        Args:
            texts (`Sequence[str]` or `Sequence[Sequence[str]]`):
                Raw sentences, or sentences already split into words (all of one kind).
            labels (`Sequence`):
                One sentence label per text, as described in [`~sentence_targets`].
            max_length (`int`, *optional*):
                Token limit; defaults to `config.max_length` or the encoder's limit. Truncation is logged.

        Returns:
            `list[dict]`: one dict per sentence with `input_ids`, `attention_mask` (and `token_type_ids`)
            and `labels`; pad it with `DataCollatorWithPadding(model.tokenizer)`.

        Raises:
            [`EmptyTrainingSetError`]: when `texts` is empty.
            [`UnknownLabelError`]: for a label outside the configured set.
        """
        return prepare_features(self, texts, labels, max_length=max_length)

    def predict(
        self,
        inputs: str | Sequence[str] | Sequence[Sequence[str]],
        *,
        word_threshold: float | None = None,
        sentence_threshold: float | None = None,
        batch_size: int = 32,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Sentence label(s) and, for each word, its score for each label.

        Every word of the input is in the result: a word the tokenizer maps to no token (e.g. a lone U+FE0F) is
        read as the unknown token, and a text longer than the token limit is truncated with a warning and
        `"truncated": True`, its cut words scoring 0.

        Args:
            inputs (`str`, `list[str]` or `list[list[str]]`):
                One text (one result back), a list of texts, or a list of sentences split into words (a
                list of results back).
            word_threshold (`float`, *optional*):
                Score at which a word gets a label; in [0, 1]. Defaults to `config.word_threshold`.
            sentence_threshold (`float`, *optional*):
                Probability at which a binary / multi-label sentence gets a label; in [0, 1]. Defaults to
                `config.sentence_threshold`.
            batch_size (`int`, *optional*, defaults to `32`):
                Sentences per forward pass; at least 1.

        Returns:
            `dict` or `list[dict]`: per sentence `{"text", "labels", "probabilities", "words", "evidence",
            "truncated"}`; `words` is a list of `{"word", "start", "end", "scores": {label: score},
            "labels": [...]}` (`start`/`end` are character offsets, `None` for pre-split input) and
            `evidence` maps each predicted label to its words at or above the word threshold. The result
            dicts are what `label_semantics.rendering` draws.
        """
        return predict_words(
            self,
            inputs,
            word_threshold=word_threshold,
            sentence_threshold=sentence_threshold,
            batch_size=batch_size,
        )


def _check_label_names(labels: Sequence[str]) -> list[str]:
    if isinstance(labels, str) or not labels:
        raise UnknownLabelError(
            f"`labels` must be a non-empty list of label names, got {labels!r}; e.g. labels=['incorrect'] for a "
            "binary task or labels=['joy', 'anger', 'fear']."
        )
    labels = [str(label) for label in labels]
    if len(set(labels)) != len(labels):
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        raise UnknownLabelError(f"`labels` has duplicates {duplicates}; give each label once.")
    return labels


def _descriptions_for(labels: list[str], descriptions: Mapping[str, str] | Sequence[str] | None) -> list[str]:
    if descriptions is None or isinstance(descriptions, Mapping):
        unknown = sorted(set(descriptions or {}) - set(labels), key=str)
        if unknown:
            raise LabelAttentionConfigError(
                f"Descriptions given for {unknown}, which are not among the labels {labels}; key each description "
                f"by a label, e.g. descriptions={{{labels[0]!r}: 'grammatical error'}}."
            )
        return [describe_type(label, descriptions) for label in labels]
    if isinstance(descriptions, str) or len(descriptions) != len(labels):
        raise LabelAttentionConfigError(
            f"Got descriptions {descriptions!r} for {len(labels)} labels {labels}; give a dict keyed by label or "
            "one description per label, e.g. descriptions={'incorrect': 'grammatical error'}."
        )
    return [str(d) for d in descriptions]


# save_pretrained copies this file and its relative imports next to the weights and writes `auto_map`, so the folder
# loads with trust_remote_code=True where label_semantics is not installed
LabelAttentionForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")

__all__ = [
    "EmptyTrainingSetError",
    "LabelAttentionForSequenceClassification",
    "LabelAttentionOutput",
    "LabelAttentionPreTrainedModel",
    "MissingTokenizerError",
    "UnknownLabelError",
    "aggregate_word_scores",
    "attention_losses",
    "attention_weights",
    "check_threshold",
    "sentence_loss",
]
