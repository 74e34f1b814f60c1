"""Word-label thresholds tuned on a development set, and the token-level metrics they are judged by.

A label-attention model (or any word scorer) gives each word a score in [0, 1]; a word gets the label when
its score is at least a threshold. The threshold that maximises F-beta on held-out data is rarely 0.5:
[`tune_threshold`] finds it exactly, by sweeping every distinct score, and [`tune_thresholds`] also tunes a
sentence threshold that gates the words (a word is labelled only in a sentence whose probability reaches it).
Grammatical-error detection reports F0.5, hence the default `beta=0.5`.

Everything here is a pure function of plain sequences of numbers, so each is tested on hand-computed cases.

Example:

```python
>>> from label_semantics.thresholds import tune_threshold
>>> choice = tune_threshold([0.9, 0.4, 0.35, 0.1], [1, 1, 0, 0], beta=0.5)
>>> choice.threshold, choice.precision, choice.recall
(0.4, 1.0, 1.0)
```
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_SENTENCE_CANDIDATES = tuple(round(0.05 * i, 2) for i in range(20))  # 0.0 (no gating), 0.05, ..., 0.95


class ThresholdError(ValueError):
    """Inputs that cannot be tuned or scored: mismatched lengths, no positive word, a bad beta."""


@dataclass(frozen=True)
class ThresholdChoice:
    """The thresholds chosen on development data and what they scored there.

    Args:
        threshold (`float`):
            A word is labelled when its score is at least this value.
        sentence_threshold (`float`, *optional*):
            Only words of sentences whose probability is at least this value are labelled; `None` when no
            sentence scores were given.
        f_beta (`float`):
            F-beta of the chosen thresholds on the tuning data.
        precision (`float`), recall (`float`):
            Their precision and recall there.
        beta (`float`):
            The beta that was maximised.
    """

    threshold: float
    sentence_threshold: float | None
    f_beta: float
    precision: float
    recall: float
    beta: float


def f_beta(precision: float, recall: float, beta: float = 1.0) -> float:
    """F-beta from precision and recall; 0 when both are 0.

    Args:
        precision (`float`), recall (`float`): in [0, 1].
        beta (`float`, *optional*, defaults to `1.0`): recall weighs `beta` times as much as precision.

    Returns:
        `float`: `(1 + beta^2) P R / (beta^2 P + R)`.
    """
    b2 = beta * beta
    denominator = b2 * precision + recall
    return (1 + b2) * precision * recall / denominator if denominator else 0.0


def _check_beta(beta: float) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0 or math.isinf(beta):
        raise ThresholdError(f"`beta` must be a positive number, got {beta!r}; e.g. beta=0.5 (F0.5).")
    return float(beta)


def _flat(scores: Sequence[float], gold: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    if len(scores) != len(gold):
        raise ThresholdError(
            f"{len(scores)} scores for {len(gold)} gold labels; give one score per word, in the same order."
        )
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(gold).reshape(-1)
    if np.isnan(values).any():
        raise ThresholdError(
            f"the scores hold NaN at positions {np.flatnonzero(np.isnan(values))[:5].tolist()}"
        )
    if not np.isin(labels, (0, 1)).all():
        bad = sorted({float(v) for v in labels[~np.isin(labels, (0, 1))]})[:5]
        raise ThresholdError(
            f"gold labels must be 0 or 1, got {bad}; pass 1 for a labelled word, 0 otherwise."
        )
    return values, labels.astype(bool)


def _sweep(
    values: np.ndarray, labels: np.ndarray, beta: float, positives: int | None = None
) -> tuple[float, float, float, float]:
    """The best `(threshold, f_beta, precision, recall)` over every distinct score; the highest threshold wins
    a tie. Recall is out of `positives` (default: the 1s in `labels`; more when some were gated out). Without
    a word or a positive among them the threshold is +inf and everything 0."""
    positives = int(labels.sum()) if positives is None else positives
    if not len(values) or not labels.any():
        return math.inf, 0.0, 0.0, 0.0
    order = np.argsort(-values, kind="stable")
    ranked, hits = values[order], labels[order]
    tp = np.cumsum(hits)
    predicted = np.arange(1, len(ranked) + 1)
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]  # predict every word with score >= that value
    tp, predicted, thresholds = tp[last_of_tie], predicted[last_of_tie], ranked[last_of_tie]
    precision, recall = tp / predicted, tp / positives
    b2 = beta * beta
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(tp > 0, (1 + b2) * precision * recall / (b2 * precision + recall), 0.0)
    best = int(np.argmax(scores))  # the first maximum is the highest threshold
    return float(thresholds[best]), float(scores[best]), float(precision[best]), float(recall[best])


def tune_threshold(scores: Sequence[float], gold: Sequence[int], *, beta: float = 0.5) -> ThresholdChoice:
    """The word threshold that maximises F-beta on `(scores, gold)`, searched over every distinct score.

    A word is predicted positive when its score is at least the threshold, so the threshold is always one of the
    scores; among thresholds with equal F-beta the highest (fewest predictions) is chosen.

    Args:
        scores (`Sequence[float]`):
            One score per word (all sentences concatenated).
        gold (`Sequence[int]`):
            1 for a word that has the label, 0 otherwise; as long as `scores`.
        beta (`float`, *optional*, defaults to `0.5`):
            The F-beta to maximise (0.5: precision weighs twice as much as recall, as in error detection).

    Returns:
        [`ThresholdChoice`]: with `sentence_threshold=None`.

    Raises:
        [`ThresholdError`]: mismatched lengths, gold values other than 0/1, NaN scores, no positive word (no
        threshold can be chosen), or a `beta` that is not positive.
    """
    beta = _check_beta(beta)
    values, labels = _flat(scores, gold)
    if not labels.any():
        raise ThresholdError(
            f"none of the {len(labels)} gold labels is 1, so no threshold can be tuned; tune on data that has "
            "labelled words (e.g. a larger development split)."
        )
    threshold, best, precision, recall = _sweep(values, labels, beta)
    return ThresholdChoice(threshold, None, best, precision, recall, beta)


def gate_by_sentence(
    word_scores: Sequence[Sequence[float]], sentence_scores: Sequence[float], sentence_threshold: float
) -> list[list[float]]:
    """Word scores with every word of a sentence scoring below `sentence_threshold` set to `-inf` (never labelled).

    Args:
        word_scores (`Sequence[Sequence[float]]`): one list of word scores per sentence.
        sentence_scores (`Sequence[float]`): one probability per sentence.
        sentence_threshold (`float`): the gate; `0.0` (or less) lets every sentence through.

    Returns:
        `list[list[float]]`: the gated scores, the shape of `word_scores`.
    """
    if len(word_scores) != len(sentence_scores):
        raise ThresholdError(
            f"{len(word_scores)} sentences of word scores but {len(sentence_scores)} sentence scores; give one "
            "sentence score per sentence."
        )
    return [
        list(map(float, words)) if probability >= sentence_threshold else [-math.inf] * len(words)
        for words, probability in zip(word_scores, sentence_scores)
    ]


def tune_thresholds(
    word_scores: Sequence[Sequence[float]],
    gold: Sequence[Sequence[int]],
    sentence_scores: Sequence[float] | None = None,
    *,
    beta: float = 0.5,
    sentence_candidates: Sequence[float] = DEFAULT_SENTENCE_CANDIDATES,
) -> ThresholdChoice:
    """Tune the word threshold, and with `sentence_scores` the sentence threshold that gates it, for F-beta.

    For each candidate sentence threshold the words of the sentences below it are left unlabelled, and the word
    threshold is swept over every distinct remaining score ([`tune_threshold`]); the pair with the best F-beta
    wins (on a tie, the lower sentence threshold, then the higher word threshold). The candidates include 0.0,
    which gates nothing, so gating never scores below the word threshold alone on the tuning data.

    Args:
        word_scores (`Sequence[Sequence[float]]`):
            One list of word scores per sentence.
        gold (`Sequence[Sequence[int]]`):
            The 0/1 gold labels, the shape of `word_scores`.
        sentence_scores (`Sequence[float]`, *optional*):
            One probability per sentence; without it only the word threshold is tuned.
        beta (`float`, *optional*, defaults to `0.5`):
            The F-beta to maximise.
        sentence_candidates (`Sequence[float]`, *optional*):
            The sentence thresholds tried; defaults to 0.0, 0.05, ..., 0.95.

    Returns:
        [`ThresholdChoice`].

    Raises:
        [`ThresholdError`]: sentences of different lengths in `word_scores` and `gold`, no labelled word, or
        an empty `sentence_candidates`.
    """
    beta = _check_beta(beta)
    if len(word_scores) != len(gold):
        raise ThresholdError(
            f"{len(word_scores)} sentences of scores but {len(gold)} sentences of gold labels."
        )
    for index, (scores, labels) in enumerate(zip(word_scores, gold)):
        if len(scores) != len(labels):
            raise ThresholdError(
                f"sentence {index} has {len(scores)} word scores but {len(labels)} gold labels; give one score "
                "per word."
            )
    flat_gold = [g for labels in gold for g in labels]
    if sentence_scores is None:
        return tune_threshold([s for scores in word_scores for s in scores], flat_gold, beta=beta)
    if not len(sentence_candidates):
        raise ThresholdError("`sentence_candidates` is empty; e.g. sentence_candidates=[0.0, 0.5].")
    values, labels = _flat([s for scores in word_scores for s in scores], flat_gold)
    if not labels.any():
        raise ThresholdError(f"none of the {len(labels)} gold labels is 1, so no threshold can be tuned.")
    if len(sentence_scores) != len(word_scores):
        raise ThresholdError(
            f"{len(word_scores)} sentences of word scores but {len(sentence_scores)} sentence scores."
        )
    per_word = np.repeat(np.asarray(sentence_scores, dtype=np.float64), [len(s) for s in word_scores])
    best: ThresholdChoice | None = None
    for candidate in sorted(float(c) for c in sentence_candidates):
        kept = per_word >= candidate
        # recall is out of every gold word, the gated-out ones included
        threshold, score, precision, recall = _sweep(values[kept], labels[kept], beta, int(labels.sum()))
        if best is None or score > best.f_beta:
            best = ThresholdChoice(threshold, candidate, score, precision, recall, beta)
    return best


def average_precision(scores: Sequence[float], gold: Sequence[int]) -> float:
    """Average precision of the ranking of `scores` against 0/1 `gold`: the sum over distinct scores, from the
    highest, of (recall gained) x (precision at that score), as scikit-learn's `average_precision_score`; tied
    scores enter together. NaN when `gold` has no 1.

    Args:
        scores (`Sequence[float]`), gold (`Sequence[int]`): one each per item.

    Returns:
        `float`.
    """
    values, labels = _flat(scores, gold)
    positives = int(labels.sum())
    if not positives:
        return math.nan
    order = np.argsort(-values, kind="stable")
    ranked, hits = values[order], labels[order]
    tp = np.cumsum(hits)
    predicted = np.arange(1, len(ranked) + 1)
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    tp, predicted = tp[last_of_tie], predicted[last_of_tie]
    recall_gain = np.diff(np.r_[0, tp]) / positives
    return float((recall_gain * tp / predicted).sum())


def token_metrics(
    word_scores: Sequence[Sequence[float]],
    gold: Sequence[Sequence[int]],
    threshold: float,
    sentence_scores: Sequence[float] | None = None,
    sentence_threshold: float | None = None,
) -> dict[str, float]:
    """Precision, recall, F1 and F0.5 of the words labelled at the given thresholds, and the two ranking scores.

    Args:
        word_scores (`Sequence[Sequence[float]]`):
            One list of word scores per sentence.
        gold (`Sequence[Sequence[int]]`):
            The 0/1 gold labels, the shape of `word_scores`.
        threshold (`float`):
            A word is labelled when its score is at least this value.
        sentence_scores (`Sequence[float]`, *optional*), sentence_threshold (`float`, *optional*):
            With both, words of sentences below the sentence threshold are not labelled.

    Returns:
        `dict[str, float]`: `P`, `R`, `F1`, `F0.5`; `MAP`, the mean over sentences with a labelled word of the
        average precision of their word ranking; `AP`, the average precision of the ranking of all words (the
        rankings ignore the thresholds). `MAP` and `AP` are NaN without any labelled word.
    """
    if len(word_scores) != len(gold):
        raise ThresholdError(
            f"{len(word_scores)} sentences of scores but {len(gold)} sentences of gold labels."
        )
    gated = word_scores
    if sentence_scores is not None and sentence_threshold is not None:
        gated = gate_by_sentence(word_scores, sentence_scores, sentence_threshold)
    flat_scores = [s for scores in word_scores for s in scores]
    flat_gated = [s for scores in gated for s in scores]
    flat_gold = [g for labels in gold for g in labels]
    values, labels = _flat(flat_gated, flat_gold)
    predicted = values >= threshold
    tp = int((predicted & labels).sum())
    precision = tp / int(predicted.sum()) if predicted.any() else 0.0
    recall = tp / int(labels.sum()) if labels.any() else 0.0
    sentence_aps = [average_precision(s, g) for s, g in zip(word_scores, gold) if any(g)]
    return {
        "P": precision,
        "R": recall,
        "F1": f_beta(precision, recall, 1.0),
        "F0.5": f_beta(precision, recall, 0.5),
        "MAP": float(np.mean(sentence_aps)) if sentence_aps else math.nan,
        "AP": average_precision(flat_scores, flat_gold),
    }


__all__ = [
    "DEFAULT_SENTENCE_CANDIDATES",
    "ThresholdChoice",
    "ThresholdError",
    "average_precision",
    "f_beta",
    "gate_by_sentence",
    "token_metrics",
    "tune_threshold",
    "tune_thresholds",
]
