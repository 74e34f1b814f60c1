"""NER data: read column files and datasets into one form, with every sentence kept and every tag checked.

`load_ner_dataset` turns any supported source (a folder or file of CoNLL-like columns, a mapping of split
names to such files, a `datasets` object, a `save_to_disk` folder, a Hub name) into a
`datasets.DatasetDict` whose rows are ``{"tokens": [str, ...], "ner_tags": [str, ...]}``; ClassLabel ids
become their names. The tags of a data set are checked to follow one tag scheme (a mix is an error naming
where each scheme is seen) unless the caller names the scheme.

The parts live in their own modules and are importable from here too: reading one column file
(`label_semantics.column_files`), the tag-scheme check (`label_semantics.scheme_check`), and tokenising,
aligning and collating (`label_semantics.alignment`: `tokenize_and_align`, `align_dataset`,
`NERDataCollator`).

Small samples of WNUT-17 and CrossNER ship with the package under `SAMPLE_DATA` (its README.md names
their sources and licences).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets

from .alignment import (
    NERDataCollator,
    SlowTokenizerError,
    UnknownLabelError,
    align_dataset,
    tokenize_and_align,
)
from .column_files import ColumnFileError, _check_tag, _read_column_rows, read_column_file
from .scheme_check import MixedSchemeError, Places, check_scheme, check_tag_scheme
from .verbalizer import normalize_scheme

logger = logging.getLogger(__name__)

__all__ = [
    "COLUMN_FILE_SUFFIXES",
    "NER_FEATURES",
    "SAMPLE_DATA",
    "SPLIT_ALIASES",
    "ColumnFileError",
    "MixedSchemeError",
    "NERDataCollator",
    "NERDatasetError",
    "SlowTokenizerError",
    "UnknownLabelError",
    "align_dataset",
    "check_tag_scheme",
    "load_ner_dataset",
    "normalize_ner_dataset",
    "read_column_file",
    "tokenize_and_align",
]

COLUMN_FILE_SUFFIXES = (
    ".txt",
    ".conll",
    ".tsv",
    ".bio",
    ".iob",
    ".iob1",
    ".iob2",
    ".io",
    ".bioes",
    ".iobes",
    ".bilou",
)
"""File name suffixes that `load_ner_dataset` reads as column files (a name such as ``eng.testa``, whose
suffix names a split, is read too)."""

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "validation",
    "devel": "validation",
    "development": "validation",
    "valid": "validation",
    "val": "validation",
    "validation": "validation",
    "testa": "validation",
    "test": "test",
    "testing": "test",
    "testb": "test",
}
"""The words of a file name (and the `splits` names) that name a split, and the split each stands for:
``dev.txt``, ``devel.tsv`` and ``eng.testa`` give ``"validation"``, ``eng.testb`` gives ``"test"``."""

NER_FEATURES = datasets.Features(
    {"tokens": datasets.List(datasets.Value("string")), "ner_tags": datasets.List(datasets.Value("string"))}
)
"""The features of every split `load_ner_dataset` returns."""

SAMPLE_DATA = Path(__file__).resolve().parent / "samples"
"""Folder of the small data samples shipped with the package: ``wnut17-sample`` (WNUT-17, CC BY 4.0) and
``crossner-literature-sample`` (CrossNER, MIT); its README.md names their sources."""

# names of files that document a data folder; never read as data
_DOCUMENT_STEMS = {"readme", "license", "licence", "notice", "citation", "authors", "changelog", "copying"}
_NOT_DATA_SUFFIXES = {".md", ".rst", ".html", ".pdf", ".py", ".sh", ".log", ".png", ".jpg", ".yaml", ".yml"}
_NAME_WORDS = re.compile(r"[._\-\s]+")


class NERDatasetError(ValueError):
    """A dataset without the ``tokens`` / ``ner_tags`` columns, with rows whose tokens and tags differ in
    length, or an invalid tag."""


# --------------------------------------------------------------------------------------------------------
# folders of column files


def _splits_named(name: str) -> list[str]:
    """The splits the words of a file name name: ``"eng.testa"`` -> ``["validation"]``."""
    words = _NAME_WORDS.split(name.lower())
    return list(dict.fromkeys(SPLIT_ALIASES[word] for word in words if word in SPLIT_ALIASES))


def _split_of(name: str) -> str | None:
    """The one split a file name names (``"dev.conll"`` -> ``"validation"``), else `None`."""
    named = _splits_named(name)
    return named[0] if len(named) == 1 else None


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def _include_hint(path: Path) -> str:
    return f"name each file's split: load_ner_dataset({{'train': {str(path)!r}, 'test': ...}})"


def _folder_files(folder: Path) -> dict[str, Path]:
    """Split -> column file of a folder; every file is read, documentation only excepted, or is an error."""
    files: dict[str, Path] = {}
    not_data: list[str] = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file():
            not_data.append(name + ("/" if path.is_dir() else ""))
            continue
        suffix = path.suffix.lower()
        named = _splits_named(name)
        column_like = suffix in COLUMN_FILE_SUFFIXES or suffix[1:] in SPLIT_ALIASES or not suffix
        document = name.lower().split(".")[0] in _DOCUMENT_STEMS or suffix in _NOT_DATA_SUFFIXES
        if document or (not named and not (column_like and suffix)):
            not_data.append(name)
            continue
        if not column_like:
            raise FileNotFoundError(
                f"{path} names the {named[0]!r} split but {suffix} is no column-file suffix "
                f"({', '.join(COLUMN_FILE_SUFFIXES)}), so it cannot be read as one; rename it if it is a column "
                f"file, or load it with datasets.load_dataset(...) and pass the DatasetDict to load_ner_dataset"
            )
        if not named:
            raise FileNotFoundError(
                f"{path} looks like a column file but its name names no split (train, dev/devel/valid/testa, "
                f"test/testb); rename it, e.g. train{suffix}, move it out of {folder}, or {_include_hint(path)}"
            )
        # "train_dev.tsv" (train and dev together, as the biomedical corpora ship it) is a split of its own
        split = named[0] if len(named) == 1 else re.sub(r"\W+", "_", name.rsplit(".", 1)[0].lower())
        if split in files:
            raise FileNotFoundError(
                f"{folder} holds two files for the {split!r} split: {files[split].name} and {name}; keep one, "
                f"or {_include_hint(path)}"
            )
        files[split] = path
    if not files:
        raise FileNotFoundError(
            f"{folder} holds no column file named after a split (found {not_data[:20]}); name the files "
            f"train/dev/test with a suffix among {', '.join(COLUMN_FILE_SUFFIXES)}, e.g. train.txt, or pass a "
            f"folder written by Dataset.save_to_disk"
        )
    if not_data:
        logger.info("%s: not data, not read: %s", folder, ", ".join(not_data))
    return files


def _read_column_files(
    files: Mapping[str, Path], tag_column: int, tag_scheme: str | None, source: str
) -> datasets.DatasetDict:
    """Read split -> file, checking that all files together follow one tag scheme."""
    logger.info("reading %s", ", ".join(f"{split}={path}" for split, path in files.items()))
    places, read, all_rows = Places(), {}, []
    for split, path in files.items():
        rows, lines = _read_column_rows(path, tag_column)
        places.add(str(path), len(rows), lines)
        all_rows.extend(rows)
        read[split] = rows
    _, repairs = check_scheme([row["ner_tags"] for row in all_rows], places, tag_scheme, source)
    for index, tags in repairs.items():
        all_rows[index]["ner_tags"] = tags
    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {"tokens": [row["tokens"] for row in rows], "ner_tags": [row["ner_tags"] for row in rows]},
                features=NER_FEATURES,
            )
            for split, rows in read.items()
        }
    )


# --------------------------------------------------------------------------------------------------------
# datasets


def _tag_names(feature: Any) -> list[str] | None:
    """The ClassLabel names of a ``ner_tags`` feature (a list of ClassLabel), or ``None`` for strings."""
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.ClassLabel):
        return list(inner.names)
    if isinstance(inner, datasets.Value) and inner.dtype in ("string", "large_string"):
        return None
    raise NERDatasetError(
        f"the ner_tags column has features {feature!r}; it must be a list of strings or of ClassLabel, e.g. "
        f"datasets.List(datasets.ClassLabel(names=['O', 'B-PER', 'I-PER']))"
    )


def _check_tokens_feature(feature: Any, split: str) -> None:
    inner = getattr(feature, "feature", None)
    if not (isinstance(inner, datasets.Value) and inner.dtype in ("string", "large_string")):
        raise NERDatasetError(
            f"split {split!r}: the tokens column has features {feature!r}; it must be a list of words "
            f"(datasets.List(datasets.Value('string'))). Split texts into words first, e.g. "
            f"dataset.map(lambda row: {{'tokens': row['text'].split()}})"
        )


def normalize_ner_dataset(
    dataset: datasets.Dataset | datasets.DatasetDict, *, split: str = "train"
) -> datasets.Dataset | datasets.DatasetDict:
    """Bring a `datasets` NER set to the package's form: string tags, two columns, validated rows.

    ``ner_tags`` given as a list of `datasets.ClassLabel` (as on the Hub: CoNLL-2003, WNUT-17, ...) is
    converted to the label names; other columns (``id``, ``pos_tags``, ...) are dropped. The tag scheme is
    not checked here: `load_ner_dataset` and `check_tag_scheme` do that.

    Args:
        dataset (`datasets.Dataset` or `datasets.DatasetDict`):
            Rows with a ``tokens`` column (list of str) and a ``ner_tags`` column (list of str tags or of
            ClassLabel ids).
        split (`str`, *optional*, defaults to `"train"`):
            The split name used in error messages when ``dataset`` is a single `datasets.Dataset`.

    Returns:
        `datasets.Dataset` or `datasets.DatasetDict` (the type given): columns ``tokens`` and ``ner_tags``,
        both lists of strings (`NER_FEATURES`).

    Raises:
        `NERDatasetError`: a column is missing or of another type, a row has more tokens than tags or the
        reverse (its split and index are named), a ClassLabel id is outside the names (-1, "no label",
        included), or a tag fits no scheme.

    Example:

    ```python
    >>> features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
    ...                               "ner_tags": datasets.List(datasets.ClassLabel(names=["O", "B-PER"]))})
    >>> ds = datasets.Dataset.from_dict({"tokens": [["Ann", "sings"]], "ner_tags": [[1, 0]]}, features=features)
    >>> normalize_ner_dataset(ds)[0]
    {'tokens': ['Ann', 'sings'], 'ner_tags': ['B-PER', 'O']}
    ```
    """
    if isinstance(dataset, datasets.DatasetDict):
        return datasets.DatasetDict(
            {name: normalize_ner_dataset(part, split=name) for name, part in dataset.items()}
        )
    if not isinstance(dataset, datasets.Dataset):
        raise NERDatasetError(
            f"expected a datasets.Dataset or DatasetDict, got {type(dataset).__name__}; an IterableDataset "
            f"can be materialised with datasets.Dataset.from_generator(lambda: iter(it), features=it.features)"
        )
    missing = [column for column in ("tokens", "ner_tags") if column not in dataset.column_names]
    if missing:
        raise NERDatasetError(
            f"split {split!r} lacks the column(s) {missing}; its columns are {dataset.column_names}. Rename "
            f"them, e.g. dataset.rename_column('words', 'tokens').rename_column('tags', 'ner_tags')"
        )
    _check_tokens_feature(dataset.features["tokens"], split)
    names = _tag_names(dataset.features["ner_tags"])
    extra = [column for column in dataset.column_names if column not in ("tokens", "ner_tags")]
    if extra:
        logger.debug("split %r: dropping columns %s", split, extra)
        dataset = dataset.remove_columns(extra)

    tokens_column = dataset["tokens"]
    tags_column = dataset["ner_tags"]
    for index, (tokens, tags) in enumerate(zip(tokens_column, tags_column, strict=True)):
        if len(tokens) != len(tags):
            raise NERDatasetError(
                f"split {split!r}, row {index}: {len(tokens)} tokens but {len(tags)} tags "
                f"(tokens {list(tokens)[:8]!r}...); every token needs one tag. Fix the row or drop such rows "
                f"with dataset.filter(lambda row: len(row['tokens']) == len(row['ner_tags']))"
            )
    if names is not None:
        bad = [name for name in names if _check_tag(name, set()) is not None]
        if bad:
            raise NERDatasetError(
                f"split {split!r}: the ClassLabel names {bad} are not tags; rename them to 'O' or "
                f"<B|I|E|S>-<type>, e.g. 'B-PER'"
            )
        for index, ids in enumerate(tags_column):
            for position, tag_id in enumerate(ids):
                if not 0 <= tag_id < len(names):
                    raise NERDatasetError(
                        f"split {split!r}, row {index}, position {position}: the ClassLabel id {tag_id} names no "
                        f"label (there are {len(names)}: 0 to {len(names) - 1}; -1 is datasets' 'no label'); "
                        f"every token needs a tag: fix the row or drop it with dataset.filter(...)"
                    )

        def to_names(batch: dict[str, list]) -> dict[str, list]:
            return {"ner_tags": [[names[i] for i in row] for row in batch["ner_tags"]]}

        return dataset.map(
            to_names, batched=True, features=NER_FEATURES, desc=f"ClassLabel -> tags ({split})"
        )

    known: set[str] = set()
    for index, tags in enumerate(tags_column):
        for position, tag in enumerate(tags):
            problem = _check_tag(tag, known)
            if problem is not None:
                raise NERDatasetError(f"split {split!r}, row {index}, position {position}: {problem}")
    if dataset.features != NER_FEATURES:
        dataset = dataset.cast(NER_FEATURES)
    return dataset


def _looks_like_path(source: str) -> bool:
    """A string no Hub id can be (``./x``, ``/x``, ``a/b/c``, ``x.txt``), or whose first folder exists here."""
    return (
        source.startswith(("/", ".", "~"))
        or "\\" in source
        or source.count("/") > 1
        or any(source.lower().endswith(suffix) for suffix in COLUMN_FILE_SUFFIXES)
        or ("/" in source and Path(source.split("/")[0]).is_dir())
    )


def _missing_path(source: str) -> str:
    path = Path(source).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    where = f"{path.resolve()}" if not path.is_absolute() else str(path)
    if parent.is_dir():
        near = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))[:10]
        return f"{source} does not exist: no such file or folder {where} ({parent} holds {near})"
    return f"{source} does not exist: no such file or folder {where} (not even {parent})"


def _load_hub(source: str, kwargs: Mapping[str, Any]) -> datasets.DatasetDict:
    logger.info("%r is no local path: loading it from the Hugging Face Hub", source)
    try:
        loaded = datasets.load_dataset(source, **kwargs)
    except (OSError, ValueError) as error:  # ConnectionError and DatasetNotFoundError are OSErrors
        raise FileNotFoundError(
            f"{_missing_path(source)}; read as a Hub data set name, it failed too: {error}. Pass a column "
            f"file, a folder of train/dev/test column files, a folder written by save_to_disk, or a Hub name "
            f"such as 'conll2003' (with network access)"
        ) from error
    return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})


def load_ner_dataset(
    source: str | os.PathLike | Mapping[str, str | os.PathLike] | datasets.Dataset | datasets.DatasetDict,
    *,
    splits: Sequence[str] | None = None,
    tag_column: int = -1,
    tag_scheme: str | None = None,
    **load_dataset_kwargs: Any,
) -> datasets.DatasetDict:
    """Load an NER data set from any supported source as a `datasets.DatasetDict` of string tags.

    Sources, tried in this order:

    * a `datasets.Dataset` (becomes the ``"train"`` split) or `datasets.DatasetDict`;
    * a mapping of split names to column files, ``{"train": "a/train_dev.tsv", "test": "a/eng.testb"}``;
    * a folder written by ``save_to_disk`` (it holds ``dataset_dict.json`` or ``state.json``);
    * a folder of column files, each read as the split its name names: ``train``, ``dev``/``devel``/
      ``valid``/``validation``/``testa``, ``test``/``testb`` (words of the name: ``eng.testa``,
      ``emerging.dev.conll``, ``test.iobes`` all count). A name that names two splits, such as
      ``train_dev.tsv``, is a split of its own (``"train_dev"``). Documentation (``README.md``,
      ``LICENSE``, ...) is not read; any other file, a column file whose name names no split, say, is an
      error naming it: nothing is skipped silently;
    * one column file (its split is read from its name, else ``"train"``);
    * otherwise a Hub name, loaded with `datasets.load_dataset`. A string that looks like a local path
      (``"data/train.txt"``, ``"./corpus"``, or ``"data/wnut"`` when ``data/`` exists) gives
      `FileNotFoundError` at once; when the Hub cannot give a name either, the error says both.

    Split names are normalised: ``dev`` and ``valid`` become ``"validation"``. All splits together must
    follow one tag scheme: a mix (a ``B-`` entity in IO data, an ``S-`` tag in IOB2) is an error that names
    where each scheme is seen (file and line), unless ``tag_scheme`` names the scheme.

    Args:
        source (`str`, `os.PathLike`, `Mapping[str, str]`, `datasets.Dataset` or `datasets.DatasetDict`):
            Where the data is, see above.
        splits (`Sequence[str]`, *optional*):
            Keep only these splits (aliases allowed: ``["train", "dev"]``); all when omitted.
        tag_column (`int`, *optional*, defaults to `-1`):
            The tag column of column files, see `read_column_file`.
        tag_scheme (`str`, *optional*):
            The scheme the tags are written in; see `check_tag_scheme`. Detected when omitted.
        load_dataset_kwargs (`dict`, *optional*):
            Passed to `datasets.load_dataset` for a Hub name, e.g. ``revision="main"``.

    Returns:
        `datasets.DatasetDict`: every split with the columns ``tokens`` and ``ner_tags`` (lists of str);
        ClassLabel ids are converted to their names.

    Raises:
        `FileNotFoundError`: a local path that does not exist, a Hub name that cannot be loaded, a folder
        with no split file, or a folder holding a file that cannot be read as a split.
        `ColumnFileError`: a column file cannot be read.
        `NERDatasetError`: rows whose tokens and tags differ in length, missing columns, invalid tags.
        `MixedSchemeError`: the tags mix two schemes, or a tag does not exist in ``tag_scheme``.
        `KeyError`: a requested split is absent (the available ones are named).
        `TypeError`: ``tag_column`` or ``load_dataset_kwargs`` given for a source that does not use them.

    Example:

    ```python
    >>> ds = load_ner_dataset("../shared/data/ner/wnut17", splits=["train", "dev"])
    >>> sorted(ds), ds["train"].column_names
    (['train', 'validation'], ['tokens', 'ner_tags'])
    ```
    """
    if tag_scheme is not None:
        normalize_scheme(tag_scheme)  # an unknown name fails before any reading
    from_columns = False
    if isinstance(source, (datasets.IterableDataset, datasets.IterableDatasetDict)):
        raise NERDatasetError(
            f"load_ner_dataset needs the rows in memory, got a streamed {type(source).__name__}; materialise it, e.g. "
            f"datasets.Dataset.from_generator(lambda: iter(streamed), features=streamed.features), or load "
            f"without streaming=True"
        )
    if isinstance(source, datasets.Dataset):
        loaded: datasets.DatasetDict = datasets.DatasetDict({"train": source})
    elif isinstance(source, datasets.DatasetDict):
        loaded = source
    elif isinstance(source, Mapping):
        files = {}
        for split, file in source.items():
            if not isinstance(file, (str, os.PathLike)):
                raise TypeError(
                    f"load_ner_dataset(mapping): the mapping's values are column files, got {type(file).__name__} "
                    f"for {split!r}; pass a datasets.DatasetDict for datasets"
                )
            if not Path(file).is_file():
                raise FileNotFoundError(f"split {split!r}: {_missing_path(str(file))}")
            files[split] = Path(file)
        loaded, from_columns = _read_column_files(files, tag_column, tag_scheme, "{...}"), True
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir() and not _is_saved_dataset(path):
            loaded = _read_column_files(_folder_files(path), tag_column, tag_scheme, repr(str(source)))
            from_columns = True
        elif path.is_dir():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.Dataset):
                loaded = datasets.DatasetDict({"train": loaded})
        elif path.is_file():
            split = _split_of(path.name) or "train"
            logger.info("reading %s as the %r split", path, split)
            loaded = _read_column_files({split: path}, tag_column, tag_scheme, repr(str(source)))
            from_columns = True
        elif isinstance(source, os.PathLike) or _looks_like_path(str(source)):
            raise FileNotFoundError(
                f"{_missing_path(str(source))}; pass a column file, a folder of train/dev/test column files, a "
                f"folder written by save_to_disk, or a Hub data set name such as 'conll2003'"
            )
        else:
            loaded = _load_hub(str(source), load_dataset_kwargs)
    else:
        raise TypeError(
            f"load_ner_dataset takes a path, a mapping of splits to files, a Hub name, a datasets.Dataset or a "
            f"DatasetDict, got {type(source).__name__}; e.g. load_ner_dataset('../shared/data/ner/wnut17')"
        )
    if load_dataset_kwargs and not (isinstance(source, str) and not Path(source).expanduser().exists()):
        raise TypeError(
            f"load_ner_dataset({source!r}): {sorted(load_dataset_kwargs)} only apply to a Hub name (they go to "
            f"datasets.load_dataset); this source is local or in memory, so leave them out"
        )
    if tag_column != -1 and not from_columns:
        raise TypeError(
            f"tag_column={tag_column} only applies to column files, and {type(source).__name__} source "
            f"{source!r} is not read from columns; select the tag column of a dataset with "
            f"dataset.rename_column('my_tags', 'ner_tags')"
        )

    renamed: dict[str, datasets.Dataset] = {}
    for name, part in loaded.items():
        canonical = SPLIT_ALIASES.get(name, name)
        if canonical in renamed:
            raise NERDatasetError(
                f"the splits {sorted(loaded)} of {type(source).__name__} hold two names for {canonical!r} "
                f"(dev, valid, val and validation are one split); keep one, e.g. load_ner_dataset("
                f"datasets.DatasetDict({{k: v for k, v in dataset_dict.items() if k != {name!r}}}))"
            )
        renamed[canonical] = part
    loaded = datasets.DatasetDict(renamed)
    if splits is not None:
        if isinstance(splits, str):
            splits = [splits]
        wanted = list(dict.fromkeys(SPLIT_ALIASES.get(name, name) for name in splits))
        absent = [name for name in splits if SPLIT_ALIASES.get(name, name) not in loaded]
        if absent:
            raise KeyError(
                f"split(s) {absent} not found in {source!r}; available: {sorted(loaded)}. Pass some of "
                f"those, e.g. splits={sorted(loaded)[:2]!r}"
            )
        loaded = datasets.DatasetDict({name: loaded[name] for name in wanted})
    normalized = normalize_ner_dataset(loaded)
    if not from_columns:  # column files were checked as they were read, with their lines
        _, normalized = check_tag_scheme(normalized, tag_scheme=tag_scheme)
    return normalized
