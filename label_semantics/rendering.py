"""Show word scores: words shaded by score as HTML, or marked plainly in a terminal.

Both renderers take the dicts that `LabelAttentionForSequenceClassification.predict()` returns (or any
dict with a `"words"` list of `{"word", "scores": {label: score}}`), so a user can look rather than
read numbers. A result may also carry a `"gold"` label (a `str` or a list of `str`), kept apart from the
predicted `"labels"`: the renderers then shade the predicted label(s) and then the gold label(s) not
predicted, and name each line's role, e.g. `predicted: joy | gold: love`.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

# one colour per label, cycled; RGB
PALETTE = (
    (220, 50, 47),
    (38, 139, 210),
    (133, 153, 0),
    (211, 54, 130),
    (181, 137, 0),
    (42, 161, 152),
    (108, 113, 196),
    (203, 75, 22),
)
SHADES = " ░▒▓█"


class RenderingError(ValueError):
    """The input to a renderer is not a prediction result or names an unknown label."""


def _check_result(result: Any) -> Mapping[str, Any]:
    if not isinstance(result, Mapping) or not isinstance(result.get("words"), Sequence):
        raise RenderingError(
            f"Expected a prediction dict with a 'words' list (from model.predict(text)), got {type(result).__name__}; "
            "e.g. render_html(model.predict('I saws the show .'))."
        )
    return result


def _gold_labels(result: Mapping[str, Any]) -> list[str] | None:
    """The result's `"gold"` labels as a list, or `None` when it has none (the key absent or `None`)."""
    gold = result.get("gold")
    if gold is None:
        return None
    if isinstance(gold, str):
        return [gold]
    if isinstance(gold, Sequence) and all(isinstance(name, str) for name in gold):
        return list(dict.fromkeys(gold))
    raise RenderingError(
        f"`result['gold']` must be a label name or a list of label names, got {gold!r}; "
        "e.g. {'labels': ['joy'], 'gold': 'love', 'words': [...]}."
    )


def _labels_to_show(result: Mapping[str, Any], labels: str | Sequence[str] | None) -> list[str]:
    known: list[str] = []
    for word in result["words"]:
        for name in word.get("scores", {}):
            if name not in known:
                known.append(name)
    gold = _gold_labels(result) or []
    unknown_gold = [name for name in gold if known and name not in known]
    if unknown_gold:
        raise RenderingError(
            f"Gold labels {unknown_gold} have no word scores; the result scores {known}, "
            f"e.g. result['gold'] = {known[:1]}."
        )
    if labels is None:
        predicted = [name for name in result.get("labels", []) if name in known]
        chosen = list(dict.fromkeys(predicted + gold)) or known[:1]
    else:
        chosen = [labels] if isinstance(labels, str) else list(labels)
    unknown = [name for name in chosen if known and name not in known]
    if unknown:
        raise RenderingError(
            f"Labels {unknown} have no word scores; the result scores {known}, e.g. labels={known[:1]}."
        )
    return chosen


def _role(result: Mapping[str, Any], name: str) -> str:
    """`" (predicted)"`, `" (gold)"`, `" (predicted, gold)"` or `""` for a label's line; roles are only
    named when the result has a gold label, so results without one render as before."""
    gold = _gold_labels(result)
    if gold is None:
        return ""
    roles = [
        role for role, names in (("predicted", result.get("labels", [])), ("gold", gold)) if name in names
    ]
    return f" ({', '.join(roles)})" if roles else ""


def _header(result: Mapping[str, Any]) -> str:
    """`predicted: X`, plus ` | gold: Y` when the result has a gold label (plain text, not escaped)."""
    header = f"predicted: {', '.join(result.get('labels', [])) or '(none)'}"
    gold = _gold_labels(result)
    if gold is not None:
        header += f" | gold: {', '.join(gold) or '(none)'}"
    return header


def _check_score(value: Any, word: str) -> float:
    score = float(value)
    if not 0.0 <= score <= 1.0:
        raise RenderingError(f"Word {word!r} has score {value!r}; scores must lie in [0, 1] to be shaded.")
    return score


def render_html(
    result: Mapping[str, Any],
    labels: str | Sequence[str] | None = None,
    *,
    colors: Mapping[str, tuple[int, int, int]] | None = None,
    show_scores: bool = True,
) -> str:
    """An HTML fragment with one line per label, each word's background shaded by its score.

    Args:
        result (`Mapping[str, Any]`):
            One result of `predict()`, optionally with a `"gold"` label (`str` or list of `str`) beside the
            predicted `"labels"`; with one, each line names its label's role: `(predicted)`, `(gold)` or
            `(predicted, gold)`.
        labels (`str` or `Sequence[str]`, *optional*):
            The labels to show; defaults to the sentence's predicted labels, then its gold labels not
            predicted (or the first label when there are neither).
        colors (`Mapping[str, tuple[int, int, int]]`, *optional*):
            RGB colour per label; others are taken from a fixed palette.
        show_scores (`bool`, *optional*, defaults to `True`):
            Put each score in the word's `title` (shown on hover).

    Returns:
        `str`: a `<div class="label-attention">` fragment; every word is HTML-escaped.

    Example:

    ```python
    >>> from label_semantics.rendering import render_html
    >>> render_html({"labels": ["joy"], "words": [{"word": "happy", "scores": {"joy": 0.9}}]})[:30]
    '<div class="label-attention">\\n'
    ```
    """
    result = _check_result(result)
    chosen = _labels_to_show(result, labels)
    lines = ['<div class="label-attention">']
    for index, name in enumerate(chosen):
        red, green, blue = (colors or {}).get(name, PALETTE[index % len(PALETTE)])
        spans = []
        for word in result["words"]:
            text = html.escape(str(word["word"]))
            score = _check_score(word.get("scores", {}).get(name, 0.0), str(word["word"]))
            title = f' title="{html.escape(name)}: {score:.2f}"' if show_scores else ""
            spans.append(
                f'<span style="background-color: rgba({red}, {green}, {blue}, {score:.2f}); '
                f'padding: 0 2px; border-radius: 3px"{title}>{text}</span>'
            )
        label = html.escape(name)
        role = html.escape(_role(result, name))
        lines.append(
            f'  <p><b style="color: rgb({red}, {green}, {blue})">{label}</b>{role}: {" ".join(spans)}</p>'
        )
    lines.append("</div>")
    return "\n".join(lines) + "\n"


def render_html_page(
    results: Sequence[Mapping[str, Any]], title: str = "Word evidence", **kwargs: Any
) -> str:
    """A standalone HTML page with one block per result: a header line, then the shading of [`render_html`].

    The header reads `predicted: <labels>`, then ` | gold: <labels>` when the result has a `"gold"` key,
    then the sentence probabilities; the shaded lines are the predicted labels, then the gold labels not
    predicted, each named by its role.

    Args:
        results (`Sequence[Mapping[str, Any]]`):
            Results of `predict()`, each optionally with a `"gold"` label (`str` or list of `str`); a gold
            label is never mixed into the predicted `"labels"`.
        title (`str`, *optional*, defaults to `"Word evidence"`):
            The page title and heading.
        kwargs (`dict`, *optional*):
            Passed to [`render_html`].

    Returns:
        `str`: the HTML document.

    Example:

    ```python
    >>> from label_semantics.rendering import render_html_page
    >>> result = {"labels": ["joy"], "gold": "love", "words": [{"word": "hi", "scores": {"joy": 0.9, "love": 0.2}}]}
    >>> "predicted: joy | gold: love" in render_html_page([result])
    True
    ```
    """
    if isinstance(results, Mapping):
        results = [results]
    blocks = []
    for result in results:
        result = _check_result(result)
        probabilities = result.get("probabilities", {})
        summary = ", ".join(f"{html.escape(str(k))} {float(v):.2f}" for k, v in probabilities.items())
        blocks.append(
            f'<section style="margin-bottom: 1.2em"><div style="color: #666; font-size: 0.9em">'
            f"{html.escape(_header(result))}"
            f"{' | ' + summary if summary else ''}</div>\n{render_html(result, **kwargs)}</section>"
        )
    head = html.escape(title)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{head}</title></head>\n'
        f'<body style="font-family: sans-serif; line-height: 1.8; max-width: 60em">\n<h1>{head}</h1>\n'
        + "\n".join(blocks)
        + "\n</body></html>\n"
    )


def render_text(
    result: Mapping[str, Any],
    labels: str | Sequence[str] | None = None,
    *,
    threshold: float = 0.5,
    shades: bool = True,
) -> str:
    """Plain terminal rendering: one line per label, words at or above `threshold` in brackets with score.

    Args:
        result (`Mapping[str, Any]`):
            One result of `predict()`, optionally with a `"gold"` label (`str` or list of `str`); with one,
            the rendering starts with a `predicted: X | gold: Y` line and each label line names its role.
        labels (`str` or `Sequence[str]`, *optional*):
            The labels to show; defaults to the predicted labels, then the gold labels not predicted (or the
            first label when there are neither).
        threshold (`float`, *optional*, defaults to `0.5`):
            Words scoring at least this are bracketed; in [0, 1].
        shades (`bool`, *optional*, defaults to `True`):
            Add a second line of block characters (` ░▒▓█`) under each word, darker for higher scores.

    Returns:
        `str`: plain text, no colour codes, so it works in any terminal or log.

    Example:

    ```python
    >>> from label_semantics.rendering import render_text
    >>> print(render_text({"words": [{"word": "I", "scores": {"x": 0.1}}, {"word": "saws", "scores": {"x": 0.9}}]}, shades=False))
    x: I [saws 0.90]
    >>> print(render_text({"labels": ["x"], "gold": "y", "words": [{"word": "hi", "scores": {"x": 0.9, "y": 0.2}}]}, shades=False))
    predicted: x | gold: y
    x (predicted): [hi 0.90]
    y (gold): hi
    ```
    """
    if not 0.0 <= float(threshold) <= 1.0:
        raise RenderingError(f"`threshold` must lie in [0, 1], got {threshold!r}; e.g. threshold=0.5.")
    result = _check_result(result)
    lines = [_header(result)] if _gold_labels(result) is not None else []
    for name in _labels_to_show(result, labels):
        cells, bars = [], []
        for word in result["words"]:
            text = str(word["word"])
            score = _check_score(word.get("scores", {}).get(name, 0.0), text)
            cell = f"[{text} {score:.2f}]" if score >= threshold else text
            cells.append(cell)
            bars.append(SHADES[min(int(score * (len(SHADES) - 1) + 0.5), len(SHADES) - 1)] * len(cell))
        prefix = f"{name}{_role(result, name)}: "
        lines.append(prefix + " ".join(cells))
        if shades:
            lines.append(" " * len(prefix) + " ".join(bars))
    return "\n".join(lines)


__all__ = ["RenderingError", "render_html", "render_html_page", "render_text"]
