"""`benchmarks/multi_source_ner.py` end to end on tiny column files and a tiny encoder: the leave-one-group-out
check, a cell for every row, GLiNER's scores joined, the count of targets below zero-shot, and a resumed run that
trains nothing."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest
import torch
from transformers import BertModel

from tests.conftest import tiny_bert_config, tiny_tokenizer

ROOT = Path(__file__).resolve().parents[1]
TYPES = {
    "conll2003": ["PER", "LOC", "ORG", "MISC"],
    "wnut17": ["person", "corporation"],
    "mit_movie": ["ACTOR", "GENRE"],
    "mit_restaurant": ["Cuisine", "Dish"],
    "crossner/ai": ["algorithm", "researcher"],
    "crossner/literature": ["writer", "book"],
    "crossner/music": ["band", "song"],
    "crossner/politics": ["politician", "party"],
    "crossner/science": ["scientist", "chemical"],
}
NAMES = "john mary smith jones paris london berlin acme google apple pizza food song book movie film".split()
FILLER = "the a of in to and is was at on for with by from it".split()


def _module():
    spec = importlib.util.spec_from_file_location(
        "multi_source_ner", ROOT / "benchmarks" / "multi_source_ner.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def msn():
    return _module()


def _write(path: Path, n: int, types: list[str], rng: random.Random) -> None:
    sentences = []
    for i in range(n):
        rows = [f"{rng.choice(FILLER)}\tO" for _ in range(rng.randint(2, 5))]
        for t in types if i < 2 else [rng.choice(types)]:  # the first two sentences hold every type
            rows.insert(rng.randint(0, len(rows)), f"{rng.choice(NAMES)}\tB-{t}")
        sentences.append("\n".join(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(sentences) + "\n")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("msn")
    rng = random.Random(0)
    for folder, types in TYPES.items():
        splits = (
            {"train": 24, "test": 8}
            if not folder.startswith("crossner")
            else {"train": 12, "dev": 8, "test": 8}
        )
        for split, n in splits.items():
            _write(root / "ner" / folder / f"{split}.txt", n, types, rng)
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = tiny_bert_config(len(tokenizer))
    config.max_position_embeddings = 256  # the built-in definitions are read whole
    BertModel(config).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    return {"root": root, "data": root / "ner", "backbone": root / "bert"}


def _common(tiny, where: Path) -> list[str]:
    return [
        "--backbone", str(tiny["backbone"]), "--data", str(tiny["data"]),
        "--results", str(where / "results"), "--cache", str(where / "cache"), "--out", str(where / "report"),
        "--gliner-results", str(where / "gliner"), "--gliner-cache", str(where / "gliner_cache"),
    ]  # fmt: skip


def test_a_target_in_its_source_is_refused(msn, tiny, tmp_path, monkeypatch):
    msn.check_leave_one_group_out("A", list(msn.CROSSNER))
    msn.check_leave_one_group_out("B", ["wnut17", "mit_movie", "mit_restaurant"])
    with pytest.raises(SystemExit, match="wnut17 .*is in the source of protocol A.*leave one group out"):
        msn.main(["grid", "--protocols", "A", "--targets", "wnut17", *_common(tiny, tmp_path)])
    assert not (tmp_path / "cache").exists()  # refused before any training
    for sources, targets in msn.PROTOCOLS.values():  # by data folder, not only by name
        assert not {msn.data_folder(s) for s in sources} & {msn.data_folder(t) for t in targets}
    sources, targets = msn.PROTOCOLS["A"]
    monkeypatch.setitem(msn.PROTOCOLS, "A", ((*sources, "crossner_music"), targets))  # a leaky protocol
    with pytest.raises(SystemExit, match="crossner_music .*crossner/music.*is in the source"):
        msn.check_leave_one_group_out("A", ["crossner_music"])


def test_summary_counts_targets_below_zero_shot(msn):
    scores = {
        ("a", 0): [30.0], ("a", 1): [20.0, 22.0], ("a", 5): [35.0],
        ("b", 0): [10.0], ("b", 1): [12.0], ("b", 5): [9.0, 10.0],
        ("c", 0): [5.0], ("c", 1): [6.0], ("c", 5): [7.0],
    }  # fmt: skip
    summary = msn.summarize(scores, ["a", "b", "c"], [0, 1, 5])
    assert summary["below_zero_shot"] == [("a", 1), ("b", 5)]
    assert summary["targets_below"] == ["a", "b"]
    assert summary["average"][1] == pytest.approx((21 + 12 + 6) / 3)


def test_the_below_zero_shot_target_counts_only_targets_with_every_k(msn):
    zero_only = {("a", 0): [30.0], ("b", 0): [10.0]}
    partial = {**zero_only, ("a", 1): [35.0], ("a", 5): [20.0], ("b", 1): [12.0]}
    summaries = {
        "dual_multi_names": msn.summarize(zero_only, ["a", "b"], [0, 1, 5]),
        "dual_multi_definitions": msn.summarize(partial, ["a", "b"], [0, 1, 5]),
    }
    cells = [
        {
            "target": "a",
            "k": 0,
            "seed": None,
            "models": {"dual_multi_names": {"viterbi": {"overall_f1": 0.3}}},
        }
    ]
    args = type(
        "Args", (), {"rows": ["dual_multi_names", "keep_l2sp"], "targets": ["a"], "ks": [0, 1], "seeds": 1}
    )
    scores, _ = msn.row_scores(args, cells)
    assert (
        scores["dual_multi_names"] == {("a", 0): [30.0]} and scores["keep_l2sp"] == {}
    )  # no copy of K=0 alone
    lines = msn.check_targets(summaries, [0, 1, 5], 2)
    assert "below zero-shot: not measured (no target has every K)" in lines[0]  # not "0 of 2: met"
    assert "below zero-shot on 1 of 1 targets (of 2: the others lack a K): missed (a)" in lines[1]


def test_keep_recipe_is_chosen_on_the_other_protocols_targets(msn):
    """A recipe that wins on protocol A's targets is chosen for B, and B's winner for A: no reported test set
    chooses its own recipe."""
    a, b = "crossner_ai", "wnut17"

    def cells(on_a, on_b):
        return {(a, 0): [30.0], (a, 1): [on_a], (b, 0): [30.0], (b, 1): [on_b]}

    scores = {
        "dual_multi_names": cells(25.0, 25.0),  # below zero-shot on both
        "keep_l2sp": cells(40.0, 20.0),  # the best on A's target, below zero-shot on B's
        "keep_label_lr": cells(31.0, 35.0),  # never below; best on B's
    }
    args = type("Args", (), {"ks": [0, 1], "targets": [a, b]})()
    assert msn.choose_keep_held_out(scores, args) == {"A": "keep_label_lr", "B": "keep_l2sp"}
    args.targets = [a]  # protocol B has not run: A's recipe cannot be chosen
    assert msn.choose_keep_held_out(scores, args) == {"A": None, "B": "keep_l2sp"}


def _gliner_file(
    where: Path, protocol: str, target: str, sentences: int, f1: dict, prefix: str = "minilm", subsample=None
) -> None:
    cells = [
        {"target": target, "k": k, "seed": None if k == 0 else 0, "steps": 0 if k == 0 else 40,
         "test_sentences": sentences, "metrics": {"overall_f1": value}}
        for k, value in f1.items()
    ]  # fmt: skip
    cells.append({**cells[-1], "test_sentences": sentences + 1})  # another test set: not joined
    path = where / "gliner" / f"{prefix}_{protocol}_names.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells}))
    settings = where / "gliner_cache" / f"{prefix}_{protocol}_names" / "source" / "source_settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    sources = list(_module().PROTOCOLS[protocol][0])
    settings.write_text(json.dumps({"sources": sources, "max_source_sentences": subsample}))


def test_grid_report_and_resume(msn, tiny, tmp_path, monkeypatch):
    where = tmp_path
    _gliner_file(where, "A", "crossner_music", 8, {0: 0.25, 1: 0.5}, prefix="minilm_max60", subsample=60)
    # another source stage (subsampled to 6000, not 60): left out
    _gliner_file(where, "B", "wnut17", 8, {0: 0.25}, prefix="minilm_max60", subsample=6000)
    argv = [
        "--targets", "crossner_music", "wnut17", "--ks", "0", "1", "--seeds", "1",
        "--max-source-sentences", "60", "--target-steps", "3", *_common(tiny, where),
    ]  # fmt: skip
    msn.main(["grid", *argv])
    cells = where / "results" / "cells" / "minilm_max60"  # a subsampled source stage gets its own tag
    trained = [r for r in msn.ROWS if msn.ROWS[r]["kind"] != "gliner"]
    for protocol, target in (("A", "crossner_music"), ("B", "wnut17")):
        for row in trained:
            cell = json.loads((cells / protocol / row / f"{target}_k1_seed0.json").read_text())
            assert row in cell["models"] and cell["steps"] == (1 if row == "keep_fewer_steps" else 3)
            assert cell["test_sentences"] == 8 and cell["source"]
        for row in ("dual_conll", "dual_multi_names", "dual_multi_definitions"):  # zero-shot: one per source
            assert (cells / protocol / row / f"{target}_k0.json").exists()
        assert not (cells / protocol / "transfer_union" / f"{target}_k0.json").exists()
    a = json.loads((cells / "A" / "keep_fewer_steps" / "crossner_music_k1_seed0.json").read_text())
    assert a["steps"] == 1 and json.loads(
        (cells / "A" / "keep_l2sp" / "crossner_music_k1_seed0.json").read_text()
    )["l2sp"] == pytest.approx(1.0)
    mixed = json.loads((cells / "A" / "keep_mix_source" / "crossner_music_k1_seed0.json").read_text())
    assert mixed["replay_fraction"] == 0.5 and "replay_fraction" not in a
    conll = json.loads((cells / "A" / "conll_label_lr" / "crossner_music_k1_seed0.json").read_text())
    assert conll["label_learning_rate"] == pytest.approx(1e-5) and "source_conll_dual" in conll["source"]
    settings = json.loads(
        (where / "cache" / "minilm_max60" / "source_A_dual_names" / "source_settings.json").read_text()
    )
    assert settings["max_source_sentences"] == 60 and set(settings["per_source"]) == set(
        msn.PROTOCOLS["A"][0]
    )
    assert sum(settings["per_source"].values()) == settings["sentences"] <= 62

    msn.main(["report", *argv])
    report = json.loads((where / "report.json").read_text())
    text = (where / "report.md").read_text()
    rows = report["rows"]
    assert set(trained) | {"gliner_names"} <= set(rows)
    assert rows["gliner_names"]["rows"]["crossner_music"] == {"0": 25.0, "1": 50.0}
    assert any("not 8" in note for note in report["not_joined"])
    assert not rows["gliner_names"]["rows"].get("wnut17")
    assert any("subsampled to 6000 sentences, not this run's 60" in note for note in report["not_joined"])
    for row in ("dual_conll", "dual_multi_names", "keep_l2sp", "conll_label_lr"):  # recomputed from the cells
        zero_row = {"keep_l2sp": "dual_multi_names", "conll_label_lr": "dual_conll"}.get(row, row)
        below = []
        for protocol, target in (("A", "crossner_music"), ("B", "wnut17")):
            zero = json.loads((cells / protocol / zero_row / f"{target}_k0.json").read_text())
            shot = json.loads((cells / protocol / row / f"{target}_k1_seed0.json").read_text())
            if (
                shot["models"][row]["viterbi"]["overall_f1"]
                < zero["models"][zero_row]["viterbi"]["overall_f1"]
            ):
                below.append(target)
        assert rows[row]["targets_below"] == sorted(below)
        assert f"| {row} |" in text
    assert "source stage" in text.lower() and "subsampled by --max-source-sentences 60" in text
    held_out = report["chosen_keep_held_out"]
    assert set(held_out) == {"A", "B"} and all(r in msn.KEEP_CANDIDATES for r in held_out.values())
    assert report["chosen_keep"] == (held_out["A"] if held_out["A"] == held_out["B"] else None)
    assert "on the *other* protocol's targets" in text
    assert "met" in text or "missed" in text

    import label_semantics.training

    def no_training(*args, **kwargs):
        raise AssertionError("a resumed run trained")

    stamps = {p: p.stat().st_mtime_ns for p in cells.rglob("*.json")}
    monkeypatch.setattr(label_semantics.training, "finetune", no_training)
    msn.main(["grid", *argv])  # resumed: every cell and source is there
    assert {p: p.stat().st_mtime_ns for p in cells.rglob("*.json")} == stamps


def test_dual_conll_reuses_the_harness_cells_with_the_same_training(msn, tmp_path, monkeypatch):
    import argparse

    monkeypatch.setattr(msn, "HARNESS_CELLS", tmp_path)
    models = {"dual": {"viterbi": {"overall_f1": 0.3}}, "transfer": {"viterbi": {"overall_f1": 0.2}}}
    cell = {"target": "wnut17", "k": 1, "seed": 0, "target_lr": 1e-4, "steps": 40, "models": models}
    (tmp_path / "wnut17_k1_seed0.json").write_text(json.dumps(cell))
    (tmp_path / "wnut17_zeroshot.json").write_text(json.dumps({"target": "wnut17", "k": 0, "models": models}))
    args = argparse.Namespace(conll_source_path=msn.HARNESS_SOURCE, test_limit=None, no_harness_cells=False)
    args.__dict__.update(target_steps=None, target_lr=1e-4)
    reused = msn.fewshot_cell(args, "B", "dual_conll", "wnut17", 1, 0)  # no data, no training: read, not run
    assert reused["models"] == {"dual_conll": models["dual"]} and reused["from_harness_cell"].endswith(
        "seed0.json"
    )
    assert (reused["row"], reused["protocol"], reused["steps"]) == ("dual_conll", "B", 40)
    assert msn.zero_shot_cell(args, "B", "dual_conll", "wnut17")["models"] == {"dual_conll": models["dual"]}
    assert msn._harness_cell(args, "dual_conll", "wnut17", 1, 0, {"target_lr": 1e-4, "steps": 20}) is None
    assert (
        msn._harness_cell(args, "dual_multi_names", "wnut17", 1, 0, {"target_lr": 1e-4, "steps": 40}) is None
    )
    del cell["target_lr"], cell["steps"]  # an old cell: the harness's defaults assumed, and said so
    (tmp_path / "wnut17_k1_seed0.json").write_text(json.dumps(cell))
    assert msn.fewshot_cell(args, "B", "dual_conll", "wnut17", 1, 0)["harness_defaults_assumed"] is True
    args.target_lr = 5e-5
    assert msn._harness_cell(args, "dual_conll", "wnut17", 1, 0, {"target_lr": 5e-5, "steps": 40}) is None
    args.conll_source_path = tmp_path / "another_source"  # another CoNLL source: its own cells
    assert msn._harness_cell(args, "dual_conll", "wnut17", 1, 0, {"target_lr": 1e-4, "steps": 40}) is None


def test_smoke_mode_is_tiny(msn, tiny, tmp_path):
    argv = ["--smoke", "--rows", "dual_multi_names", "--protocols", "A", "--targets", "crossner_ai"]
    msn.main(["grid", *argv, *_common(tiny, tmp_path)])
    cells = tmp_path / "results" / "cells" / "smoke" / "A" / "dual_multi_names"
    assert sorted(p.name for p in cells.glob("*.json")) == [
        "crossner_ai_k0.json",
        "crossner_ai_k1_seed0.json",
    ]
    cell = json.loads((cells / "crossner_ai_k1_seed0.json").read_text())
    assert cell["steps"] == 2 and cell["test_sentences"] == 8  # at most 16
    settings = tmp_path / "cache" / "smoke" / "source_A_dual_names" / "source_settings.json"
    assert json.loads(settings.read_text())["max_source_sentences"] == 32
