"""Text in, word evidence out, for the label-attention model: sentence labels as training targets, tokenised
training features, and `predict()`, whose result dicts (`words` with per-label `scores`) are what
`label_semantics.rendering` draws.

Every word of the input is in the result. A word the tokenizer turns into no token at all (a lone variation
selector U+FE0F, a control character) is read as the tokenizer's unknown token, as the dual tower's prediction
does, so it gets a score of its own; a text longer than the token limit is truncated with a warning and flagged
(`"truncated": True`), its cut words scoring 0.

The model's methods `sentence_targets`, `prepare_dataset` and `predict` call the functions here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import torch

from .configuration_label_attention import (
    EmptyTrainingSetError,
    MissingTokenizerError,
    UnknownLabelError,
    check_max_length,
)
from .label_attention_scoring import MULTI_LABEL, aggregate_word_scores, check_threshold

logger = logging.getLogger(__name__)

_FALLBACK_WORD = re.compile(r"\w+|[^\w\s]")


# ------------------------------------------------------------------------------------------- targets
def sentence_targets(config, labels: Sequence[Any]) -> list[Any]:
    """Map sentence labels to the `labels` values `forward()` takes.

    Binary models (one label) take `True`/`False`, `0`/`1` or the label's name; single-label models a
    label name (or id); multi-label models a list of label names.

    Args:
        config ([`LabelAttentionConfig`]):
            The model's configuration (its `label2id` and `problem_type`).
        labels (`Sequence`):
            One entry per sentence.

    Returns:
        `list`: ints for binary and single-label models, lists of 0/1 floats for multi-label models.

    Raises:
        [`UnknownLabelError`]: for a label outside the configured set, naming it and the valid labels.
    """
    label2id = config.label2id
    names = list(label2id)
    multi = config.problem_type == MULTI_LABEL and len(names) > 1
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


# --------------------------------------------------------------------------------------------- inputs
def check_inputs(inputs: Any, method: str = "predict") -> tuple[list[Any], bool, bool]:
    """Normalise the accepted input forms: a `str`, a list of `str`, or a list of word lists.

    Returns:
        `tuple[list, bool, bool]`: the items, whether one `str` was given, whether the items are word lists.

    Raises:
        `ValueError`: for any other form (mixed lists, a word that is not a `str`), with a correct call.
    """
    example = (
        f"model.{method}('I saws it .') or model.{method}([['I', 'saws', 'it', '.']])"
        if method == "predict"
        else f"model.{method}(['I saws it .'], [True]) or model.{method}([['I', 'saws', 'it', '.']], [True])"
    )
    single = isinstance(inputs, str)
    if not single and not isinstance(inputs, Sequence):
        raise ValueError(
            f"{method}() takes a str, a list of str, or a list of word lists, got {inputs!r}; e.g. {example}."
        )
    items = [inputs] if single else list(inputs)
    split = bool(items) and not isinstance(items[0], str)
    for i, item in enumerate(items):
        if split:
            ok = (
                not isinstance(item, str)
                and isinstance(item, Sequence)
                and all(isinstance(w, str) for w in item)
            )
        else:
            ok = isinstance(item, str)
        if not ok:
            raise ValueError(
                f"{method}() takes a str, a list of str, or a list of word lists (every word a str); item {i} is "
                f"{item!r}, which does not match item 0. E.g. {example}."
            )
    return ([list(item) for item in items] if split else items), single, split


def check_batch_size(batch_size: Any) -> int:
    """`batch_size` as an int of at least 1, or a `ValueError` naming it."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an int >= 1, got {batch_size!r}; e.g. batch_size=32.")
    return batch_size


def require_tokenizer(model, method: str):
    """The model's fast tokenizer, or a [`MissingTokenizerError`] that says how to attach one."""
    tok = model.tokenizer
    if tok is None or not getattr(tok, "is_fast", False):
        raise MissingTokenizerError(
            f"`{method}()` needs a fast tokenizer on the model (word alignment uses word_ids()), got "
            f"{type(tok).__name__ if tok is not None else None}; set "
            "model.tokenizer = AutoTokenizer.from_pretrained(encoder_path) (a *Fast tokenizer)."
        )
    return tok


def token_limit(model, max_length: int | None = None) -> int:
    """The token limit: `max_length`, else `config.max_length`, else the encoder's `max_position_embeddings`."""
    positions = getattr(model.encoder.config, "max_position_embeddings", None)
    check_max_length(max_length, positions)
    return int(max_length or model.config.max_length or positions or 512)


def _pieces(tokenizer, text: str) -> list[tuple[int, int]]:
    """Character spans of the words of `text` as the tokenizer's pre-tokenizer splits it (its visible part)."""
    pre_tokenizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
    if pre_tokenizer is None:
        return [m.span() for m in _FALLBACK_WORD.finditer(text)]
    spans = []
    for _, (start, end) in pre_tokenizer.pre_tokenize_str(text):
        while start < end and text[start].isspace():  # byte-level pre-tokenizers attach the space before
            start += 1
        if start < end:
            spans.append((start, end))
    return spans


def _words_without_tokens(text: str, word_ids, offsets, pieces) -> list[tuple[int, int]]:
    """The pieces of `text` no token overlaps."""
    spans = [(s, max(e, s + 1)) for w, (s, e) in zip(word_ids, offsets) if w is not None]
    return [(ps, pe) for ps, pe in pieces if not any(s < pe and e > ps for s, e in spans)]


def _substitute(text: str, spans: list[tuple[int, int]], unk: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` with each span replaced by `unk`, and per replacement `(new_end, shift)` to map offsets back."""
    out, shifts, last, shift = [], [], 0, 0
    for start, end in spans:
        out.append(text[last:start] + unk)
        shift += (end - start) - len(unk)
        shifts.append((len("".join(out)), shift))
        last = end
    out.append(text[last:])
    return "".join(out), shifts


def _original_offset(position: int, shifts: list[tuple[int, int]]) -> int:
    """Map an offset of the substituted text back to the original (positions never fall inside a replacement)."""
    shift = 0
    for new_end, total in shifts:
        if new_end <= position:
            shift = total
    return position + shift


def _words_from_offsets(
    text: str, word_ids: list[int | None], offsets: list[list[int]], shifts: list[tuple[int, int]] = ()
) -> tuple[list[str], list[tuple[int | None, int | None]]]:
    """Word strings and character spans of a raw text, from its tokens' word ids and offsets (offsets of the
    substituted text, mapped back with `shifts`)."""
    spans: dict[int, list[int]] = {}
    for word, (start, end) in zip(word_ids, offsets):
        if word is None:
            continue
        if word in spans:
            spans[word][1] = end
        else:
            spans[word] = [start, end]
    ordered = [
        (_original_offset(spans[w][0], shifts), _original_offset(spans[w][1], shifts)) for w in sorted(spans)
    ]
    return [text[s:e] for s, e in ordered], ordered


def _readable(tokenizer, items: list[Any], split: bool) -> tuple[list[Any], list[list[tuple[int, int]]]]:
    """The items with every word that has no token replaced by the unknown token, and per raw text the offset
    shifts of its replacements."""
    shifts: list[list[tuple[int, int]]] = [[] for _ in items]
    if not items:
        return items, shifts
    unk = tokenizer.unk_token
    full = tokenizer(items, is_split_into_words=split, return_offsets_mapping=not split, truncation=False)
    readable = list(items)
    for row, item in enumerate(items):
        word_ids = full.word_ids(row)
        if split:
            seen = {w for w in word_ids if w is not None}
            missing = [i for i in range(len(item)) if i not in seen]
            if missing and unk is not None:
                readable[row] = [unk if i in missing else word for i, word in enumerate(item)]
        else:
            missing = _words_without_tokens(
                item, word_ids, full["offset_mapping"][row], _pieces(tokenizer, item)
            )
            if missing and unk is not None:
                readable[row], shifts[row] = _substitute(item, missing, unk)
        if missing and unk is None:
            logger.warning(
                "Input %d has %d word(s) without any token and the tokenizer has no unknown token; they score 0.",
                row,
                len(missing),
            )
    return readable, shifts


# ------------------------------------------------------------------------------------------- features
def prepare_dataset(
    model,
    texts: Sequence[str] | Sequence[Sequence[str]],
    labels: Sequence[Any],
    *,
    max_length: int | None = None,
) -> list[dict[str, Any]]:
    """Tokenise sentences with their sentence labels into features for `Trainer` (see
    [`LabelAttentionForSequenceClassification.prepare_dataset`])."""
    if isinstance(texts, str) or len(texts) == 0:
        raise EmptyTrainingSetError(
            f"The training set is empty or not a list: prepare_dataset() got {texts!r}; pass a list of sentences, "
            "e.g. model.prepare_dataset(['I saws the show .'], [True])."
        )
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels; give exactly one label per text.")
    items, _, split = check_inputs(texts, "prepare_dataset")
    targets = sentence_targets(model.config, labels)
    tok = require_tokenizer(model, "prepare_dataset")
    limit = token_limit(model, max_length)
    encoded = tok(items, is_split_into_words=split, truncation=False)
    truncated = sum(len(ids) > limit for ids in encoded["input_ids"])
    if truncated:
        logger.warning(
            "%d of %d sentences are longer than %d tokens and were truncated.", truncated, len(items), limit
        )
        encoded = tok(items, is_split_into_words=split, truncation=True, max_length=limit)
    keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded]
    return [{**{key: encoded[key][i] for key in keys}, "labels": targets[i]} for i in range(len(items))]


# -------------------------------------------------------------------------------------------- predict
@torch.no_grad()
def predict(
    model,
    inputs: str | Sequence[str] | Sequence[Sequence[str]],
    *,
    word_threshold: float | None = None,
    sentence_threshold: float | None = None,
    batch_size: int = 32,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Sentence label(s) and per-word label scores (see [`LabelAttentionForSequenceClassification.predict`])."""
    config = model.config
    word_threshold = check_threshold(
        config.word_threshold if word_threshold is None else word_threshold, "word_threshold"
    )
    sentence_threshold = check_threshold(
        config.sentence_threshold if sentence_threshold is None else sentence_threshold, "sentence_threshold"
    )
    check_batch_size(batch_size)
    items, single, split = check_inputs(inputs, "predict")
    tok = require_tokenizer(model, "predict")
    limit = token_limit(model)
    was_training = model.training
    model.eval()
    try:
        queries = model.encode_labels()
        results: list[dict[str, Any]] = []
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            thresholds = (word_threshold, sentence_threshold)
            results.extend(_predict_batch(model, tok, batch, start, split, limit, queries, thresholds))
    finally:
        model.train(was_training)
    return results[0] if single else results


def _predict_batch(
    model,
    tok,
    batch: list[Any],
    first: int,
    split: bool,
    limit: int,
    queries,
    thresholds: tuple[float, float],
) -> list[dict[str, Any]]:
    """Results for the inputs `first`, `first + 1`, ... of one batch."""
    config = model.config
    word_threshold, sentence_threshold = thresholds
    readable, shifts = _readable(tok, batch, split)
    encoded = tok(
        readable,
        is_split_into_words=split,
        truncation=True,
        max_length=limit,
        padding=True,
        return_tensors="pt",
    )
    # words and character spans come from the untruncated text, so truncated words are still listed
    full = tok(readable, is_split_into_words=split, return_offsets_mapping=not split, truncation=False)
    tensors = {
        k: v.to(model.device)
        for k, v in encoded.items()
        if k in ("input_ids", "attention_mask", "token_type_ids")
    }
    output = model(**tensors, query_vectors=queries)
    names = [config.id2label[i] for i in range(len(config.id2label))]
    multi = len(names) == 1 or config.problem_type == MULTI_LABEL
    probabilities = torch.sigmoid(output.logits) if multi else torch.softmax(output.logits, dim=-1)
    results = []
    for row, item in enumerate(batch):
        scores = aggregate_word_scores(
            output.token_scores[row].float().cpu(), encoded.word_ids(row), config.word_aggregation
        )
        probs = probabilities[row].float().cpu().tolist()
        if multi:
            predicted = [name for name, p in zip(names, probs) if p >= sentence_threshold]
        else:
            predicted = [names[max(range(len(names)), key=probs.__getitem__)]]
        if split:
            word_texts = list(item)
            spans: list[tuple[int | None, int | None]] = [(None, None)] * len(word_texts)
        else:
            word_texts, spans = _words_from_offsets(
                item, full.word_ids(row), full["offset_mapping"][row], shifts[row]
            )
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
        truncated = len(full["input_ids"][row]) > limit
        if truncated:
            logger.warning("Input %d was truncated at %d tokens; later words score 0.", first + row, limit)
        results.append(
            {
                "text": item if not split else " ".join(word_texts),
                "labels": predicted,
                "probabilities": dict(zip(names, probs)),
                "words": words,
                "evidence": {name: [w["word"] for w in words if name in w["labels"]] for name in predicted},
                "truncated": truncated,
            }
        )
    return results


__all__ = ["check_batch_size", "check_inputs", "predict", "prepare_dataset", "sentence_targets"]
