"""Corpus tagging: streamed in chunks, output in input order, resumed after an interruption (an injected failure and
a killed process) without tagging a chunk twice, bad input named by line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.cli import main
from label_semantics.corpus import CorpusError, open_corpus, tag_corpus

from .test_modeling_label_semantics import make_model, train

WORDS = "john smith mary jones visited paris london berlin acme corp in the a and was great".split()


def texts(n: int) -> list[str]:
    """Texts of 1 to 12 words (one empty), different lengths so that batching by length reorders them."""
    out = []
    for i in range(n):
        length = (i * 7) % 13
        out.append(" ".join(WORDS[(i + j * 3) % len(WORDS)] for j in range(length)))
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def assert_same(got: list[list[dict]], expected: list[list[dict]]) -> None:
    """The same entities; scores equal up to float noise (the corpus batches texts in other groups)."""
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected):
        assert [{k: v for k, v in e.items() if k != "score"} for e in ours] == [
            {k: v for k, v in e.items() if k != "score"} for e in theirs
        ]
        assert [e["score"] for e in ours] == pytest.approx([e["score"] for e in theirs], abs=1e-5)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def model(_tiny_encoder_dir):
    model = make_model(_tiny_encoder_dir)
    train(model, steps=60)
    return model


@pytest.fixture(scope="module")
def model_dir(model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus-model")
    model.save_pretrained(path)
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_jsonl(
        tmp_path / "corpus.jsonl", [{"text": t, "id": f"doc{i}"} for i, t in enumerate(texts(23))]
    )


def test_jsonl_in_input_order_with_the_entities_of_predict(model, corpus, tmp_path):
    output = tag_corpus(model, corpus, tmp_path / "out.jsonl", chunk_size=4, keep=["id"], progress=False)
    rows = read_jsonl(output)
    expected = model.predict(texts(23))
    assert [r["index"] for r in rows] == list(range(23))
    assert [r["id"] for r in rows] == [f"doc{i}" for i in range(23)]
    assert [r["text"] for r in rows] == texts(23)
    assert_same([r["entities"] for r in rows], expected)
    assert sum(len(r["entities"]) for r in rows) > 5
    assert not (tmp_path / "out.jsonl.parts").exists()  # the parts are joined and removed


def test_pre_split_words_parquet_and_datasets_sources(model, tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    words = [t.split() for t in texts(11)]
    expected = model.predict(words)
    source = write_jsonl(tmp_path / "words.jsonl", [{"tokens": w} for w in words])
    rows = read_jsonl(tag_corpus(model, source, tmp_path / "w.jsonl", chunk_size=3, progress=False))
    assert [r["tokens"] for r in rows] == words
    assert_same([r["entities"] for r in rows], expected)
    assert all("start" not in e for r in rows for e in r["entities"])

    # Parquet in (row groups of 2: chunks cross them), Parquet out, another field name
    table = pa.table({"body": texts(11), "n": list(range(11))})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=2)
    out = tag_corpus(
        model,
        tmp_path / "in.parquet",
        tmp_path / "out.parquet",
        field="body",
        keep=["n"],
        chunk_size=3,
        progress=False,
    )
    back = pq.read_table(out).to_pylist()
    assert [r["n"] for r in back] == list(range(11)) and [r["body"] for r in back] == texts(11)
    expected = model.predict(texts(11))
    for row, entities in zip(back, expected):
        assert [(e["label"], e["start"], e["end"]) for e in row["entities"]] == [
            (e["label"], e["start"], e["end"]) for e in entities
        ]

    # a folder saved by datasets, with two splits: the split is named
    data = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": texts(5)}),
            "test": datasets.Dataset.from_dict({"text": ["x"]}),
        }
    )
    data.save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(CorpusError, match=r"has the splits \['test', 'train'\]; name one"):
        tag_corpus(model, tmp_path / "saved", tmp_path / "d.jsonl", progress=False)
    rows = read_jsonl(
        tag_corpus(model, tmp_path / "saved", tmp_path / "d.jsonl", split="train", progress=False)
    )
    assert_same([r["entities"] for r in rows], model.predict(texts(5)))


def test_an_injected_failure_resumes_without_redoing_finished_chunks(model, corpus, tmp_path, monkeypatch):
    reference = tag_corpus(
        model, corpus, tmp_path / "reference.jsonl", chunk_size=4, progress=False
    ).read_bytes()
    calls = []
    real = LabelSemanticsForTokenClassification.predict

    def failing(self, inputs, **kwargs):
        calls.append(len(inputs))
        if len(calls) == 3:
            raise RuntimeError("power cut")
        return real(self, inputs, **kwargs)

    monkeypatch.setattr(LabelSemanticsForTokenClassification, "predict", failing)
    output = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="power cut"):
        tag_corpus(model, corpus, output, chunk_size=4, progress=False)
    parts = tmp_path / "out.jsonl.parts"
    assert sorted(p.name for p in parts.glob("part-*")) == ["part-000000.jsonl", "part-000001.jsonl"]
    assert not output.exists()
    (parts / "part-000002.jsonl.tmp").write_text('{"index": 8, "half a li')  # a part cut off mid-write
    calls.clear()
    monkeypatch.setattr(
        LabelSemanticsForTokenClassification, "predict", lambda s, i, **k: calls.append(i) or real(s, i, **k)
    )
    tag_corpus(model, corpus, output, chunk_size=4, progress=False)
    assert [len(c) for c in calls] == [4, 4, 4, 3]  # chunks 2..5 of 6: 0 and 1 were not redone
    assert output.read_bytes() == reference
    # another chunk size would cut the corpus elsewhere: not a resume of this run
    output.unlink()
    (tmp_path / "out.jsonl.parts").mkdir()
    (tmp_path / "out.jsonl.parts" / "manifest.json").write_text(json.dumps({"chunk_size": 4}))
    with pytest.raises(ValueError, match="interrupted run with other settings"):
        tag_corpus(model, corpus, output, chunk_size=5, progress=False)
    with pytest.raises(ValueError, match="exists and no interrupted run"):
        tag_corpus(model, corpus, tmp_path / "reference.jsonl", chunk_size=4, progress=False)
    # other chunks pad other batches, which may move a score's last float32 bits on some CPUs (seen with AVX-512)
    redone = read_jsonl(tag_corpus(model, corpus, output, chunk_size=5, overwrite=True, progress=False))
    expected = [json.loads(line) for line in reference.decode().splitlines()]
    assert [_without_scores(r) for r in redone] == [_without_scores(r) for r in expected]
    assert [e["score"] for r in redone for e in r["entities"]] == pytest.approx(
        [e["score"] for r in expected for e in r["entities"]], abs=1e-5
    )


def _without_scores(row: dict) -> dict:
    return {**row, "entities": [{k: v for k, v in e.items() if k != "score"} for e in row["entities"]]}


KILLABLE = """
import sys, time
from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.cli import main

real = LabelSemanticsForTokenClassification.predict
def slow(self, inputs, **kwargs):
    time.sleep(0.4)  # long enough to be killed between chunks
    return real(self, inputs, **kwargs)
LabelSemanticsForTokenClassification.predict = slow
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_run_resumes_and_never_duplicates_or_drops_a_record(model_dir, tmp_path, monkeypatch):
    records = [{"text": t} for t in texts(60)]
    source = write_jsonl(tmp_path / "corpus.jsonl", records)
    argv = ["predict", "--model", str(model_dir), "--input", str(source), "--chunk-size", "5"]
    assert main([*argv, "--output", str(tmp_path / "reference.jsonl")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, *argv, "--output", str(output)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parts = tmp_path / "out.jsonl.parts"
    deadline = time.time() + 120
    while len(list(parts.glob("part-*.jsonl"))) < 3 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = sorted(p.name for p in parts.glob("part-*.jsonl"))
    assert 3 <= len(done) < 12 and not output.exists(), done
    real = LabelSemanticsForTokenClassification.predict
    calls = []
    monkeypatch.setattr(
        LabelSemanticsForTokenClassification, "predict", lambda s, i, **k: calls.append(i) or real(s, i, **k)
    )
    assert main([*argv, "--output", str(output)]) == 0
    assert len(calls) == 12 - len(done)
    rows = read_jsonl(output)
    assert [r["index"] for r in rows] == list(range(60))
    assert output.read_bytes() == (tmp_path / "reference.jsonl").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a"}\n{"text": "b"}\n{"text": "c",}\n', r"line 3 is not valid JSON"),
        ('{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n{"title": "d"}\n', r"line 4 has no 'text' field"),
        ('{"text": "a"}\n\n{"text": "c"}\n', r"line 2 is empty"),
        ('{"text": "a"}\n["b"]\n', r"line 2 holds a JSON list, not an object"),
        ('{"text": "a"}\n{"text": 7}\n', r"line 2: 'text' is int"),
        ('{"body": "a"}\n', r"neither a 'text' field .* nor a 'tokens' field .* \['body'\]"),
        (b'{"text": "a"}\n{"text": "\xff"}\n', r"line 2 is not UTF-8"),
    ],
)
def test_bad_lines_are_errors_with_their_line_number(model, tmp_path, content, message):
    source = tmp_path / "bad.jsonl"
    source.write_bytes(content if isinstance(content, bytes) else content.encode())
    output = tmp_path / "out.jsonl"
    with pytest.raises(CorpusError, match=message):
        tag_corpus(model, source, output, chunk_size=2, progress=False)
    assert not output.exists()  # nothing skipped: no output without every record


def test_bad_input_on_the_command_line(model, model_dir, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", None, "c"]}), tmp_path / "nulls.parquet")
    base = ["predict", "--model", str(model_dir), "--output", str(tmp_path / "o.jsonl")]
    with pytest.raises(SystemExit, match=r"--input .*nulls.parquet row 2: 'text' is NoneType"):
        main([*base, "--input", str(tmp_path / "nulls.parquet")])
    (tmp_path / "c.csv").write_text("text\na\n")
    with pytest.raises(SystemExit, match=r"neither JSON Lines .* nor Parquet"):
        main([*base, "--input", str(tmp_path / "c.csv"), "--overwrite"])
    with pytest.raises(SystemExit, match="--input needs --output"):
        main(["predict", "--model", str(model_dir), "--input", str(tmp_path / "c.csv")])
    with pytest.raises(SystemExit, match="--output goes with --input"):
        main(["predict", "--model", str(model_dir), "--text", "a", "--output", "x.jsonl"])
    with pytest.raises(SystemExit, match=r"--output 'o.txt': Cannot tell the output format"):
        main(["predict", "--model", str(model_dir), "--input", str(tmp_path / "c.csv"), "--output", "o.txt"])
    with pytest.raises(ValueError, match=r"keep=\['index'\] names \['index'\]"):
        tag_corpus(
            model,
            write_jsonl(tmp_path / "k.jsonl", [{"text": "a"}]),
            tmp_path / "k.out.jsonl",
            keep=["index"],
        )


def test_command_line_precision_and_onnx_backend(model, model_dir, corpus, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    import label_semantics.prediction as prediction_module
    from label_semantics.onnx_backend import export_onnx

    argv = ["predict", "--model", str(model_dir), "--input", str(corpus), "--chunk-size", "8"]
    asked = []
    scoring = prediction_module.scoring_function
    monkeypatch.setattr(
        prediction_module, "scoring_function", lambda m, dtype=None: asked.append(dtype) or scoring(m, dtype)
    )
    assert main([*argv, "--output", str(tmp_path / "auto.jsonl")]) == 0
    assert set(asked) == {"auto"}  # the default: bfloat16 where the hardware runs it natively
    asked.clear()
    assert main([*argv, "--output", str(tmp_path / "torch.jsonl"), "--dtype", "float32"]) == 0
    assert set(asked) == {"float32"}
    assert main([*argv, "--output", str(tmp_path / "bf16.parquet"), "--dtype", "bfloat16"]) == 0
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "bf16.parquet").num_rows == 23
    export_onnx(model, model_dir, dynamo=False)
    assert main([*argv, "--output", str(tmp_path / "onnx.jsonl"), "--backend", "onnx"]) == 0

    def strip(path):
        return [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in read_jsonl(path)]

    assert strip(tmp_path / "onnx.jsonl") == strip(tmp_path / "torch.jsonl")
    assert asked[-1] is None  # the ONNX backend runs in the precision it was exported in
    with pytest.raises(SystemExit, match="--quantized loads the int8 ONNX graph; add --backend onnx"):
        main([*argv, "--output", str(tmp_path / "q.jsonl"), "--quantized"])
    with pytest.raises(SystemExit, match=r"model_qint8.onnx \(export with quantize=True"):
        main([*argv, "--output", str(tmp_path / "q.jsonl"), "--backend", "onnx", "--quantized"])


def test_the_corpus_is_read_one_chunk_at_a_time(tmp_path):
    source = write_jsonl(tmp_path / "c.jsonl", [{"text": t} for t in texts(10)])
    with source.open("a") as file:
        file.write("not json\n")  # line 11: only the chunk holding it fails, when it is parsed
    chunks = open_corpus(source).chunks(4)
    first = next(chunks)
    assert (first.number, first.start, first.size) == (0, 0, 4)
    assert [r["text"] for r in first.load()] == texts(4)
    assert [c.size for c in chunks] == [4, 3]
    assert open_corpus(source).total == 11
    last = list(open_corpus(source).chunks(4))[-1]
    with pytest.raises(CorpusError, match="line 11 is not valid JSON"):
        last.load()
