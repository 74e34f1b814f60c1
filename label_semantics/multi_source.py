"""Multi-source pre-finetuning: one dual-tower model learns from several data sets whose label sets differ.

Nothing in the dual tower depends on the label set, so CoNLL-2003 (PER, LOC, ORG, MISC), WNUT-17 (person,
corporation, ...) and MIT Movie (ACTOR, GENRE, ...) can train one model at once. Each sentence must be scored
against the labels of its own data set only: a WNUT-17 sentence has no gold MISC, and scoring it against MISC would
teach the model that nothing in it is miscellaneous.

Design: the union of the label sets with a per-sentence mask. The model's labels are the union of every source's
types (in the model's tag scheme); each training row carries `allowed_tags`, a 0/1 row over those labels that
allows its own source's labels only, and the model's `forward` gives the masked labels the lowest logit (see
`modeling_label_semantics.mask_logits`), so they take no part in the softmax nor in the CRF. This design was chosen
over per-batch label sets (batches of one source each, with their own `description_input_ids`) because:

- it works with the stock `Trainer` as it is: rows of every source are shuffled together by the Trainer's own
  sampler and any batch mixes them; homogeneous batches would need a custom sampler, which the stock `Trainer`
  takes only by subclassing;
- it works with the CRF: the CRF's tag structure is built from the model's labels, which stay the union, and a
  masked label's emission is clamped to a finite floor by `CollapsedCRF` (no path goes through it, no NaN);
- `allowed_tags` avoids the word "label", so `Trainer` keeps it as a model input, not a label column.

The price is one label-tower pass over the whole union per step (a few dozen short descriptions).

Rules for merging label sets (no overlap is merged silently):

1. Schemes. Each source's tag scheme is the one given (`Source.scheme`) or detected from its tags; every source is
   converted to the model's scheme before the label sets are merged, so `B-PER` of an IOB2 source and `S-PER` of
   a BIOES source are one type PER. Sources written in different schemes are named in a warning.
2. Types are matched by their description, the text the label tower reads (`verbalizer.describe_type`, with the
   source's own `descriptions`), compared case-insensitively with runs of whitespace collapsed. Two type names with
   one description (`PER` in CoNLL-2003 and `person` in WNUT-17, both "person") are one type: the name of the
   source listed first is kept, and a warning names both sources, both names and the description. To keep them
   apart, give one a description of its own (`Source(..., descriptions={"person": "person name"})`).
3. One type name with two descriptions in two sources is an error naming both sources: a label has one
   description. Give both the same description, or rename the type in one source (`Source(..., rename=...)`).
4. A source with no sentence or no entity is an error naming it.

Example:

```python
>>> from label_semantics.multi_source import Source, combine_sources
>>> combined = combine_sources([Source("conll2003", conll["train"]), Source("wnut17", wnut["train"])])
>>> combined.labels[:5], combined.sources
(['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'], ['conll2003', 'wnut17'])
>>> finetune(model, sources=combined, output_dir="runs/multi")  # label_semantics.training
```
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import torch

from .alignment import NERDataCollator, align_dataset
from .verbalizer import (
    convert_scheme,
    describe_type,
    detect_scheme,
    entity_types,
    labels_from_types,
    normalize_scheme,
    split_tag,
)

logger = logging.getLogger(__name__)

ALLOWED_TAGS = "allowed_tags"
"""The column (and `forward` argument) holding each row's 0/1 mask over the model's labels."""

__all__ = [
    "ALLOWED_TAGS",
    "CombinedSources",
    "MultiSourceCollator",
    "MultiSourceError",
    "Source",
    "combine_sources",
    "encode_sources",
    "mix_replay",
]


class MultiSourceError(ValueError):
    """Sources that cannot be combined: an empty source, a type with two descriptions, a bad argument."""


@dataclass
class Source:
    r"""
    One training data set of a multi-source model.

    Args:
        name (`str`): what errors and logs call it, e.g. its file or folder.
        dataset (`datasets.Dataset` or `Sequence[dict]`): rows with `tokens` and `ner_tags` (str tags).
        scheme (`str`, *optional*): the tag scheme of `dataset`; detected from its tags when not given.
        descriptions (`Mapping[str, str]`, *optional*): descriptions of this source's types, keyed by type; they
            override the built-in ones and the ones given to `combine_sources`.
        rename (`Mapping[str, str]`, *optional*): new names for some of this source's types, applied first, e.g.
            `{"Location": "restaurant_location"}`.
    """

    name: str
    dataset: Any
    scheme: str | None = None
    descriptions: Mapping[str, str] | None = None
    rename: Mapping[str, str] | None = None


@dataclass
class CombinedSources:
    r"""
    Several sources merged into one label set, as `combine_sources` returns them.

    Attributes:
        labels (`list[str]`): the union of the sources' labels in the model's scheme, `"O"` first.
        descriptions (`dict[str, str]`): the descriptions the user gave (`Source.descriptions`, `descriptions=`),
            for `model.set_labels`; the other types are described by the model's own `description_style` (types
            are still matched by their names' descriptions, rule 2).
        scheme (`str`): the scheme of `labels` and of every row's tags.
        sources (`list[str]`): the sources' names, in the order given.
        datasets (`list[datasets.Dataset]`): per source, its rows (`tokens`, `ner_tags` in `scheme`, merged names).
        allowed (`list[list[int]]`): per source, its 0/1 mask over `labels`.
        merged (`dict[tuple[str, str], str]`): `(source, type)` -> the name it was merged into (rule 2).
    """

    labels: list[str]
    descriptions: dict[str, str]
    scheme: str
    sources: list[str]
    datasets: list[Any]
    allowed: list[list[int]]
    merged: dict[tuple[str, str], str] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def _as_sources(sources) -> list[Source]:
    if isinstance(sources, Mapping):
        sources = [Source(str(name), data) for name, data in sources.items()]
    if isinstance(sources, (str, Source)) or not isinstance(sources, Sequence):
        raise MultiSourceError(
            f"sources must be a list of Source objects or a mapping of name -> data set, got "
            f"{type(sources).__name__}; e.g. combine_sources([Source('conll', conll), Source('wnut', wnut)])"
        )
    sources = list(sources)
    for source in sources:
        if not isinstance(source, Source):
            raise MultiSourceError(
                f"sources holds a {type(source).__name__}; wrap each data set as Source(name, dataset)"
            )
    if not sources:
        raise MultiSourceError("No sources given; pass at least one, e.g. [Source('conll', conll['train'])]")
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MultiSourceError(f"the sources {twice} are given more than once; list each data set once")
    return sources


def _rows(dataset) -> tuple[list[list[str]], list[list[str]]]:
    if hasattr(dataset, "column_names"):
        return [list(t) for t in dataset["tokens"]], [list(t) for t in dataset["ner_tags"]]
    return [list(r["tokens"]) for r in dataset], [list(r["ner_tags"]) for r in dataset]


def _rename(tags: list[str], names: Mapping[str, str]) -> list[str]:
    out = []
    for tag in tags:
        prefix, entity_type = split_tag(tag)
        out.append(tag if entity_type is None else f"{prefix}-{names.get(entity_type, entity_type)}")
    return out


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def combine_sources(
    sources: Sequence[Source] | Mapping[str, Any],
    *,
    scheme: str = "IOB2",
    descriptions: Mapping[str, str] | None = None,
) -> CombinedSources:
    r"""
    Merge the label sets of several sources by the rules of this module's docstring, and give each source its mask.

    Args:
        sources (`Sequence[Source]` or `Mapping[str, datasets.Dataset]`): the data sets, in order of precedence
            (a merged type keeps the name of the first source that has it).
        scheme (`str`, *optional*, defaults to `"IOB2"`): the model's tag scheme (`model.config.tag_scheme`);
            every source is converted to it.
        descriptions (`Mapping[str, str]`, *optional*): descriptions keyed by type, for every source (a
            `Source.descriptions` entry wins).

    Returns:
        [`CombinedSources`].

    Raises:
        `MultiSourceError`: a source is empty or tags no entity, or one type has two descriptions.
        `SchemeError` / `InvalidTagError`: a source's tags are not valid in its scheme.
    """
    sources = _as_sources(sources)
    scheme = normalize_scheme(scheme)
    by_key: dict[str, tuple[str, str, str]] = {}  # description key -> (type, source, description)
    by_name: dict[str, tuple[str, str]] = {}  # type -> (source, description)
    rows, kinds, allowed_types, merged, given = [], {}, [], {}, {}
    for source in sources:
        words, tags = _rows(source.dataset)
        if not any(t != "O" for sentence in tags for t in sentence):
            what = "no sentence" if not tags else f"{len(tags)} sentences but no entity (every tag is 'O')"
            raise MultiSourceError(
                f"source {source.name!r} has {what}; every source must tag entities: check that it is the right "
                f"file and that its tag column is the last one, or leave it out"
            )
        own = normalize_scheme(source.scheme) if source.scheme is not None else detect_scheme(tags)
        kinds[source.name] = own
        if own != scheme:
            logger.info(
                "source %r: converting its %s tags to the model's scheme %s", source.name, own, scheme
            )
            tags = [convert_scheme(t, scheme, source=own) for t in tags]
        if source.rename:
            tags = [_rename(t, source.rename) for t in tags]
        known = {**(descriptions or {}), **(source.descriptions or {})}
        names = {}
        for entity_type in entity_types(t for sentence in tags for t in sentence):
            text = describe_type(entity_type, known)
            if entity_type in by_name and _key(by_name[entity_type][1]) != _key(text):
                first, first_text = by_name[entity_type]
                raise MultiSourceError(
                    f"the type {entity_type!r} is described as {first_text!r} in source {first!r} and as {text!r} "
                    f"in source {source.name!r}, and one label has one description. Give both sources the same "
                    f"description, or rename it in one, e.g. Source({source.name!r}, data, "
                    f"rename={{{entity_type!r}: '{entity_type}_2'}})"
                )
            name, other, _ = by_key.setdefault(_key(text), (entity_type, source.name, text))
            if name != entity_type:
                if other == source.name:
                    raise MultiSourceError(
                        f"source {source.name!r} has two types, {name!r} and {entity_type!r}, described alike "
                        f"({text!r}); the label tower could not tell them apart: give one a description of its "
                        f"own, e.g. descriptions={{{entity_type!r}: '...'}}"
                    )
                logger.warning(
                    "The type %r of source %r and the type %r of source %r are both described as %r: they are "
                    "merged into one type %r (types are matched by their description). To keep them apart, give "
                    "one a description of its own.",
                    entity_type,
                    source.name,
                    name,
                    other,
                    text,
                    name,
                )
                names[entity_type] = name
                merged[(source.name, entity_type)] = name
            by_name.setdefault(name, (source.name, text))
            if (
                entity_type in known
            ):  # given by the user: kept; the others follow the model's description style
                given.setdefault(name, known[entity_type])
        if names:
            tags = [_rename(t, names) for t in tags]
        allowed_types.append(entity_types(t for sentence in tags for t in sentence))
        rows.append(datasets.Dataset.from_dict({"tokens": words, "ner_tags": tags}))
    if len(set(kinds.values())) > 1:
        logger.warning(
            "The sources are written in different tag schemes (%s); each is converted to the model's scheme %s "
            "before their label sets are merged.",
            ", ".join(f"{name}: {kind}" for name, kind in kinds.items()),
            scheme,
        )
    all_types = list(dict.fromkeys(t for types in allowed_types for t in types))
    labels = labels_from_types(all_types, scheme)
    masks = []
    for types in allowed_types:
        own_labels = set(labels_from_types(types, scheme))
        masks.append([int(label in own_labels) for label in labels])
    logger.info(
        "%d sources, %d types in all: %s",
        len(sources),
        len(all_types),
        "; ".join(f"{s.name}: {', '.join(t)}" for s, t in zip(sources, allowed_types)),
    )
    return CombinedSources(
        labels=labels,
        descriptions=given,
        scheme=scheme,
        sources=[s.name for s in sources],
        datasets=rows,
        allowed=masks,
        merged=merged,
    )


def as_combined(sources, scheme: str) -> CombinedSources:
    """`sources` as [`CombinedSources`] in the model's `scheme`: combined here, or checked when they already are."""
    if not isinstance(sources, CombinedSources):
        return combine_sources(sources, scheme=scheme)
    if sources.scheme != scheme:
        raise MultiSourceError(
            f"the sources were combined in the {sources.scheme} scheme and the model works in {scheme}; combine "
            f"them in the model's: combine_sources(sources, scheme={scheme!r})"
        )
    return sources


def mix_replay(
    labels: Sequence[str],
    texts: Sequence[str],
    dataset,
    replay,
    *,
    fraction: float,
    rows: int,
    scheme: str,
    outside: str = "other",
    style: str = "names",
    seed: int = 0,
) -> CombinedSources:
    r"""
    Mix rows of earlier training data (`replay`) into a small training set, so that fine-tuning on a few shots keeps
    seeing what the source taught ("experience replay"). Each row keeps its own label set: the target's rows are
    scored against the target's labels, each replayed row against its own source's.

    The union of labels starts with the target's, with their texts exactly as the model holds them. A replayed
    label whose text (the words the label tower reads, compared case-insensitively) is one of the target's is that
    target label (CoNLL-2003's `B-PER` and a target's `B-person` both read "begin person"); the others are added.

    Args:
        labels (`Sequence[str]`), texts (`Sequence[str]`): the model's labels (in `scheme`) and their texts
            (`config.label_descriptions`).
        dataset (`datasets.Dataset` or `Sequence[dict]`): the target rows, tags in `scheme`.
        replay (`Sequence[Source]`, `Mapping[str, datasets.Dataset]` or `CombinedSources`): the data to replay.
        fraction (`float`): the share of replayed rows, in `(0, 1)`.
        rows (`int`): rows in all; the target's rows are repeated (shuffled, seeded) to fill their share, and the
            replayed rows are drawn without repetition, from every source in proportion to its size, as far as
            the sources have rows.
        scheme (`str`): the model's tag scheme.
        outside (`str`, *optional*), style (`str`, *optional*): the model's `outside_description` and
            `description_style`, to write the replayed labels' texts as the model would.
        seed (`int`, *optional*, defaults to `0`): seeds the draw.

    Returns:
        [`CombinedSources`] with the target first (named `"target"`); its `descriptions` are keyed by full tag,
        one text per label of `labels` (pass them to `model.set_labels`).

    Raises:
        `MultiSourceError`: `fraction` is outside `(0, 1)`, `rows` is below 1, or a replayed type has a target
        type's name but another text.
    """
    import random

    from .verbalizer import verbalize

    if not 0 < fraction < 1:
        raise MultiSourceError(
            f"replay_fraction={fraction!r} must lie between 0 and 1 (the share of replayed rows), e.g. 0.5"
        )
    if rows < 1:
        raise MultiSourceError(f"rows={rows!r} must be at least 1")
    replay = as_combined(replay, scheme)
    by_text = {_key(text): label for label, text in zip(labels, texts)}
    union, descriptions = list(labels), dict(zip(labels, texts))
    renamed = {}  # replayed label -> its label in the union
    for label, text in zip(
        replay.labels, verbalize(replay.labels, replay.descriptions, outside=outside, style=style)
    ):
        if _key(text) in by_text:
            renamed[label] = by_text[_key(text)]
        elif label in descriptions:
            raise MultiSourceError(
                f"the replayed label {label!r} reads {text!r} and the target's label {label!r} reads "
                f"{descriptions[label]!r}; one label has one text. Rename the type in the replayed source, e.g. "
                f"Source(name, data, rename={{{split_tag(label)[1]!r}: '{split_tag(label)[1]}_source'}})"
            )
        else:
            renamed[label] = label
            union.append(label)
            descriptions[label] = text
    words, tags = _rows(dataset)
    if not words:
        raise MultiSourceError("the training set to mix replayed rows into has no sentence")
    rng = random.Random(seed)
    own = max(1, round(rows * (1 - fraction)))
    order = []
    while len(order) < own:  # every target row once per pass, each pass shuffled
        order += rng.sample(range(len(words)), len(words))
    order = order[:own]
    sizes = [len(d) for d in replay.datasets]
    wanted = min(rows - own, sum(sizes))
    shares = [min(size, round(wanted * size / sum(sizes))) for size in sizes]
    parts = [
        datasets.Dataset.from_dict(
            {"tokens": [words[i] for i in order], "ner_tags": [tags[i] for i in order]}
        )
    ]
    allowed = [[1 if label in labels else 0 for label in union]]
    for data, mask, share in zip(replay.datasets, replay.allowed, shares):
        if share == 0:
            continue
        picked = data.select(sorted(rng.sample(range(len(data)), share)))
        parts.append(
            datasets.Dataset.from_dict(
                {
                    "tokens": picked["tokens"],
                    "ner_tags": [[renamed[t] for t in row] for row in picked["ner_tags"]],
                }
            )
        )
        own_labels = {renamed[label] for label, allow in zip(replay.labels, mask) if allow}
        allowed.append([int(label in own_labels) for label in union])
    names = ["target", *(n for n, s in zip(replay.sources, shares) if s)]
    logger.info(
        "Replay: %d target rows and %d replayed rows (%s); %d labels in all",
        own,
        sum(shares),
        ", ".join(f"{n}: {s}" for n, s in zip(replay.sources, shares) if s),
        len(union),
    )
    return CombinedSources(
        labels=union, descriptions=descriptions, scheme=scheme, sources=names, datasets=parts, allowed=allowed
    )


def encode_sources(
    combined: CombinedSources, tokenizer, label2id: Mapping[str, int], *, max_length: int | None = None
):
    r"""
    Tokenise and align every source (see `alignment.align_dataset`) and give each row its source's `allowed_tags`.

    Args:
        combined ([`CombinedSources`]): the merged sources.
        tokenizer: a fast tokenizer.
        label2id (`Mapping[str, int]`): the model's label ids; its labels must be `combined.labels`, in that order
            (`model.set_labels(combined.labels, ...)`).
        max_length (`int`, *optional*): tokens per row.

    Returns:
        `datasets.Dataset`: one data set of every source's rows, with `input_ids`, `attention_mask`
        (`token_type_ids`), `labels` and `allowed_tags`.

    Raises:
        `MultiSourceError`: `label2id` is not the combined label set.
    """
    order = sorted(label2id, key=label2id.get)
    if order != combined.labels:
        raise MultiSourceError(
            f"the model's labels {order} are not the sources' combined labels {combined.labels}; call "
            f"model.set_labels(combined.labels, descriptions=combined.descriptions) first"
        )
    parts = []
    for name, rows, mask in zip(combined.sources, combined.datasets, combined.allowed):
        encoded = align_dataset(rows, tokenizer, label2id, max_length=max_length, desc=f"Tokenising {name}")
        parts.append(encoded.add_column(ALLOWED_TAGS, [mask] * len(encoded)))
    return datasets.concatenate_datasets(parts)


class MultiSourceCollator(NERDataCollator):
    """`NERDataCollator` that also stacks each row's `allowed_tags` into a `(batch_size, num_labels)` tensor.

    Example:

    ```python
    >>> collator = MultiSourceCollator(tokenizer)
    >>> batch = collator([{"input_ids": [2, 3], "labels": [-100, -100], "allowed_tags": [1, 0, 1]}])
    >>> batch["allowed_tags"].tolist()
    [[1, 0, 1]]
    ```
    """

    def __call__(self, features, return_tensors: str | None = None) -> dict[str, Any]:
        masks = [feature[ALLOWED_TAGS] for feature in features if ALLOWED_TAGS in feature]
        batch = super().__call__(features, return_tensors)
        if masks:
            if len(masks) != len(features):
                raise MultiSourceError(
                    f"{len(features) - len(masks)} of {len(features)} rows have no {ALLOWED_TAGS!r}; encode every "
                    f"source with encode_sources"
                )
            batch[ALLOWED_TAGS] = torch.tensor(masks, dtype=torch.long)
        return batch
