"""Tag schemes and the natural-language names of labels.

Two concerns that every other module leans on:

* **Tag schemes.** NER labels are tags such as ``"B-PER"``: a prefix that places the token inside an
  entity and the entity type. Four schemes are supported (`SCHEMES`): ``IO`` (``I-`` only), ``IOB1``
  (entities start with ``I-``; ``B-`` only separates two adjacent entities of the same type), ``IOB2``
  (every entity starts with ``B-``) and ``BIOES`` (``B-`` begin, ``I-`` inside, ``E-`` end, ``S-`` a
  one-token entity). ``BILOU`` is accepted everywhere as another name for ``BIOES`` (``L-`` = ``E-``,
  ``U-`` = ``S-``).
* **Verbalisation.** Label semantics (Ma et al., 2022) encodes each label as text: ``"B-PER"`` becomes
  ``"begin person"``, ``"O"`` becomes ``"other"``. `BUILTIN_DESCRIPTIONS` holds the type names in words of
  the usual benchmarks and `BUILTIN_DEFINITIONS` their definitions (``style="definitions"``: ``"begin person: a
  named person, real or fictional"``), both kept in `label_descriptions` with `describe_type` (re-exported
  here), which falls back to splitting the type name.

This module is pure Python and imports nothing from the package but `label_descriptions`: both are copied next
to checkpoints as remote code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence

from .label_descriptions import (  # noqa: F401 (describe_type and the tables are re-exported)
    BUILTIN_DEFINITIONS,
    BUILTIN_DESCRIPTIONS,
    _check_descriptions,
    check_description_style,
    describe_type,
)

logger = logging.getLogger(__name__)

SCHEMES = ("IO", "IOB1", "IOB2", "BIOES")
"""The canonical scheme names. ``"BILOU"`` is also accepted wherever a scheme is asked for."""

_SCHEME_ALIASES = {"BILOU": "BIOES"}
_PREFIXES = {"IO": {"I"}, "IOB1": {"B", "I"}, "IOB2": {"B", "I"}, "BIOES": {"B", "I", "E", "S"}}
# BILOU letters are read as their BIOES equivalents.
_CANONICAL_PREFIX = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S"}
_TAG_PATTERN = re.compile(r"([BIESLU])-(\S+)")
_TAG_HELP = 'a valid tag is "O" or a prefix B, I, E, S, L or U, a hyphen and the type, e.g. "B-PER"'
_PREFIX_WORDS = {"B": "begin", "I": "inside", "E": "end", "S": "single"}


class InvalidTagError(ValueError):
    """A tag string that is not ``"O"`` nor ``<prefix>-<type>``, or a prefix the scheme in use lacks."""


class SchemeError(ValueError):
    """An unknown scheme name, a tag sequence that is invalid in its scheme, or tags that mix schemes."""


def normalize_scheme(scheme: str) -> str:
    """Return the canonical name of a tag scheme.

    Args:
        scheme (`str`):
            A scheme name, case-insensitive: ``"IO"``, ``"IOB1"``, ``"IOB2"``, ``"BIOES"`` or ``"BILOU"``.

    Returns:
        `str`: one of `SCHEMES` (``"BILOU"`` gives ``"BIOES"``).

    Raises:
        `SchemeError`: the name is none of the above.
    """
    name = scheme.upper() if isinstance(scheme, str) else None  # a list or another object is no scheme name
    name = _SCHEME_ALIASES.get(name, name)
    if name not in SCHEMES:
        raise SchemeError(
            f"unknown tag scheme {scheme!r}; use one of {', '.join(SCHEMES)} or BILOU, "
            f'e.g. convert_scheme(tags, target="IOB2")'
        )
    return name


def _invalid_tag(tag: object, where: str = "") -> str:
    return f"invalid tag {tag!r}{where}: {_TAG_HELP}"


def split_tag(tag: str) -> tuple[str, str | None]:
    """Split a tag into its prefix and entity type.

    The prefix is returned as written, so BILOU tags keep ``"L"`` and ``"U"``; the type may itself hold
    hyphens (``"I-creative-work"``).

    Args:
        tag (`str`):
            ``"O"`` or ``<prefix>-<type>`` with a prefix among ``B I E S L U``.

    Returns:
        `tuple[str, str | None]`: ``("B", "PER")`` for ``"B-PER"``, ``("O", None)`` for ``"O"``.

    Raises:
        `InvalidTagError`: the tag is not of that form (``"X-PER"``, ``"B-"``, ``"PER"``, ``""``, ``"B_PER"``).

    Example:

    ```python
    >>> split_tag("I-creative-work")
    ('I', 'creative-work')
    ```
    """
    if tag == "O":
        return "O", None
    match = _TAG_PATTERN.fullmatch(tag) if isinstance(tag, str) else None
    if match is None:
        raise InvalidTagError(_invalid_tag(tag))
    return match.group(1), match.group(2)


def _parse(tag: str, scheme: str | None = None, where: str = "") -> tuple[str, str | None]:
    """`split_tag` with the prefix made canonical (L->E, U->S) and checked against ``scheme``."""
    try:
        prefix, entity_type = split_tag(tag)
    except InvalidTagError:
        raise InvalidTagError(_invalid_tag(tag, where)) from None
    prefix = _CANONICAL_PREFIX.get(prefix, prefix)
    if scheme is not None and prefix != "O" and prefix not in _PREFIXES[scheme]:
        allowed = ", ".join(f"{p}-" for p in sorted(_PREFIXES[scheme]))
        raise InvalidTagError(
            f"tag {tag!r}{where} does not exist in the {scheme} scheme, whose tags are O and {allowed}; "
            f"pass the scheme the tags are written in, e.g. source={_scheme_of_prefix(prefix)!r}"
        )
    return prefix, entity_type


def _scheme_of_prefix(prefix: str) -> str:
    return "BIOES" if prefix in ("E", "S") else "IOB2"


def is_valid_transition(previous: str | None, tag: str | None, scheme: str) -> bool:
    """Whether ``tag`` may follow ``previous`` in a sentence written in ``scheme``.

    ``None`` stands for the sentence boundary: ``is_valid_transition(None, tag, s)`` asks whether a
    sentence may start with ``tag`` and ``is_valid_transition(tag, None, s)`` whether it may end with it.

    Args:
        previous (`str` or `None`):
            The tag before, or `None` at the start of the sentence.
        tag (`str` or `None`):
            The tag after, or `None` at the end of the sentence.
        scheme (`str`):
            One of `SCHEMES` or ``"BILOU"``.

    Returns:
        `bool`: ``IO`` allows everything; ``IOB2`` allows ``I-X`` only after ``B-X`` or ``I-X``; ``IOB1``
        allows ``B-X`` only after ``B-X`` or ``I-X``; ``BIOES`` requires ``B-X``/``I-X`` to be followed
        by ``I-X``/``E-X`` and ``I-X``/``E-X`` to follow ``B-X``/``I-X``.

    Raises:
        `InvalidTagError`: a tag is malformed or its prefix does not exist in ``scheme``.
    """
    scheme = normalize_scheme(scheme)
    prev_prefix, prev_type = ("O", None) if previous is None else _parse(previous, scheme)
    prefix, entity_type = ("O", None) if tag is None else _parse(tag, scheme)
    continues = prev_type is not None and prev_type == entity_type
    if scheme == "IOB2":
        return prefix != "I" or continues
    if scheme == "IOB1":
        return prefix != "B" or continues
    if scheme == "BIOES":
        if prev_prefix in ("B", "I"):
            return prefix in ("I", "E") and continues
        return prefix not in ("I", "E")
    return True


_FIX = {
    "IOB2": 'if entities may start with I-, the tags are IOB1: pass source="IOB1"',
    "IOB1": 'B-X only follows another X in IOB1; if every entity starts with B-, pass source="IOB2"',
    "BIOES": "in BIOES an entity is B-X I-X ... E-X, or S-X for one token",
    "IO": "",
}


def _check_sequence(tags: Sequence[str], scheme: str, where: str = "") -> None:
    """Raise `SchemeError` at the first position where ``tags`` is not a valid ``scheme`` sequence."""
    previous = None
    for position, tag in enumerate([*tags, None]):
        if tag is not None:
            _parse(tag, scheme, f" at position {position}{where}")
        if not is_valid_transition(previous, tag, scheme):
            if tag is None:
                problem = f"the sentence ends with {previous!r}, which leaves an entity open"
                position -= 1
            else:
                after = "the start of the sentence" if previous is None else repr(previous)
                problem = f"{tag!r} cannot follow {after}"
            raise SchemeError(
                f"invalid {scheme} sequence at position {position}{where}: {problem}; {_FIX[scheme]}"
            )
        previous = tag


def is_valid_sequence(tags: Sequence[str], scheme: str) -> bool:
    """Whether ``tags`` is a well-formed sentence in ``scheme``.

    Args:
        tags (`Sequence[str]`):
            The tags of one sentence.
        scheme (`str`):
            One of `SCHEMES` or ``"BILOU"``.

    Returns:
        `bool`: `False` when a tag's prefix is foreign to the scheme or a transition is not allowed
        (see `is_valid_transition`).

    Raises:
        `InvalidTagError`: a tag is malformed (``"B_PER"``).
    """
    scheme = normalize_scheme(scheme)
    for tag in tags:
        split_tag(tag)
    try:
        _check_sequence(tags, scheme)
    except (SchemeError, InvalidTagError):
        return False
    return True


def _sentences(tag_sequences: Iterable[Sequence[str]]) -> list[Sequence[str]]:
    sentences = list(tag_sequences)
    if any(isinstance(sentence, str) for sentence in sentences):
        raise SchemeError(
            f"detect_scheme takes a list of sentences, each a list of tags, got a flat list of strings "
            f"{sentences[:4]!r}...; wrap one sentence in a list: detect_scheme([tags])"
        )
    return sentences


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """Find the tag scheme a corpus is written in.

    Rules: any ``E-``/``S-``/``L-``/``U-`` tag means ``BIOES`` (and every sentence must then be valid
    BIOES); otherwise, with ``B-`` tags, ``IOB2`` when every entity starts with ``B-`` and ``IOB1`` when
    some entity starts with ``I-`` while ``B-`` only separates adjacent entities of one type; with only
    ``I-`` and ``O`` tags, ``IO``. Sentences holding only ``O`` say nothing; a corpus with no entity at
    all is reported as ``IOB2``.

    Args:
        tag_sequences (`Iterable[Sequence[str]]`):
            Sentences, each a sequence of tags: ``[["B-PER", "I-PER", "O"], ["O", "B-LOC"]]``.

    Returns:
        `str`: one of `SCHEMES` (BILOU data is reported as ``"BIOES"``).

    Raises:
        `InvalidTagError`: a tag is malformed.
        `SchemeError`: the tags mix incompatible schemes, e.g. an entity starting with ``I-`` and another
        starting with ``B-`` after ``O``, or ``E-`` tags together with ``L-`` tags.

    Example:

    ```python
    >>> detect_scheme([["I-PER", "B-PER", "O"], ["I-LOC"]])
    'IOB1'
    ```
    """
    sentences = _sentences(tag_sequences)
    first_seen: dict[str, tuple[int, int, str]] = {}  # evidence -> (sentence, position, tag)
    for index, sentence in enumerate(sentences):
        previous_type = None
        for position, tag in enumerate(sentence):
            raw_prefix, entity_type = split_tag_at(tag, position, index)
            if raw_prefix in "ES":
                evidence = "bioes"
            elif raw_prefix in "LU":
                evidence = "bilou"
            elif raw_prefix == "B":
                evidence = "b_adjacent" if entity_type == previous_type else "b_start"
            elif raw_prefix == "I":
                evidence = "i_inside" if entity_type == previous_type else "i_start"
            else:
                evidence = "o"
            first_seen.setdefault(evidence, (index, position, tag))
            previous_type = entity_type

    def at(evidence: str) -> str:
        index, position, tag = first_seen[evidence]
        return f"{tag!r} (sentence {index}, position {position})"

    if "bioes" in first_seen and "bilou" in first_seen:
        raise SchemeError(
            f"the tags mix BIOES letters, e.g. {at('bioes')}, with BILOU letters, e.g. {at('bilou')}; "
            f"rewrite them with one set, e.g. E- for L- and S- for U-"
        )
    if "bioes" in first_seen or "bilou" in first_seen:
        for index, sentence in enumerate(sentences):
            try:
                _check_sequence(sentence, "BIOES", f" of sentence {index}")
            except (SchemeError, InvalidTagError) as error:
                evidence = at("bioes" if "bioes" in first_seen else "bilou")
                raise SchemeError(
                    f"the tags look like BIOES because of {evidence}, but they mix schemes: {error}"
                ) from None
        return "BIOES"
    if "i_start" in first_seen and "b_start" in first_seen:
        raise SchemeError(
            f"the tags mix IOB1 and IOB2: an entity starts with I- at {at('i_start')} and another with "
            f"B- at {at('b_start')}; rewrite one sentence, e.g. convert_scheme(tags, target='IOB2', "
            f"source='IOB1')"
        )
    if "i_start" in first_seen:
        return "IOB1" if "b_adjacent" in first_seen else "IO"
    if "b_start" not in first_seen:
        logger.debug("detect_scheme: no entity in %d sentences, reporting IOB2", len(sentences))
    return "IOB2"


def split_tag_at(tag: str, position: int, sentence: int | None = None) -> tuple[str, str | None]:
    """`split_tag` whose error also names where the tag was found.

    Args:
        tag (`str`):
            The tag to split.
        position (`int`):
            Its index in the sentence.
        sentence (`int`, *optional*):
            The index of the sentence in a corpus.

    Returns:
        `tuple[str, str | None]`: as `split_tag`.
    """
    try:
        return split_tag(tag)
    except InvalidTagError:
        where = f" at position {position}" + ("" if sentence is None else f" of sentence {sentence}")
        raise InvalidTagError(_invalid_tag(tag, where)) from None


def tags_to_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Read the entities of one sentence, whatever its scheme.

    The reading is lenient the way seqeval's default mode is: an entity starts at ``B-``/``S-``, at an
    ``I-``/``E-`` whose type differs from the previous token's, or right after ``O``/``E-``/``S-``; it
    ends after ``E-``/``S-``, before ``O`` and before any other start. A stray ``I-PER`` in IOB2 data
    thus opens an entity instead of being dropped.

    Args:
        tags (`Sequence[str]`):
            The tags of one sentence, in any scheme (BILOU letters included).

    Returns:
        `list[tuple[str, int, int]]`: ``(type, first_token, last_token + 1)`` for each entity, in order.

    Raises:
        `InvalidTagError`: a tag is malformed.

    Example:

    ```python
    >>> tags_to_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5)]
    ```
    """
    spans: list[tuple[str, int, int]] = []
    start, current, closed = None, None, True
    for position, tag in enumerate(tags):
        raw_prefix, entity_type = split_tag_at(tag, position)
        prefix = _CANONICAL_PREFIX.get(raw_prefix, raw_prefix)
        starts = prefix in ("B", "S") or (prefix in ("I", "E") and (closed or entity_type != current))
        if current is not None and (prefix == "O" or starts):
            spans.append((current, start, position))
            current = None
        if starts:
            start, current = position, entity_type
        closed = prefix in ("O", "E", "S")
        if prefix in ("E", "S"):
            spans.append((current, start, position + 1))
            current = None
    if current is not None:
        spans.append((current, start, len(tags)))
    return spans


def spans_to_tags(spans: Iterable[tuple[str, int, int]], length: int, scheme: str = "IOB2") -> list[str]:
    """Write entities as the tags of one sentence.

    Args:
        spans (`Iterable[tuple[str, int, int]]`):
            ``(type, first_token, last_token + 1)`` entities that do not overlap, as `tags_to_spans` gives.
        length (`int`):
            The number of tokens in the sentence.
        scheme (`str`, *optional*, defaults to `"IOB2"`):
            The target scheme; ``"BILOU"`` writes ``L-``/``U-`` where ``"BIOES"`` writes ``E-``/``S-``.
            ``"IO"`` merges adjacent entities of one type, as that scheme cannot tell them apart.

    Returns:
        `list[str]`: ``length`` tags.

    Raises:
        `ValueError`: a span is empty, outside the sentence or overlaps another.
    """
    bilou = isinstance(scheme, str) and scheme.upper() == "BILOU"
    scheme = normalize_scheme(scheme)
    tags = ["O"] * length
    previous_end, previous_type = 0, None
    for entity_type, start, end in sorted(spans, key=lambda span: span[1]):
        if not 0 <= start < end <= length or start < previous_end:
            raise ValueError(
                f"span {(entity_type, start, end)!r} is empty, outside a sentence of {length} tokens or "
                f"overlaps the previous one; spans are (type, first, last + 1), e.g. ('PER', 0, 2)"
            )
        if scheme == "BIOES":
            single, last = ("U", "L") if bilou else ("S", "E")
            inner = ["B"] + ["I"] * (end - start - 2) + [last] if end - start > 1 else [single]
        elif scheme == "IOB2":
            inner = ["B"] + ["I"] * (end - start - 1)
        else:
            adjacent = scheme == "IOB1" and start == previous_end and previous_type == entity_type
            inner = ["B" if adjacent else "I"] + ["I"] * (end - start - 1)
        tags[start:end] = [f"{prefix}-{entity_type}" for prefix in inner]
        previous_end, previous_type = end, entity_type
    return tags


def convert_scheme(tags: Sequence[str], target: str, source: str | None = None) -> list[str]:
    """Rewrite the tags of one sentence in another scheme.

    Converting to ``IO`` merges adjacent entities of one type (that scheme has no ``B-``); every other
    conversion keeps the entities exactly.

    Args:
        tags (`Sequence[str]`):
            The tags of one sentence.
        target (`str`):
            The scheme to write: one of `SCHEMES` or ``"BILOU"`` (which writes ``L-``/``U-``).
        source (`str`, *optional*):
            The scheme ``tags`` are written in; detected from this sentence alone when omitted (pass it
            when you know it, since one sentence may not be enough to tell IO from IOB1).

    Returns:
        `list[str]`: the converted tags, as many as ``tags``.

    Raises:
        `InvalidTagError`: a tag is malformed or foreign to ``source``, naming its position.
        `SchemeError`: the sequence is invalid in ``source``, naming the position.

    Example:

    ```python
    >>> convert_scheme(["B-PER", "I-PER", "O", "B-LOC"], "BIOES")
    ['B-PER', 'E-PER', 'O', 'S-LOC']
    ```
    """
    if isinstance(tags, str):
        raise SchemeError(f"convert_scheme takes the list of tags of one sentence, got the string {tags!r}")
    normalize_scheme(target)
    source = detect_scheme([tags]) if source is None else normalize_scheme(source)
    _check_sequence(tags, source)
    return spans_to_tags(tags_to_spans(tags), len(tags), target)


def entity_types(labels: Iterable[str]) -> list[str]:
    """The entity types named by some labels, in order of first appearance.

    Args:
        labels (`Iterable[str]`):
            Tags in any scheme, e.g. a label list or the tags of a corpus flattened.

    Returns:
        `list[str]`: each type once: ``["O", "B-PER", "I-PER", "B-LOC"]`` gives ``["PER", "LOC"]``.

    Raises:
        `InvalidTagError`: a label is malformed.
    """
    if isinstance(labels, str):
        raise InvalidTagError(f"entity_types takes a list of labels, got the string {labels!r}")
    types = (split_tag(label)[1] for label in labels)
    return list(dict.fromkeys(t for t in types if t is not None))


def labels_from_types(types: Sequence[str], scheme: str = "IOB2") -> list[str]:
    """The full label list of a scheme for some entity types, ``"O"`` first.

    Args:
        types (`Sequence[str]`):
            Entity types, e.g. ``["PER", "LOC"]``.
        scheme (`str`, *optional*, defaults to `"IOB2"`):
            One of `SCHEMES` or ``"BILOU"``. Per type the labels come as ``B I`` (IOB1, IOB2),
            ``I`` (IO), ``B I E S`` (BIOES) or ``B I L U`` (BILOU).

    Returns:
        `list[str]`: ``["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]`` for the example above.

    Raises:
        `ValueError`: a type is empty, holds whitespace, repeats, or looks like a tag (pass
        ``entity_types(labels)`` to turn labels into types).
    """
    bilou = isinstance(scheme, str) and scheme.upper() == "BILOU"
    scheme = normalize_scheme(scheme)
    prefixes = {"IO": "I", "IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}[scheme]
    if bilou:
        prefixes = "BILU"
    if isinstance(types, str):
        raise ValueError(f'labels_from_types takes a list of types, got the string {types!r}; e.g. ["PER"]')
    labels = ["O"]
    for entity_type in types:
        if not isinstance(entity_type, str) or not re.fullmatch(r"\S+", entity_type):
            raise ValueError(
                f'entity type {entity_type!r} must be a non-empty string without spaces, e.g. "PER"'
            )
        if entity_type == "O" or _TAG_PATTERN.fullmatch(entity_type):
            raise ValueError(
                f"{entity_type!r} looks like a tag, not an entity type; turn labels into types first: "
                f"labels_from_types(entity_types(labels), scheme={scheme!r})"
            )
        if f"{prefixes[0]}-{entity_type}" in labels:
            raise ValueError(f"entity type {entity_type!r} is given twice in {list(types)!r}; list each once")
        labels += [f"{prefix}-{entity_type}" for prefix in prefixes]
    return labels


def verbalize(
    labels: Sequence[str],
    descriptions: Mapping[str, str] | None = None,
    outside: str = "other",
    style: str = "names",
) -> list[str]:
    """Turn labels into the texts the label encoder reads.

    ``"B-PER"`` gives ``"begin person"``: the prefix word (``begin``, ``inside``, ``end`` for ``E-``/``L-``,
    ``single`` for ``S-``/``U-``) and the type's description (`describe_type`). A description keyed by
    the full tag is used as the whole text of that label and wins over one keyed by its type.

    Args:
        labels (`Sequence[str]`):
            Tags in any scheme, e.g. ``["O", "B-PER", "I-PER"]``.
        descriptions (`Mapping[str, str]`, *optional*):
            Texts keyed by type (``{"PER": "person name"}``) or by full tag (``{"B-PER": "first name"}``,
            also ``{"O": "nothing"}``).
        outside (`str`, *optional*, defaults to `"other"`):
            The text of ``"O"``.
        style (`str`, *optional*, defaults to `"names"`):
            The built-in descriptions to use, `"names"` or `"definitions"` (see `describe_type`).

    Returns:
        `list[str]`: one text per label.

    Raises:
        `InvalidTagError`: a label is malformed.
        `ValueError`: a description or ``outside`` is empty, or ``style`` is unknown.

    Example:

    ```python
    >>> verbalize(["O", "B-PER", "I-GPE"], descriptions={"I-GPE": "inside a country or city"})
    ['other', 'begin person', 'inside a country or city']
    >>> verbalize(["O", "B-PER"], style="definitions")
    ['other', 'begin person: a named person, real or fictional']
    ```
    """
    check_description_style(style)
    descriptions = _check_descriptions(descriptions)
    if not isinstance(outside, str) or not outside.strip():
        raise ValueError(
            f'outside={outside!r} must be a non-empty text, e.g. verbalize(labels, outside="other")'
        )
    if isinstance(labels, str):
        raise InvalidTagError(
            f'verbalize takes a list of labels, got the string {labels!r}; e.g. ["O", "B-PER"]'
        )
    texts = []
    for position, label in enumerate(labels):
        prefix, entity_type = split_tag_at(label, position)
        if label in descriptions:
            texts.append(descriptions[label].strip())
        elif entity_type is None:
            texts.append(outside.strip())
        else:
            word = _PREFIX_WORDS[_CANONICAL_PREFIX[prefix]]
            texts.append(f"{word} {describe_type(entity_type, descriptions, style)}")
    return texts
