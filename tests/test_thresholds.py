"""Threshold tuning and token metrics (`label_semantics.thresholds`) on hand-computed cases."""

from __future__ import annotations

import math
import random

import pytest

from label_semantics.thresholds import (
    ThresholdError,
    average_precision,
    f_beta,
    gate_by_sentence,
    token_metrics,
    tune_threshold,
    tune_thresholds,
)


def brute_force(scores, gold, beta, candidates):
    """The best F-beta over the given thresholds, by counting."""
    best = (-1.0, None)
    for t in sorted(set(candidates), reverse=True):
        tp = sum(s >= t and g for s, g in zip(scores, gold))
        fp = sum(s >= t and not g for s, g in zip(scores, gold))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / sum(gold)
        f = f_beta(p, r, beta)
        if f > best[0]:
            best = (f, t)
    return best


def test_f_beta_by_hand():
    assert f_beta(0.5, 1.0, 1.0) == pytest.approx(2 / 3)
    assert f_beta(0.5, 1.0, 0.5) == pytest.approx(1.25 * 0.5 / (0.25 * 0.5 + 1.0))  # 0.5556
    assert f_beta(0.0, 0.0, 0.5) == 0.0


def test_tune_threshold_prefers_precision_with_f05():
    # scores 0.9 (1), 0.8 (0), 0.7 (1), 0.6 (1), 0.1 (0)
    # t=0.9: P 1, R 1/3 -> F0.5 = 1.25/3 / (0.25 + 1/3) = 0.714; F1 0.5
    # t=0.6: P 3/4, R 1 -> F0.5 = 1.25*0.75 / (0.1875 + 1) = 0.789; F1 0.857
    scores, gold = [0.9, 0.8, 0.7, 0.6, 0.1], [1, 0, 1, 1, 0]
    choice = tune_threshold(scores, gold, beta=0.5)
    assert choice.threshold == 0.6 and choice.sentence_threshold is None
    assert (choice.precision, choice.recall) == (0.75, 1.0)
    assert choice.f_beta == pytest.approx(1.25 * 0.75 / (0.1875 + 1))
    # F0.5 takes the precise threshold where F1 takes the recall: 0.9 (1), 0.8 (0), 0.7 (0), 0.6 (1), 0.5 (1)
    # t=0.9: P 1, R 1/3: F0.5 0.714, F1 0.5; t=0.5: P 3/5, R 1: F0.5 0.652, F1 0.75
    scores, gold = [0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 0, 1, 1]
    high = tune_threshold(scores, gold, beta=0.5)
    assert high.threshold == 0.9 and high.f_beta == pytest.approx(1.25 / 3 / (0.25 + 1 / 3))
    assert tune_threshold(scores, gold, beta=1.0).threshold == 0.5


def test_tune_threshold_ties_enter_together_and_the_higher_threshold_wins():
    # 0.5 twice (one right, one wrong): both are predicted at t=0.5, never one of them
    choice = tune_threshold([0.8, 0.5, 0.5, 0.2], [1, 1, 0, 0], beta=1.0)
    # t=0.8: P1 R.5 F1 .667; t=0.5: P 2/3 R1 F1 .8; t=0.2: P .5 R 1 F1 .667
    assert choice.threshold == 0.5 and choice.precision == pytest.approx(2 / 3)
    equal = tune_threshold([0.9, 0.3], [1, 0], beta=1.0)  # t=0.9 gives F1 1; nothing above it
    assert equal.threshold == 0.9


def test_tune_threshold_matches_brute_force_on_random_data():
    rng = random.Random(3)
    for _ in range(20):
        n = rng.randint(1, 40)
        scores = [round(rng.random(), 1) for _ in range(n)]  # many ties
        gold = [int(rng.random() < 0.3) for _ in range(n)]
        if not any(gold):
            gold[0] = 1
        choice = tune_threshold(scores, gold, beta=0.5)
        best, threshold = brute_force(scores, gold, 0.5, scores)
        assert choice.f_beta == pytest.approx(best) and choice.threshold == threshold


@pytest.mark.parametrize(
    ("scores", "gold", "beta", "match"),
    [
        ([0.1, 0.2], [0, 0], 0.5, "none of the 2 gold labels is 1"),
        ([0.1], [1, 0], 0.5, "1 scores for 2 gold labels"),
        ([0.1, 0.2], [1, 2], 0.5, "must be 0 or 1"),
        ([0.1, math.nan], [1, 0], 0.5, "NaN"),
        ([0.1], [1], 0.0, "beta"),
        ([0.1], [1], True, "beta"),
    ],
)
def test_tune_threshold_rejects(scores, gold, beta, match):
    with pytest.raises(ThresholdError, match=match):
        tune_threshold(scores, gold, beta=beta)


def test_tune_thresholds_gates_by_sentence():
    # sentence 0 (p 0.9): words 0.6 (1), 0.2 (0); sentence 1 (p 0.1): words 0.7 (0), 0.65 (0)
    words, gold, sentences = [[0.6, 0.2], [0.7, 0.65]], [[1, 0], [0, 0]], [0.9, 0.1]
    alone = tune_thresholds(words, gold, beta=0.5)
    assert alone.sentence_threshold is None and alone.threshold == 0.6
    assert alone.precision == pytest.approx(1 / 3)  # 0.7 and 0.65 outrank the right word
    gated = tune_thresholds(words, gold, sentences, beta=0.5)
    assert gated.sentence_threshold == pytest.approx(0.15)  # the lowest candidate that drops sentence 1
    assert (gated.threshold, gated.precision, gated.recall, gated.f_beta) == (0.6, 1.0, 1.0, 1.0)
    # gating never loses on the tuning data: 0.0 is a candidate
    keep = tune_thresholds([[0.6, 0.2], [0.7]], [[0, 0], [1]], [0.9, 0.1], beta=0.5)
    assert keep.sentence_threshold == 0.0 and keep.f_beta == 1.0


def test_tune_thresholds_counts_gated_out_gold_words_as_missed():
    # the only candidate gates out sentence 1, whose gold word is then missed: R = 1/2, not 1
    choice = tune_thresholds([[0.9], [0.8]], [[1], [1]], [0.9, 0.1], sentence_candidates=[0.5])
    assert (choice.precision, choice.recall) == (1.0, 0.5)
    assert choice.f_beta == pytest.approx(f_beta(1.0, 0.5, 0.5))


def test_tune_thresholds_rejects_mismatches():
    with pytest.raises(ThresholdError, match="sentence 1 has 1 word scores but 2 gold labels"):
        tune_thresholds([[0.1], [0.2]], [[1], [0, 1]])
    with pytest.raises(ThresholdError, match="2 sentences of word scores but 1 sentence scores"):
        tune_thresholds([[0.1], [0.2]], [[1], [0]], [0.5])
    with pytest.raises(ThresholdError, match="sentence_candidates"):
        tune_thresholds([[0.1]], [[1]], [0.5], sentence_candidates=[])


def test_average_precision_by_hand():
    assert average_precision([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    # a tie of a hit and a miss at the top enters together: precision 1/2 for the recall it brings
    assert average_precision([0.5, 0.5, 0.1], [1, 0, 0]) == pytest.approx(0.5)
    assert average_precision([0.5, 0.5, 0.1], [0, 1, 0]) == pytest.approx(0.5)  # input order does not matter
    assert math.isnan(average_precision([0.5], [0]))


def test_token_metrics_by_hand():
    words = [[0.9, 0.8, 0.2], [0.1, 0.5]]
    gold = [[1, 0, 1], [0, 0]]
    m = token_metrics(words, gold, threshold=0.5)
    # predicted: 0.9 (right), 0.8, 0.5 (wrong); the 0.2 missed: P 1/3, R 1/2
    assert (m["P"], m["R"]) == (pytest.approx(1 / 3), pytest.approx(1 / 2))
    assert m["F1"] == pytest.approx(0.4) and m["F0.5"] == pytest.approx(f_beta(1 / 3, 1 / 2, 0.5))
    assert m["MAP"] == pytest.approx((1 + 2 / 3) / 2)  # only sentence 0 has a gold word
    assert m["AP"] == pytest.approx((1 + 2 / 4) / 2)
    gated = token_metrics(words, gold, 0.5, sentence_scores=[0.9, 0.2], sentence_threshold=0.5)
    assert (gated["P"], gated["R"]) == (pytest.approx(1 / 2), pytest.approx(1 / 2))  # the 0.5 word is gated
    assert gated["MAP"] == m["MAP"] and gated["AP"] == m["AP"]  # rankings ignore the gate
    at = token_metrics([[0.5, 0.49]], [[1, 1]], 0.5)
    assert (at["P"], at["R"]) == (1.0, 0.5)  # a score equal to the threshold is labelled


def test_gate_by_sentence():
    assert gate_by_sentence([[0.3, 0.4], [0.9]], [0.6, 0.2], 0.5) == [[0.3, 0.4], [-math.inf]]
    with pytest.raises(ThresholdError, match="one sentence score per sentence"):
        gate_by_sentence([[0.3]], [0.6, 0.2], 0.5)
