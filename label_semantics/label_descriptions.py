"""The built-in natural-language descriptions of the entity types of the usual NER benchmarks, in two styles (the
type's name in words, `BUILTIN_DESCRIPTIONS`: ``"musicalartist"`` -> ``"musical artist"``; a definition,
`BUILTIN_DEFINITIONS`: ``"musical artist: a singer, musician or composer"``), and `describe_type`, which reads
them. Pure Python with no imports from the package: copied next to checkpoints as remote code with the
verbalizer, which re-exports its names."""

from __future__ import annotations

import re
from collections.abc import Mapping

BUILTIN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "conll2003": {"PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous"},
    # Ma et al. (2022), Table 6.
    "ontonotes": {
        "PERSON": "person",
        "NORP": "nationality religion political",
        "FAC": "facility",
        "ORG": "organization",
        "GPE": "geographical social political entity",
        "LOC": "location",
        "PRODUCT": "product",
        "EVENT": "event",
        "WORK_OF_ART": "work of art",
        "LAW": "law",
        "LANGUAGE": "language",
        "DATE": "date",
        "TIME": "time",
        "PERCENT": "percent",
        "MONEY": "money",
        "QUANTITY": "quantity",
        "ORDINAL": "ordinal",
        "CARDINAL": "cardinal",
    },
    "wnut17": {
        "person": "person",
        "location": "location",
        "corporation": "corporation",
        "product": "product",
        "creative-work": "creative work",
        "group": "group",
    },
    "mit_movie": {
        "ACTOR": "actor",
        "CHARACTER": "character",
        "DIRECTOR": "director",
        "GENRE": "genre",
        "PLOT": "plot",
        "RATING": "rating",
        "RATINGS_AVERAGE": "ratings average",
        "REVIEW": "review",
        "SONG": "song",
        "TITLE": "title",
        "TRAILER": "trailer",
        "YEAR": "year",
    },
    "mit_restaurant": {
        "Amenity": "amenity",
        "Cuisine": "cuisine",
        "Dish": "dish",
        "Hours": "hours",
        "Location": "location",
        "Price": "price",
        "Rating": "rating",
        "Restaurant_Name": "restaurant name",
    },
    # CrossNER, the union of its five domains (AI, literature, music, politics, science).
    "crossner": {
        "academicjournal": "academic journal",
        "album": "album",
        "algorithm": "algorithm",
        "astronomicalobject": "astronomical object",
        "award": "award",
        "band": "band",
        "book": "book",
        "chemicalcompound": "chemical compound",
        "chemicalelement": "chemical element",
        "conference": "conference",
        "country": "country",
        "discipline": "discipline",
        "election": "election",
        "enzyme": "enzyme",
        "event": "event",
        "field": "field",
        "literarygenre": "literary genre",
        "location": "location",
        "magazine": "magazine",
        "metrics": "metrics",
        "misc": "miscellaneous",
        "musicalartist": "musical artist",
        "musicalinstrument": "musical instrument",
        "musicgenre": "music genre",
        "organisation": "organisation",
        "person": "person",
        "poem": "poem",
        "politicalparty": "political party",
        "politician": "politician",
        "product": "product",
        "programlang": "programming language",
        "protein": "protein",
        "researcher": "researcher",
        "scientist": "scientist",
        "song": "song",
        "task": "task",
        "theory": "theory",
        "university": "university",
        "writer": "writer",
    },
}
"""Type descriptions per benchmark: ``BUILTIN_DESCRIPTIONS["ontonotes"]["GPE"]`` is
``"geographical social political entity"``. Keys are case-sensitive, as the datasets write them."""

DESCRIPTION_STYLES = ("names", "definitions")
"""How the built-in tables describe a type: ``"names"`` (`BUILTIN_DESCRIPTIONS`) or ``"definitions"``
(`BUILTIN_DEFINITIONS`)."""

# One definition per type name: a name found in several tables (``person``, ``LOC``) has one definition, since
# `builtin_description` returns the first table's. Form: "<the name in words>: <a short definition>".
_PERSON = "a named person, real or fictional"
_ORGANIZATION = "a named company, institution, agency, team or other organised group"
_LOCATION = "a named place, such as a country, city, region, river or mountain"
_PLACE = "a named place, such as a city, region, building or landmark"
_PRODUCT = "a named thing that is made or sold, such as a device, software, vehicle or food"
_EVENT = "a named happening, such as a war, storm, festival or contest"

_DEFINITIONS = {
    "conll2003": {
        "PER": _PERSON,
        "LOC": _LOCATION,
        "ORG": _ORGANIZATION,
        "MISC": "another named entity, such as a nationality, an event, a language or the title of a work",
    },
    "ontonotes": {
        "PERSON": _PERSON,
        "NORP": "a nationality or a religious or political group",
        "FAC": "a building, airport, highway, bridge or other structure",
        "ORG": _ORGANIZATION,
        "GPE": "a country, city or state",
        "LOC": _LOCATION,
        "PRODUCT": _PRODUCT,
        "EVENT": _EVENT,
        "WORK_OF_ART": "the title of a book, song, film, painting or other creative work",
        "LAW": "a named document made into law",
        "LANGUAGE": "a named language",
        "DATE": "an absolute or relative date or period",
        "TIME": "a time shorter than a day",
        "PERCENT": "a percentage",
        "MONEY": "an amount of money, with its unit",
        "QUANTITY": "a measurement, such as a weight or a distance",
        "ORDINAL": "a rank, such as first or second",
        "CARDINAL": "a number that is not of another type",
    },
    "wnut17": {
        "person": _PERSON,
        "location": _PLACE,
        "corporation": "a company or brand that makes or sells things",
        "product": _PRODUCT,
        "creative-work": "the title of a song, film, book, show, game or other work",
        "group": "a band, sports team, club or other group that is not a company",
    },
    "mit_movie": {
        "ACTOR": "a person who acts in a film",
        "CHARACTER": "a person or creature in the story of a film",
        "DIRECTOR": "a person who directed a film",
        "GENRE": "a kind of film, such as comedy, horror or western",
        "PLOT": "what a film is about, its story or subject",
        "RATING": "a film's age rating, such as PG-13, R or unrated",
        "RATINGS_AVERAGE": "how well viewers rate a film, such as highly rated or eight stars",
        "REVIEW": "what critics or viewers say of a film, such as a must see",
        "SONG": "a song in a film",
        "TITLE": "the title of a film",
        "TRAILER": "a film's trailer, preview or clip",
        "YEAR": "when a film came out, a year or a decade",
    },
    "mit_restaurant": {
        "Amenity": "a feature or service of a restaurant, such as outdoor seating, take out or kid friendly",
        "Cuisine": "a style of food, such as Italian, vegetarian or fast food",
        "Dish": "a food or drink, such as pizza, sushi or coffee",
        "Hours": "when a restaurant is open, such as late at night, for lunch or on Sunday",
        "Location": "where a restaurant is, such as nearby, a town, a street or a landmark",
        "Price": "how much a meal costs, such as cheap or expensive",
        "Rating": "how good a restaurant is said to be, such as best or five star",
        "Restaurant_Name": "the name of a restaurant or chain",
    },
    "crossner": {
        "academicjournal": "a journal that publishes research papers",
        "album": "a music album",
        "algorithm": "a named method or model in computing, such as a neural network or a decision tree",
        "astronomicalobject": "a planet, star, galaxy, comet or other body in space",
        "award": "a prize or honour, such as the Nobel Prize or a Grammy",
        "band": "a music group",
        "book": "the title of a book, novel or play",
        "chemicalcompound": "a substance made of several chemical elements, such as water",
        "chemicalelement": "an element of the periodic table, such as oxygen or iron",
        "conference": "a meeting where research is presented, such as NeurIPS",
        "country": "a nation or state",
        "discipline": "a branch of science or study, such as physics",
        "election": "a vote to choose officials, such as a general election",
        "enzyme": "a protein that speeds up a chemical reaction",
        "event": _EVENT,
        "field": "an area of research in computing, such as machine learning",
        "literarygenre": "a kind of writing, such as poetry or science fiction",
        "location": _PLACE,
        "magazine": "a periodical publication",
        "metrics": "a measure of performance, such as accuracy or F1 score",
        "misc": "another named entity, such as a nationality or the title of a work",
        "musicalartist": "a singer, musician or composer",
        "musicalinstrument": "an instrument played to make music, such as a guitar",
        "musicgenre": "a style of music, such as jazz or hip hop",
        "organisation": _ORGANIZATION,
        "person": _PERSON,
        "poem": "the title of a poem",
        "politicalparty": "a party that runs in elections",
        "politician": "a person who holds or seeks political office",
        "product": _PRODUCT,
        "programlang": "a language for writing computer programs, such as Python",
        "protein": "a molecule made of amino acids, such as insulin",
        "researcher": "a person who does research in computing",
        "scientist": "a person who does research in science",
        "song": "the title of a song",
        "task": "a problem that computing solves, such as speech recognition",
        "theory": "a scientific theory, such as general relativity",
        "university": "a university or college",
        "writer": "a person who writes books, poems or plays",
    },
}

BUILTIN_DEFINITIONS: dict[str, dict[str, str]] = {
    table: {name: f"{BUILTIN_DESCRIPTIONS[table][name]}: {text}" for name, text in types.items()}
    for table, types in _DEFINITIONS.items()
}
"""Type definitions per benchmark, keyed as `BUILTIN_DESCRIPTIONS`, each ``"<name>: <definition>"``:
``BUILTIN_DEFINITIONS["crossner"]["musicalartist"]`` is ``"musical artist: a singer, musician or composer"``."""


def check_description_style(style: object) -> str:
    """``style`` when it is one of `DESCRIPTION_STYLES`, else a `ValueError` that names it."""
    if not isinstance(style, str) or style not in DESCRIPTION_STYLES:
        raise ValueError(
            f"description_style={style!r} is not one of {DESCRIPTION_STYLES}; e.g. description_style='definitions' "
            "to describe the built-in types by a definition, or 'names' (the default) by their name in words."
        )
    return style


def builtin_description(name: str, style: str = "names") -> str | None:
    """The built-in description of the type ``name`` in ``style`` (`DESCRIPTION_STYLES`), looked up case-sensitively
    in every table, in order; `None` for a type no table knows."""
    tables = BUILTIN_DEFINITIONS if check_description_style(style) == "definitions" else BUILTIN_DESCRIPTIONS
    for table in tables.values():
        if name in table:
            return table[name]
    return None


_WORD_PATTERN = re.compile(r"A+(?=Aa)|A?a+|A+|0+")  # over character classes: A upper, a other letter, 0 digit


def _check_descriptions(descriptions: Mapping[str, str] | None) -> Mapping[str, str]:
    if descriptions is None:
        return {}
    if not isinstance(descriptions, Mapping):
        raise ValueError(
            f"descriptions must be a mapping from type or tag to text, got {type(descriptions).__name__}; "
            f'e.g. descriptions={{"PER": "person name"}}'
        )
    for key, text in descriptions.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f'the description of {key!r} is {text!r}; give a non-empty text, e.g. {{{key!r}: "person"}}, '
                f"or leave {key!r} out to use the built-in one"
            )
    return descriptions


def describe_type(name: str, descriptions: Mapping[str, str] | None = None, style: str = "names") -> str:
    """The natural-language description of an entity type.

    Looked up, case-sensitively, in ``descriptions`` first, then in every table of `BUILTIN_DESCRIPTIONS`
    (``style="names"``) or `BUILTIN_DEFINITIONS` (``style="definitions"``: ``"musicalartist"`` -> ``"musical
    artist: a singer, musician or composer"``); an unknown name is split on ``_``, ``-`` and camelCase humps and
    lower-cased (``"Restaurant_Name"`` and ``"RestaurantName"`` give ``"restaurant name"``). Words written
    together (``"musicalartist"``) are only split when a built-in table knows them.

    Args:
        name (`str`):
            The entity type, e.g. ``"GPE"``.
        descriptions (`Mapping[str, str]`, *optional*):
            User descriptions keyed by type; they override the built-ins. Kept whole, whatever their length.
        style (`str`, *optional*, defaults to `"names"`):
            The built-ins to use, `"names"` or `"definitions"`; a type without a built-in is described by its
            name's words in either style.

    Returns:
        `str`: e.g. ``"geographical social political entity"`` for ``"GPE"``.

    Raises:
        `ValueError`: ``name`` is empty, a user description is empty or only whitespace, or ``style`` is not
        `"names"` or `"definitions"`.
    """
    check_description_style(style)
    descriptions = _check_descriptions(descriptions)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'entity type {name!r} must be a non-empty string, e.g. describe_type("PER")')
    if name in descriptions:
        return descriptions[name].strip()
    builtin = builtin_description(name, style)
    if builtin is not None:
        return builtin
    words = _name_words(name)
    return " ".join(words).lower() if words else name.strip().lower()


def _name_words(name: str) -> list[str]:
    """Split a type name on ``_``, ``-``, spaces, camelCase humps and digits, for any alphabet: the pattern runs
    over each character's class (upper case, other letter, digit), so ``"Straße"`` and ``"café"`` stay whole."""
    classes = "".join(
        "A" if ch.isupper() else "0" if ch.isdigit() else "a" if ch.isalnum() else " " for ch in name
    )
    return [name[m.start() : m.end()] for m in _WORD_PATTERN.finditer(classes)]


__all__ = [
    "BUILTIN_DEFINITIONS",
    "BUILTIN_DESCRIPTIONS",
    "DESCRIPTION_STYLES",
    "builtin_description",
    "check_description_style",
    "describe_type",
]
