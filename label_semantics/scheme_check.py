"""One tag scheme per data set: detect it, or check the one the caller names, and say where a mix is seen.

`load_ner_dataset` and `read_column_file` run these checks over all the sentences they read, so a ``B-``
entity in an otherwise IO file, or an ``S-`` tag in IOB2 data, is an error naming the file and line (or the
split and row) where each scheme shows, instead of a model trained on half-read entities. The decision is
`verbalizer.detect_scheme`'s; this module only finds the places to name.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Sequence

import datasets

from .verbalizer import (
    InvalidTagError,
    SchemeError,
    detect_scheme,
    is_valid_transition,
    normalize_scheme,
    spans_to_tags,
    split_tag,
    tags_to_spans,
)

logger = logging.getLogger(__name__)


class MixedSchemeError(SchemeError):
    """Tags of one data set written in two tag schemes (``B-`` entities in IO data, ``S-`` tags in IOB2
    data, ...), or a tag foreign to the scheme the caller named. The message names where each scheme is
    seen: file and line for column files, split and row for datasets."""


_KINDS = {
    "bioes": ("BIOES", "is a BIOES tag (E-/S-)"),
    "bilou": ("BILOU", "is a BILOU tag (L-/U-)"),
    "b_start": ("IOB2", "starts an entity with B-, as IOB2 does"),
    "i_start": ("IO or IOB1", "starts an entity with I-, as IO and IOB1 do"),
}


def _kinds(tags: Sequence[str]) -> list[tuple[int, str]]:
    """The positions of ``tags`` that show a scheme, with the evidence (the rules of `detect_scheme`)."""
    found, previous_type = [], None
    for position, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        if prefix in "ES":
            found.append((position, "bioes"))
        elif prefix in "LU":
            found.append((position, "bilou"))
        elif prefix in "BI" and entity_type != previous_type:
            found.append((position, "b_start" if prefix == "B" else "i_start"))
        previous_type = entity_type
    return found


def _first_invalid(tags: Sequence[str], scheme: str) -> tuple[int, str] | None:
    """The first position where ``tags`` break ``scheme``, with what is wrong there; `None` when valid."""
    previous = None
    for position, tag in enumerate([*tags, None]):
        try:
            valid = is_valid_transition(previous, tag, scheme)
        except InvalidTagError:
            return position, f"does not exist in {scheme}"
        if not valid:
            if tag is None:
                return position - 1, f"ends the sentence inside an entity, which {scheme} does not allow"
            return (
                position,
                f"cannot follow {previous!r} in {scheme}" if previous else f"cannot start a {scheme} entity",
            )
        previous = tag
    return None


def _mix_message(sentences: Sequence[Sequence[str]], bad: int, locate: Callable[[int, int], str]) -> str:
    """Name two places of ``sentences[: bad + 1]`` that show two schemes (``sentences[:bad]`` show one)."""
    first: dict[str, tuple[int, int]] = {}
    for index in range(bad + 1):
        for position, kind in _kinds(sentences[index]):
            first.setdefault(kind, (index, position))

    def show(where: tuple[int, int], text: str) -> str:
        index, position = where
        return f"{locate(index, position)}: {sentences[index][position]!r} {text}"

    letters = "bioes" if "bioes" in first else "bilou" if "bilou" in first else None
    if "bioes" in first and "bilou" in first:
        one, two, schemes = first["bioes"], first["bilou"], "BIOES and BILOU letters"
        shown = [show(one, _KINDS["bioes"][1]), show(two, _KINDS["bilou"][1])]
    elif letters is not None:
        invalid = None
        for index in range(bad + 1):
            broken = _first_invalid(sentences[index], "BIOES")
            if broken is not None:
                invalid = (index, broken)
                break
        if invalid is None:
            return f"{locate(bad, 0)}: the tags of this sentence and the ones before mix tag schemes"
        index, (position, problem) = invalid
        try:
            other = detect_scheme([sentences[index]])
        except SchemeError:
            other = "another scheme"
        schemes = f"BIOES and {other}"
        shown = [show(first[letters], _KINDS[letters][1]), show((index, position), problem)]
    elif "i_start" in first and "b_start" in first:
        schemes = "IO/IOB1 and IOB2"
        shown = [show(first["i_start"], _KINDS["i_start"][1]), show(first["b_start"], _KINDS["b_start"][1])]
    else:
        return f"{locate(bad, 0)}: the tags of this sentence and the ones before mix tag schemes"
    return f"the tags mix {schemes}: " + "; ".join(shown)


def check_scheme(
    sentences: Sequence[Sequence[str]],
    locate: Callable[[int, int], str],
    tag_scheme: str | None,
    source: str,
) -> tuple[str, dict[int, list[str]]]:
    """The scheme of ``sentences`` and the sentences to rewrite.

    Without ``tag_scheme`` the scheme is detected and a mix raises `MixedSchemeError` naming two places
    (``locate(sentence, position)``) that show the two schemes; nothing is rewritten. With ``tag_scheme``,
    a tag foreign to it raises `MixedSchemeError`, and each sentence the scheme does not allow (an IOB2
    entity starting with ``I-``) is read leniently (`verbalizer.tags_to_spans`) and rewritten as valid tags
    of the scheme, with a warning that counts them and names the first: sentence index -> new tags.
    """
    fix = (
        f"Write the tags in one scheme, or name the scheme the data are written in: "
        f"load_ner_dataset({source}, tag_scheme='IOB2') (label-semantics: --tag-scheme IOB2); a tag foreign to "
        f"the named scheme is still an error, and a sentence it does not allow is read leniently, with a warning."
    )
    if tag_scheme is None:
        try:
            return detect_scheme(sentences), {}
        except SchemeError:
            pass
        # the first sentence after which the tags mix schemes: detect_scheme fails on every longer prefix
        low, high = 0, len(sentences) - 1
        while low < high:
            middle = (low + high) // 2
            try:
                detect_scheme(sentences[: middle + 1])
            except SchemeError:
                high = middle
            else:
                low = middle + 1
        raise MixedSchemeError(f"{_mix_message(sentences, low, locate)}. {fix}")

    scheme = normalize_scheme(tag_scheme)
    letters = "BILOU" if tag_scheme.upper() == "BILOU" else scheme
    repairs, example = {}, None
    for index, tags in enumerate(sentences):
        invalid = _first_invalid(tags, scheme)
        if invalid is None:
            continue
        position, problem = invalid
        if problem.startswith("does not exist"):
            try:
                guess = f", e.g. tag_scheme={detect_scheme(sentences)!r}"
            except SchemeError:
                guess = ""
            raise MixedSchemeError(
                f"{locate(index, position)}: {tags[position]!r} does not exist in the {scheme} scheme named by "
                f"tag_scheme={tag_scheme!r}; name the scheme the data are written in{guess}"
            )
        repairs[index] = spans_to_tags(tags_to_spans(tags), len(tags), letters)
        example = example or f"{locate(index, position)}: {tags[position]!r} {problem}"
    if repairs:
        logger.warning(
            "%s: %d sentence(s) are not valid %s (first %s); they are read leniently (an entity starts at B- or "
            "S-, at an I- after O or another type, and ends before O) and rewritten as valid %s tags",
            source,
            len(repairs),
            scheme,
            example,
            letters,
        )
    return scheme, repairs


class Places:
    """Where sentence ``i`` of several concatenated parts comes from: a file's lines or a split's rows."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.parts: list[tuple[str, list[list[int]] | None]] = []
        self.total = 0

    def add(self, name: str, count: int, lines: list[list[int]] | None = None) -> None:
        self.starts.append(self.total)
        self.parts.append((name, lines))
        self.total += count

    def __call__(self, index: int, position: int) -> str:
        part = bisect.bisect_right(self.starts, index) - 1
        name, lines = self.parts[part]
        row = index - self.starts[part]
        if lines is not None:
            return f"{name}:{lines[row][position]}"
        return f"split {name!r}, row {row}, position {position}"


def check_tag_scheme(
    dataset: datasets.Dataset | datasets.DatasetDict, *, tag_scheme: str | None = None
) -> tuple[str, datasets.Dataset | datasets.DatasetDict]:
    """Check that the tags of every split together follow one tag scheme.

    Args:
        dataset (`datasets.Dataset` or `datasets.DatasetDict`):
            Rows with ``ner_tags`` (lists of str tags), e.g. from `load_ner_dataset` (which runs this check).
        tag_scheme (`str`, *optional*):
            The scheme the tags are written in (``"IO"``, ``"IOB1"``, ``"IOB2"``, ``"BIOES"``/``"BILOU"``);
            detected when omitted. A named scheme is not guessed again: its tags must exist in it (``S-`` is
            not IOB2), and a sentence it does not allow (an IOB2 entity that starts with ``I-``) is read
            leniently and rewritten as valid tags of the scheme, with a warning.

    Returns:
        `tuple[str, datasets.Dataset | datasets.DatasetDict]`: the scheme (one of `verbalizer.SCHEMES`) and
        the data set, the very object given unless sentences were rewritten.

    Raises:
        `MixedSchemeError`: the tags mix schemes (the split, row and position where each shows are named),
        or a tag does not exist in ``tag_scheme``.

    Example:

    ```python
    >>> scheme, ds = check_tag_scheme(datasets.Dataset.from_dict({"tokens": [["Ann"]], "ner_tags": [["S-PER"]]}))
    >>> scheme
    'BIOES'
    ```
    """
    parts = dataset if isinstance(dataset, datasets.DatasetDict) else {"train": dataset}
    places, sentences = Places(), []
    for name, part in parts.items():
        tags = part["ner_tags"]
        places.add(name, len(tags))
        sentences.extend(tags)
    scheme, repairs = check_scheme(sentences, places, tag_scheme, "dataset")
    if not repairs:
        return scheme, dataset

    def rewrite(batch: dict[str, list], indices: list[int], offset: int) -> dict[str, list]:
        return {"ner_tags": [repairs.get(offset + i, tags) for i, tags in zip(indices, batch["ner_tags"])]}

    fixed = {
        name: part.map(
            rewrite, batched=True, with_indices=True, fn_kwargs={"offset": start}, desc="Rewriting tags"
        )
        for (name, part), start in zip(parts.items(), places.starts)
    }
    return scheme, datasets.DatasetDict(fixed) if isinstance(dataset, datasets.DatasetDict) else fixed[
        "train"
    ]
