"""Definitions of the built-in types (`label_descriptions.BUILTIN_DEFINITIONS`) and the `description_style` option
through every layer: verbalizer, config, `from_encoder`, `set_labels`, save/load and the pipeline's label sets."""

from __future__ import annotations

import pytest

from label_semantics import LabelSemanticsConfig, LabelSemanticsForTokenClassification
from label_semantics.label_descriptions import (
    BUILTIN_DEFINITIONS,
    BUILTIN_DESCRIPTIONS,
    DESCRIPTION_STYLES,
    builtin_description,
)
from label_semantics.pipelines import resolve_label_set
from label_semantics.verbalizer import describe_type, verbalize

LABELS = ["O", "B-PER", "I-PER", "B-musicalartist", "I-musicalartist"]


def test_every_builtin_type_has_a_definition_of_the_form_name_colon_definition():
    assert set(BUILTIN_DEFINITIONS) == set(BUILTIN_DESCRIPTIONS)
    for table, names in BUILTIN_DESCRIPTIONS.items():
        assert set(BUILTIN_DEFINITIONS[table]) == set(names), table
        for key, name in names.items():
            definition = BUILTIN_DEFINITIONS[table][key]
            head, _, body = definition.partition(": ")
            assert head == name, (table, key)
            assert body and body == body.strip() and not body.endswith("."), (table, key)
            assert len(body.split()) <= 20, (table, key)


def test_a_type_in_several_tables_has_one_definition():
    """The lookup returns the first table's entry, so a differing later one would never be read."""
    for style, tables in (("names", BUILTIN_DESCRIPTIONS), ("definitions", BUILTIN_DEFINITIONS)):
        for table in tables.values():
            for key, text in table.items():
                assert builtin_description(key, style) == text, (style, key)


def test_describe_type_and_verbalize_by_style():
    assert describe_type("musicalartist") == "musical artist"
    assert (
        describe_type("musicalartist", style="definitions")
        == "musical artist: a singer, musician or composer"
    )
    assert (
        describe_type("GPE", style="definitions")
        == "geographical social political entity: a country, city or state"
    )
    # a type no table knows is described by its words in either style
    assert describe_type("HotelName", style="definitions") == "hotel name"
    assert verbalize(LABELS, style="definitions") == [
        "other",
        "begin person: a named person, real or fictional",
        "inside person: a named person, real or fictional",
        "begin musical artist: a singer, musician or composer",
        "inside musical artist: a singer, musician or composer",
    ]
    assert verbalize(LABELS) == verbalize(LABELS, style="names")
    assert verbalize(LABELS)[1] == "begin person"


def test_user_descriptions_win_and_are_kept_whole():
    sentence = (
        "A person who sings, plays or writes music; a band counts as one, e.g. The Beatles (1960-1970)."
    )
    texts = verbalize(
        LABELS, {"musicalartist": sentence, "I-PER": "inside a person's name"}, style="definitions"
    )
    assert texts[3] == f"begin {sentence}"
    assert texts[2] == "inside a person's name"
    assert describe_type("x", {"x": f"  {sentence}  "}, style="definitions") == sentence


@pytest.mark.parametrize("bad", ["definition", "Names", "", None, 3])
def test_bad_style_is_named(bad):
    message = f"description_style={bad!r} is not one of {DESCRIPTION_STYLES}"
    for call in (
        lambda: verbalize(LABELS, style=bad),
        lambda: describe_type("PER", style=bad),
        lambda: resolve_label_set(["PER"], style=bad),
    ):
        with pytest.raises(ValueError) as err:
            call()
        assert message in str(err.value)


@pytest.mark.parametrize("bad", ["definition", "Names", ""])
def test_bad_style_is_named_by_the_config_and_the_model(bad, tiny_encoder_dir):
    with pytest.raises(ValueError, match=f"description_style={bad!r} is not one of"):
        LabelSemanticsConfig(id2label={0: "O", 1: "B-PER", 2: "I-PER"}, description_style=bad)
    with pytest.raises(ValueError, match=f"description_style={bad!r} is not one of"):
        LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, LABELS, description_style=bad)
    model = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, LABELS)
    before = (model.config.label_descriptions, model.config.label_input_ids, model.config.description_style)
    with pytest.raises(ValueError, match=f"description_style={bad!r} is not one of"):
        model.set_labels(["O", "B-LOC", "I-LOC"], description_style=bad)
    assert (
        model.config.label_descriptions,
        model.config.label_input_ids,
        model.config.description_style,
    ) == before


def test_config_derives_descriptions_in_its_style():
    config = LabelSemanticsConfig(id2label={0: "O", 1: "B-PER", 2: "I-PER"}, description_style="definitions")
    assert config.label_descriptions[1] == "begin person: a named person, real or fictional"
    assert LabelSemanticsConfig(id2label={0: "O", 1: "B-PER"}).description_style == "names"


def test_definitions_reach_the_label_tower_and_survive_save_and_load(tiny_encoder_dir, tmp_path):
    model = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, LABELS, description_style="definitions"
    )
    expected = verbalize(model.labels, style="definitions")
    assert model.config.description_style == "definitions"
    assert model.config.label_descriptions == expected
    # the label tower reads the definitions' token ids, whole
    assert model.config.label_input_ids == [model.tokenizer(text)["input_ids"] for text in expected]
    names = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, LABELS)
    assert names.config.label_input_ids != model.config.label_input_ids

    model.save_pretrained(tmp_path / "saved")
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "saved")
    assert loaded.config.description_style == "definitions"
    assert loaded.config.label_descriptions == expected
    assert loaded.config.label_input_ids == model.config.label_input_ids
    # a later label set keeps the saved style, until set_labels is told another
    loaded.set_labels(["O", "B-LOC", "I-LOC"])
    assert loaded.config.label_descriptions[1].startswith("begin location: a named place")
    loaded.set_labels(["O", "B-LOC", "I-LOC"], description_style="names")
    assert loaded.config.label_descriptions == ["other", "begin location", "inside location"]
    assert loaded.config.description_style == "names"


def test_pipeline_label_sets_follow_the_model_style():
    types, texts, _ = resolve_label_set(["PER", "city"], style="definitions")
    assert texts == {"PER": "person: a named person, real or fictional", "city": "city"}
    assert resolve_label_set(["PER"])[1] == {"PER": "person"}


def test_a_description_longer_than_the_label_tower_is_an_error_not_cut(tiny_encoder_dir):
    model = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, LABELS)
    limit = model.config.get_text_config().max_position_embeddings
    fits = " ".join(["person"] * (limit - 3))  # with "begin" and [CLS]/[SEP]: exactly the limit
    model.set_labels(["O", "B-PER", "I-PER"], descriptions={"PER": fits})
    assert len(model.config.label_input_ids[1]) == limit
    before = model.config.label_input_ids
    with pytest.raises(
        ValueError, match=rf"'B-PER' is {limit + 1} tokens long .* more than the {limit} positions"
    ):
        model.set_labels(["O", "B-PER", "I-PER"], descriptions={"PER": fits + " person"})
    assert model.config.label_input_ids == before
