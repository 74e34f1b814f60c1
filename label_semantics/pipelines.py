"""Pipelines. The stock `token-classification` pipeline runs a dual-tower checkpoint as it is (every
`aggregation_strategy`, `stride` for long texts) and the stock `text-classification` pipeline runs a label-token
checkpoint (`top_k`, multi-label). `LabelSemanticsNERPipeline`, registered as `"label-semantics-ner"`, adds
zero-shot tagging: entity types given at call time with `labels=[...]`.

Importing `label_semantics` registers the pipeline, so `transformers.pipeline("label-semantics-ner", model=...)`
builds it.
"""

from __future__ import annotations

import copy
import logging
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from transformers import AutoModelForTokenClassification
from transformers.pipelines import PIPELINE_REGISTRY, TokenClassificationPipeline

from .verbalizer import check_description_style, describe_type, labels_from_types

logger = logging.getLogger(__name__)

TASK = "label-semantics-ner"
MAX_CACHED_LABEL_SETS = 16
_TAG = re.compile(r"[BIESLU]-\S+|O")


class LabelSetError(ValueError):
    """`labels=` / `descriptions=` given to the pipeline do not make a label set."""


def resolve_label_set(
    labels: str | Sequence[str] | Mapping[str, str],
    descriptions: Mapping[str, str] | None = None,
    style: str = "names",
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    r"""
    Turn the entity types a user names at call time into types the tagger can use.

    Args:
        labels (`str`, `Sequence[str]` or `Mapping[str, str]`):
            Entity types, by name (`"PER"`, `"city"`) or by description (`"musical artist"`), or a mapping from name
            to description (`{"city": "a city or town"}`). A name with spaces is its own description.
        descriptions (`Mapping[str, str]`, *optional*):
            Descriptions keyed by the names in `labels`; the verbalizer's built-ins otherwise (`"PER"` -> `"person"`).
        style (`str`, *optional*, defaults to `"names"`):
            The built-ins' style, `"names"` or `"definitions"` (`"PER"` -> `"person: a named person, real or
            fictional"`); the pipeline passes the model's `config.description_style`.

    Returns:
        `tuple[list[str], dict[str, str], dict[str, str]]`: the types (spaces become `_`, as a tag cannot hold
        spaces), each type's description, and each type's name as the user wrote it.

    Example:

    ```python
    >>> resolve_label_set(["PER", "musical artist"])
    (['PER', 'musical_artist'], {'PER': 'person', 'musical_artist': 'musical artist'}, {'PER': 'PER', 'musical_artist': 'musical artist'})
    ```
    """
    check_description_style(style)
    if isinstance(labels, str):
        labels = [labels]
    if isinstance(labels, Mapping):
        items = list(labels.items())
    elif isinstance(labels, Sequence):
        given = dict(descriptions or {})
        items = [(label, given.get(label)) for label in labels]
    else:
        raise LabelSetError(
            f"labels must be a list of entity types or a dict of type -> description, got {type(labels).__name__}; "
            "e.g. labels=['person', 'city']."
        )
    if not items:
        raise LabelSetError("labels is empty; name at least one entity type, e.g. labels=['person', 'city'].")
    types, texts, names = [], {}, {}
    for name, text in items:
        if not isinstance(name, str) or not name.strip():
            raise LabelSetError(
                f"labels holds {name!r}; every label must be a non-empty entity type or description, "
                "e.g. labels=['person', 'city']."
            )
        display = " ".join(name.split())
        if _TAG.fullmatch(display):
            suggestion = display.split("-", 1)[-1] if display != "O" else "person"
            raise LabelSetError(
                f"labels takes entity types, not tags: got {name!r}. Name the type and the tags are built for you, "
                f"e.g. labels=[{suggestion!r}]."
            )
        entity_type = display.replace(" ", "_")
        if entity_type in names:
            raise LabelSetError(
                f"The entity type {display!r} appears twice in labels={list(labels)}; list it once."
            )
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise LabelSetError(
                f"The description of {display!r} is {text!r}; give a non-empty text, e.g. {{{display!r}: 'person'}}."
            )
        types.append(entity_type)
        names[entity_type] = display
        if text is not None:
            texts[entity_type] = text.strip()
        elif " " in display:
            texts[entity_type] = display
        else:
            texts[entity_type] = describe_type(entity_type, style=style)
    return types, texts, names


@dataclass(frozen=True)
class _LabelSet:
    """A copy of the model that shares its weights but has other labels, and the user's names of those labels."""

    model: object
    names: tuple[tuple[str, str], ...]


class LabelSemanticsNERPipeline(TokenClassificationPipeline):
    r"""
    The `token-classification` pipeline, plus zero-shot tagging for label-semantics models: pass `labels=[...]` (at
    construction or per call) to tag entity types the model never saw. The types are verbalised (`"city"` -> tags
    `B-city`, `I-city`, read by the label tower as `"begin city"`, `"inside city"`) and scored against the text;
    the model's weights are shared, not copied, and the model the user holds keeps its own labels. The label
    vectors of a label set are encoded once and reused until the weights change.

    The model may also be the ONNX Runtime one, `LabelSemanticsForTokenClassification.from_pretrained(path,
    backend="onnx")`, labels at call time included. Every option of the stock pipeline works as usual (`aggregation_strategy`, `stride`, `ignore_labels`, ...);
    `aggregation_strategy` defaults to `"first"` (the model is trained on each word's first sub-token), so the
    output is entities and `stride` works out of the box. With `labels`, entity groups are named as the user wrote
    the types.

    Example:

    ```python
    >>> import label_semantics  # registers "label-semantics-ner"
    >>> from transformers import pipeline

    >>> tagger = pipeline("label-semantics-ner", model="path/to/checkpoint")
    >>> tagger("John Smith lives in Paris.")  # the model's own labels
    [{'entity_group': 'PER', 'word': 'john smith', ...}, {'entity_group': 'LOC', 'word': 'paris', ...}]
    >>> tagger("John Smith lives in Paris.", labels=["person", "city"])  # any types, named or described
    [{'entity_group': 'person', 'word': 'john smith', ...}, {'entity_group': 'city', 'word': 'paris', ...}]
    >>> tagger("Adele sang Hello.", labels={"artist": "musical artist", "song": "song title"})
    ```
    """

    def __init__(self, *args, aggregation_strategy="first", **kwargs):
        self._label_sets: OrderedDict[tuple, _LabelSet] = OrderedDict()
        super().__init__(*args, aggregation_strategy=aggregation_strategy, **kwargs)

    def check_model_type(self, supported_models):
        # the ONNX Runtime model (`from_pretrained(path, backend="onnx")`) keeps the forward contract of the torch one
        if type(self.model).__name__ == "ORTLabelSemanticsForTokenClassification":
            return
        super().check_model_type(supported_models)

    def _sanitize_parameters(self, labels=None, descriptions=None, **kwargs):
        preprocess_params, forward_params, postprocess_params = super()._sanitize_parameters(**kwargs)
        if labels is not None:
            label_set = self._label_set(labels, descriptions)
            forward_params["label_set"] = label_set
            postprocess_params["label_set"] = label_set
        elif descriptions is not None:
            raise LabelSetError(
                "descriptions= was given without labels=; pass both, e.g. labels=['city'], "
                "descriptions={'city': 'a city or town'}."
            )
        return preprocess_params, forward_params, postprocess_params

    def _label_set(self, labels, descriptions) -> _LabelSet:
        model = self.model
        if not (hasattr(model, "set_labels") and hasattr(model, "get_label_embeddings")):
            raise LabelSetError(
                f"labels= needs a label-semantics model whose label tower reads label descriptions; "
                f"{type(model).__name__} has a fixed label set. Call the pipeline without labels=, or load a "
                "LabelSemanticsForTokenClassification checkpoint."
            )
        style = getattr(model.config, "description_style", "names")
        types, texts, names = resolve_label_set(labels, descriptions, style)
        scheme = getattr(model.config, "tag_scheme", None) or "IOB2"
        tags = labels_from_types(types, scheme)
        key = (tuple(tags), tuple(texts[t] for t in types), scheme)
        if key in self._label_sets:
            self._label_sets.move_to_end(key)
            return self._label_sets[key]
        view = copy.copy(model)  # shares the towers: no weight is copied
        view.config = copy.deepcopy(model.config)
        tokenizer = (
            getattr(model, "label_tokenizer", None) or getattr(model, "tokenizer", None) or self.tokenizer
        )
        view.set_labels(tags, descriptions=texts, tokenizer=tokenizer, tag_scheme=scheme)
        label_set = _LabelSet(view, tuple(names.items()))
        self._label_sets[key] = label_set
        if len(self._label_sets) > MAX_CACHED_LABEL_SETS:
            self._label_sets.popitem(last=False)
        logger.info("New label set %s (labels %s)", types, tags)
        return label_set

    @contextmanager
    def _using(self, label_set: _LabelSet | None) -> Iterator[None]:
        """Run the stock code with the label set's copy of the model in place of the model."""
        if label_set is None:
            yield
            return
        model, view = self.model, label_set.model
        view.training = model.training  # only the flag: the shared modules keep their own mode
        self.model = view
        try:
            yield
        finally:
            self.model = model

    def _forward(self, model_inputs, label_set: _LabelSet | None = None):
        with self._using(label_set):
            return super()._forward(model_inputs)

    def postprocess(self, all_outputs, label_set: _LabelSet | None = None, **kwargs):
        with self._using(label_set):
            entities = super().postprocess(all_outputs, **kwargs)
        config = (label_set.model if label_set is not None else self.model).config
        if getattr(config, "data_scheme", None) == "IO" and getattr(config, "tag_scheme", None) != "IO":
            entities = _join_adjacent(entities, all_outputs[0]["sentence"])
        if label_set is not None:
            names = dict(label_set.names)
            for entity in entities:
                if "entity_group" in entity:
                    entity["entity_group"] = names.get(entity["entity_group"], entity["entity_group"])
        return entities


def _join_adjacent(entities: list[dict], sentence: str) -> list[dict]:
    """IO output of a model that scores in another scheme: adjacent entity groups of one type (only white space
    between them) are one entity, as IO data cannot tell them apart; scores are averaged."""
    if not entities or "entity_group" not in entities[0] or entities[0].get("start") is None:
        return entities  # per-token output (aggregation_strategy="none") shows the model's own labels
    joined = [dict(entities[0])]
    parts = [1]
    for entity in entities[1:]:
        last = joined[-1]
        gap = sentence[last["end"] : entity["start"]]
        if entity["entity_group"] == last["entity_group"] and not gap.strip():
            last["score"] = (last["score"] * parts[-1] + entity["score"]) / (parts[-1] + 1)
            last["end"] = entity["end"]
            last["word"] = sentence[last["start"] : last["end"]]
            parts[-1] += 1
        else:
            joined.append(dict(entity))
            parts.append(1)
    return joined


PIPELINE_REGISTRY.register_pipeline(
    TASK,
    pipeline_class=LabelSemanticsNERPipeline,
    pt_model=AutoModelForTokenClassification,
    type="text",
)

__all__ = ["TASK", "LabelSemanticsNERPipeline", "LabelSetError", "resolve_label_set"]
