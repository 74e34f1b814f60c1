"""Entity-level NER metrics (seqeval through `evaluate`), offline, as pure functions.

`evaluate.load("seqeval")` needs the Hugging Face Hub; `load_seqeval` loads the metric script shipped
in ``label_semantics/metrics/seqeval.py`` instead. `compute_ner_metrics` returns a flat dict of floats
that loggers and `Trainer` accept, and `build_compute_metrics` wraps it for `Trainer(compute_metrics=...)`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import evaluate
import numpy as np
import torch

from .decoding import viterbi_decode
from .verbalizer import InvalidTagError, detect_scheme, normalize_scheme, split_tag_at

logger = logging.getLogger(__name__)

SEQEVAL_PATH = Path(__file__).resolve().parent / "metrics" / "seqeval.py"
"""The metric script `load_seqeval` reads; ``evaluate.load(str(SEQEVAL_PATH))`` works as well."""

IGNORE_INDEX = -100
_SEQEVAL_SCHEMES = {"IOB1": "IOB1", "IOB2": "IOB2", "BIOES": "IOBES"}
_OVERALL = ("overall_precision", "overall_recall", "overall_f1", "overall_accuracy")


def load_seqeval() -> evaluate.EvaluationModule:
    """Load the seqeval metric from the script shipped with this package, without the Hub.

    Returns:
        `evaluate.EvaluationModule`: the same inputs, options and result layout as
        ``evaluate.load("seqeval")``.

    Raises:
        `FileNotFoundError`: the package was installed without its ``metrics/*.py`` package data.
    """
    if not SEQEVAL_PATH.is_file():
        raise FileNotFoundError(
            f"the seqeval metric script is missing at {SEQEVAL_PATH}; reinstall the package so that its "
            f'package data ships, e.g. pip install --force-reinstall "label-semantics"'
        )
    return evaluate.load(str(SEQEVAL_PATH))


@functools.lru_cache(maxsize=1)
def _seqeval() -> evaluate.EvaluationModule:
    return load_seqeval()


def _check_sentences(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> None:
    for name, sentences in (("predictions", predictions), ("references", references)):
        if isinstance(sentences, str) or any(isinstance(sentence, str) for sentence in sentences):
            raise ValueError(
                f"{name} must be a list of sentences, each a list of tags, got {list(sentences)[:3]!r}...; "
                f'e.g. compute_ner_metrics([["B-PER", "O"]], [["B-PER", "O"]])'
            )
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predicted sentences but {len(references)} reference sentences; "
            f"pass one prediction per reference sentence"
        )
    for index, (predicted, gold) in enumerate(zip(predictions, references, strict=True)):
        if len(predicted) != len(gold):
            raise ValueError(
                f"sentence {index} has {len(predicted)} predicted tags but {len(gold)} reference tags; "
                f"predict one tag per word (the first sub-token of each word)"
            )
        for name, tags in (("predictions", predicted), ("references", gold)):
            for position, tag in enumerate(tags):
                try:
                    split_tag_at(tag, position, index)
                except InvalidTagError as error:
                    raise InvalidTagError(f"in {name}: {error}") from None


def compute_ner_metrics(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    *,
    mode: str | None = None,
    scheme: str | None = None,
    zero_division: int | str = 0,
) -> dict[str, float]:
    """Entity-level precision, recall and F1, overall and per type, plus token accuracy.

    An entity counts as correct only when its type and both boundaries match (CoNLL evaluation), so a
    prediction can have high token accuracy and low F1.

    Args:
        predictions (`Sequence[Sequence[str]]`):
            Predicted tags, one list per sentence.
        references (`Sequence[Sequence[str]]`):
            Gold tags, the same shape as ``predictions``.
        mode (`str`, *optional*):
            `None` reads ill-formed sequences leniently (seqeval's default: a stray ``I-PER`` opens an
            entity); ``"strict"`` counts only entities well-formed in ``scheme``.
        scheme (`str`, *optional*):
            With ``mode="strict"``: ``"IOB1"``, ``"IOB2"``, ``"BIOES"`` or ``"BILOU"``; detected from the
            references when omitted.
        zero_division (`int` or `str`, *optional*, defaults to `0`):
            The value of a ratio with a zero denominator (``0``, ``1``, or ``"warn"`` for 0 plus a warning).

    Returns:
        `dict[str, float]`: ``overall_precision``, ``overall_recall``, ``overall_f1``,
        ``overall_accuracy`` and, for each entity type in either input, ``<TYPE>_precision``,
        ``<TYPE>_recall``, ``<TYPE>_f1`` and ``<TYPE>_number`` (gold entities of that type).

    Raises:
        `ValueError`: the inputs differ in shape, hold a malformed tag, or ``scheme`` is not usable.

    Example:

    ```python
    >>> metrics = compute_ner_metrics([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    >>> metrics["overall_f1"], round(metrics["overall_accuracy"], 3)
    (0.0, 0.667)
    ```
    """
    _check_sentences(predictions, references)
    options: dict[str, Any] = {"zero_division": zero_division}
    if mode is not None:
        options["mode"] = mode
        if mode == "strict":
            name = normalize_scheme(scheme) if scheme is not None else detect_scheme(references)
            bilou = isinstance(scheme, str) and scheme.upper() == "BILOU"
            if name not in _SEQEVAL_SCHEMES:
                raise ValueError(
                    f'mode="strict" cannot check the {name} scheme; use IOB1, IOB2, BIOES or BILOU, '
                    f'e.g. compute_ner_metrics(predictions, references, mode="strict", scheme="IOB2")'
                )
            options["scheme"] = "BILOU" if bilou else _SEQEVAL_SCHEMES[name]
    if not any(len(sentence) for sentence in references):
        logger.warning("compute_ner_metrics: no tags to evaluate; every metric is 0")
        return dict.fromkeys(_OVERALL, 0.0)
    results = _seqeval().compute(
        predictions=[list(s) for s in predictions], references=[list(s) for s in references], **options
    )
    flat = {key: float(results.pop(key)) for key in _OVERALL}
    for entity_type, scores in results.items():
        if entity_type == "overall":
            raise ValueError(
                'an entity type named "overall" would clash with the overall_* metrics; rename it'
            )
        for name, value in scores.items():
            flat[f"{entity_type}_{name}"] = float(value)
    return flat


def _label_names(id2label: Mapping[int, str]) -> list[str]:
    ids = sorted(int(i) for i in id2label)
    if ids != list(range(len(ids))):
        raise ValueError(
            f"id2label must map 0..{len(ids) - 1} to tags, got the ids {ids}; e.g. "
            f'{{0: "O", 1: "B-PER", 2: "I-PER"}} (model.config.id2label)'
        )
    return [id2label[i] if i in id2label else id2label[str(i)] for i in ids]


def build_compute_metrics(
    id2label: Mapping[int, str], *, viterbi: bool = False, scheme: str | None = None
) -> Callable[[Any], dict[str, float]]:
    """A `Trainer` ``compute_metrics`` that turns token logits into tags and scores them.

    Positions whose label is ``-100`` (special tokens, padding, non-first sub-tokens) are dropped, so
    the tags are word-level. Each sentence is decoded by argmax or, with ``viterbi=True``, by
    `viterbi_decode` over the log-softmax of its word-level logits, which only yields sequences valid
    in the scheme.

    Args:
        id2label (`Mapping[int, str]` or a model config):
            The model's ``config.id2label`` (keys may be ``int`` or ``str``, as a loaded JSON gives), or the
            model's config itself, which also supplies ``scheme`` (its ``tag_scheme``: pass the config for
            IOB1 models, whose labels look like IOB2).
        viterbi (`bool`, *optional*, defaults to `False`):
            Decode with constrained Viterbi instead of per-token argmax.
        scheme (`str`, *optional*):
            The scheme for Viterbi; guessed from the labels when omitted (IOB2 for ``B-``/``I-`` sets).

    Returns:
        `Callable[[EvalPrediction], dict[str, float]]`: takes ``predictions`` of shape ``[B, T, L]``
        (logits; a tuple whose first item is the logits works too; ``[B, T]`` label ids when
        ``preprocess_logits_for_metrics`` already took the argmax) and ``label_ids`` of shape ``[B, T]``,
        and returns `compute_ner_metrics`' dict.

    Example:

    ```python
    >>> compute_metrics = build_compute_metrics(model.config.id2label, viterbi=True)
    >>> trainer = Trainer(model=model, args=args, eval_dataset=dataset, compute_metrics=compute_metrics)
    ```
    """
    if hasattr(id2label, "id2label"):  # a model config: its labels and its own scheme
        scheme = scheme if scheme is not None else getattr(id2label, "tag_scheme", None)
        id2label = id2label.id2label
    labels = _label_names(id2label)

    def compute_metrics(eval_prediction: Any) -> dict[str, float]:
        predictions, label_ids = eval_prediction[0], eval_prediction[1]
        if isinstance(predictions, tuple):
            predictions = predictions[0]
        predictions, label_ids = np.asarray(predictions), np.asarray(label_ids)
        if predictions.ndim == 3 and predictions.shape[-1] != len(labels):
            raise ValueError(
                f"the logits have {predictions.shape[-1]} labels but id2label has {len(labels)}; build the "
                f"metrics from the model being evaluated: build_compute_metrics(model.config.id2label)"
            )
        if predictions.shape[:2] != label_ids.shape or predictions.ndim not in (2, 3):
            raise ValueError(
                f"predictions of shape {predictions.shape} do not match label_ids of shape {label_ids.shape}; "
                f"expected logits [B, T, L] (or ids [B, T]) and labels [B, T]"
            )
        if viterbi and predictions.ndim == 2:
            raise ValueError(
                "viterbi=True needs the logits, but the predictions are already label ids; drop "
                "preprocess_logits_for_metrics from the Trainer or use build_compute_metrics(id2label)"
            )
        predicted_tags, gold_tags = [], []
        for logits, gold in zip(predictions, label_ids, strict=True):
            keep = gold != IGNORE_INDEX
            if viterbi:
                scores = torch.from_numpy(logits[keep].astype(np.float32)).log_softmax(-1)
                ids = viterbi_decode(scores, labels, scheme)
            else:
                ids = logits[keep].argmax(-1) if logits.ndim == 2 else logits[keep]
            predicted_tags.append([labels[int(i)] for i in ids])
            gold_tags.append([labels[int(i)] for i in gold[keep]])
        return compute_ner_metrics(predicted_tags, gold_tags)

    return compute_metrics
