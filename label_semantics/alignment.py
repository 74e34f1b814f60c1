"""NER rows for a model: tokenise pre-split words, align word tags to sub-tokens, collate batches.

The steps a training script runs after `label_semantics.data.load_ner_dataset`:

1. `align_dataset` (or ``dataset.map(tokenize_and_align, batched=True, fn_kwargs=...)``) tokenises the words
   and puts each word's label on its first sub-token (-100 elsewhere). A sentence longer than the window is
   cut into several rows at word boundaries, so every word is labelled exactly once and nothing is
   truncated.
2. `NERDataCollator` pads a batch of such rows for the model.

Everything here is also importable from `label_semantics.data`, where it lived first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transformers import DataCollatorForTokenClassification

logger = logging.getLogger(__name__)

# model_max_length of tokenizers saved without a limit is a huge sentinel (int(1e30)); treat as "no limit"
_NO_LIMIT = 1_000_000


class UnknownLabelError(ValueError):
    """A tag in the data that the ``label2id`` mapping lacks."""


class SlowTokenizerError(ValueError):
    """A tokenizer without ``word_ids()`` (a Python-based "slow" tokenizer)."""


def _resolve_max_length(tokenizer: Any, max_length: int | None) -> int | None:
    model_max = getattr(tokenizer, "model_max_length", None)
    limit = model_max if isinstance(model_max, int) and model_max <= _NO_LIMIT else None
    if max_length is None:
        return limit
    if max_length <= tokenizer.num_special_tokens_to_add(pair=False):
        raise ValueError(
            f"max_length={max_length} leaves no room for words after the "
            f"{tokenizer.num_special_tokens_to_add(pair=False)} special tokens; pass e.g. max_length=128"
        )
    if limit is not None and max_length > limit:
        raise ValueError(
            f"max_length={max_length} is longer than the tokenizer's model_max_length={limit} (the encoder has no "
            f"positions beyond it); pass max_length={limit} or less, or leave it out to use {limit}"
        )
    return max_length


def _word_windows(counts: Sequence[int], budget: int, stride_words: int) -> list[tuple[int, int, int]]:
    """Cut words into consecutive windows of at most ``budget`` sub-tokens.

    Returns ``(context_start, start, end)`` triples: the words ``[start, end)`` are labelled, the words
    ``[context_start, start)`` are repeated from the window before as unlabelled context (at most
    ``stride_words`` words and half the budget). A word longer than the budget is a window of its own.
    """
    windows = []
    start = 0
    while start < len(counts):
        context_start, used = start, counts[start]
        while (
            context_start > max(0, start - stride_words)
            and used + counts[context_start - 1] <= budget
            and used - counts[start] + counts[context_start - 1] <= budget // 2
        ):
            context_start -= 1
            used += counts[context_start]
        end = start + 1
        while end < len(counts) and used + counts[end] <= budget:
            used += counts[end]
            end += 1
        windows.append((context_start, start, end))
        start = end
    return windows


def _label_ids(tags: Sequence[Any], label2id: Mapping[str, int], row: str) -> list[int]:
    ids = []
    for tag in tags:
        if tag not in label2id:
            if isinstance(tag, int):
                raise UnknownLabelError(
                    f"{row}: ner_tags holds the integer {tag}, tokenize_and_align expects string tags; "
                    f"convert ClassLabel ids to names first with load_ner_dataset(dataset)"
                )
            raise UnknownLabelError(
                f"{row}: the tag {tag!r} is not in label2id, whose labels are {sorted(label2id)}. Build "
                f"label2id from every split's tags, or convert the tags to the model's scheme with "
                f"verbalizer.convert_scheme(tags, target='IOB2')"
            )
        ids.append(label2id[tag])
    return ids


def _encode(tokenizer: Any, words: list[str], max_length: int | None) -> Any:
    """Tokenise one sentence of words; truncation only ever cuts the tail of a single over-long word."""
    if max_length is None:
        return tokenizer(words, is_split_into_words=True, truncation=False, verbose=False)
    return tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)


def tokenize_and_align(
    examples: Mapping[str, Sequence[Any]],
    tokenizer: Any,
    label2id: Mapping[str, int],
    *,
    max_length: int | None = None,
    stride_words: int = 0,
    rows: Sequence[int] | None = None,
) -> dict[str, list]:
    """Tokenise pre-split words and align the word tags to sub-tokens; a batched `datasets.Dataset.map`
    function.

    Each word's label id goes on its first sub-token (found with the fast tokenizer's ``word_ids()``);
    the other sub-tokens and the special tokens get -100. A sentence whose sub-tokens do not fit in
    ``max_length`` is **not** truncated: it is cut at word boundaries into several rows of consecutive
    words, each as long as fits, so every word is labelled exactly once (the output may hold more rows
    than the input: call ``map`` with ``remove_columns`` when the data has columns other than ``tokens``
    and ``ner_tags``). With ``stride_words`` > 0 each row after the first also starts with up to that many
    preceding words as unlabelled context (-100). A single word longer than the whole window (a huge URL)
    keeps its first sub-tokens, which carry its label, and a warning names it. Words the tokenizer turns
    into nothing (a lone zero-width space) are replaced by the unknown token so they keep their label.

    Args:
        examples (`Mapping[str, Sequence]`):
            A batch: ``{"tokens": [[str, ...], ...], "ner_tags": [[str, ...], ...]}``.
        tokenizer ([`PreTrainedTokenizerBase`]):
            A fast tokenizer (one with ``word_ids()``).
        label2id (`Mapping[str, int]`):
            Tag to label id, e.g. ``model.config.label2id``.
        max_length (`int`, *optional*):
            The most sub-tokens per row, special tokens included; defaults to ``tokenizer.model_max_length``
            (no limit when the tokenizer has none). It may not exceed a real ``model_max_length``.
        stride_words (`int`, *optional*, defaults to `0`):
            How many words of the previous window to repeat as unlabelled left context when a sentence is
            split; the context never takes more than half the window.
        rows (`Sequence[int]`, *optional*):
            The data set row of each example, for error messages; `align_dataset` passes them. Without
            them an error names the row within the batch, which ``Dataset.map`` cuts every 1,000 rows.

    Returns:
        `dict[str, list]`: the tokenizer's outputs (``input_ids``, ``attention_mask``, and
        ``token_type_ids`` if it makes them), ``labels`` (-100 where not a word's first sub-token), and the
        ``tokens`` / ``ner_tags`` each row labels (a slice of the sentence when it was split).

    Raises:
        `SlowTokenizerError`: the tokenizer has no ``word_ids()``.
        `UnknownLabelError`: a tag is not in ``label2id`` (the tag, its row and the known labels are named).
        `NERDatasetError`: a row has more tokens than tags or the reverse.
        `ValueError`: ``max_length`` leaves no room for words or exceeds the tokenizer's limit,
        ``stride_words`` < 0, a single example was given instead of a batch (``map`` without
        ``batched=True``), or a word gives no sub-token and the tokenizer has no unknown token to stand for it.

    Example:

    ```python
    >>> label2id = {"O": 0, "B-PER": 1, "I-PER": 2}
    >>> ds = ds.map(tokenize_and_align, batched=True, fn_kwargs={"tokenizer": tokenizer, "label2id": label2id,
    ...                                                          "max_length": 128})
    ```
    """
    if not getattr(tokenizer, "is_fast", False):
        raise SlowTokenizerError(
            f"{type(tokenizer).__name__} is a Python ('slow') tokenizer without word_ids(), which word alignment "
            f"needs; load a fast one: AutoTokenizer.from_pretrained(name)  (use_fast is the default)"
        )
    if stride_words < 0:
        raise ValueError(f"stride_words={stride_words} must be >= 0, e.g. stride_words=0 (no context)")
    if any(isinstance(words, str) for words in examples["tokens"]):
        raise ValueError(
            f"tokenize_and_align takes a batch, examples['tokens'] being a list of word lists, but it holds strings "
            f"({list(examples['tokens'])[:4]!r}...): call dataset.map(tokenize_and_align, batched=True, ...) or "
            f"align_dataset(dataset, ...), and split texts into words first"
        )
    if rows is not None and len(rows) != len(examples["tokens"]):
        raise ValueError(f"rows holds {len(rows)} indices for a batch of {len(examples['tokens'])} examples")
    max_length = _resolve_max_length(tokenizer, max_length)
    budget = None if max_length is None else max_length - tokenizer.num_special_tokens_to_add(pair=False)

    batch_words = [list(words) for words in examples["tokens"]]
    batch_encoding = tokenizer(batch_words, is_split_into_words=True, truncation=False, verbose=False)
    output: dict[str, list] = {"labels": [], "tokens": [], "ner_tags": []}
    for row, (words, tags) in enumerate(zip(batch_words, examples["ner_tags"], strict=True)):
        where = f"row {row} of the batch" if rows is None else f"row {rows[row]}"
        tags = list(tags)
        if len(words) != len(tags):
            from .data import NERDatasetError  # data.py imports this module: import here, when needed

            raise NERDatasetError(
                f"{where} has {len(words)} tokens but {len(tags)} tags ({words[:8]!r}...); check the data with "
                f"load_ner_dataset(dataset), which names the bad row"
            )
        label_ids = _label_ids(tags, label2id, where)
        encoding = {key: values[row] for key, values in batch_encoding.items()}
        word_ids = batch_encoding.word_ids(row)
        counts = [0] * len(words)
        for word_id in word_ids:
            if word_id is not None:
                counts[word_id] += 1
        empty = [i for i, count in enumerate(counts) if count == 0]
        if empty and tokenizer.unk_token is not None:
            logger.debug("%s: words %s give no sub-token, using %s", where, empty, tokenizer.unk_token)
            for i in empty:
                words[i] = tokenizer.unk_token
            single = _encode(tokenizer, words, None)
            encoding, word_ids = dict(single), single.word_ids()
            counts = [max(count, 1) for count in counts]
        elif empty:
            raise ValueError(
                f"{where}: the words {[words[i] for i in empty]!r} give no sub-token and the tokenizer has "
                f"no unknown token to stand for them; remove or replace those words"
            )

        if budget is None or sum(counts) <= budget:
            windows = [(0, 0, len(words))]
        else:
            windows = _word_windows(counts, budget, stride_words)
            logger.debug("%s: %d sub-tokens, split into %d rows", where, sum(counts), len(windows))

        for context_start, start, end in windows:
            if len(windows) > 1:
                window = _encode(tokenizer, words[context_start:end], max_length)
                encoding = dict(window)
                word_ids = [None if w is None else w + context_start for w in window.word_ids()]
                if end - start == 1 and counts[start] > budget:
                    logger.warning(
                        "%s: the word %r has %d sub-tokens, more than max_length=%d allows; only its first %d "
                        "are kept (its label is kept)",
                        where,
                        words[start],
                        counts[start],
                        max_length,
                        budget,
                    )
            labels, previous = [], None
            for word_id in word_ids:
                first = word_id is not None and word_id != previous and start <= word_id < end
                labels.append(label_ids[word_id] if first else -100)
                previous = word_id
            for key, value in encoding.items():
                output.setdefault(key, []).append(value)
            output["labels"].append(labels)
            output["tokens"].append(list(examples["tokens"][row])[start:end])
            output["ner_tags"].append(tags[start:end])
    return output


def _align_batch(examples: Mapping[str, Sequence[Any]], indices: list[int], **kwargs: Any) -> dict[str, list]:
    return tokenize_and_align(examples, rows=indices, **kwargs)


def align_dataset(
    dataset: Any,
    tokenizer: Any,
    label2id: Mapping[str, int],
    *,
    max_length: int | None = None,
    stride_words: int = 0,
    keep_words: bool = False,
    desc: str | None = "Tokenising",
) -> Any:
    """Run `tokenize_and_align` over a whole `datasets.Dataset`, with errors that name the data set's row.

    ``dataset.map(tokenize_and_align, batched=True, ...)`` works too, but ``map`` hands the function
    batches of 1,000 rows and the function cannot know where a batch starts: a bad tag at row 1,200 would
    be reported as row 200 of its batch. This function passes the row indices along.

    Args:
        dataset (`datasets.Dataset`):
            Rows with ``tokens`` and ``ner_tags`` (lists of str), e.g. a split of `load_ner_dataset`.
        tokenizer ([`PreTrainedTokenizerBase`]):
            A fast tokenizer.
        label2id (`Mapping[str, int]`):
            Tag to label id, e.g. ``model.config.label2id``.
        max_length (`int`, *optional*), stride_words (`int`, *optional*, defaults to `0`):
            As in `tokenize_and_align`.
        keep_words (`bool`, *optional*, defaults to `False`):
            Keep the ``tokens`` / ``ner_tags`` each output row labels; every input column is dropped
            otherwise (a long sentence gives several rows, so other columns cannot be kept).
        desc (`str`, *optional*, defaults to `"Tokenising"`):
            The progress-bar text.

    Returns:
        `datasets.Dataset`: ``input_ids``, ``attention_mask`` (``token_type_ids``), ``labels`` and, with
        ``keep_words``, ``tokens`` and ``ner_tags``.

    Raises:
        As `tokenize_and_align`, with the data set's row in the message.

    Example:

    ```python
    >>> train = align_dataset(data["train"], model.tokenizer, model.config.label2id)
    >>> train.column_names
    ['labels', 'input_ids', 'token_type_ids', 'attention_mask']
    ```
    """
    encoded = dataset.map(
        _align_batch,
        batched=True,
        with_indices=True,
        remove_columns=dataset.column_names,
        fn_kwargs={
            "tokenizer": tokenizer,
            "label2id": label2id,
            "max_length": max_length,
            "stride_words": stride_words,
        },
        desc=desc,
    )
    return encoded if keep_words else encoded.remove_columns(["tokens", "ner_tags"])


@dataclass
class NERDataCollator(DataCollatorForTokenClassification):
    """Pad a batch of `tokenize_and_align` rows: the tokenizer pads ``input_ids``, ``attention_mask`` and
    ``token_type_ids``, and ``labels`` are padded with -100 (`label_pad_token_id`).

    Keys the model does not take (``tokens``, ``ner_tags``, anything outside
    ``tokenizer.model_input_names`` and ``labels``) are left out of the batch, so rows straight from
    `tokenize_and_align` can be collated even with ``remove_unused_columns=False``.

    Example:

    ```python
    >>> collator = NERDataCollator(tokenizer)
    >>> batch = collator([{"input_ids": [2, 5, 3], "labels": [-100, 1, -100]}, {"input_ids": [2, 3], "labels": [-100, -100]}])
    >>> batch["labels"].tolist()
    [[-100, 1, -100], [-100, -100, -100]]
    ```
    """

    def __call__(
        self, features: list[Mapping[str, Any]], return_tensors: str | None = None
    ) -> dict[str, Any]:
        keep = {*self.tokenizer.model_input_names, "labels"}
        features = [{key: value for key, value in feature.items() if key in keep} for feature in features]
        return super().__call__(features, return_tensors)
