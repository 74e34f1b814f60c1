"""Tag schemes (split, detect, convert, spans) and label verbalisation."""

from __future__ import annotations

import itertools
import logging
import random
import re

import pytest

from label_semantics.verbalizer import (
    BUILTIN_DESCRIPTIONS,
    SCHEMES,
    InvalidTagError,
    SchemeError,
    convert_scheme,
    describe_type,
    detect_scheme,
    entity_types,
    is_valid_sequence,
    is_valid_transition,
    labels_from_types,
    normalize_scheme,
    spans_to_tags,
    split_tag,
    tags_to_spans,
    verbalize,
)

# One sentence written in every scheme: PER(0-1), two adjacent LOCs (3 and 4-6), ORG(7).
SENTENCE = {
    "IOB2": ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-LOC", "B-ORG"],
    "IOB1": ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-LOC", "I-ORG"],
    "BIOES": ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "I-LOC", "E-LOC", "S-ORG"],
    "BILOU": ["B-PER", "L-PER", "O", "U-LOC", "B-LOC", "I-LOC", "L-LOC", "U-ORG"],
}
SPANS = [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 7), ("ORG", 7, 8)]
IO_SENTENCE = ["I-PER", "I-PER", "O", "I-LOC", "I-LOC", "I-LOC", "I-LOC", "I-ORG"]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("B-PER", ("B", "PER")),
        ("O", ("O", None)),
        ("I-creative-work", ("I", "creative-work")),
        ("L-LOC", ("L", "LOC")),
        ("U-Restaurant_Name", ("U", "Restaurant_Name")),
    ],
)
def test_split_tag(tag, expected):
    assert split_tag(tag) == expected


@pytest.mark.parametrize("tag", ["X-PER", "B-", "PER", "", "B_PER", "b-PER", "B-PER X", "O-", "-PER", None])
def test_split_tag_rejects_invalid_tags_naming_them(tag):
    with pytest.raises(InvalidTagError) as info:
        split_tag(tag)
    assert repr(tag) in str(info.value)
    assert '"B-PER"' in str(info.value)  # shows what a valid tag looks like


def test_invalid_tag_error_is_a_value_error():
    assert issubclass(InvalidTagError, ValueError) and issubclass(SchemeError, ValueError)


@pytest.mark.parametrize(("name", "canonical"), [("iob2", "IOB2"), ("BILOU", "BIOES"), ("bioes", "BIOES")])
def test_normalize_scheme(name, canonical):
    assert normalize_scheme(name) == canonical


@pytest.mark.parametrize("value", [["IOB2"], {"IOB2"}, 2])
def test_normalize_scheme_names_a_value_that_is_no_name(value):
    """A list (or any non-string) was a bare TypeError: unhashable type; now the scheme error naming it."""
    with pytest.raises(
        SchemeError, match=rf"unknown tag scheme {re.escape(repr(value))}; use one of IO, IOB1"
    ):
        normalize_scheme(value)


def test_normalize_scheme_rejects_unknown_names():
    with pytest.raises(SchemeError, match=r"'BIO2'.*IOB2"):
        normalize_scheme("BIO2")


@pytest.mark.parametrize("scheme", ["IOB2", "IOB1", "BIOES", "BILOU"])
def test_tags_to_spans_reads_every_scheme(scheme):
    assert tags_to_spans(SENTENCE[scheme]) == SPANS


def test_tags_to_spans_io_merges_adjacent_entities():
    assert tags_to_spans(IO_SENTENCE) == [("PER", 0, 2), ("LOC", 3, 7), ("ORG", 7, 8)]


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        # A stray I- opens an entity, as in seqeval's default mode.
        (["O", "I-PER", "I-PER", "O"], [("PER", 1, 3)]),
        # A type change inside an entity starts a new one.
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),
        # I- after E- is a new entity; E- with no B- opens and closes one.
        (["B-PER", "E-PER", "I-PER", "E-PER", "O", "E-LOC"], [("PER", 0, 2), ("PER", 2, 4), ("LOC", 5, 6)]),
        # An entity left open at the end is closed there.
        (["O", "B-MISC", "I-MISC"], [("MISC", 1, 3)]),
        ([], []),
        (["O", "O"], []),
    ],
)
def test_tags_to_spans_is_lenient_on_ill_formed_input(tags, spans):
    assert tags_to_spans(tags) == spans


def test_tags_to_spans_agrees_with_seqeval_default_mode():
    from seqeval.metrics.sequence_labeling import get_entities

    rng = random.Random(0)
    vocabulary = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC"]
    for _ in range(300):
        tags = [rng.choice(vocabulary) for _ in range(rng.randint(0, 9))]
        expected = [(t, start, end + 1) for t, start, end in get_entities(tags)]
        assert tags_to_spans(tags) == expected, tags


@pytest.mark.parametrize("scheme", ["IOB2", "IOB1", "BIOES", "BILOU"])
def test_spans_to_tags_writes_every_scheme(scheme):
    assert spans_to_tags(SPANS, 8, scheme) == SENTENCE[scheme]


def test_spans_to_tags_rejects_overlaps():
    with pytest.raises(ValueError, match=r"\('LOC', 1, 3\)"):
        spans_to_tags([("PER", 0, 2), ("LOC", 1, 3)], 4)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(SENTENCE, SENTENCE)))
def test_convert_scheme_between_all_schemes(source, target):
    assert convert_scheme(SENTENCE[source], target, source=source) == SENTENCE[target]
    assert convert_scheme(SENTENCE[source], target) == SENTENCE[target]  # source detected


@pytest.mark.parametrize("source", list(SENTENCE))
def test_convert_scheme_to_io_loses_adjacent_boundaries(source):
    assert convert_scheme(SENTENCE[source], "IO", source=source) == IO_SENTENCE


def test_convert_scheme_from_io():
    assert convert_scheme(IO_SENTENCE, "IOB2", source="IO") == [
        "B-PER",
        "I-PER",
        "O",
        "B-LOC",
        "I-LOC",
        "I-LOC",
        "I-LOC",
        "B-ORG",
    ]


@pytest.mark.parametrize(
    ("tags", "source", "position", "message"),
    [
        (["O", "I-PER"], "IOB2", 1, "'I-PER' cannot follow 'O'"),
        (["B-PER", "I-LOC"], "IOB2", 1, "'I-LOC' cannot follow 'B-PER'"),
        (["I-PER", "O", "B-LOC"], "IOB1", 2, "'B-LOC' cannot follow 'O'"),
        (["I-PER", "B-LOC"], "IOB1", 1, "'B-LOC' cannot follow 'I-PER'"),
        (["O", "B-PER"], "BIOES", 1, "ends with 'B-PER'"),
        (["I-PER", "E-PER"], "BIOES", 0, "'I-PER' cannot follow the start"),
        (["B-PER", "O"], "BIOES", 1, "'O' cannot follow 'B-PER'"),
        (["B-PER", "E-LOC"], "BILOU", 1, "'E-LOC' cannot follow 'B-PER'"),
    ],
)
def test_convert_scheme_names_the_invalid_position(tags, source, position, message):
    with pytest.raises(
        SchemeError, match=rf"invalid {normalize_scheme(source)} sequence at position {position}"
    ) as info:
        convert_scheme(tags, "IOB2", source=source)
    assert message in str(info.value)
    assert "source=" in str(info.value) or "S-X" in str(info.value)  # says how to fix it


@pytest.mark.parametrize(("tags", "source"), [(["O", "E-PER"], "IOB2"), (["B-PER"], "IO")])
def test_convert_scheme_rejects_tags_foreign_to_the_source(tags, source):
    with pytest.raises(InvalidTagError, match=rf"{tags[-1]!r} at position {len(tags) - 1}.*{source}"):
        convert_scheme(tags, "BIOES", source=source)


def test_convert_scheme_names_a_malformed_tag_position():
    with pytest.raises(InvalidTagError, match=r"'B_PER' at position 1"):
        convert_scheme(["O", "B_PER"], "IOB2", source="IOB2")


def test_convert_scheme_rejects_a_string_and_unknown_target():
    with pytest.raises(SchemeError, match="got the string 'B-PER'"):
        convert_scheme("B-PER", "IOB2")
    with pytest.raises(SchemeError, match="'IOBX'"):
        convert_scheme(["B-PER"], "IOBX")


@pytest.mark.parametrize(
    ("sentences", "scheme"),
    [
        ([SENTENCE["IOB2"], ["O"]], "IOB2"),
        ([SENTENCE["IOB1"]], "IOB1"),
        ([SENTENCE["BIOES"]], "BIOES"),
        ([SENTENCE["BILOU"]], "BIOES"),
        ([IO_SENTENCE, ["I-MISC"]], "IO"),
        # Evidence may be spread over sentences: an I- start here, an adjacent B- there.
        ([["I-PER", "O"], ["I-LOC", "B-LOC"]], "IOB1"),
        ([["O"], ["S-LOC"]], "BIOES"),
        ([["O", "O"], []], "IOB2"),
        ([], "IOB2"),
        (iter([["B-PER", "I-PER"]]), "IOB2"),
    ],
)
def test_detect_scheme(sentences, scheme):
    assert detect_scheme(sentences) == scheme


@pytest.mark.parametrize(
    ("sentences", "message"),
    [
        ([["I-PER", "O"], ["B-LOC", "O"]], r"mix IOB1 and IOB2.*'I-PER' \(sentence 0.*'B-LOC' \(sentence 1"),
        ([["B-PER", "E-PER"], ["U-LOC"]], r"mix BIOES letters.*'E-PER'.*BILOU letters.*'U-LOC'"),
        ([["S-PER"], ["O", "I-LOC", "O"]], r"look like BIOES.*'S-PER'.*position 1 of sentence 1"),
        ([["B-PER", "I-PER", "O", "S-LOC"]], r"ends|cannot follow 'I-PER'"),
    ],
)
def test_detect_scheme_rejects_mixed_schemes(sentences, message):
    with pytest.raises(SchemeError, match=message):
        detect_scheme(sentences)


def test_detect_scheme_rejects_a_flat_list_and_bad_tags():
    with pytest.raises(SchemeError, match=r"detect_scheme\(\[tags\]\)"):
        detect_scheme(["B-PER", "O"])
    with pytest.raises(InvalidTagError, match="'PER' at position 1 of sentence 2"):
        detect_scheme([["O"], ["O"], ["O", "PER"]])


@pytest.mark.parametrize(
    ("previous", "tag", "scheme", "allowed"),
    [
        (None, "I-PER", "IOB2", False),
        ("B-PER", "I-PER", "IOB2", True),
        ("I-LOC", "I-PER", "IOB2", False),
        (None, "B-PER", "IOB1", False),
        ("I-PER", "B-PER", "IOB1", True),
        ("O", "I-PER", "IOB1", True),
        ("B-PER", None, "BIOES", False),
        ("E-PER", None, "BIOES", True),
        ("B-PER", "E-PER", "BIOES", True),
        ("B-PER", "L-PER", "BILOU", True),
        ("S-PER", "I-PER", "BIOES", False),
        ("I-PER", "I-LOC", "IO", True),
    ],
)
def test_is_valid_transition(previous, tag, scheme, allowed):
    assert is_valid_transition(previous, tag, scheme) is allowed


def test_is_valid_sequence():
    assert is_valid_sequence(SENTENCE["IOB1"], "IOB1")
    assert not is_valid_sequence(SENTENCE["IOB1"], "IOB2")
    assert not is_valid_sequence(SENTENCE["BIOES"], "IOB2")  # foreign prefixes
    with pytest.raises(InvalidTagError):
        is_valid_sequence(["B_PER"], "IOB2")


def test_entity_types_in_order_of_first_appearance():
    assert entity_types(["O", "B-PER", "I-LOC", "I-PER", "S-MISC", "U-creative-work"]) == [
        "PER",
        "LOC",
        "MISC",
        "creative-work",
    ]
    with pytest.raises(InvalidTagError, match="'PER'"):
        entity_types(["O", "PER"])


@pytest.mark.parametrize(
    ("scheme", "labels"),
    [
        ("IOB2", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
        ("IOB1", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]),
        ("IO", ["O", "I-PER", "I-LOC"]),
        ("BIOES", ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]),
        ("BILOU", ["O", "B-PER", "I-PER", "L-PER", "U-PER", "B-LOC", "I-LOC", "L-LOC", "U-LOC"]),
    ],
)
def test_labels_from_types(scheme, labels):
    assert labels_from_types(["PER", "LOC"], scheme) == labels
    assert entity_types(labels) == ["PER", "LOC"]


@pytest.mark.parametrize(
    ("types", "message"),
    [
        (["O", "B-PER"], r"'O' looks like a tag.*entity_types\(labels\)"),
        (["PER", "PER"], "'PER' is given twice"),
        (["PER", ""], "''"),
        (["first name"], "'first name'"),
        ("PER", "got the string 'PER'"),
    ],
)
def test_labels_from_types_rejects_bad_types(types, message):
    with pytest.raises(ValueError, match=message):
        labels_from_types(types)


def test_builtin_descriptions_cover_the_benchmarks():
    assert set(BUILTIN_DESCRIPTIONS) == {
        "conll2003",
        "ontonotes",
        "wnut17",
        "mit_movie",
        "mit_restaurant",
        "crossner",
    }
    assert len(BUILTIN_DESCRIPTIONS["ontonotes"]) == 18
    assert len(BUILTIN_DESCRIPTIONS["mit_movie"]) == 12
    assert len(BUILTIN_DESCRIPTIONS["mit_restaurant"]) == 8
    assert len(BUILTIN_DESCRIPTIONS["wnut17"]) == 6
    for table in BUILTIN_DESCRIPTIONS.values():
        for name, text in table.items():
            assert text == text.strip().lower() and text, (name, text)


def test_builtin_descriptions_agree_across_benchmarks():
    seen: dict[str, str] = {}
    for table in BUILTIN_DESCRIPTIONS.values():
        for name, text in table.items():
            assert seen.setdefault(name, text) == text, name


def test_builtin_descriptions_cover_the_shared_data(shared_data):
    """Every type in the shared NER files has a built-in description (not a fallback guess)."""
    known = set().union(*BUILTIN_DESCRIPTIONS.values())
    files = [p for p in (shared_data / "ner").rglob("*") if p.suffix in (".txt", ".conll")]
    assert files
    missing = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if fields and not fields[0].startswith("-DOCSTART-"):
                entity_type = split_tag(fields[-1])[1]
                if entity_type is not None and entity_type not in known:
                    missing.add((path.parent.name, entity_type))
    assert not missing


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("PER", "person"),
        ("MISC", "miscellaneous"),
        ("GPE", "geographical social political entity"),
        ("NORP", "nationality religion political"),
        ("WORK_OF_ART", "work of art"),
        ("creative-work", "creative work"),
        ("RATINGS_AVERAGE", "ratings average"),
        ("Restaurant_Name", "restaurant name"),
        ("musicalartist", "musical artist"),
        ("politicalparty", "political party"),
        ("programlang", "programming language"),
        ("misc", "miscellaneous"),
        # Fallback: split on "_", "-" and camelCase, lower-case.
        ("RestaurantName", "restaurant name"),
        ("HTMLParser", "html parser"),
        ("job_title-2", "job title 2"),
        ("SPORTS_TEAM", "sports team"),
        ("disease", "disease"),
    ],
)
def test_describe_type(name, text):
    assert describe_type(name) == text


def test_describe_type_is_case_sensitive():
    assert describe_type("per") == "per"  # "PER" is built in, "per" is not
    assert describe_type("Misc") == "misc"


def test_user_descriptions_override_builtins():
    assert describe_type("PER", {"PER": "person name"}) == "person name"
    assert describe_type("LOC", {"PER": "person name"}) == "location"


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_descriptions_are_rejected(text):
    with pytest.raises(ValueError, match=r"description of 'PER' is .*non-empty"):
        describe_type("LOC", {"PER": text})
    with pytest.raises(ValueError, match=r"description of 'PER' is"):
        verbalize(["O"], {"PER": text})


def test_describe_type_rejects_empty_names():
    with pytest.raises(ValueError, match=r"''.*describe_type\(\"PER\"\)"):
        describe_type("")


def test_verbalize_every_prefix():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "L-GPE", "U-musicalartist", "I-creative-work"]
    assert verbalize(labels) == [
        "other",
        "begin person",
        "inside person",
        "end person",
        "single person",
        "end geographical social political entity",
        "single musical artist",
        "inside creative work",
    ]


def test_verbalize_outside_and_descriptions():
    labels = ["O", "B-PER", "I-PER", "B-LOC"]
    descriptions = {"PER": "person name", "B-PER": "first token of a name", "O": "nothing"}
    assert verbalize(labels, outside="outside") == [
        "outside",
        "begin person",
        "inside person",
        "begin location",
    ]
    assert verbalize(labels, descriptions) == [
        "nothing",
        "first token of a name",  # the full tag wins over the type
        "inside person name",
        "begin location",
    ]


def test_verbalize_rejects_bad_input():
    with pytest.raises(ValueError, match=r"outside=''.*outside=\"other\""):
        verbalize(["O"], outside="")
    with pytest.raises(InvalidTagError, match="'B_PER' at position 1"):
        verbalize(["O", "B_PER"])
    with pytest.raises(InvalidTagError, match="got the string"):
        verbalize("B-PER")


def test_schemes_are_the_contract_names():
    assert SCHEMES == ("IO", "IOB1", "IOB2", "BIOES")


# Exact messages and edge cases found by mutation testing (mutmut, see the README's Development section).

_TAG_HELP = 'a valid tag is "O" or a prefix B, I, E, S, L or U, a hyphen and the type, e.g. "B-PER"'


def raises_exactly(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def test_invalid_tag_messages_name_the_place_only_when_known():
    with raises_exactly(InvalidTagError, f"invalid tag 'B_PER': {_TAG_HELP}"):
        split_tag("B_PER")
    with raises_exactly(InvalidTagError, f"invalid tag 'B_PER': {_TAG_HELP}"):
        is_valid_transition("B_PER", "O", "IOB2")
    with raises_exactly(InvalidTagError, f"invalid tag 'B_PER' at position 1: {_TAG_HELP}"):
        tags_to_spans(["O", "B_PER"])


@pytest.mark.parametrize(
    ("previous", "tag", "scheme", "allowed", "source"),
    [
        (None, "E-PER", "IOB2", "B-, I-", "BIOES"),
        ("S-PER", None, "IOB1", "B-, I-", "BIOES"),
        ("B-PER", None, "IO", "I-", "IOB2"),
        ("O", "L-PER", "IO", "I-", "BIOES"),
    ],
)
def test_a_foreign_prefix_is_refused_by_is_valid_transition(previous, tag, scheme, allowed, source):
    foreign = tag if previous in (None, "O") else previous
    with raises_exactly(
        InvalidTagError,
        f"tag {foreign!r} does not exist in the {scheme} scheme, whose tags are O and {allowed}; "
        f"pass the scheme the tags are written in, e.g. source={source!r}",
    ):
        is_valid_transition(previous, tag, scheme)


def test_bioes_end_or_inside_cannot_open_an_entity():
    for previous in (None, "O", "E-PER", "S-PER"):
        assert not is_valid_transition(previous, "E-PER", "BIOES")
        assert not is_valid_transition(previous, "L-PER", "BILOU")
        assert not is_valid_transition(previous, "I-PER", "BIOES")


def test_sequence_error_messages():
    with raises_exactly(
        SchemeError,
        "invalid IOB2 sequence at position 0: 'I-PER' cannot follow the start of the sentence; "
        'if entities may start with I-, the tags are IOB1: pass source="IOB1"',
    ):
        convert_scheme(["I-PER", "O"], "BIOES", source="IOB2")
    with raises_exactly(
        SchemeError,
        "invalid BIOES sequence at position 2: the sentence ends with 'B-PER', which leaves an entity open; "
        "in BIOES an entity is B-X I-X ... E-X, or S-X for one token",
    ):
        convert_scheme(["O", "O", "B-PER"], "IOB2", source="BIOES")


def test_normalize_scheme_refuses_a_non_string():
    with raises_exactly(
        SchemeError,
        "unknown tag scheme None; use one of IO, IOB1, IOB2, BIOES or BILOU, "
        'e.g. convert_scheme(tags, target="IOB2")',
    ):
        normalize_scheme(None)


def test_detect_scheme_messages():
    with pytest.raises(SchemeError, match=re.escape("flat list of strings ['O', 'B-PER', 'I-PER', 'O']...;")):
        detect_scheme(["O", "B-PER", "I-PER", "O", "B-LOC"])
    # BILOU letters only: the evidence named is the first BILOU tag
    with pytest.raises(
        SchemeError, match=re.escape("look like BIOES because of 'U-PER' (sentence 1, position 1),")
    ):
        detect_scheme([["O"], ["B-PER", "U-PER", "I-PER"]])


def test_detect_scheme_logs_only_when_no_entity(caplog):
    with caplog.at_level(logging.DEBUG, logger="label_semantics.verbalizer"):
        assert detect_scheme([["O"], ["O", "O"]]) == "IOB2"
        assert detect_scheme([["B-PER", "O"]]) == "IOB2"
        assert detect_scheme([["I-PER", "O"]]) == "IO"
    messages = [
        record.getMessage() for record in caplog.records if record.name == "label_semantics.verbalizer"
    ]
    assert messages == ["detect_scheme: no entity in 2 sentences, reporting IOB2"]


def test_spans_to_tags_refuses_empty_spans_and_names_the_overlapping_one():
    with pytest.raises(ValueError, match=re.escape("span ('PER', 1, 1) is empty")):
        spans_to_tags([("PER", 1, 1)], 3)
    # the span reported is the one that starts inside the previous one
    with pytest.raises(ValueError, match=re.escape("span ('B', 1, 2) is empty, outside")):
        spans_to_tags([("A", 0, 5), ("B", 1, 2)], 6)


def test_entity_types_and_descriptions_messages():
    with raises_exactly(InvalidTagError, "entity_types takes a list of labels, got the string 'B-PER'"):
        entity_types("B-PER")
    with pytest.raises(
        ValueError, match=re.escape("descriptions must be a mapping from type or tag to text, got list;")
    ):
        describe_type("PER", descriptions=["person"])


def test_describe_type_of_a_name_without_words_is_the_name_lower_cased():
    assert describe_type("--") == "--"
    assert describe_type(" ⓐ ") == "ⓐ"  # a lower-case symbol: not a letter, but it has an upper case
