"""Read CoNLL-like column files as they are found in the wild, every line accounted for."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .scheme_check import Places, check_scheme
from .verbalizer import InvalidTagError, split_tag

logger = logging.getLogger(__name__)

_DOCSTART = "-DOCSTART-"


class ColumnFileError(ValueError):
    """A column file that cannot be read: a malformed line (named by file and 1-based line number), an
    invalid tag, or no sentence at all."""


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


def _read_column_rows(path: Path, tag_column: int) -> tuple[list[dict[str, list[str]]], list[list[int]]]:
    """`read_column_file` without the scheme check; also returns the 1-based line of every token."""
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
    sentence_lines: list[list[int]] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    n_columns: int | None = None
    known_tags: set[str] = set()

    def fail(lineno: int, line: str, problem: str, fix: str) -> ColumnFileError:
        return ColumnFileError(f"{path}:{lineno}: {problem}\n    line {lineno}: {line!r}\n{fix}")

    def close_sentence() -> None:
        nonlocal tokens, tags, lines
        if tokens:
            sentences.append({"tokens": tokens, "ner_tags": tags})
            sentence_lines.append(lines)
            tokens, tags, lines = [], [], []

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
        lines.append(lineno)
    close_sentence()

    if not sentences:
        raise ColumnFileError(
            f"{path} holds no sentence (only blank or -DOCSTART- lines, or nothing); a column file has one "
            f"'token<TAB>tag' line per token and a blank line between sentences"
        )
    logger.debug("read %d sentences from %s", len(sentences), path)
    return sentences, sentence_lines


def read_column_file(
    path: str | os.PathLike, *, tag_column: int = -1, tag_scheme: str | None = None
) -> list[dict[str, list[str]]]:
    """Read a CoNLL-like file: one token per line with its columns, sentences separated by blank lines.

    The formats of the usual NER sets are read as they are: columns separated by tabs (a line holding a
    tab is split on tabs only, so a token may hold spaces) or by spaces; 2 columns (token, tag) or more
    (CoNLL-2003: token, POS, chunk, tag). Lines holding only whitespace (a lone tab, as in WNUT-17)
    separate sentences like blank lines do, and ``-DOCSTART-`` lines are document boundaries, not
    sentences. Every other line must have the column count of the file's first token line and a tag of
    a known scheme (``"O"`` or ``B``/``I``/``E``/``S``/``L``/``U`` + ``-`` + type); nothing is skipped.
    The file's tags must follow one tag scheme, unless ``tag_scheme`` names it.

    Args:
        path (`str` or `os.PathLike`):
            The file, UTF-8 encoded (a byte-order mark is allowed).
        tag_column (`int`, *optional*, defaults to `-1`):
            The index of the tag column; the token is always column 0.
        tag_scheme (`str`, *optional*):
            The scheme the tags are written in; see `check_tag_scheme`. Detected when omitted.

    Returns:
        `list[dict[str, list[str]]]`: one ``{"tokens": [...], "ner_tags": [...]}`` per sentence, in file
        order.

    Raises:
        `FileNotFoundError`: ``path`` does not exist or is a folder.
        `ColumnFileError`: a malformed line (its file, 1-based number and text are shown), an empty token,
        an invalid tag, a file that is not UTF-8, or a file with no sentence.
        `MixedSchemeError`: the tags mix two schemes (the file and line of each are named), or a tag does not
        exist in ``tag_scheme``.

    Example:

    ```python
    >>> rows = read_column_file("../shared/data/ner/wnut17/dev.conll")
    >>> rows[0]["tokens"][:3], rows[0]["ner_tags"][:3]
    (['Stabilized', 'approach', 'or'], ['O', 'O', 'O'])
    ```
    """
    path = Path(path)
    sentences, lines = _read_column_rows(path, tag_column)
    places = Places()
    places.add(str(path), len(sentences), lines)
    _, repairs = check_scheme([row["ner_tags"] for row in sentences], places, tag_scheme, repr(str(path)))
    for index, tags in repairs.items():
        sentences[index]["ner_tags"] = tags
    return sentences
