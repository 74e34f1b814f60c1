"""The pure parts of `benchmarks/gliner_baseline.py` (spans <-> IOB2, GLiNER's character spans back to words, the
training examples, the protocols, the summary) and its project-side commands (`prepare` writes the harness's own
support sets, `score` scores with `compute_ner_metrics`). None of it needs the `gliner` package."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gb():
    module = _module("gliner_baseline")
    assert "gliner" not in sys.modules  # importing the script imports no gliner
    return module


def test_tags_to_spans_reads_as_seqeval_does(gb):
    assert gb.tags_to_spans(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG"]) == [
        [0, 1, "PER"],
        [3, 4, "LOC"],
        [5, 5, "LOC"],
        [6, 6, "ORG"],
    ]
    assert gb.tags_to_spans(["O", "O"]) == []
    with pytest.raises(ValueError, match="'E-PER' at word 1"):
        gb.tags_to_spans(["O", "E-PER"])


def test_spans_to_tags_round_trip_and_errors(gb):
    tags = ["B-musicalartist", "I-musicalartist", "O", "B-band", "B-band", "I-band"]
    assert gb.spans_to_tags(gb.tags_to_spans(tags), len(tags)) == tags
    with pytest.raises(ValueError, match="overlaps"):
        gb.spans_to_tags([(0, 2, "A"), (2, 3, "B")], 5)
    with pytest.raises(ValueError, match="outside a sentence of 3 words"):
        gb.spans_to_tags([(2, 3, "A")], 3)


def test_space_split_gives_back_the_words_and_their_offsets(gb):
    words = ["U.S.", "troops", "(", "50,000", ")", "left", "Saigon-based", "units"]
    text = " ".join(words)
    split = list(gb.space_split(text))
    assert [w for w, _, _ in split] == words
    assert [text[s:e] for _, s, e in split] == words
    starts, ends = gb.word_offsets(words)
    assert [s for _, s, _ in split] == starts and [e for _, _, e in split] == ends
    with pytest.raises(ValueError, match="holds a space"):
        gb.word_offsets(["a b"])


def test_entities_to_tags_maps_character_spans_to_words(gb):
    words = ["The", "U.S.", "band", "Pearl", "Jam", "played"]
    text = " ".join(words)
    found = [
        {"start": text.index("U.S."), "end": text.index("U.S.") + 4, "label": "country"},
        {"start": text.index("Pearl"), "end": text.index("Jam") + 3, "label": "band"},
    ]
    type_of = {"country": "country", "band": "band"}
    assert gb.entities_to_tags(found, words, type_of) == ["O", "B-country", "O", "B-band", "I-band", "O"]
    with pytest.raises(ValueError, match="word boundaries"):
        gb.entities_to_tags([{"start": 5, "end": 7, "label": "band"}], words, type_of)
    with pytest.raises(ValueError, match="label outside"):
        gb.entities_to_tags([{"start": 0, "end": 3, "label": "city"}], words, type_of)


def test_a_training_example_scores_only_its_own_data_set_types(gb):
    texts = {"PER": "person", "LOC": "location", "MISC": "miscellaneous"}
    example = gb.gliner_example(["John", "in", "Paris"], ["B-PER", "O", "B-LOC"], texts, random.Random(0))
    assert example["tokenized_text"] == ["John", "in", "Paris"]
    assert example["ner"] == [[0, 0, "person"], [2, 2, "location"]]
    assert sorted(example["ner_labels"]) == ["location", "miscellaneous", "person"]


def test_protocols_leave_one_group_out(gb):
    for sources, targets in gb.PROTOCOLS.values():
        assert not set(sources) & set(targets)
        gb.check_protocol(sources, targets)
    assert set(gb.PROTOCOLS["A"][1]) | set(gb.PROTOCOLS["B"][1]) == set(gb.DATASETS) - {"conll2003"}
    with pytest.raises(SystemExit, match=r"\['wnut17'\] are both --sources and --targets"):
        gb.check_protocol(["conll2003", "wnut17"], ["wnut17"])
    with pytest.raises(SystemExit, match="unknown data set 'ontonotes'"):
        gb.check_protocol(["ontonotes"], ["wnut17"])


def test_type_texts_refuses_two_types_with_one_text(gb):
    assert gb.type_texts(["PER", "LOC"], str.lower) == {"PER": "per", "LOC": "loc"}
    with pytest.raises(ValueError, match="'PER' and 'per' are both described as 'per'"):
        gb.type_texts(["PER", "per"], str.lower)


def test_steps_match_the_harness(gb):
    harness = _module("fewshot_ner")
    for k in (0, 1, 5, 20, 50):
        assert gb.steps_for(k) == harness.steps_for(k)


def test_summary_counts_k_shot_below_zero_shot(gb):
    f1 = {("a", 0): [50.0], ("a", 1): [40.0, 50.0], ("a", 5): [60.0], ("b", 0): [10.0], ("b", 1): [20.0]}
    summary = gb.summarize(f1, ["a", "b"], [1, 5])
    assert summary["rows"]["a"] == {0: 50.0, 1: 45.0, 5: 60.0}
    assert summary["average"] == {0: 30.0, 1: 32.5}  # K=5 is missing for b: no average
    assert summary["below_zero_shot"] == [("a", 1)]


def test_prepare_writes_the_harness_support_sets_and_score_reads_predictions(gb, tiny_ner_dir, tmp_path):
    harness = _module("fewshot_ner")
    cache, results = tmp_path / "cache", tmp_path / "results"
    common = ["--sources", "conll2003", "--targets", "wnut17", "--ks", "1", "--seeds", "2", "--tag", "t"]
    common += ["--data", str(tiny_ner_dir), "--cache", str(cache), "--results", str(results)]
    gb.main(["prepare", *common])
    data = cache / "data" / "t"
    types = json.loads((data / "types.json").read_text())
    assert types["types"]["wnut17"] == {"actor": "actor", "genre": "genre"}
    assert types["types"]["conll2003"]["MISC"] == "miscellaneous"
    for seed in range(2):
        support, pool = harness.support_set("wnut17", 1, seed, tiny_ner_dir)
        rows = [
            json.loads(line)
            for line in (data / f"support_wnut17_k1_seed{seed}.jsonl").read_text().splitlines()
        ]
        assert [r["tokens"] for r in rows] == [list(t) for t in support["tokens"]]
        assert [r["tags"] for r in rows] == [list(t) for t in support["ner_tags"]] and rows[0]["pool"] == pool
    test = [json.loads(line) for line in (data / "test_wnut17.jsonl").read_text().splitlines()]
    assert len(test) == 30

    # predictions as `run` writes them: gold at K=0, all O at K=1 (F1 0, below zero-shot)
    predictions = cache / "t" / "predictions"
    predictions.mkdir(parents=True)
    (predictions / "wnut17_k0.json").write_text(json.dumps({"predictions": [r["tags"] for r in test]}))
    empty = [["O"] * len(r["tags"]) for r in test]
    (predictions / "wnut17_k1_seed0.json").write_text(json.dumps({"predictions": empty, "truncated": 2}))
    gb.main(["score", *common])
    report = json.loads((results / "t.json").read_text())
    assert report["summary"]["rows"]["wnut17"] == {"0": 100.0, "1": 0.0}
    assert report["summary"]["below_zero_shot"] == [["wnut17", 1]]
    table = (results / "t.md").read_text()
    assert "| wnut17 | 100.0 | 0.0 (1) |" in table
    assert (
        "K-shot below zero-shot: 1 of 1" in table
        and "encoder (over 512 sub-tokens with the labels): 2." in table
    )


def test_prepare_subsamples_the_sources_as_the_multi_source_benchmark_does(gb, tiny_ner_dir, tmp_path):
    msn = _module("multi_source_ner")
    cache = tmp_path / "cache"
    common = ["--sources", "conll2003", "--targets", "wnut17", "--ks", "1", "--seeds", "1"]
    common += ["--data", str(tiny_ner_dir), "--cache", str(cache), "--results", str(tmp_path / "results")]
    gb.main(["prepare", *common, "--max-source-sentences", "12"])
    data = cache / "data" / "minilm_max12_custom_names"  # a subsampled source gets its own tag
    rows = [json.loads(line) for line in (data / "source_conll2003.jsonl").read_text().splitlines()]
    args = type("Args", (), {"data": tiny_ner_dir, "max_source_sentences": 12})()
    expected = msn.source_data(args, ["conll2003"])["conll2003"]
    assert len(rows) == 12 < 40 and [r["tokens"] for r in rows] == [list(t) for t in expected["tokens"]]
    assert json.loads((data / "types.json").read_text())["max_source_sentences"] == 12
    with pytest.raises(SystemExit, match="prepared with --max-source-sentences 12, not 6"):
        gb.main(["run", *common, "--max-source-sentences", "6", "--tag", "minilm_max12_custom_names"])


def test_score_reapplies_a_higher_threshold_to_the_spans_run_kept(gb, tiny_ner_dir, tmp_path):
    cache, results = tmp_path / "cache", tmp_path / "results"
    common = ["--sources", "conll2003", "--targets", "wnut17", "--ks", "1", "--seeds", "1", "--tag", "t"]
    common += ["--data", str(tiny_ner_dir), "--cache", str(cache), "--results", str(results)]
    gb.main(["prepare", *common])
    data = cache / "data" / "t"
    texts = json.loads((data / "types.json").read_text())["types"]["wnut17"]
    test = [json.loads(line) for line in (data / "test_wnut17.jsonl").read_text().splitlines()]
    # every gold entity as a span at score 0.6, and a wrong one-word "genre" span at 0.3 on each sentence's
    # first O word
    spans, low = [], []
    for row in test:
        starts, ends = gb.word_offsets(row["tokens"])
        gold = gb.tags_to_spans(row["tags"])
        found = [[starts[a], ends[b], texts[t], 0.6] for a, b, t in gold]
        free = [i for i, tag in enumerate(row["tags"]) if tag == "O"][:1]
        found += [[starts[i], ends[i], texts["genre"], 0.3] for i in free]
        spans.append(found)
        low.append(gb.tags_at_threshold(found, row["tokens"], {v: k for k, v in texts.items()}, 0.1))
    assert low != [r["tags"] for r in test]  # at 0.1 the wrong spans are tags too
    predictions = cache / "t" / "predictions"
    predictions.mkdir(parents=True)
    cell = {"predictions": low, "spans": spans, "threshold": 0.1}
    (predictions / "wnut17_k0.json").write_text(json.dumps(cell))
    gb.main(["score", *common, "--threshold", "0.5", "--score-tag", "t_at_0.5"])
    report = json.loads((results / "t_at_0.5.json").read_text())
    assert report["summary"]["rows"]["wnut17"] == {"0": 100.0}  # the 0.3 spans are gone, the 0.6 ones kept
    assert report["cells"][0]["threshold"] == 0.5 and report["cells"][0]["run_threshold"] == 0.1
    assert "span threshold 0.5" in (results / "t_at_0.5.md").read_text()
    gb.main(["score", *common, "--threshold", "0.1"])  # its own threshold: the tags as run wrote them
    assert json.loads((results / "t.json").read_text())["summary"]["rows"]["wnut17"]["0"] < 100.0
    with pytest.raises(SystemExit, match="predicted at threshold 0.1; spans below it were not kept"):
        gb.main(["score", *common, "--threshold", "0.05"])
    (predictions / "wnut17_k0.json").write_text(json.dumps({"predictions": low, "threshold": 0.1}))
    with pytest.raises(SystemExit, match="has no spans"):
        gb.main(["score", *common, "--threshold", "0.5"])
    with pytest.raises(SystemExit, match="--source-tag nope: no source model"):
        gb.main(["run", *common, "--source-tag", "nope"])
