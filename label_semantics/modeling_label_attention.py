"""Zero-shot sequence labelling: a sentence classifier whose soft attention labels the words.

Rei & Søgaard (NAACL 2018) and Bujel, Yannakoudakis & Rei (2021): each token gets an unnormalised
score e_i, ã_i = sigmoid(e_i), a_i = ã_i / sum_k ã_k, and the sentence vector s = sum_i a_i h_i is
classified. Trained on sentence labels only (L1), with L2 = (min_i ã_i)^2 and L3 = (max_i ã_i - y)^2
shaping the attention, ã_i becomes a word label. With several labels there is one attention query per
label, the pooled encoding of the label's description by the same encoder, so a multi-class or
multi-label sentence classifier returns, for each predicted label, the words that support it.
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

from .configuration_label_attention import LabelAttentionConfig, LabelAttentionConfigError
from .verbalizer import describe_type

logger = logging.getLogger(__name__)


class UnknownLabelError(ValueError):
    """A sentence label that is not one of the model's configured labels."""


class EmptyTrainingSetError(ValueError):
    """`prepare_dataset()` was given no examples."""


class MissingTokenizerError(ValueError):
    """A text-level method was called on a model that has no (fast) tokenizer attached."""


def check_threshold(value: float, name: str = "threshold") -> float:
    """Return `value` as a float after checking it lies in [0, 1].

    Args:
        value (`float`):
            The threshold to check.
        name (`str`, *optional*, defaults to `"threshold"`):
            The argument name used in the error message.

    Returns:
        `float`: the threshold.

    Raises:
        [`LabelAttentionConfigError`]: when `value` is not a number in [0, 1].
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number <= 1.0:
        raise LabelAttentionConfigError(
            f"`{name}` must be a number in [0, 1], got {value!r}; e.g. {name}=0.5."
        )
    return number


def attention_weights(
    energies: torch.Tensor, token_mask: torch.Tensor, function: str = "sigmoid"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token scores and normalised attention weights from unnormalised attention energies.

    Args:
        energies (`torch.Tensor` of shape `(batch, seq_len, num_labels)`):
            The unnormalised scores e_i, one column per label.
        token_mask (`torch.Tensor` of shape `(batch, seq_len)`):
            True (or 1) on the real tokens; padding and special tokens are 0 and get weight 0.
        function (`str`, *optional*, defaults to `"sigmoid"`):
            `"sigmoid"`: scores ã_i = sigmoid(e_i) and weights a_i = ã_i / sum_k ã_k; `"softmax"`: weights
            a_i = softmax(e_i) over the real tokens, and the scores are the weights.

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: `(token_scores, weights)`, both `(batch, seq_len, num_labels)`,
        zero outside `token_mask`; the weights sum to one over the real tokens (to zero for a sentence
        without any).
    """
    mask = token_mask.bool().unsqueeze(-1)
    if function == "softmax":
        masked = energies.masked_fill(~mask, torch.finfo(energies.dtype).min)
        weights = torch.softmax(masked, dim=1) * mask
        return weights, weights
    scores = torch.sigmoid(energies) * mask
    weights = scores / scores.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return scores, weights


def attention_losses(
    token_scores: torch.Tensor, token_mask: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The attention losses of Rei & Søgaard (2018), averaged over sentences and labels.

    L2 = (min_i ã_i - 0)^2 says some tokens of every sentence are negative; L3 = (max_i ã_i - y)^2 says a
    positive token exists only in a positive sentence. Padding and special tokens never take part, and a
    sentence without real tokens is left out.

    Args:
        token_scores (`torch.Tensor` of shape `(batch, seq_len, num_labels)`):
            The token scores ã_i in [0, 1].
        token_mask (`torch.Tensor` of shape `(batch, seq_len)`):
            True (or 1) on the real tokens.
        targets (`torch.Tensor` of shape `(batch, num_labels)`):
            The sentence label y per label, 0 or 1 (a one-hot row for single-label data).

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: the scalars `(l2, l3)`.
    """
    mask = token_mask.bool().unsqueeze(-1).expand_as(token_scores)
    minimum = token_scores.masked_fill(~mask, 2.0).amin(dim=1)
    maximum = token_scores.masked_fill(~mask, -1.0).amax(dim=1)
    has_tokens = token_mask.bool().any(dim=1, keepdim=True).to(token_scores.dtype).expand_as(minimum)
    count = has_tokens.sum().clamp_min(1.0)
    l2 = ((minimum.clamp(0, 1) ** 2) * has_tokens).sum() / count
    l3 = (((maximum.clamp(0, 1) - targets.to(token_scores.dtype)) ** 2) * has_tokens).sum() / count
    return l2, l3


def aggregate_word_scores(
    token_scores: torch.Tensor, word_ids: Sequence[int | None], how: str = "first"
) -> torch.Tensor:
    """Collapse sub-token scores to word scores, following a fast tokenizer's `word_ids()`.

    Args:
        token_scores (`torch.Tensor` of shape `(seq_len, num_labels)`):
            Scores of one sentence's tokens.
        word_ids (`Sequence[int | None]`):
            `encoding.word_ids()`: the word index of each token, `None` for special tokens and padding.
        how (`str`, *optional*, defaults to `"first"`):
            `"first"`: a word takes its first sub-token's score; `"max"`: the maximum over its sub-tokens.

    Returns:
        `torch.Tensor` of shape `(num_words, num_labels)`, where `num_words` is one more than the largest
        word id (0 when there is none). A word all of whose tokens were truncated away scores 0.
    """
    if how not in ("first", "max"):
        raise LabelAttentionConfigError(f"`how` must be 'first' or 'max', got {how!r}; e.g. how='first'.")
    ids = [w for w in word_ids if w is not None]
    num_words = max(ids) + 1 if ids else 0
    out = token_scores.new_zeros((num_words, token_scores.shape[-1]))
    seen: set[int] = set()
    for position, word in enumerate(word_ids):
        if word is None or position >= token_scores.shape[0]:
            continue
        if word not in seen:
            out[word] = token_scores[position]
            seen.add(word)
        elif how == "max":
            out[word] = torch.maximum(out[word], token_scores[position])
    return out


@dataclass
class LabelAttentionOutput(SequenceClassifierOutput):
    r"""
    Output of [`LabelAttentionForSequenceClassification`].

    Args:
        loss (`torch.FloatTensor` of shape `(1,)`, *optional*, returned when `labels` is given):
            `sentence_loss_weight * L1 + min_attention_loss_weight * L2 + max_attention_loss_weight * L3`.
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
        config.special_token_ids = sorted({int(i) for i in tok.all_special_ids})
        if len(labels) == 1:
            config.problem_type = "multi_label_classification"
        elif config.problem_type is None:
            config.problem_type = "single_label_classification"
        config.check()

    # --------------------------------------------------------------------------------- save / load
    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        """Save weights and config as usual, and the attached tokenizer beside them."""
        super().save_pretrained(save_directory, *args, **kwargs)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(save_directory)

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any
    ) -> LabelAttentionForSequenceClassification:
        """Load a saved model and, when the checkpoint has one, its tokenizer (`model.tokenizer`)."""
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        try:
            model.tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path)
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
        token_scores, weights = attention_weights(energies, mask, self.config.attention_function)
        sentences = torch.einsum("btl,bth->blh", weights, states)  # (B, L, H)
        sentences = torch.tanh(self.sentence_projection(self.dropout(sentences)))  # (B, L, W)
        logits = torch.einsum("blw,lw->bl", sentences, self.output_projection(queries)) + self.output_bias

        loss = None
        if labels is not None:
            loss = self._loss(logits, token_scores, mask, labels)
        if not return_dict:
            output = (logits, token_scores, weights)
            return (loss, *output) if loss is not None else output
        return LabelAttentionOutput(
            loss=loss, logits=logits, token_scores=token_scores, attention_weights=weights
        )

    def _loss(
        self, logits: torch.Tensor, token_scores: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        num_labels = logits.shape[-1]
        labels = labels.to(logits.device)
        if num_labels == 1 or self.config.problem_type == "multi_label_classification":
            targets = labels.reshape(logits.shape).to(logits.dtype)
            if ((targets != 0) & (targets != 1)).any():
                bad = sorted({float(v) for v in targets[(targets != 0) & (targets != 1)].tolist()})[:5]
                raise UnknownLabelError(
                    f"Binary / multi-label targets must be 0 or 1, got {bad}; the labels are "
                    f"{list(self.config.id2label.values())} (prepare targets with model.prepare_dataset)."
                )
            sentence_loss = nn.functional.binary_cross_entropy_with_logits(logits, targets)
        else:
            if labels.dim() != 1:
                raise UnknownLabelError(
                    f"Single-label targets must be class ids of shape (batch,), got shape {tuple(labels.shape)}; "
                    "for several labels per sentence build the model with problem_type='multi_label_classification'."
                )
            if ((labels < 0) | (labels >= num_labels)).any():
                bad = sorted({int(v) for v in labels[(labels < 0) | (labels >= num_labels)].tolist()})
                raise UnknownLabelError(
                    f"Label ids {bad} are outside the {num_labels} configured labels "
                    f"{self.config.id2label}; use ids 0..{num_labels - 1}."
                )
            sentence_loss = nn.functional.cross_entropy(logits, labels.long())
            targets = nn.functional.one_hot(labels.long(), num_labels).to(logits.dtype)
        config = self.config
        loss = config.sentence_loss_weight * sentence_loss
        if config.min_attention_loss_weight or config.max_attention_loss_weight:
            l2, l3 = attention_losses(token_scores, mask, targets)
            loss = loss + config.min_attention_loss_weight * l2 + config.max_attention_loss_weight * l3
        return loss

    # ------------------------------------------------------------------------------ text interface
    def _require_tokenizer(self, method: str) -> PreTrainedTokenizerBase:
        tok = self.tokenizer
        if tok is None or not getattr(tok, "is_fast", False):
            raise MissingTokenizerError(
                f"`{method}()` needs a fast tokenizer on the model (word alignment uses word_ids()), got "
                f"{type(tok).__name__ if tok is not None else None}; set "
                "model.tokenizer = AutoTokenizer.from_pretrained(encoder_path) (a *Fast tokenizer)."
            )
        return tok

    def _max_length(self) -> int:
        return int(self.config.max_length or getattr(self.encoder.config, "max_position_embeddings", 512))

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
        label2id = self.config.label2id
        names = list(label2id)
        multi = self.config.problem_type == "multi_label_classification" and len(names) > 1
        targets: list[Any] = []
        for i, label in enumerate(labels):
            if len(names) == 1:
                if isinstance(label, bool) or label in (0, 1):
                    targets.append(int(label))
                elif label == names[0]:
                    targets.append(1)
                else:
                    raise UnknownLabelError(
                        f"Sentence {i} has label {label!r}; this binary model takes True/False, 0/1 or "
                        f"{names[0]!r}, e.g. labels=[True, False] or labels=[{names[0]!r}, 0]."
                    )
            elif multi:
                if isinstance(label, str) or not isinstance(label, Sequence):
                    raise UnknownLabelError(
                        f"Sentence {i} has label {label!r}; a multi-label model takes a list of label names "
                        f"per sentence, e.g. [[{names[0]!r}], []]."
                    )
                unknown = [name for name in label if name not in label2id]
                if unknown:
                    raise UnknownLabelError(
                        f"Sentence {i} has labels {unknown} outside the configured set {names}."
                    )
                row = [0.0] * len(names)
                for name in label:
                    row[label2id[name]] = 1.0
                targets.append(row)
            elif isinstance(label, str) and label in label2id:
                targets.append(label2id[label])
            elif isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(names):
                targets.append(label)
            else:
                raise UnknownLabelError(
                    f"Sentence {i} has label {label!r}, which is not one of the configured labels {names}; "
                    f"use one of those names (or ids 0..{len(names) - 1})."
                )
        return targets

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
                Raw sentences, or sentences already split into words.
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
        if len(texts) == 0:
            raise EmptyTrainingSetError(
                "The training set is empty: prepare_dataset() got 0 texts; pass at least one sentence, e.g. "
                "model.prepare_dataset(['I saws the show .'], [True])."
            )
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels; give exactly one label per text.")
        targets = self.sentence_targets(labels)
        tok = self._require_tokenizer("prepare_dataset")
        limit = max_length or self._max_length()
        split = not isinstance(texts[0], str)
        encoded = tok(
            list(map(list, texts)) if split else list(texts), is_split_into_words=split, truncation=False
        )
        truncated = sum(len(ids) > limit for ids in encoded["input_ids"])
        if truncated:
            logger.warning(
                "%d of %d sentences are longer than %d tokens and were truncated.",
                truncated,
                len(texts),
                limit,
            )
            encoded = tok(
                list(map(list, texts)) if split else list(texts),
                is_split_into_words=split,
                truncation=True,
                max_length=limit,
            )
        keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded]
        return [{**{key: encoded[key][i] for key in keys}, "labels": targets[i]} for i in range(len(texts))]

    @torch.no_grad()
    def predict(
        self,
        inputs: str | Sequence[str] | Sequence[Sequence[str]],
        *,
        word_threshold: float | None = None,
        sentence_threshold: float | None = None,
        batch_size: int = 32,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Sentence label(s) and, for each word, its score for each label.

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
                Sentences per forward pass.

        Returns:
            `dict` or `list[dict]`: per sentence `{"text", "labels", "probabilities", "words", "evidence",
            "truncated"}`; `words` is a list of `{"word", "start", "end", "scores": {label: score},
            "labels": [...]}` (`start`/`end` are character offsets, `None` for pre-split input) and
            `evidence` maps each predicted label to its words at or above the word threshold.
        """
        word_threshold = check_threshold(
            self.config.word_threshold if word_threshold is None else word_threshold, "word_threshold"
        )
        sentence_threshold = check_threshold(
            self.config.sentence_threshold if sentence_threshold is None else sentence_threshold,
            "sentence_threshold",
        )
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {batch_size}; e.g. batch_size=32.")
        single = isinstance(inputs, str)
        items = [inputs] if single else list(inputs)
        if not all(isinstance(item, str) for item in items) and not all(
            not isinstance(item, str) and isinstance(item, Sequence) for item in items
        ):
            raise ValueError(
                "predict() takes a str, a list of str, or a list of word lists, e.g. "
                "model.predict('I saws it .') or model.predict([['I', 'saws', 'it', '.']])."
            )
        was_training = self.training
        self.eval()
        try:
            queries = self.encode_labels()
            results: list[dict[str, Any]] = []
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                results.extend(self._predict_batch(batch, queries, word_threshold, sentence_threshold))
        finally:
            self.train(was_training)
        return results[0] if single else results

    def _predict_batch(
        self, batch: list[Any], queries: torch.Tensor, word_threshold: float, sentence_threshold: float
    ) -> list[dict[str, Any]]:
        tok = self._require_tokenizer("predict")
        split = bool(batch) and not isinstance(batch[0], str)
        limit = self._max_length()
        encoded = tok(
            [list(map(str, words)) for words in batch] if split else list(batch),
            is_split_into_words=split,
            truncation=True,
            max_length=limit,
            padding=True,
            return_tensors="pt",
        )
        encoded.pop("offset_mapping", None)
        # words and character spans come from the untruncated text, so truncated words are still listed
        texts = [list(map(str, words)) for words in batch] if split else batch
        full = tok(texts, is_split_into_words=split, return_offsets_mapping=not split, truncation=False)
        tensors = {
            k: v.to(self.device)
            for k, v in encoded.items()
            if k in ("input_ids", "attention_mask", "token_type_ids")
        }
        output = self(**tensors, query_vectors=queries)
        names = [self.config.id2label[i] for i in range(len(self.config.id2label))]
        if len(names) == 1 or self.config.problem_type == "multi_label_classification":
            probabilities = torch.sigmoid(output.logits)
        else:
            probabilities = torch.softmax(output.logits, dim=-1)
        results = []
        for row, item in enumerate(batch):
            word_ids = encoded.word_ids(row)
            scores = aggregate_word_scores(
                output.token_scores[row].float().cpu(), word_ids, self.config.word_aggregation
            )
            probs = probabilities[row].float().cpu().tolist()
            if len(names) == 1 or self.config.problem_type == "multi_label_classification":
                predicted = [name for name, p in zip(names, probs) if p >= sentence_threshold]
            else:
                predicted = [names[max(range(len(names)), key=probs.__getitem__)]]
            if split:
                word_texts = [str(w) for w in item]
                spans: list[tuple[int | None, int | None]] = [(None, None)] * len(word_texts)
            else:
                word_texts, spans = _words_from_offsets(item, full.word_ids(row), full["offset_mapping"][row])
            words = []
            for index, text in enumerate(word_texts):
                values = scores[index].tolist() if index < scores.shape[0] else [0.0] * len(names)
                words.append(
                    {
                        "word": text,
                        "start": spans[index][0],
                        "end": spans[index][1],
                        "scores": dict(zip(names, values)),
                        "labels": [name for name, value in zip(names, values) if value >= word_threshold],
                    }
                )
            # a pre-split word the tokenizer maps to no token at all (e.g. a lone U+FE0F) scores 0, unflagged
            truncated = len(full["input_ids"][row]) > limit
            if truncated:
                logger.warning("Input %d was truncated at %d tokens; later words score 0.", row, limit)
            results.append(
                {
                    "text": item if not split else " ".join(word_texts),
                    "labels": predicted,
                    "probabilities": dict(zip(names, probs)),
                    "words": words,
                    "evidence": {
                        name: [w["word"] for w in words if name in w["labels"]] for name in predicted
                    },
                    "truncated": truncated,
                }
            )
        return results


def _words_from_offsets(
    text: str, word_ids: list[int | None], offsets: list[list[int]]
) -> tuple[list[str], list[tuple[int | None, int | None]]]:
    """Word strings and character spans of a raw text, from its tokens' word ids and offsets."""
    spans: dict[int, list[int]] = {}
    for word, (start, end) in zip(word_ids, offsets):
        if word is None:
            continue
        if word in spans:
            spans[word][1] = end
        else:
            spans[word] = [start, end]
    ordered = [tuple(spans[w]) for w in sorted(spans)]
    return [text[s:e] for s, e in ordered], ordered


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
        return [describe_type(label, descriptions) for label in labels]
    if isinstance(descriptions, str) or len(descriptions) != len(labels):
        raise LabelAttentionConfigError(
            f"Got descriptions {descriptions!r} for {len(labels)} labels {labels}; give a dict keyed by label or "
            "one description per label, e.g. descriptions={'incorrect': 'grammatical error'}."
        )
    return [str(d) for d in descriptions]


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
]
