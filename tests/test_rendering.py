"""Tests of the word-evidence renderers with a gold label kept apart from the predicted ones."""

from __future__ import annotations

import copy
import re

import pytest

from label_semantics.rendering import RenderingError, render_html, render_html_page, render_text

SCORES = {"sadness": 0.05, "joy": 0.0, "love": 0.0}


def make_result(predicted: list[str], **extra) -> dict:
    return {
        "labels": predicted,
        "probabilities": {"sadness": 0.01, "joy": 0.81, "love": 0.18},
        "words": [
            {"word": "i", "scores": {**SCORES, "joy": 0.10, "love": 0.20}},
            {"word": "adore", "scores": {**SCORES, "joy": 0.60, "love": 0.95}},
            {"word": "<you>", "scores": {**SCORES, "joy": 0.30, "love": 0.40}},
        ],
        **extra,
    }


def headers(page: str) -> list[str]:
    return re.findall(r'<div style="color: #666; font-size: 0.9em">(.*?)</div>', page)


def line_labels(fragment: str) -> list[str]:
    """The label part of each shaded line, tags stripped: `joy (predicted)`."""
    return [re.sub(r"<[^>]+>", "", m) for m in re.findall(r"<p>(.*?): <span", fragment)]


def test_page_gold_differs_shows_both_correctly_labelled():
    result = make_result(["joy"], gold="love")
    page = render_html_page([result])
    assert headers(page) == ["predicted: joy | gold: love | sadness 0.01, joy 0.81, love 0.18"]
    assert line_labels(page) == ["joy (predicted)", "love (gold)"]
    # the predicted line is shaded with its own scores, the gold line with the gold label's scores
    assert 'title="joy: 0.60"' in page and 'title="love: 0.95"' in page
    assert "predicted: joy, love" not in page


def test_page_gold_equals_prediction_shows_it_once():
    page = render_html_page([make_result(["joy"], gold="joy")])
    assert headers(page) == ["predicted: joy | gold: joy | sadness 0.01, joy 0.81, love 0.18"]
    assert line_labels(page) == ["joy (predicted, gold)"]
    assert page.count("<p>") == 1


def test_page_mixes_blocks_and_keeps_result_unchanged():
    results = [make_result(["joy"], gold="love"), make_result(["joy"], gold=["joy"]), make_result(["love"])]
    before = copy.deepcopy(results)
    page = render_html_page(results)
    assert results == before  # nothing is appended to "labels"
    assert [h.split(" | sadness")[0] for h in headers(page)] == [
        "predicted: joy | gold: love",
        "predicted: joy | gold: joy",
        "predicted: love",
    ]
    assert line_labels(page) == ["joy (predicted)", "love (gold)", "joy (predicted, gold)", "love"]


def test_without_gold_renders_as_before():
    result = make_result(["joy"])
    assert line_labels(render_html(result)) == ["joy"]
    assert headers(render_html_page([result])) == ["predicted: joy | sadness 0.01, joy 0.81, love 0.18"]
    assert render_text(result, shades=False) == "joy: i [adore 0.60] <you>"
    assert render_text(make_result(["joy"], gold=None), shades=False) == "joy: i [adore 0.60] <you>"


def test_text_gold_differs_and_equals():
    assert render_text(make_result(["joy"], gold="love"), shades=False).splitlines() == [
        "predicted: joy | gold: love",
        "joy (predicted): i [adore 0.60] <you>",
        "love (gold): i [adore 0.95] <you>",
    ]
    assert render_text(make_result(["joy"], gold="joy"), shades=False).splitlines() == [
        "predicted: joy | gold: joy",
        "joy (predicted, gold): i [adore 0.60] <you>",
    ]
    shaded = render_text(make_result(["joy"], gold="love")).splitlines()
    assert len(shaded) == 5 and set(shaded[2].strip()) <= set(" ░▒▓█")


def test_multi_label_gold_and_empty_prediction():
    result = make_result([], gold=["joy", "love"])
    assert render_text(result, shades=False).splitlines()[:3] == [
        "predicted: (none) | gold: joy, love",
        "joy (gold): i [adore 0.60] <you>",
        "love (gold): i [adore 0.95] <you>",
    ]
    # both gold labels also predicted: each shown once
    assert line_labels(render_html(make_result(["love", "joy"], gold=["joy", "love"]))) == [
        "love (predicted, gold)",
        "joy (predicted, gold)",
    ]


def test_explicit_labels_keep_roles():
    result = make_result(["joy"], gold="love")
    assert line_labels(render_html(result, labels=["sadness", "love"])) == ["sadness", "love (gold)"]
    assert render_text(result, labels="joy", shades=False).splitlines() == [
        "predicted: joy | gold: love",
        "joy (predicted): i [adore 0.60] <you>",
    ]


def test_role_and_label_are_escaped():
    result = {"labels": ["<a>"], "gold": "<a>", "words": [{"word": "x", "scores": {"<a>": 0.5}}]}
    fragment = render_html(result)
    assert "&lt;a&gt;" in fragment and "<a>" not in fragment
    assert "predicted: &lt;a&gt; | gold: &lt;a&gt;" in render_html_page([result])


@pytest.mark.parametrize(
    ("gold", "match"),
    [
        ("anger", r"Gold labels \['anger'\] have no word scores"),
        (["joy", "anger"], r"\['anger'\]"),
        (3, "must be a label name or a list of label names, got 3"),
        (["joy", 1], "got \\['joy', 1\\]"),
    ],
)
def test_bad_gold_raises(gold, match):
    result = make_result(["joy"], gold=gold)
    for call in (render_html, render_text, lambda r: render_html_page([r])):
        with pytest.raises(RenderingError, match=match):
            call(result)
