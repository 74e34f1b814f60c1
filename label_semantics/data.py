"""NER data: read column files and datasets, tokenise with word alignment, collate batches.

The pipeline a training script runs:

1. `load_ner_dataset` turns any supported source (a folder or file of CoNLL-like columns, a `datasets`
   object, a `save_to_disk` folder, a Hub name) into a `datasets.DatasetDict` whose rows are
   ``{"tokens": [str, ...], "ner_tags": [str, ...]}``; ClassLabel ids become their names.
2. ``dataset.map(tokenize_and_align, batched=True, fn_kwargs=...)`` tokenises the words and puts each word's
   label on its first sub-token (-100 elsewhere). A sentence longer than the window is cut into several
   rows at word boundaries, so every word is labelled exactly once and nothing is truncated.
3. `NERDataCollator` pads a batch of such rows for the model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
from transformers import DataCollatorForTokenClassification

from .verbalizer import InvalidTagError, split_tag

logger = logging.getLogger(__name__)

COLUMN_FILE_SUFFIXES = (".txt", ".conll", ".tsv", ".bio", ".iob", ".iob2", ".bioes")
"""File name suffixes that `load_ner_dataset` reads as column files."""

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "validation",
    "valid": "validation",
    "val": "validation",
    "validation": "validation",
    "test": "test",
    "testing": "test",
}
"""File stems (and `splits` names) and the split each stands for: ``dev.txt`` and ``valid.txt`` give
``"validation"``."""

NER_FEATURES = datasets.Features(
    {"tokens": datasets.List(datasets.Value("string")), "ner_tags": datasets.List(datasets.Value("string"))}
)
"""The features of every split `load_ner_dataset` returns."""

_DOCSTART = "-DOCSTART-"
# model_max_length of tokenizers saved without a limit is a huge sentinel (int(1e30)); treat as "no limit"
_NO_LIMIT = 1_000_000


class ColumnFileError(ValueError):
    """A column file that cannot be read: a malformed line (named by file and 1-based line number), an
    invalid tag, or no sentence at all."""


class NERDatasetError(ValueError):
    """A dataset without the ``tokens`` / ``ner_tags`` columns, with rows whose tokens and tags differ in
    length, or an invalid tag."""


class UnknownLabelError(ValueError):
    """A tag in the data that the ``label2id`` mapping lacks."""


class SlowTokenizerError(ValueError):
    """A tokenizer without ``word_ids()`` (a Python-based "slow" tokenizer)."""


# --------------------------------------------------------------------------------------------------------
# column files


def _check_tag(tag: str, known: set[str]) -> str | None:
    """Return an error text when ``tag`` fits no scheme; ``known`` caches the tags already accepted."""
    if tag in known:
        return None
    try:
        split_tag(tag)
    except InvalidTagError as error:
        return str(error)
    known.add(tag)
    return None


def read_column_file(path: str | os.PathLike, *, tag_column: int = -1) -> list[dict[str, list[str]]]:
    """Read a CoNLL-like file: one token per line with its columns, sentences separated by blank lines.

    The formats of the usual NER sets are read as they are: columns separated by tabs (a line holding a
    tab is split on tabs only, so a token may hold spaces) or by spaces; 2 columns (token, tag) or more
    (CoNLL-2003: token, POS, chunk, tag). Lines holding only whitespace (a lone tab, as in WNUT-17)
    separate sentences like blank lines do, and ``-DOCSTART-`` lines are document boundaries, not
    sentences. Every other line must have the column count of the file's first token line and a tag of
    a known scheme (``"O"`` or ``B``/``I``/``E``/``S``/``L``/``U`` + ``-`` + type); nothing is skipped.

    Args:
        path (`str` or `os.PathLike`):
            The file, UTF-8 encoded (a byte-order mark is allowed).
        tag_column (`int`, *optional*, defaults to `-1`):
            The index of the tag column; the token is always column 0.

    Returns:
        `list[dict[str, list[str]]]`: one ``{"tokens": [...], "ner_tags": [...]}`` per sentence, in file
        order.

    Raises:
        `FileNotFoundError`: ``path`` does not exist or is a folder.
        `ColumnFileError`: a malformed line (its file, 1-based number and text are shown), an empty token,
        an invalid tag, a file that is not UTF-8, or a file with no sentence.

    Example:

    ```python
    >>> rows = read_column_file("../shared/data/ner/wnut17/dev.conll")
    >>> rows[0]["tokens"][:3], rows[0]["ner_tags"][:3]
    (['Stabilized', 'approach', 'or'], ['O', 'O', 'O'])
    ```
    """
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(
            f"{path} is a folder, not a column file; read a folder of train/dev/test files with "
            f"load_ner_dataset({str(path)!r})"
        )
    if not path.is_file():
        raise FileNotFoundError(f"column file {path} does not exist; pass the path of a CoNLL-like file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ColumnFileError(
            f"{path} is not UTF-8 ({error}); re-encode it, e.g. iconv -f latin1 -t utf-8 {path}"
        ) from None

    sentences: list[dict[str, list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    n_columns: int | None = None
    known_tags: set[str] = set()

    def fail(lineno: int, line: str, problem: str, fix: str) -> ColumnFileError:
        return ColumnFileError(f"{path}:{lineno}: {problem}\n    line {lineno}: {line!r}\n{fix}")

    def close_sentence() -> None:
        nonlocal tokens, tags
        if tokens:
            sentences.append({"tokens": tokens, "ner_tags": tags})
            tokens, tags = [], []

    # split on "\n" only: str.splitlines() would also split inside tokens holding U+2028, U+0085, ...
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            close_sentence()
            continue
        fields = [field.strip() for field in line.split("\t")] if "\t" in line else line.split()
        if fields[0] == _DOCSTART:
            close_sentence()
            continue
        if n_columns is None:
            n_columns = len(fields)
            if n_columns < 2:
                raise fail(
                    lineno,
                    line,
                    "a token line needs at least 2 columns (token and tag), found 1",
                    "Write one token per line followed by its tag, separated by a tab or a space: 'Paris\\tB-LOC'.",
                )
            if not -n_columns <= tag_column < n_columns or tag_column in (0, -n_columns):
                raise fail(
                    lineno,
                    line,
                    f"tag_column={tag_column} does not name a tag column of this {n_columns}-column file "
                    f"(column 0 is the token)",
                    f"Pass tag_column=-1 (the last column) or an index from 1 to {n_columns - 1}.",
                )
        elif len(fields) != n_columns:
            raise fail(
                lineno,
                line,
                f"{len(fields)} columns where the file's first token line has {n_columns}",
                f"Give every token line {n_columns} columns, separated by tabs or spaces; a sentence break "
                f"is an empty line.",
            )
        token, tag = fields[0], fields[tag_column]
        if not token:
            raise fail(
                lineno, line, "empty token", "Remove the line or write the token before the first separator."
            )
        problem = _check_tag(tag, known_tags)
        if problem is not None:
            raise fail(
                lineno,
                line,
                problem,
                f"Fix the tag, or point tag_column (now {tag_column}) at the tag column of this "
                f"{n_columns}-column file.",
            )
        tokens.append(token)
        tags.append(tag)
    close_sentence()

    if not sentences:
        raise ColumnFileError(
            f"{path} holds no sentence (only blank or -DOCSTART- lines, or nothing); a column file has one "
            f"'token<TAB>tag' line per token and a blank line between sentences"
        )
    logger.debug("read %d sentences from %s", len(sentences), path)
    return sentences


# --------------------------------------------------------------------------------------------------------
# datasets


def _split_of(name: str) -> str | None:
    """``"dev.conll"`` -> ``"validation"``; ``None`` when the first dotted part names no split."""
    return SPLIT_ALIASES.get(name.split(".")[0].lower())


def _is_column_file(path: Path) -> bool:
    return path.is_file() and any(suffix.lower() in COLUMN_FILE_SUFFIXES for suffix in path.suffixes)


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def _looks_like_path(source: str) -> bool:
    return (
        source.startswith(("/", ".", "~"))
        or "\\" in source
        or source.count("/") > 1
        or any(source.lower().endswith(suffix) for suffix in COLUMN_FILE_SUFFIXES)
    )


def _rows_to_dataset(rows: list[dict[str, list[str]]]) -> datasets.Dataset:
    columns = {"tokens": [row["tokens"] for row in rows], "ner_tags": [row["ner_tags"] for row in rows]}
    return datasets.Dataset.from_dict(columns, features=NER_FEATURES)


def _read_column_folder(folder: Path, tag_column: int) -> datasets.DatasetDict:
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        split = _split_of(path.name) if _is_column_file(path) else None
        if split is None:
            continue
        if split in files:
            raise FileNotFoundError(
                f"{folder} holds two files for the {split!r} split: {files[split].name} and {path.name}; "
                f"keep one, or load each with load_ner_dataset(<file>)"
            )
        files[split] = path
    if not files:
        names = sorted(p.name for p in folder.iterdir())[:20]
        raise FileNotFoundError(
            f"{folder} holds no column file named after a split (found {names}); name the files "
            f"train/dev/test with a suffix among {', '.join(COLUMN_FILE_SUFFIXES)}, e.g. train.txt, or "
            f"pass a folder written by Dataset.save_to_disk"
        )
    logger.info("reading %s", ", ".join(f"{split}={path}" for split, path in files.items()))
    return datasets.DatasetDict(
        {
            split: _rows_to_dataset(read_column_file(path, tag_column=tag_column))
            for split, path in files.items()
        }
    )


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


def normalize_ner_dataset(
    dataset: datasets.Dataset | datasets.DatasetDict, *, split: str = "train"
) -> datasets.Dataset | datasets.DatasetDict:
    """Bring a `datasets` NER set to the package's form: string tags, two columns, validated rows.

    ``ner_tags`` given as a list of `datasets.ClassLabel` (as on the Hub: CoNLL-2003, WNUT-17, ...) is
    converted to the label names; other columns (``id``, ``pos_tags``, ...) are dropped.

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
        reverse (its split and index are named), or a tag fits no scheme.

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


def load_ner_dataset(
    source: str | os.PathLike | datasets.Dataset | datasets.DatasetDict,
    *,
    splits: Sequence[str] | None = None,
    tag_column: int = -1,
    **load_dataset_kwargs: Any,
) -> datasets.DatasetDict:
    """Load an NER data set from any supported source as a `datasets.DatasetDict` of string tags.

    Sources, tried in this order:

    * a `datasets.Dataset` (becomes the ``"train"`` split) or `datasets.DatasetDict`;
    * a folder written by ``save_to_disk`` (it holds ``dataset_dict.json`` or ``state.json``);
    * a folder of column files named after their split: ``train``, ``dev``/``valid``/``validation``,
      ``test``, with a suffix among `COLUMN_FILE_SUFFIXES` (``train.txt``, ``dev.conll``, ``test.bio``);
      other files in the folder are not read;
    * one column file (its split is read from its name, else ``"train"``);
    * otherwise a Hub name, loaded with `datasets.load_dataset` (a string that looks like a local path,
      such as ``"data/train.txt"``, gives `FileNotFoundError` instead).

    Split names are normalised: ``dev`` and ``valid`` become ``"validation"``.

    Args:
        source (`str`, `os.PathLike`, `datasets.Dataset` or `datasets.DatasetDict`):
            Where the data is, see above.
        splits (`Sequence[str]`, *optional*):
            Keep only these splits (aliases allowed: ``["train", "dev"]``); all when omitted.
        tag_column (`int`, *optional*, defaults to `-1`):
            The tag column of column files, see `read_column_file`.
        load_dataset_kwargs (`dict`, *optional*):
            Passed to `datasets.load_dataset` for a Hub name, e.g. ``revision="main"``.

    Returns:
        `datasets.DatasetDict`: every split with the columns ``tokens`` and ``ner_tags`` (lists of str);
        ClassLabel ids are converted to their names.

    Raises:
        `FileNotFoundError`: a local path that does not exist, or a folder with no split file.
        `ColumnFileError`: a column file cannot be read.
        `NERDatasetError`: rows whose tokens and tags differ in length, missing columns, invalid tags.
        `KeyError`: a requested split is absent (the available ones are named).

    Example:

    ```python
    >>> ds = load_ner_dataset("../shared/data/ner/wnut17", splits=["train", "dev"])
    >>> sorted(ds), ds["train"].column_names
    (['train', 'validation'], ['tokens', 'ner_tags'])
    ```
    """
    if isinstance(source, datasets.Dataset):
        loaded: datasets.DatasetDict = datasets.DatasetDict({"train": source})
    elif isinstance(source, datasets.DatasetDict):
        loaded = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            loaded = (
                datasets.load_from_disk(str(path))
                if _is_saved_dataset(path)
                else _read_column_folder(path, tag_column)
            )
            if isinstance(loaded, datasets.Dataset):
                loaded = datasets.DatasetDict({"train": loaded})
        elif path.is_file():
            split = _split_of(path.name) or "train"
            logger.info("reading %s as the %r split", path, split)
            loaded = datasets.DatasetDict(
                {split: _rows_to_dataset(read_column_file(path, tag_column=tag_column))}
            )
        elif isinstance(source, os.PathLike) or _looks_like_path(str(source)):
            raise FileNotFoundError(
                f"{source} does not exist; pass a column file, a folder of train/dev/test column files, a "
                f"folder written by save_to_disk, or a Hub data set name such as 'conll2003'"
            )
        else:
            logger.info("loading %r from the Hugging Face Hub", source)
            loaded = datasets.load_dataset(str(source), **load_dataset_kwargs)
            if isinstance(loaded, datasets.Dataset):
                loaded = datasets.DatasetDict({"train": loaded})
    else:
        raise TypeError(
            f"load_ner_dataset takes a path, a Hub name, a datasets.Dataset or a DatasetDict, got "
            f"{type(source).__name__}; e.g. load_ner_dataset('../shared/data/ner/wnut17')"
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
        wanted = [SPLIT_ALIASES.get(name, name) for name in splits]
        absent = [name for name, canonical in zip(splits, wanted, strict=True) if canonical not in loaded]
        if absent:
            raise KeyError(
                f"split(s) {absent} not found in {source!r}; available: {sorted(loaded)}. Pass some of "
                f"those, e.g. splits={sorted(loaded)[:2]!r}"
            )
        loaded = datasets.DatasetDict({name: loaded[name] for name in wanted})
    return normalize_ner_dataset(loaded)


# --------------------------------------------------------------------------------------------------------
# tokenisation and alignment


def _resolve_max_length(tokenizer: Any, max_length: int | None) -> int | None:
    if max_length is None:
        model_max = getattr(tokenizer, "model_max_length", None)
        return model_max if isinstance(model_max, int) and model_max <= _NO_LIMIT else None
    if max_length <= tokenizer.num_special_tokens_to_add(pair=False):
        raise ValueError(
            f"max_length={max_length} leaves no room for words after the "
            f"{tokenizer.num_special_tokens_to_add(pair=False)} special tokens; pass e.g. max_length=128"
        )
    return max_length


def _word_windows(counts: Sequence[int], budget: int, stride_words: int) -> list[tuple[int, int, int]]:
    """Cut words into consecutive windows of at most ``budget`` sub-tokens.

    Returns ``(context_start, start, end)`` triples: the words ``[start, end)`` are labelled, the words
    ``[context_start, start)`` are repeated from the window before as unlabelled context (at most
    ``stride_words`` words and half the budget). A word longer than the budget is a window of its own.
    """
    windows = []
    start = 0
    while start < len(counts):
        context_start, used = start, counts[start]
        while (
            context_start > max(0, start - stride_words)
            and used + counts[context_start - 1] <= budget
            and used - counts[start] + counts[context_start - 1] <= budget // 2
        ):
            context_start -= 1
            used += counts[context_start]
        end = start + 1
        while end < len(counts) and used + counts[end] <= budget:
            used += counts[end]
            end += 1
        windows.append((context_start, start, end))
        start = end
    return windows


def _label_ids(tags: Sequence[Any], label2id: Mapping[str, int], row: int) -> list[int]:
    ids = []
    for tag in tags:
        if tag not in label2id:
            if isinstance(tag, int):
                raise UnknownLabelError(
                    f"row {row}: ner_tags holds the integer {tag}, tokenize_and_align expects string tags; "
                    f"convert ClassLabel ids to names first with load_ner_dataset(dataset)"
                )
            raise UnknownLabelError(
                f"row {row}: the tag {tag!r} is not in label2id, whose labels are {sorted(label2id)}. Build "
                f"label2id from every split's tags, or convert the tags to the model's scheme with "
                f"verbalizer.convert_scheme(tags, target='IOB2')"
            )
        ids.append(label2id[tag])
    return ids


def _encode(tokenizer: Any, words: list[str], max_length: int | None) -> Any:
    """Tokenise one sentence of words; truncation only ever cuts the tail of a single over-long word."""
    if max_length is None:
        return tokenizer(words, is_split_into_words=True, truncation=False, verbose=False)
    return tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)


def tokenize_and_align(
    examples: Mapping[str, Sequence[Any]],
    tokenizer: Any,
    label2id: Mapping[str, int],
    *,
    max_length: int | None = None,
    stride_words: int = 0,
) -> dict[str, list]:
    """Tokenise pre-split words and align the word tags to sub-tokens; a batched `datasets.Dataset.map`
    function.

    Each word's label id goes on its first sub-token (found with the fast tokenizer's ``word_ids()``);
    the other sub-tokens and the special tokens get -100. A sentence whose sub-tokens do not fit in
    ``max_length`` is **not** truncated: it is cut at word boundaries into several rows of consecutive
    words, each as long as fits, so every word is labelled exactly once (the output may hold more rows
    than the input: call ``map`` with ``remove_columns`` when the data has columns other than ``tokens``
    and ``ner_tags``). With ``stride_words`` > 0 each row after the first also starts with up to that many
    preceding words as unlabelled context (-100). A single word longer than the whole window (a huge URL)
    keeps its first sub-tokens, which carry its label, and a warning names it. Words the tokenizer turns
    into nothing (a lone zero-width space) are replaced by the unknown token so they keep their label.

    Args:
        examples (`Mapping[str, Sequence]`):
            A batch: ``{"tokens": [[str, ...], ...], "ner_tags": [[str, ...], ...]}``.
        tokenizer ([`PreTrainedTokenizerBase`]):
            A fast tokenizer (one with ``word_ids()``).
        label2id (`Mapping[str, int]`):
            Tag to label id, e.g. ``model.config.label2id``.
        max_length (`int`, *optional*):
            The most sub-tokens per row, special tokens included; defaults to ``tokenizer.model_max_length``
            (no limit when the tokenizer has none).
        stride_words (`int`, *optional*, defaults to `0`):
            How many words of the previous window to repeat as unlabelled left context when a sentence is
            split; the context never takes more than half the window.

    Returns:
        `dict[str, list]`: the tokenizer's outputs (``input_ids``, ``attention_mask``, and
        ``token_type_ids`` if it makes them), ``labels`` (-100 where not a word's first sub-token), and the
        ``tokens`` / ``ner_tags`` each row labels (a slice of the sentence when it was split).

    Raises:
        `SlowTokenizerError`: the tokenizer has no ``word_ids()``.
        `UnknownLabelError`: a tag is not in ``label2id`` (the tag and the known labels are named).
        `NERDatasetError`: a row has more tokens than tags or the reverse.
        `ValueError`: ``max_length`` leaves no room for words, ``stride_words`` < 0, or a word gives no
        sub-token and the tokenizer has no unknown token to stand for it.

    Example:

    ```python
    >>> label2id = {"O": 0, "B-PER": 1, "I-PER": 2}
    >>> ds = ds.map(tokenize_and_align, batched=True, fn_kwargs={"tokenizer": tokenizer, "label2id": label2id,
    ...                                                          "max_length": 128})
    ```
    """
    if not getattr(tokenizer, "is_fast", False):
        raise SlowTokenizerError(
            f"{type(tokenizer).__name__} is a Python ('slow') tokenizer without word_ids(), which word alignment "
            f"needs; load a fast one: AutoTokenizer.from_pretrained(name)  (use_fast is the default)"
        )
    if stride_words < 0:
        raise ValueError(f"stride_words={stride_words} must be >= 0, e.g. stride_words=0 (no context)")
    max_length = _resolve_max_length(tokenizer, max_length)
    budget = None if max_length is None else max_length - tokenizer.num_special_tokens_to_add(pair=False)

    batch_words = [list(words) for words in examples["tokens"]]
    batch_encoding = tokenizer(batch_words, is_split_into_words=True, truncation=False, verbose=False)
    output: dict[str, list] = {"labels": [], "tokens": [], "ner_tags": []}
    for row, (words, tags) in enumerate(zip(batch_words, examples["ner_tags"], strict=True)):
        tags = list(tags)
        if len(words) != len(tags):
            raise NERDatasetError(
                f"row {row} of the batch has {len(words)} tokens but {len(tags)} tags ({words[:8]!r}...); "
                f"check the data with load_ner_dataset(dataset), which names the bad row"
            )
        label_ids = _label_ids(tags, label2id, row)
        encoding = {key: values[row] for key, values in batch_encoding.items()}
        word_ids = batch_encoding.word_ids(row)
        counts = [0] * len(words)
        for word_id in word_ids:
            if word_id is not None:
                counts[word_id] += 1
        empty = [i for i, count in enumerate(counts) if count == 0]
        if empty and tokenizer.unk_token is not None:
            logger.debug("row %d: words %s give no sub-token, using %s", row, empty, tokenizer.unk_token)
            for i in empty:
                words[i] = tokenizer.unk_token
            single = _encode(tokenizer, words, None)
            encoding, word_ids = dict(single), single.word_ids()
            counts = [max(count, 1) for count in counts]
        elif empty:
            raise ValueError(
                f"row {row}: the words {[words[i] for i in empty]!r} give no sub-token and the tokenizer has "
                f"no unknown token to stand for them; remove or replace those words"
            )

        if budget is None or sum(counts) <= budget:
            windows = [(0, 0, len(words))]
        else:
            windows = _word_windows(counts, budget, stride_words)
            logger.debug("row %d: %d sub-tokens, split into %d rows", row, sum(counts), len(windows))

        for context_start, start, end in windows:
            if len(windows) > 1:
                window = _encode(tokenizer, words[context_start:end], max_length)
                encoding = dict(window)
                word_ids = [None if w is None else w + context_start for w in window.word_ids()]
                if end - start == 1 and counts[start] > budget:
                    logger.warning(
                        "the word %r has %d sub-tokens, more than max_length=%d allows; only its first %d are "
                        "kept (its label is kept)",
                        words[start],
                        counts[start],
                        max_length,
                        budget,
                    )
            labels, previous = [], None
            for word_id in word_ids:
                first = word_id is not None and word_id != previous and start <= word_id < end
                labels.append(label_ids[word_id] if first else -100)
                previous = word_id
            for key, value in encoding.items():
                output.setdefault(key, []).append(value)
            output["labels"].append(labels)
            output["tokens"].append(list(examples["tokens"][row])[start:end])
            output["ner_tags"].append(tags[start:end])
    return output


# --------------------------------------------------------------------------------------------------------
# collation


@dataclass
class NERDataCollator(DataCollatorForTokenClassification):
    """Pad a batch of `tokenize_and_align` rows: the tokenizer pads ``input_ids``, ``attention_mask`` and
    ``token_type_ids``, and ``labels`` are padded with -100 (`label_pad_token_id`).

    Keys the model does not take (``tokens``, ``ner_tags``, anything outside
    ``tokenizer.model_input_names`` and ``labels``) are left out of the batch, so rows straight from
    `tokenize_and_align` can be collated even with ``remove_unused_columns=False``.

    Example:

    ```python
    >>> collator = NERDataCollator(tokenizer)
    >>> batch = collator([{"input_ids": [2, 5, 3], "labels": [-100, 1, -100]}, {"input_ids": [2, 3], "labels": [-100, -100]}])
    >>> batch["labels"].tolist()
    [[-100, 1, -100], [-100, -100, -100]]
    ```
    """

    def __call__(
        self, features: list[Mapping[str, Any]], return_tensors: str | None = None
    ) -> dict[str, Any]:
        keep = {*self.tokenizer.model_input_names, "labels"}
        features = [{key: value for key, value in feature.items() if key in keep} for feature in features]
        return super().__call__(features, return_tensors)
