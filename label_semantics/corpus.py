"""Tag a corpus too large for memory: streamed in chunks, resumable, split across processes, one output in input
order.

The corpus is read one chunk of records at a time (JSON Lines, Parquet, or a `datasets` folder / Hub name) and never
held whole. Each finished chunk is written as its own part file in `<output>.parts/` (written under a temporary
name, then renamed, so a part exists only when complete); when every part exists they are joined into the output,
in input order, and the parts folder is removed. An interrupted run started again with the same command finds the
finished parts and tags only the rest: no record is tagged twice, written twice or dropped.

Under `accelerate launch` or `torchrun` every process reads the corpus, tags the chunks whose number modulo the
number of processes is its rank (round robin: a streamed corpus has no length to cut in contiguous pieces, and an
interrupted run resumes evenly), and the main process joins the parts. The parts folder must be on a file system
all processes see (one machine, or a shared disk).

```python
>>> from label_semantics.corpus import tag_corpus
>>> tag_corpus(model, "corpus.jsonl", "entities.jsonl")          # records with a "text" (or "tokens") field
>>> tag_corpus(model, "corpus.parquet", "entities.parquet", field="body", keep=["doc_id"])
```
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024
"""Records per chunk: the unit of streaming, of resuming and of the split across processes."""
INDEX = "index"
"""The output field holding each record's position in the input, from 0."""
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
MANIFEST = "manifest.json"


class CorpusError(ValueError):
    """Bad corpus input; the message names the file and the line or row."""


@dataclass
class _Chunk:
    number: int
    start: int  # index of its first record in the corpus
    size: int
    load: Callable[
        [], list[dict]
    ]  # parses and checks the records (only the process that tags the chunk does)


# ---------------------------------------------------------------------------------------------- reading


class _Corpus:
    """A streamed corpus: its name, its size when known, and its chunks in order."""

    name: str
    total: int | None = None

    def first_record(self) -> dict | None:
        raise NotImplementedError

    def chunks(self, size: int) -> Iterator[_Chunk]:
        raise NotImplementedError

    def fingerprint(self) -> dict:
        return {"source": self.name}


class _JsonLines(_Corpus):
    def __init__(self, path: Path):
        self.path = path
        self.name = str(path)
        self.total = _count_lines(path)

    def _record(self, number: int, raw: bytes) -> dict:
        where = f"{self.path} line {number}"
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            raise CorpusError(f"{where} is not UTF-8 ({err}); re-encode the file as UTF-8.") from err
        if not line.strip():
            raise CorpusError(
                f"{where} is empty; JSON Lines hold one JSON object per line, e.g. "
                '{"text": "John lives in Paris."}: remove the empty line.'
            )
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusError(
                f"{where} is not valid JSON ({err.msg} at column {err.colno}): {line[:80]!r}"
            ) from err
        if not isinstance(record, dict):
            raise CorpusError(
                f"{where} holds a JSON {type(record).__name__}, not an object; write one object per line, e.g. "
                '{"text": "John lives in Paris."}.'
            )
        return record

    def first_record(self) -> dict | None:
        with self.path.open("rb") as file:
            raw = file.readline()
        return self._record(1, raw) if raw else None

    def chunks(self, size: int) -> Iterator[_Chunk]:
        with self.path.open("rb") as file:
            number, lines = 0, []
            for line_number, raw in enumerate(file, 1):
                lines.append(raw)
                if len(lines) == size:
                    yield self._chunk(number, line_number - size, lines)
                    number, lines = number + 1, []
            if lines:
                yield self._chunk(number, number * size, lines)

    def _chunk(self, number: int, start: int, lines: list[bytes]) -> _Chunk:
        return _Chunk(
            number,
            start,
            len(lines),
            lambda: [self._record(start + i + 1, raw) for i, raw in enumerate(lines)],
        )

    def fingerprint(self) -> dict:
        stat = self.path.stat()
        return {"source": str(self.path.resolve()), "bytes": stat.st_size, "modified": stat.st_mtime_ns}


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


class _Parquet(_Corpus):
    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = path
        self.name = str(path)
        try:
            self.file = pq.ParquetFile(path)
        except Exception as err:  # pyarrow raises its own error types
            raise CorpusError(f"{path} is not a Parquet file ({err}).") from err
        self.total = self.file.metadata.num_rows
        self.columns = list(self.file.schema_arrow.names)

    def first_record(self) -> dict | None:
        for batch in self.file.iter_batches(batch_size=1):
            return batch.slice(0, 1).to_pylist()[0]
        return None

    def select(self, columns: list[str]) -> None:
        """Read only these columns."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise CorpusError(f"{self.path} has no column {missing[0]!r}; its columns are {self.columns}.")
        self.columns = columns

    def chunks(self, size: int) -> Iterator[_Chunk]:
        return _table_chunks(
            self.file.iter_batches(batch_size=size, columns=self.columns), size, self.columns
        )

    def fingerprint(self) -> dict:
        stat = self.path.stat()
        return {"source": str(self.path.resolve()), "bytes": stat.st_size, "modified": stat.st_mtime_ns}


def _table_chunks(batches, size: int, columns: list[str]) -> Iterator[_Chunk]:
    """Re-cut Arrow record batches (which stop at row-group ends) into chunks of `size` rows."""
    import pyarrow as pa

    pending, rows, number = [], 0, 0

    def make(table) -> _Chunk:
        return _Chunk(number, number * size, table.num_rows, table.to_pylist)

    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending).select(columns)
            yield make(table.slice(0, size))
            number += 1
            rest = table.slice(size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield make(pa.Table.from_batches(pending).select(columns))


class _Dataset(_Corpus):
    """A `datasets` folder saved with `save_to_disk` (memory-mapped), or a Hub name / folder of data files
    (streamed)."""

    def __init__(self, source: str, split: str | None):
        import datasets

        self.name = source
        path = Path(source)
        if path.is_dir() and any((path / f).is_file() for f in ("dataset_info.json", "dataset_dict.json")):
            data = datasets.load_from_disk(source)
        else:
            try:
                data = datasets.load_dataset(source, split=split, streaming=True)
            except Exception as err:  # datasets raises many kinds; the message says what was wrong
                raise CorpusError(f"Could not load the corpus {source!r} with datasets ({err}).") from err
        if isinstance(data, datasets.DatasetDict | datasets.IterableDatasetDict):
            if split is None and len(data) == 1:
                split = next(iter(data))
            if split not in data:
                raise CorpusError(
                    f"{source} has the splits {sorted(data)}; name one, e.g. split={sorted(data)[0]!r}."
                )
            data = data[split]
        self.split = split
        self.data = data
        if isinstance(data, datasets.Dataset):
            self.total = len(data)
        else:
            splits = getattr(data.info, "splits", None) or {}
            info = splits.get(split or "train")
            self.total = getattr(info, "num_examples", None)

    def first_record(self) -> dict | None:
        for record in self.data.take(1) if hasattr(self.data, "take") else self.data:
            return dict(record)
        return None

    def chunks(self, size: int) -> Iterator[_Chunk]:
        for number, batch in enumerate(self.data.iter(batch_size=size)):
            columns = list(batch)
            n = len(batch[columns[0]]) if columns else 0
            yield _Chunk(
                number,
                number * size,
                n,
                lambda batch=batch, columns=columns, n=n: [
                    {c: batch[c][i] for c in columns} for i in range(n)
                ],
            )

    def fingerprint(self) -> dict:
        fingerprint = getattr(self.data, "_fingerprint", None)
        return {"source": self.name, "split": self.split, "fingerprint": fingerprint}


def open_corpus(source: str | os.PathLike, *, split: str | None = None) -> _Corpus:
    """A streamed corpus: a JSON Lines file (`.jsonl`, `.json`, `.ndjson`), a Parquet file (`.parquet`, `.pq`), a
    folder saved by `datasets` or a `datasets` Hub name / folder of data files (with `split`)."""
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() in JSONL_SUFFIXES:
            return _JsonLines(path)
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return _Parquet(path)
        raise CorpusError(
            f"{path} is neither JSON Lines ({', '.join(JSONL_SUFFIXES)}) nor Parquet ({', '.join(PARQUET_SUFFIXES)}); "
            "rename it after its format, or pass a datasets folder or Hub name."
        )
    return _Dataset(str(source), split)


def _choose_field(first: dict | None, field: str | None) -> str | None:
    if first is None:
        return field
    if field is not None:
        if field not in first:
            raise CorpusError(f"The first record has no {field!r} field; its fields are {sorted(first)}.")
        return field
    for name in ("text", "tokens"):
        if name in first:
            return name
    raise CorpusError(
        f"The first record has neither a 'text' field (raw text) nor a 'tokens' field (pre-split words); its fields "
        f"are {sorted(first)}. Name the field to tag, e.g. field={sorted(first)[0]!r} (--field on the command line)."
    )


def _value(record: dict, field: str, where: str, words_allowed: bool):
    if field not in record:
        raise CorpusError(
            f"{where} has no {field!r} field (its fields: {sorted(record)}); every record needs one."
        )
    value = record[field]
    if isinstance(value, str):
        return value
    if words_allowed and isinstance(value, list | tuple) and all(isinstance(w, str) for w in value):
        return list(value)
    wanted = "a string or a list of strings (pre-split words)" if words_allowed else "a string"
    raise CorpusError(f"{where}: {field!r} is {type(value).__name__} {str(value)[:60]!r}, not {wanted}.")


# ---------------------------------------------------------------------------------------------- writing


def _result_key(model) -> str:
    config = model.config
    if getattr(config, "model_type", None) == "label-token":
        return "labels" if getattr(config, "is_multi_label", False) else "label"
    return "entities"


def _result_type(key: str):
    import pyarrow as pa

    scored = [("label", pa.string()), ("score", pa.float64())]
    if key == "label":
        return pa.struct(scored)
    if key == "labels":
        return pa.list_(pa.struct(scored))
    entity = scored[:1] + [("text", pa.string())] + scored[1:]
    entity += [(name, pa.int64()) for name in ("start", "end", "word_start", "word_end")]
    return pa.list_(pa.struct(entity))


def _write_part(path: Path, rows: list[dict], output_format: str, field: str, key: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if output_format == "jsonl":
        with tmp.open("w", encoding="utf-8") as file:
            for row in rows:
                file.write(json.dumps(row, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        values = [row[field] for row in rows]
        text_type = pa.list_(pa.string()) if values and not isinstance(values[0], str) else pa.string()
        columns = {
            INDEX: pa.array([row[INDEX] for row in rows], pa.int64()),
            field: pa.array(values, text_type),
        }
        for name in rows[0] if rows else ():
            if name not in (INDEX, field, key):
                columns[name] = pa.array([row[name] for row in rows])
        columns[key] = pa.array([row[key] for row in rows], _result_type(key))
        pq.write_table(pa.table(columns), tmp)
    os.replace(tmp, path)


def _merge(parts: list[Path], output: Path, output_format: str) -> None:
    tmp = output.with_name(output.name + ".tmp")
    if output_format == "jsonl":
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as file:
                    shutil.copyfileobj(file, out)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schemas = [pq.read_schema(part) for part in parts]
        schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
        with pq.ParquetWriter(tmp, schema) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part).cast(schema))
    os.replace(tmp, output)


def output_format_of(path: str | os.PathLike) -> str:
    """`"jsonl"` or `"parquet"`, from the output file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise ValueError(
        f"Cannot tell the output format of {str(path)!r}: name it *.jsonl (JSON Lines) or *.parquet, e.g. "
        "entities.jsonl."
    )


# ---------------------------------------------------------------------------------------------- tagging


def _start(parts_dir: Path, output: Path, manifest: dict, overwrite: bool) -> None:
    """Main process: a fresh parts folder, or the one of an interrupted run with the same settings."""
    if overwrite:
        shutil.rmtree(parts_dir, ignore_errors=True)
        output.unlink(missing_ok=True)
    if parts_dir.is_dir():
        found = _read_manifest(parts_dir)
        if found != manifest:
            changed = sorted(k for k in manifest.keys() | found.keys() if manifest.get(k) != found.get(k))
            raise ValueError(
                f"{parts_dir} holds the parts of an interrupted run with other settings ({', '.join(changed)}: "
                f"{[found.get(k) for k in changed]} there, {[manifest.get(k) for k in changed]} now). Run the same "
                "command again to resume it, or pass overwrite=True (--overwrite) to start over."
            )
        done = sum(1 for p in parts_dir.glob("part-*") if not p.name.endswith(".tmp"))
        logger.info("Resuming from %s: %d chunks already tagged", parts_dir, done)
        return
    if output.exists():
        raise ValueError(
            f"{output} exists and no interrupted run is recorded for it ({parts_dir} is absent); pass "
            "overwrite=True (--overwrite) to replace it, or another output path."
        )
    parts_dir.mkdir(parents=True)
    (parts_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _read_manifest(parts_dir: Path) -> dict:
    try:
        return json.loads((parts_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{parts_dir} has no readable {MANIFEST} ({err}); it is not a parts folder of this tool: remove it, or "
            "pass overwrite=True (--overwrite)."
        ) from err


def process_state():
    """accelerate's `PartialState`: under `accelerate launch` / `torchrun` one process per GPU (NCCL), or, on a
    machine without CUDA, CPU processes talking over gloo (accelerate treats a launch without `cpu=True` on such
    a machine as one process, so it is asked for explicitly); a single process otherwise."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def tag_corpus(
    model,
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    field: str | None = None,
    split: str | None = None,
    keep: Sequence[str] = (),
    chunk_size: int = CHUNK_SIZE,
    batch_size: int = 32,
    overwrite: bool = False,
    progress: bool = True,
    settings: dict | None = None,
    **predict_kwargs,
) -> Path | None:
    r"""
    Tag every record of a corpus with `model.predict` and write one output record per input record, in input
    order: `{"index": position, <field>: the text or words, "entities": [...]}` for NER (`"label"` / `"labels"`
    for a label-token classifier), plus the `keep` fields.

    Args:
        model: a model with `predict()` (`LabelSemanticsForTokenClassification`, its ONNX Runtime backend, or
            `LabelTokenForSequenceClassification`).
        source (`str` or `os.PathLike`): JSON Lines, Parquet, a `datasets` folder or Hub name.
        output (`str` or `os.PathLike`): `*.jsonl` or `*.parquet`.
        field (`str`, *optional*): the field to tag, raw text (a string) or pre-split words (a list of strings);
            defaults to `"text"`, else `"tokens"`, whichever the first record has.
        split (`str`, *optional*): the split of a `datasets` source (needed when it has several).
        keep (`Sequence[str]`, *optional*): other input fields to copy into the output, e.g. `["doc_id"]`.
        chunk_size (`int`, *optional*, defaults to `1024`): records read, tagged and written at a time: the unit of
            resuming and of the split across processes.
        batch_size (`int`, *optional*, defaults to `32`): windows per forward pass, as in `predict`.
        overwrite (`bool`, *optional*, defaults to `False`): start over even if the output or an interrupted run's
            parts exist.
        progress (`bool`, *optional*, defaults to `True`): show a progress bar (main process).
        settings (`dict`, *optional*): what else must match for a run to resume another (e.g. the model's path);
            recorded with the parts.
        **predict_kwargs: passed to `model.predict`, e.g. `viterbi=False`, `dtype="bfloat16"`.

    Returns:
        `Path | None`: the output, on the main process; `None` on the others.
    """
    from tqdm.auto import tqdm

    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r} must be a positive whole number of records, e.g. 1024.")
    output = Path(output)
    output_format = output_format_of(output)
    keep = list(keep)
    corpus = open_corpus(source, split=split)
    field = _choose_field(corpus.first_record(), field)
    key = _result_key(model)
    clash = sorted({INDEX, key, field} & set(keep))
    if clash:
        raise ValueError(f"keep={keep} names {clash}, which the output already has; keep other fields.")
    words_allowed = key == "entities"
    if isinstance(corpus, _Parquet) and field is not None:
        corpus.select([field, *keep])
    manifest = {
        **corpus.fingerprint(),
        "field": field,
        "keep": keep,
        "chunk_size": chunk_size,
        "format": output_format,
        "predict": {k: str(v) for k, v in sorted(predict_kwargs.items())},
        "settings": settings or {},
    }
    state = process_state()
    parts_dir = output.with_name(output.name + ".parts")
    if state.is_main_process:
        output.parent.mkdir(parents=True, exist_ok=True)
        _start(parts_dir, output, manifest, overwrite)
    state.wait_for_everyone()
    if not state.is_main_process and _read_manifest(parts_dir) != manifest:
        raise ValueError(
            f"{parts_dir} was made with other settings than this process's; run the same command"
        )
    suffix = "jsonl" if output_format == "jsonl" else "parquet"
    total = corpus.total
    share = None if total is None else -(-total // state.num_processes)
    bar = tqdm(total=share, unit="record", desc="Tagging", disable=not (progress and state.is_main_process))
    chunks = 0
    for chunk in corpus.chunks(chunk_size):
        chunks += 1
        if chunk.number % state.num_processes != state.process_index:
            continue
        part = parts_dir / f"part-{chunk.number:06d}.{suffix}"
        if part.exists():
            bar.update(chunk.size)
            continue
        records = chunk.load()
        where = _where(corpus, chunk.start)
        values = [_value(r, field, where(i), words_allowed) for i, r in enumerate(records)]
        for i, r in enumerate(records):
            missing = [name for name in keep if name not in r]
            if missing:
                raise CorpusError(f"{where(i)} has no {missing[0]!r} field, which keep= asks to copy.")
        results = model.predict(values, batch_size=batch_size, **predict_kwargs) if values else []
        rows = [
            {INDEX: chunk.start + i, field: value, **{name: r[name] for name in keep}, key: result}
            for i, (r, value, result) in enumerate(zip(records, values, results))
        ]
        _write_part(part, rows, output_format, field, key)
        bar.update(chunk.size)
    bar.close()
    state.wait_for_everyone()
    written = None
    if state.is_main_process:
        parts = [parts_dir / f"part-{n:06d}.{suffix}" for n in range(chunks)]
        missing = [p.name for p in parts if not p.exists()]
        if missing:
            raise RuntimeError(
                f"{len(missing)} parts are missing after tagging ({missing[:3]}); run again to resume"
            )
        _merge(parts, output, output_format)
        shutil.rmtree(parts_dir)
        logger.info("Tagged %d chunks of %s into %s", chunks, corpus.name, output)
        written = output
    state.wait_for_everyone()
    return written


def _where(corpus: _Corpus, start: int) -> Callable[[int], str]:
    if isinstance(corpus, _JsonLines):
        return lambda i: f"{corpus.name} line {start + i + 1}"
    return lambda i: f"{corpus.name} row {start + i + 1}"


__all__ = ["CHUNK_SIZE", "CorpusError", "open_corpus", "output_format_of", "process_state", "tag_corpus"]
