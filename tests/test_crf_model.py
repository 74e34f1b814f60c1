"""The dual tower with a label-set-agnostic CRF (collapsed transitions, Hou et al. 2020): trained by the stock
Trainer with the CRF likelihood, carried by set_labels and save/load, used by Viterbi decoding."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from transformers import Trainer, TrainingArguments, pipeline

import label_semantics  # noqa: F401
from label_semantics import LabelSemanticsConfig, LabelSemanticsForTokenClassification
from label_semantics.alignment import NERDataCollator
from label_semantics.prediction import decode_tags
from label_semantics.training import encode_for_training
from label_semantics.verbalizer import SchemeError

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
ROWS = [
    {"tokens": ["john", "smith", "visited", "paris"], "ner_tags": ["B-PER", "I-PER", "O", "B-LOC"]},
    {"tokens": ["mary", "lives", "in", "new", "york"], "ner_tags": ["B-PER", "O", "O", "B-LOC", "I-LOC"]},
] * 4


@pytest.fixture
def model(tiny_encoder_dir):
    torch.manual_seed(0)
    return LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=LABELS, crf=True)


def test_the_stock_trainer_trains_the_transitions(model, tmp_path):
    before = [p.detach().clone() for p in model.crf.parameters()]
    assert all(float(p.abs().sum()) == 0 for p in before)  # zero: decoding starts as hard-constraint Viterbi
    train = encode_for_training(Dataset.from_list(ROWS), model.tokenizer, model.config.label2id)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=20, learning_rate=5e-2, report_to="none")
    trainer = Trainer(
        model=model, args=args, train_dataset=train, data_collator=NERDataCollator(model.tokenizer)
    )
    trainer.train()
    assert any(
        not torch.equal(a, b) for a, b in zip(before, model.crf.parameters())
    )  # the gradient reached them
    batch = NERDataCollator(model.tokenizer)([train[0], train[1]])
    model.eval()
    with torch.no_grad():
        loss = model(**batch).loss
    assert torch.isfinite(loss) and loss > 0


def test_nll_plus_cross_entropy_is_larger_than_the_nll_alone(tiny_encoder_dir):
    torch.manual_seed(0)
    nll = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, labels=LABELS, crf=True, crf_loss="nll"
    )
    both = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=LABELS, crf=True)
    assert both.config.crf_loss == "nll+ce"  # the default
    both.load_state_dict(nll.state_dict())
    train = encode_for_training(Dataset.from_list(ROWS[:2]), nll.tokenizer, nll.config.label2id)
    batch = NERDataCollator(nll.tokenizer)([train[0], train[1]])
    nll.eval(), both.eval()
    with torch.no_grad():
        plain = LabelSemanticsForTokenClassification.from_encoder(tiny_encoder_dir, labels=LABELS)
        plain.load_state_dict({k: v for k, v in nll.state_dict().items() if not k.startswith("crf.")})
        plain.eval()
        ce = plain(**batch).loss
        torch.testing.assert_close(both(**batch).loss, nll(**batch).loss + ce)
    with pytest.raises(ValueError, match="crf_loss='sum'"):
        LabelSemanticsConfig(crf=True, crf_loss="sum")


def test_transitions_survive_set_labels_and_save_load(model, tmp_path):
    with torch.no_grad():
        model.crf.transitions.normal_()
        model.crf.start_transitions.normal_()
    saved = [p.detach().clone() for p in model.crf.parameters()]
    model.set_labels(["O", "B-actor", "I-actor"])
    assert all(torch.equal(a, b) for a, b in zip(saved, model.crf.parameters()))
    model.save_pretrained(tmp_path / "m")
    loaded = LabelSemanticsForTokenClassification.from_pretrained(tmp_path / "m")
    assert loaded.config.crf and loaded.config.crf_scheme == "IOB2"
    assert all(torch.equal(a, b) for a, b in zip(saved, loaded.crf.parameters()))
    # the stock pipeline still runs on such a checkpoint (it reads argmax of the logits)
    assert isinstance(pipeline("token-classification", model=str(tmp_path / "m"))("john smith"), list)


def test_decoding_uses_the_learned_transitions(model):
    # emissions prefer B-PER B-PER (two one-word entities) by a little
    scores = torch.log_softmax(torch.tensor([[0.0, 2.0, 1.8, -5, -5], [0.0, 2.0, 1.8, -5, -5]]), -1)
    model.eval()
    assert decode_tags(model, [scores]) == [["B-PER", "B-PER"]]
    with torch.no_grad():  # a learned preference for B -> I of the same type
        model.crf.transitions[1, 2, 1] = 1.0  # classes O B I E S: B then I, same type
    assert decode_tags(model, [scores]) == [["B-PER", "I-PER"]]
    assert decode_tags(model, [scores], viterbi=False) == [["B-PER", "B-PER"]]


def test_transitions_for_another_scheme_are_refused(model, tmp_path):
    with pytest.raises(SchemeError, match=r"IOB2.*BIOES|BIOES.*IOB2"):
        model.set_labels(["O", "S-PER", "B-PER", "I-PER", "E-PER"], model_scheme="BIOES")
    model.save_pretrained(tmp_path / "m")
    config = LabelSemanticsConfig.from_pretrained(tmp_path / "m")
    config_dict = config.to_dict()
    config_dict["tag_scheme"] = "BIOES"
    with pytest.raises(SchemeError, match=r"trained for the IOB2 scheme but the model's labels are BIOES"):
        LabelSemanticsConfig(**{k: v for k, v in config_dict.items() if k not in ("transformers_version",)})


@pytest.mark.parametrize("scheme", ["IO", "IOB1", "BIOES"])
def test_a_crf_model_trains_in_every_scheme(tiny_encoder_dir, scheme, tmp_path):
    from label_semantics.training import finetune
    from label_semantics.verbalizer import convert_scheme, labels_from_types

    rows = [
        {"tokens": r["tokens"], "ner_tags": convert_scheme(r["ner_tags"], scheme, source="IOB2")}
        for r in ROWS
    ]
    model = LabelSemanticsForTokenClassification.from_encoder(
        tiny_encoder_dir, labels=labels_from_types(["PER", "LOC"], scheme), tag_scheme=scheme, crf=True
    )
    assert model.crf.scheme == scheme
    finetune(model, Dataset.from_list(rows), output_dir=str(tmp_path / "t"), max_steps=3, disable_tqdm=True)
    tags = model.predict([r["tokens"] for r in rows[:2]], is_split_into_words=True)
    assert len(tags) == 2


def test_the_cli_trains_a_crf_model_and_refuses_crf_on_a_saved_model(tiny_encoder_dir, tmp_path, capsys):
    from label_semantics.cli import main

    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text(
        "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(r["tokens"], r["ner_tags"])) for r in ROWS) + "\n"
    )
    out = tmp_path / "out"
    argv = ["train", "--data", str(data), "--output", str(out), "--max-steps", "2"]
    assert main([*argv, "--backbone", str(tiny_encoder_dir), "--crf", "nll+ce"]) == 0
    loaded = LabelSemanticsForTokenClassification.from_pretrained(out)
    assert loaded.config.crf and loaded.config.crf_loss == "nll+ce" and loaded.crf is not None
    with pytest.raises(SystemExit, match="keeps the CRF it has"):
        main([*argv, "--model", str(out), "--crf", "nll"])


def test_the_harness_compares_hard_viterbi_with_the_crf_on_shared_cells(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("fewshot_ner", root / "benchmarks" / "fewshot_ner.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    results = tmp_path / "results"
    for tag, viterbi in (("plain", 0.30), ("crf", 0.36)):
        (results / "cells" / tag).mkdir(parents=True)
        for seed in (0, 1, 2)[: 3 if tag == "plain" else 2]:  # seed 2 only in one run: left out
            scores = {
                "viterbi": {"overall_f1": viterbi + seed / 100},
                "argmax": {"overall_f1": viterbi - 0.1},
            }
            cell = {"target": "wnut17", "k": 1, "seed": seed, "models": {"dual": scores}}
            (results / "cells" / tag / f"wnut17_k1_seed{seed}.json").write_text(json.dumps(cell))
    # TransferBERT cells: plain ones in the plain run, CRF ones in a run of their own
    (results / "cells" / "transfer_crf").mkdir(parents=True)
    for tag, viterbi in (("plain", 0.20), ("transfer_crf", 0.19)):
        cell = json.loads((results / "cells" / "plain" / "wnut17_k1_seed0.json").read_text())
        scores = {"viterbi": {"overall_f1": viterbi}, "argmax": {"overall_f1": viterbi - 0.05}}
        if tag == "plain":
            cell["models"]["transfer"] = scores
        else:
            cell["models"] = {"transfer": scores}
        (results / "cells" / tag / "wnut17_k1_seed0.json").write_text(json.dumps(cell))
    harness.main(
        [
            "compare",
            "--tag",
            "plain",
            "--crf-tag",
            "crf",
            "transfer_crf",
            "--results",
            str(results),
            "--backbone",
            "x",
        ]
    )
    text = (results / "crf.md").read_text()
    dual, transfer = text.split("(AutoModelForTokenClassification (TransferBERT), CRF loss (not recorded))")
    assert "| wnut17 | 1 | 2 | 20.0 | 30.5 | 26.0 | 36.5 | +6.0 |" in dual.splitlines()
    assert (
        "- K=1, averaged over 1 targets: argmax 20.0, hard Viterbi 30.5, CRF 36.5 (CRF − Viterbi +6.0 F1)."
        in dual.splitlines()
    )
    assert "`grid --tag crf --models dual --crf-loss (not recorded)`" in dual
    assert "| wnut17 | 1 | 1 | 15.0 | 20.0 | 14.0 | 19.0 | -1.0 |" in transfer.splitlines()
    assert "`grid --tag transfer_crf --models transfer" in transfer and "--tag crf " not in transfer


def test_the_harness_puts_the_collapsed_crf_on_a_token_classifier(tiny_encoder_dir, tmp_path):
    """The TransferBERT + CRF baseline row: the stock Trainer trains the transitions, save -> load onto a new label
    set keeps them exactly, and decode_tags decodes with them."""
    import importlib.util
    from pathlib import Path

    import torch

    from label_semantics.prediction import decode_tags
    from label_semantics.training import finetune

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("fewshot_ner_crf", root / "benchmarks" / "fewshot_ner.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    model, tokenizer = harness.new_model("transfer", str(tiny_encoder_dir), labels, "IOB2", crf_loss="nll+ce")
    assert model.crf is not None and model.config.crf_loss == "nll+ce"
    before = model.crf.transitions.detach().clone()
    finetune(
        model,
        Dataset.from_list(ROWS),
        tokenizer=tokenizer,
        output_dir=str(tmp_path / "t"),
        max_steps=4,
        learning_rate=0.1,
        disable_tqdm=True,
    )
    assert not torch.equal(model.crf.transitions.detach(), before)  # the Trainer trained the transitions
    model.save_pretrained(tmp_path / "source")
    tokenizer.save_pretrained(tmp_path / "source")
    target = ["O", "B-ORG", "I-ORG"]
    loaded, _ = harness.load_for_target("transfer", tmp_path / "source", target, "IOB2")
    assert loaded.config.num_labels == 3 and loaded.config.crf_loss == "nll+ce"
    for name in ("transitions", "start_transitions", "end_transitions"):
        assert torch.equal(getattr(loaded.crf, name), getattr(model.crf, name))
    plain, _ = harness.load_for_target("transfer", tmp_path / "source", target, "IOB2")
    del plain.crf  # the same model without its CRF: hard-constraint Viterbi only
    scores = [torch.tensor([[0.0, -0.2, -0.1], [0.0, -0.3, -0.05]]).log_softmax(-1)]
    with torch.no_grad():
        loaded.crf.transitions.zero_()
        loaded.crf.transitions[0, 2, 0] = -5.0  # O -> I (another type): forbidden anyway
        loaded.crf.transitions[1, 2, 1] = 3.0  # B -> I of the same type: strongly rewarded
        loaded.crf.start_transitions.zero_()
        loaded.crf.end_transitions.zero_()
    assert decode_tags(plain, scores) == [["O", "O"]]
    assert decode_tags(loaded, scores) == [["B-ORG", "I-ORG"]]
